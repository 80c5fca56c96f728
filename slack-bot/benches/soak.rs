//! Placeholder: run through `cargo xtask soak`.
fn main() {}
