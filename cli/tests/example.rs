//! Keeps `examples/shop` what the README promises: it checks clean (no
//! errors, no warnings), and its sample event log walks every flow (each
//! flow is entered at least once when the log is replayed).

// A failing test reports by panicking.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};

mod support;

use support::{nudge, repo};

#[test]
fn example_shop_checks_clean() {
    let out = nudge(&[
        "check",
        "--format",
        "json",
        "--deny",
        "warnings",
        "examples/shop",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim().is_empty(),
        "nudge check examples/shop:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The flow names declared in the example's `.flow` files.
fn flow_names(dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            flow_names(&path, out);
        } else if path.extension().is_some_and(|e| e == "flow") {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for line in text.lines() {
                if let Some(rest) = line.strip_prefix("flow ")
                    && let Some(name) = rest.split_whitespace().next()
                {
                    out.push(name.to_string());
                }
            }
        }
    }
}

#[test]
fn sample_event_log_enters_every_flow() {
    let mut flows = Vec::new();
    flow_names(&repo().join("examples/shop"), &mut flows);
    assert!(flows.len() >= 7, "found only {flows:?}");
    let out = nudge(&[
        "simulate",
        "examples/shop",
        "--events",
        "examples/shop/events.jsonl",
        "--until",
        "2026-06-15T00:00:00Z",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "nudge simulate failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("simulate --format json is not JSON: {e}"));
    let problems = report["problems"].as_array().map_or(0, Vec::len);
    assert_eq!(problems, 0, "input problems: {}", report["problems"]);
    let trace = report["trace"].as_array().cloned().unwrap_or_default();
    let entered = |flow: &str| {
        trace.iter().any(|r| {
            r["flow"].as_str() == Some(flow)
                && r["decision"]
                    .as_object()
                    .is_some_and(|d| d.contains_key("Entered"))
        })
    };
    let missing: Vec<&String> = flows.iter().filter(|f| !entered(f)).collect();
    assert!(
        missing.is_empty(),
        "flows the sample log never enters: {missing:?}"
    );
}
