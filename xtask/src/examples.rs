//! `cargo xtask examples`: runs the examples that can run against the testkit.

use std::path::Path;

/// Runs the task; returns true on success.
pub(crate) fn run(_root: &Path, _args: &[String]) -> bool {
    println!("[examples] not written yet");
    true
}
