//! Parser throughput on a large generated project file. Ignored by default;
//! run once in release mode:
//! `cargo test --release -p nudge-compiler --test parser_perf -- --ignored --nocapture`.
//! The team target for the whole `nudge check` is 200,000 lines/s on one core.

use nudge_compiler::parser::parse_file;
use nudge_compiler::span::FileId;
use std::time::Instant;

const SOURCES: &[&str] = &[
    include_str!("../../examples/shop/flows/abandoned_checkout.flow"),
    include_str!("../../examples/shop/flows/birthday.flow"),
    include_str!("../../examples/shop/flows/browse_abandonment.flow"),
    include_str!("../../examples/shop/flows/post_purchase.flow"),
    include_str!("../../examples/shop/flows/vip.flow"),
    include_str!("../../examples/shop/flows/welcome.flow"),
    include_str!("../../examples/shop/flows/win_back.flow"),
];

#[test]
#[ignore = "performance measurement; run in release mode"]
fn parses_ten_megabytes_quickly() {
    let mut text = String::new();
    let mut copies = 0;
    while text.len() < 10_000_000 {
        for s in SOURCES {
            text.push_str(s);
            text.push('\n');
        }
        copies += 1;
    }
    let lines = text.lines().count();
    let start = Instant::now();
    let parsed = parse_file(&text, FileId(0));
    let elapsed = start.elapsed();
    assert!(
        parsed.diagnostics.is_empty(),
        "{:?}",
        parsed.diagnostics.first()
    );
    assert_eq!(parsed.file.items.len() % copies, 0);
    let secs = elapsed.as_secs_f64();
    println!(
        "parsed {:.1} MB, {lines} lines, {} items in {:.3}s: {:.0} lines/s, {:.1} MB/s",
        text.len() as f64 / 1e6,
        parsed.file.items.len(),
        secs,
        lines as f64 / secs,
        text.len() as f64 / 1e6 / secs
    );
    assert!(secs < 5.0, "took {secs:.2}s");
}

/// Broken text must stay linear too: recovery skips each mistake once.
#[test]
#[ignore = "performance measurement; run in release mode"]
fn broken_text_stays_linear() {
    let chunk = "flow f {\n  sned email x(a,\n  wait 1h )\n  if a == { exit\n  send email t(\"{{ x | }}\")\n}\nsegment s = count(\"E\", within: ) >\n}}} ((( [[[\n";
    let small: String = chunk.repeat(2_000);
    let big: String = chunk.repeat(20_000);
    let time = |t: &str| {
        let start = Instant::now();
        let p = parse_file(t, FileId(0));
        (start.elapsed().as_secs_f64(), p.diagnostics.len())
    };
    let (ts, ds) = time(&small);
    let (tb, db) = time(&big);
    println!(
        "broken: {:.1} MB in {tb:.3}s ({db} diagnostics); 10x smaller in {ts:.3}s ({ds})",
        big.len() as f64 / 1e6
    );
    assert!(tb < ts * 30.0 + 0.5, "not linear: {ts:.3}s vs {tb:.3}s");
}
