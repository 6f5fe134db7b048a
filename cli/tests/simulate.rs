//! `nudge build` and `nudge simulate` end to end over `tests/simulate/tiny`
//! (a cart flow with an exit, a goal, a split and a quiet-hours SMS across
//! the New York DST change; a welcome series hitting a cap; STOP; sloppy
//! and broken log lines) and over `examples/shop`.

#![allow(clippy::panic)]

use std::path::PathBuf;
use std::process::Output;

mod support;

use support::{nudge, repo};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const TINY: [&str; 5] = [
    "simulate",
    "tests/simulate/tiny",
    "--events",
    "tests/simulate/tiny/events.jsonl",
    "--until=2026-03-12T00:00:00Z",
];

#[test]
fn simulate_tiny_reads_like_a_story() {
    let o = nudge(&TINY);
    // Two lines were skipped: exit code 1, and they are listed first.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    insta::assert_snapshot!(stdout(&o));
}

#[test]
fn simulate_json_is_one_object_for_tools() {
    let mut args = TINY.to_vec();
    args.push("--format=json");
    let o = nudge(&args);
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(v["inputs"], 10);
    assert_eq!(v["problems"][0]["line"], 2);
    assert!(v["trace"].as_array().is_some_and(|t| t.len() > 20));
    assert_eq!(v["funnel"][0]["flow"], "cart");
}

#[test]
fn build_is_byte_identical_twice_and_usage_errors_exit_2() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let a = dir.join("shop-a.nbc");
    let b = dir.join("shop-b.nbc");
    for out in [&a, &b] {
        let o = nudge(&["build", "examples/shop", "-o", &out.to_string_lossy()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let (a, b) = (std::fs::read(a), std::fs::read(b));
    assert!(a.as_ref().is_ok_and(|a| a.starts_with(b"NUDGEBC\0")));
    assert_eq!(a.ok(), b.ok());
    let o = nudge(&["simulate", "examples/shop", "--events", "no/such.jsonl"]);
    assert_eq!(o.status.code(), Some(2));
    let o = nudge(&[
        "simulate",
        "examples/shop",
        "--events",
        "examples/shop/events.jsonl",
        "--until",
        "soon",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn the_example_shop_simulates_cleanly_with_small_journeys() {
    let o = nudge(&[
        "simulate",
        "examples/shop",
        "--events",
        "examples/shop/events.jsonl",
        "--until=2027-06-01T00:00:00Z",
        "--format=json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("not JSON: {e}"));
    let sizes = v["journey_bytes"].as_object().cloned().unwrap_or_default();
    assert!(!sizes.is_empty());
    for (flow, n) in sizes {
        assert!(n.as_u64().is_some_and(|n| n < 512), "{flow}: {n} bytes");
    }
}

/// Writes `log`, simulates it through `examples/shop` (some of its lines
/// must be skipped: exit 1), and gives the report's input problems and the
/// whole report.
fn shop_with_skipped_lines(log: &std::path::Path, bytes: &[u8]) -> (String, String) {
    if let Err(e) = std::fs::write(log, bytes) {
        panic!("{}: {e}", log.display());
    }
    let o = nudge(&[
        "simulate",
        "examples/shop",
        "--events",
        &log.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(1), "skipped lines exit 1");
    let out = stdout(&o);
    let problems: String = out
        .lines()
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    (problems, out)
}

#[test]
fn an_order_without_its_order_id_is_reported_and_skipped() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let log = dir.join("missing-order-id.jsonl");
    let lines = [
        r#"{"type":"identify","userId":"u1","timestamp":"2026-03-01T09:00:00Z","traits":{"email":"u1@example.com","email_consent":true}}"#,
        r#"{"type":"track","userId":"u1","timestamp":"2026-03-01T09:05:00Z","event":"Order Completed","properties":{"revenue":42,"currency":"USD"}}"#,
        r#"{"type":"track","userId":"u1","timestamp":"2026-03-01T09:06:00Z","event":"Order Completed","properties":{"order_id":"1001","revenue":"forty-two"}}"#,
    ];
    let (problems, out) = shop_with_skipped_lines(&log, lines.join("\n").as_bytes());
    insta::assert_snapshot!(problems, @r#"
    Input problems:
      line 2: error (line skipped): `Order Completed` without its required field `order_id` (declared `string`), found nothing
      line 3: error (line skipped): `Order Completed.revenue`: expected an amount of money (declared `money?`), found "forty-two"
    "#);
    // Only the identify reached the engine.
    assert!(out.contains("\n1 inputs, clock at"), "{out}");
}

/// A real log repeats a few problems on many lines (every `page` call, an
/// event name a source always sends in another case): the report says
/// each once, with its first lines and how many more (and how many times,
/// when a batch line holds it more than once), in the order each first
/// came. A problem on one line reads as before.
#[test]
fn a_problem_on_many_lines_is_reported_once_with_its_lines() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let log = dir.join("repeated-problems.jsonl");
    let page = |n: u32| {
        format!(
            r#"{{"type":"page","userId":"u1","timestamp":"2026-03-01T09:{n:02}:00Z","name":"Home"}}"#
        )
    };
    let no_id = r#"{"type":"track","timestamp":"2026-03-01T09:30:00Z","event":"Signed Up"}"#;
    let mut lines = vec![
        r#"{"type":"identify","userId":"u1","timestamp":"2026-03-01T09:00:00Z","traits":{"email":"u1@example.com","email_consent":true}}"#.to_string(),
    ];
    lines.extend((1..=7).map(page));
    lines.push(no_id.to_string());
    lines.push(r#"{"type":"track","userId":"u1","timestamp":"2026-03-01T09:31:00Z","event":"checkout started","properties":{"checkout_id":"c1"}}"#.to_string());
    lines.push(no_id.to_string());
    lines.push(r#"{"type":"track","userId":"u1","timestamp":"2026-03-01T09:32:00Z","event":"checkout started","properties":{"checkout_id":"c2"}}"#.to_string());
    lines.push(page(40));
    // A batch with two of them: one line, said twice.
    lines.push(format!(r#"{{"batch":[{},{}]}}"#, page(41), page(42)));
    let (problems, out) = shop_with_skipped_lines(&log, lines.join("\n").as_bytes());
    insta::assert_snapshot!(problems, @r#"
    Input problems:
      lines 2, 3, 4, 5, 6 and 4 more (10 times): warning: `page` calls are not used by flows; skipped
      lines 9 and 11: error (lines skipped): no `userId` or `anonymousId`
      lines 10 and 12: warning: event "checkout started" read as "Checkout Started"
    "#);
    // The identify and both checkouts ran (the read-as warnings coerce).
    assert!(out.contains("\n3 inputs, clock at"), "{out}");
}

#[test]
fn a_line_that_is_not_utf8_is_reported_and_the_rest_run() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let log = dir.join("latin1-line.jsonl");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(br#"{"type":"identify","userId":"u1","timestamp":"2026-03-01T09:00:00Z","traits":{"email":"u1@example.com","email_consent":true}}"#);
    bytes.extend_from_slice(b"\r\n");
    // "José" written in Latin-1, as an old export might.
    bytes.extend_from_slice(b"{\"type\":\"identify\",\"userId\":\"u2\",\"timestamp\":\"2026-03-01T09:01:00Z\",\"traits\":{\"first_name\":\"Jos\xe9\"}}\n");
    bytes.extend_from_slice(br#"{"type":"track","userId":"u1","timestamp":"2026-03-01T09:05:00Z","event":"Signed Up","properties":{}}"#);
    let (problems, out) = shop_with_skipped_lines(&log, &bytes);
    insta::assert_snapshot!(problems, @r"
    Input problems:
      line 2: error (line skipped): not valid UTF-8 (byte 96 of the line); save the log as UTF-8
    ");
    // The lines around it reached the engine.
    assert!(out.contains("\n2 inputs, clock at"), "{out}");
}

/// The human report runs the engine without messages (only the excerpt of
/// each send is rendered) and keeps a compact story instead of the trace:
/// it must tell exactly what the full run tells.
#[test]
fn a_run_without_messages_tells_the_same_story() {
    use nudge_runtime::sim::{Keep, simulate_keeping};
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for (project, events, until) in [
        (
            "examples/shop",
            "examples/shop/events.jsonl",
            "2027-06-01T00:00:00Z",
        ),
        (
            "tests/simulate/tiny",
            "tests/simulate/tiny/events.jsonl",
            "2026-03-12T00:00:00Z",
        ),
    ] {
        let out = dir.join(format!("{}.nbc", project.replace('/', "-")));
        let o = nudge(&["build", project, "-o", &out.to_string_lossy()]);
        assert_eq!(o.status.code(), Some(0), "{project}");
        let bytes = std::fs::read(&out).unwrap_or_default();
        let bundle =
            nudge_bytecode::Bundle::decode(&bytes).unwrap_or_else(|e| panic!("{project}: {e}"));
        let log = std::fs::read_to_string(repo().join(events)).unwrap_or_default();
        let until = nudge_runtime::sim::ingest::timestamp_text(until);
        let full = simulate_keeping(&bundle, &log, until, Keep::Everything);
        let lean = simulate_keeping(&bundle, &log, until, Keep::TraceOnly);
        assert!(full.trace.len() > 10 && lean.trace.is_empty() && lean.effects.is_empty());
        assert_eq!(full.story, lean.story, "{project}");
        assert_eq!(full.funnel, lean.funnel, "{project}");
        assert_eq!(
            full.funnel,
            nudge_runtime::sim::report::funnel(&bundle, &full.trace)
        );
        assert_eq!(full.journey_bytes, lean.journey_bytes, "{project}");
        assert_eq!(
            (full.problems, full.inputs, full.clock, full.waiting),
            (lean.problems, lean.inputs, lean.clock, lean.waiting)
        );
    }
}

/// `examples/shop` built by `nudge build` into the test directory as `name`.
fn shop_bundle(name: &str) -> nudge_bytecode::Bundle {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let o = nudge(&["build", "examples/shop", "-o", &out.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(0));
    let bytes = std::fs::read(&out).unwrap_or_default();
    nudge_bytecode::Bundle::decode(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// A log out of time order is read again whole and sorted: the same story
/// as the log in order (streamed), read from a file either way.
#[test]
fn a_log_out_of_order_tells_the_same_story_as_in_order() {
    use nudge_runtime::sim::{Keep, Reopen, simulate_source};
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bundle = shop_bundle("shop-order.nbc");
    let log =
        std::fs::read_to_string(repo().join("examples/shop/events.jsonl")).unwrap_or_default();
    // Every timestamp differs, so reversed lines sort back into one order.
    let reversed: Vec<&str> = log.lines().rev().collect();
    let run = |name: &str, text: String| {
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, text) {
            panic!("{}: {e}", path.display());
        }
        let mut src = Reopen(|| std::fs::File::open(&path).map(std::io::BufReader::new));
        let until = nudge_runtime::sim::ingest::timestamp_text("2027-06-01T00:00:00Z");
        simulate_source(&bundle, &mut src, until, Keep::TraceOnly)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let in_order = run("in-order.jsonl", log.clone());
    let out_of_order = run("reversed.jsonl", reversed.join("\r\n"));
    assert!(in_order.problems.is_empty() && out_of_order.problems.is_empty());
    assert!(in_order.story.records.len() > 20);
    assert_eq!(in_order.story, out_of_order.story);
    assert_eq!(in_order.funnel, out_of_order.funnel);
    assert_eq!(in_order.journey_bytes, out_of_order.journey_bytes);
}

/// A line of a long log over 97 profiles: identify, sign-up and product
/// views, a minute apart.
fn long_line(i: usize) -> String {
    let at = format!(
        "2026-03-{:02}T{:02}:{:02}:00Z",
        1 + i / 1440,
        i / 60 % 24,
        i % 60
    );
    match i % 3 {
        0 => format!(
            r#"{{"type":"identify","userId":"u{}","timestamp":"{at}","traits":{{"email":"u{}@example.com","email_consent":true}}}}"#,
            i % 97,
            i % 97
        ),
        1 => format!(
            r#"{{"type":"track","userId":"u{}","event":"Signed Up","timestamp":"{at}"}}"#,
            i % 97
        ),
        _ => format!(
            r#"{{"type":"track","userId":"u{}","event":"Product Viewed","timestamp":"{at}","properties":{{"product_id":"p{i}","name":"Mug","price":12}}}}"#,
            i % 97
        ),
    }
}

/// The human report's run is partitioned by profile (each partition a
/// state of its own, lines held and run a partition at a time). It tells
/// every profile's story exactly as one state run over the log in order
/// does, whether the held lines run once at the end or every line: with
/// Segment's own batch payloads (`runtime/tests/fixtures/segment`, read at once
/// rather than routed), ids the router leaves to the reader (escapes,
/// padding, non-ASCII ends, numbers, `anonymousId` only) and a malformed
/// line.
#[test]
fn a_partitioned_run_tells_the_same_story_as_one_state() {
    use nudge_runtime::sim::{Keep, simulate_keeping, simulate_parts};
    let bundle = shop_bundle("shop-parts.nbc");
    let mut lines = Vec::new();
    // Copies of `../shared/data/segment`, all twelve (a clean clone has no
    // `../shared`).
    let segment = repo().join("runtime/tests/fixtures/segment");
    let mut files: Vec<_> = std::fs::read_dir(&segment)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
    {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        lines.push(v.to_string());
    }
    assert!(lines.len() >= 10, "{}", segment.display());
    let mut long: Vec<String> = (0..3000).map(long_line).collect();
    long[1500] = "{not json".to_string();
    for (i, id) in [
        r#""userId":"u1""#,
        r#""userId":"  u5 ""#,
        r#""userId":"ü7""#,
        r#""userId":7"#,
        r#""anonymousId":"u8""#,
        r#""userId":null,"anonymousId":"u9""#,
    ]
    .iter()
    .enumerate()
    {
        let at = 2000 + 100 * i;
        long[at] = long_line(at).replacen(&format!(r#""userId":"u{}""#, at % 97), id, 1);
    }
    let malformed = lines.len() + 1501;
    lines.extend(long);
    let text = lines.join("\n");
    // Without `until`, timers due by the log's last input fire (in every
    // partition, as in one state), and no later ones.
    let later = nudge_runtime::sim::ingest::timestamp_text("2026-03-20T00:00:00Z");
    for (until, budget) in [(later, 0), (later, 4096), (later, usize::MAX), (None, 4096)] {
        let one = simulate_keeping(&bundle, &text, until, Keep::Everything);
        assert!(
            one.story.records.len() > 2000,
            "{}",
            one.story.records.len()
        );
        assert!(one.problems.iter().any(|p| p.line == malformed));
        let mut src = text.as_str();
        let parted = simulate_parts(&bundle, &mut src, until, budget)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("budget {budget}: no input is late"));
        assert_eq!(parted.story.told(), one.story.told(), "budget {budget}");
        assert_eq!(parted.funnel, one.funnel, "budget {budget}");
        assert_eq!(parted.journey_bytes, one.journey_bytes, "budget {budget}");
        assert_eq!(
            (
                &parted.problems,
                parted.inputs,
                parted.clock,
                parted.waiting
            ),
            (&one.problems, one.inputs, one.clock, one.waiting),
            "budget {budget}"
        );
    }
}

/// A long log with an input out of time order far into it (the streamed run
/// has run thousands of inputs when it finds it, and starts over) and a
/// malformed line: the same story and the same problems as the log put in
/// order.
#[test]
fn a_late_input_far_into_a_long_log_tells_the_same_story() {
    use nudge_runtime::sim::{Keep, simulate_source};
    let bundle = shop_bundle("shop-late.nbc");
    let mut sorted: Vec<String> = (0..3000).map(long_line).collect();
    sorted[1200] = "{not json".to_string();
    // Line 2500 (an input) moved back to 2700: late there.
    let mut late = sorted.clone();
    let moved = late.remove(2500);
    late.insert(2700, moved);
    let run = |lines: &[String]| {
        let text = lines.join("\n");
        let mut src = text.as_str();
        simulate_source(&bundle, &mut src, None, Keep::TraceOnly).unwrap_or_else(|e| panic!("{e}"))
    };
    let (a, b) = (run(&sorted), run(&late));
    assert!(a.story.records.len() > 2000, "{}", a.story.records.len());
    assert_eq!(a.inputs, 2999);
    assert_eq!(a.story, b.story);
    assert_eq!(a.funnel, b.funnel);
    assert_eq!(
        a.problems.iter().map(|p| p.line).collect::<Vec<_>>(),
        vec![1201]
    );
    assert_eq!(b.problems.len(), 1);
}
