//! Runs the data-driven cases of `tests/cases/rules/` and `tests/cases/lints/`
//! in-process (harness: `support/mod.rs`) and compares the diagnostics of the
//! structural rules, the lints and the manifest (E03xx, W0001–W0009, E0008,
//! E0110) with the expectations written inline:
//!
//! ```flow
//! send email cart_remindr(c)
//! //         ^ E0104 unknown template
//! ```
//!
//! (in `nudge.toml`, `# ^ CODE text`). Expectations of other codes belong to
//! other stages and are left to the full harness (`cli/tests/cases.rs`).

mod support;

use nudge_compiler::diagnostic::Code;

/// The codes this harness owns.
fn owned(code: Code) -> bool {
    let s = code.as_str();
    s.starts_with("E03")
        || (s.starts_with("W000") && s != "W0000")
        || code == Code::InvalidManifest
        || code == Code::UnknownTimezone
}

const DIRS: &[&str] = &["rules", "lints"];

#[test]
fn rules_and_lints_cases() {
    support::run_dirs(DIRS, owned);
}

#[test]
fn every_owned_code_has_a_case() {
    let seen = support::expected_codes(DIRS);
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| owned(**c) && c.as_str() != "W0010")
        .map(|c| c.as_str())
        .filter(|c| !seen.contains(*c))
        .collect();
    assert!(missing.is_empty(), "codes without a case: {missing:?}");
}
