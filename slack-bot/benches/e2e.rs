//! Placeholder: run through `cargo xtask bench`.
fn main() {}
