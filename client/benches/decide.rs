//! Decision latency with a warm cache.
fn main() {}
