//! `cargo bench -p nudge-compiler --bench check`: throughput of the whole
//! front end (`nudge check`'s work: parse, index, type check, rules, lints)
//! on a synthetic project of 1,000 flow files (see `synth.rs`), on one
//! thread, from a fresh database each run. Reports lines per second (the
//! median of several runs) and the process's peak resident memory.
//!
//! Options (after `--`): `--flows N` (default 1000), `--runs N` (default 7),
//! `--json` (one JSON object on stdout, for `scripts/bench`).
//!
//! The files are generated in memory, so disk speed is not measured; the
//! CLI's loader only adds reading the files.

// A bench reports failures by exiting.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod synth;

use nudge_compiler::db::{self, Database, Project, SourceContents, SourceFile};
use nudge_compiler::span::FileId;
use std::time::{Duration, Instant};

struct Options {
    flows: usize,
    runs: usize,
    json: bool,
}

fn options() -> Options {
    let mut o = Options {
        flows: 1000,
        runs: 7,
        json: false,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--flows" => {
                o.flows = args
                    .get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(o.flows);
                i += 1;
            }
            "--runs" => {
                o.runs = args
                    .get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(o.runs);
                i += 1;
            }
            "--json" => o.json = true,
            // `cargo bench` passes `--bench`; ignore what we do not know.
            _ => {}
        }
        i += 1;
    }
    o.runs = o.runs.max(1);
    o
}

/// Checks the project once in a fresh database; returns the diagnostics.
fn check_once(files: &[(String, String)]) -> Vec<nudge_compiler::Diagnostic> {
    let db = Database::default();
    let mut sources = db.stdlib_files();
    let mut manifest = None;
    for (id, (path, text)) in (db::first_project_file_id().0..).zip(files) {
        let file = SourceFile::new(
            &db,
            path.clone(),
            FileId(id),
            SourceContents::Text(text.clone()),
        );
        if path == "nudge.toml" {
            manifest = Some(file);
        } else {
            sources.push(file);
        }
    }
    let project = Project::new(&db, sources, manifest, Vec::new());
    db::diagnostics(&db, project).clone()
}

/// Peak resident set size of this process in KiB (Linux), if known.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let o = options();
    let files = synth::project(o.flows);
    let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();

    // The project must check clean, or we would be timing error paths.
    let diagnostics = check_once(&files);
    if !diagnostics.is_empty() {
        eprintln!(
            "the synthetic project has {} diagnostics; first: {:?}",
            diagnostics.len(),
            diagnostics.first()
        );
        std::process::exit(1);
    }

    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..o.runs {
        let start = Instant::now();
        let d = check_once(&files);
        times.push(start.elapsed());
        std::hint::black_box(d);
    }
    times.sort();
    let median = times[times.len() / 2];
    let lines_per_sec = lines as f64 / median.as_secs_f64();
    let peak = peak_rss_kib().unwrap_or(0);
    if o.json {
        println!(
            "{{\"flows\":{},\"lines\":{},\"bytes\":{},\"median_ms\":{:.1},\"lines_per_sec\":{:.0},\"peak_rss_kib\":{}}}",
            o.flows,
            lines,
            bytes,
            median.as_secs_f64() * 1000.0,
            lines_per_sec,
            peak
        );
    } else {
        println!(
            "nudge check, {} flow files, {} lines, {} KiB: median {:.1} ms over {} runs = {:.0} lines/s; peak RSS {} KiB",
            o.flows,
            lines,
            bytes / 1024,
            median.as_secs_f64() * 1000.0,
            o.runs,
            lines_per_sec,
            peak
        );
    }
}
