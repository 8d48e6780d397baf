//! Placeholder, replaced by the criterion benchmarks.
fn main() {}
