//! `cargo xtask package`: `cargo package` for every library crate, and a build with the declared
//! `rust-version` when that toolchain is installed.

use std::path::Path;

/// Runs the task; returns true on success.
pub(crate) fn run(_root: &Path, _args: &[String]) -> bool {
    println!("[package] not written yet");
    true
}
