//! The `sts` command.
fn main() {}
