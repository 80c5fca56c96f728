//! The relay bench (placeholder).

fn main() {}
