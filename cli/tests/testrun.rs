//! `nudge test` as a user runs it: the example shop's tests pass (it skips
//! capped sends), `tests/testrun/capped_defer` passes (it defers them),
//! `tests/testrun/held_send` passes (an order placed while a text is held
//! by quiet hours satisfies the `wait for` after it),
//! `tests/testrun/time_segments` passes (a segment entered by time alone,
//! `created_at` defaulted to when a profile was first seen), and a
//! deliberately failing test (`tests/testrun/failing`) exits 1 saying what
//! was expected and what the trace shows.

// A failing test reports by panicking.
#![allow(clippy::panic)]

mod support;

use support::nudge;

#[test]
fn example_shop_tests_pass() {
    let out = nudge(&["test", "examples/shop"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "nudge test examples/shop:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("test result: ok."), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
}

#[test]
fn a_project_that_defers_capped_sends_passes() {
    let out = nudge(&["test", "tests/testrun/capped_defer"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("test result: ok. 1 passed"), "{stdout}");
}

#[test]
fn a_journey_held_at_a_deferred_send_keeps_listening() {
    let out = nudge(&["test", "tests/testrun/held_send"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("test result: ok. 2 passed"), "{stdout}");
}

#[test]
fn segments_follow_time_and_created_at_defaults_to_first_seen() {
    let out = nudge(&["test", "tests/testrun/time_segments"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("test result: ok. 2 passed"), "{stdout}");
}

#[test]
fn a_failing_test_exits_1_and_explains() {
    let out = nudge(&["test", "tests/testrun/failing"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for want in [
        "test the welcome email is sent ... ok",
        "test no welcome email (wrong on purpose) ... FAILED",
        // The failing statement, not the test's first line.
        "--> tests/testrun/failing/flows/welcome_test.flow:13",
        "expected not sent email welcome, but it happened",
        "2026-01-01 00:00 UTC  [welcome] sent email welcome",
        // The reason's text must match too; the listing shows what to write.
        "test the full cap is named (wrong on purpose) ... FAILED",
        "--> tests/testrun/failing/flows/welcome_test.flow:21",
        "expected suppressed email welcome because frequency_cap \"per 7d\", but it did not happen",
        "2026-01-01 01:00 UTC  [welcome] suppressed email welcome because frequency_cap \"email 1 per 1d: 1 already sent in the last 1d\"",
        "test result: FAILED. 1 passed; 2 failed",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
}
