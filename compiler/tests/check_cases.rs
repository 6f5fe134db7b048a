//! Runs the data-driven cases of `tests/cases/names/`, `tests/cases/types/`
//! and `tests/cases/tests/` (`test` blocks) in-process (harness: `support/mod.rs`) and compares
//! **every** diagnostic but syntax errors with the expectations written
//! inline, so these cases stay valid for the full harness
//! (`cli/tests/cases.rs`), which runs them through the binary. In-process is
//! fast, and it pins down which stage reports what.

mod support;

use nudge_compiler::diagnostic::Code;

/// The codes this harness checks: all but syntax errors (a case must parse).
fn owned(code: Code) -> bool {
    !matches!(
        code.as_str(),
        "E0003" | "E0004" | "E0005" | "E0006" | "E0009"
    )
}

const DIRS: &[&str] = &["names", "types", "tests"];

#[test]
fn names_and_types_cases() {
    support::run_dirs(DIRS, owned);
}

#[test]
fn every_checker_code_has_a_case() {
    let seen = support::expected_codes(DIRS);
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| {
            (c.starts_with("E01") && *c != "E0110")
                || c.starts_with("E02")
                || c.starts_with("E04")
                || *c == "W0011"
        })
        .filter(|c| !seen.contains(*c))
        .collect();
    assert!(missing.is_empty(), "codes without a case: {missing:?}");
}
