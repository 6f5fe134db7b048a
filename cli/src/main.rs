//! The `nudge` command.
fn main() {}
