//! `cargo xtask soak [--seconds N]`: a steady stream of events with random refreshes, drops and
//! half-open links; reports sent, acked, delivered once, duplicates, lost (must be 0), reconnects,
//! RSS and threads.

use std::path::Path;

/// Runs the task; returns true on success.
pub(crate) fn run(_root: &Path, _args: &[String]) -> bool {
    println!("[soak] not written yet");
    true
}
