//! Snapshots of `nudge check`'s human output (no colour) for a handful of
//! representative mistakes in `tests/human/*.flow`: what a user reads in
//! the terminal, end to end through the binary. Review a changed snapshot
//! as that user would.

use std::path::Path;
use std::process::Command;

fn human_output(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .current_dir(&root)
        .args(["check", &format!("tests/human/{name}.flow")])
        .env("NO_COLOR", "1")
        .output();
    match out {
        Ok(o) => format!(
            "exit: {}\n{}",
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout)
        ),
        Err(e) => format!("could not run nudge: {e}"),
    }
}

#[test]
fn typo_and_optional() {
    insta::assert_snapshot!(human_output("typo_and_optional"));
}

#[test]
fn recovery() {
    insta::assert_snapshot!(human_output("recovery"));
}

#[test]
fn sms_and_match() {
    insta::assert_snapshot!(human_output("sms_and_match"));
}

#[test]
fn money() {
    insta::assert_snapshot!(human_output("money"));
}

#[test]
fn mistakes_in_a_test_block() {
    insta::assert_snapshot!(human_output("test_block"));
}
