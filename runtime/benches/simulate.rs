//! `cargo bench -p nudge-runtime --bench simulate`: throughput of
//! `nudge simulate` — a generated log of 1,000,000 events over 100,000
//! profiles (see `eventlog.rs`) through the `examples/shop` bundle, on one
//! thread — beside a parse-only baseline on the same log (read every line,
//! parse its JSON and type it against the bundle's schema, as the
//! simulator's ingest does, without running the engine).
//!
//! Each phase runs in a child process (this binary again, with `--phase`),
//! so each one's peak resident memory (VmHWM) is its own. Both include the
//! log text itself, held in memory as `nudge simulate` holds it. The timed
//! part of the simulate phase is `sim::simulate_keeping(.., Keep::TraceOnly)`
//! (ingest, engine with every message rendered, trace, funnel; the effects
//! are not kept) — what `nudge simulate` (human format) does before
//! printing.
//!
//! The bundle comes from `nudge build examples/shop -o FILE` (`scripts/bench`
//! makes it); default `target/bench/shop.bundle`.
//!
//! Options (after `--`): `--events N` (default 1,000,000), `--profiles P`
//! (default 100,000), `--bundle FILE`, `--json` (one JSON object on stdout,
//! for `scripts/bench`), `--write FILE` (write the log and exit, for
//! `nudge simulate examples/shop --events FILE`).

// A bench reports failures by exiting.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod eventlog;

use nudge_bytecode::Bundle;
use nudge_runtime::sim::{self, ingest::Reader};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

struct Options {
    events: usize,
    profiles: usize,
    bundle: PathBuf,
    json: bool,
    write: Option<PathBuf>,
    phase: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        events: 1_000_000,
        profiles: 100_000,
        bundle: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench/shop.bundle"),
        json: false,
        write: None,
        phase: None,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).cloned();
        match args[i].as_str() {
            "--events" => {
                o.events = value.and_then(|v| v.parse().ok()).unwrap_or(o.events);
                i += 1;
            }
            "--profiles" => {
                o.profiles = value.and_then(|v| v.parse().ok()).unwrap_or(o.profiles);
                i += 1;
            }
            "--bundle" => {
                o.bundle = value.map(PathBuf::from).unwrap_or(o.bundle);
                i += 1;
            }
            "--write" => {
                o.write = value.map(PathBuf::from);
                i += 1;
            }
            "--phase" => {
                o.phase = value;
                i += 1;
            }
            "--json" => o.json = true,
            // `cargo bench` passes `--bench`; ignore what we do not know.
            _ => {}
        }
        i += 1;
    }
    o
}

/// Peak resident set size of this process in KiB (Linux), if known.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn load_bundle(path: &PathBuf) -> Bundle {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "{}: {e}\nmake it with: cargo run --release -p nudge -- build examples/shop -o {}",
                path.display(),
                path.display()
            );
            std::process::exit(2);
        }
    };
    match Bundle::decode(&bytes) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            std::process::exit(2);
        }
    }
}

/// Runs one phase in this process; prints `seconds inputs problems peak_kib`.
fn phase(o: &Options, which: &str) {
    let bundle = load_bundle(&o.bundle);
    let log = eventlog::generate(o.events, o.profiles);
    let start = Instant::now();
    let (inputs, problems) = match which {
        "parse" => {
            // The simulator's own reader, streaming as the simulator does:
            // each input is typed, then dropped.
            let mut problems = Vec::new();
            let mut inputs = 0usize;
            Reader::new(&bundle.schema).for_each(&log, &mut problems, |_, input| {
                std::hint::black_box(&input);
                inputs += 1;
            });
            (inputs, problems.len())
        }
        _ => {
            let s = sim::simulate_keeping(&bundle, &log, None, sim::Keep::TraceOnly);
            std::hint::black_box(&s.funnel);
            (s.inputs, s.problems.len())
        }
    };
    let secs = start.elapsed().as_secs_f64();
    println!("{secs} {inputs} {problems} {}", peak_rss_kib().unwrap_or(0));
}

struct Figures {
    secs: f64,
    inputs: usize,
    problems: usize,
    peak_kib: u64,
}

fn child(o: &Options, which: &str) -> Figures {
    let fail = |m: String| -> ! {
        eprintln!("{which} phase: {m}");
        std::process::exit(1);
    };
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(e.to_string()));
    let out = Command::new(exe)
        .args(["--phase", which, "--events", &o.events.to_string()])
        .args(["--profiles", &o.profiles.to_string(), "--bundle"])
        .arg(&o.bundle)
        .output()
        .unwrap_or_else(|e| fail(e.to_string()));
    if !out.status.success() {
        fail(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    match (
        f.first().and_then(|v| v.parse().ok()),
        f.get(1).and_then(|v| v.parse().ok()),
        f.get(2).and_then(|v| v.parse().ok()),
        f.get(3).and_then(|v| v.parse().ok()),
    ) {
        (Some(secs), Some(inputs), Some(problems), Some(peak_kib)) => Figures {
            secs,
            inputs,
            problems,
            peak_kib,
        },
        _ => fail(format!("unexpected output {text:?}")),
    }
}

fn main() {
    let o = options();
    if let Some(path) = &o.write {
        let log = eventlog::generate(o.events, o.profiles);
        if let Err(e) = std::fs::write(path, log) {
            eprintln!("{}: {e}", path.display());
            std::process::exit(2);
        }
        return;
    }
    if let Some(which) = &o.phase {
        phase(&o, which);
        return;
    }
    let parse = child(&o, "parse");
    let simulate = child(&o, "simulate");
    if parse.problems > 0 || simulate.problems > 0 {
        eprintln!(
            "the generated log has {} ingest problems; fix eventlog.rs",
            parse.problems
        );
        std::process::exit(1);
    }
    let rate = |f: &Figures| o.events as f64 / f.secs;
    let ratio = rate(&simulate) / rate(&parse);
    if o.json {
        println!(
            "{{\"events\":{},\"profiles\":{},\"inputs\":{},\"parse_events_per_sec\":{:.0},\"parse_peak_rss_kib\":{},\"simulate_events_per_sec\":{:.0},\"simulate_peak_rss_kib\":{},\"ratio\":{:.3}}}",
            o.events,
            o.profiles,
            simulate.inputs,
            rate(&parse),
            parse.peak_kib,
            rate(&simulate),
            simulate.peak_kib,
            ratio
        );
    } else {
        println!(
            "nudge simulate examples/shop, {} events over {} profiles ({} inputs):",
            o.events, o.profiles, parse.inputs
        );
        println!(
            "  parse only: {:.2} s = {:.0} events/s; peak RSS {} KiB",
            parse.secs,
            rate(&parse),
            parse.peak_kib
        );
        println!(
            "  simulate:   {:.2} s = {:.0} events/s; peak RSS {} KiB",
            simulate.secs,
            rate(&simulate),
            simulate.peak_kib
        );
        println!(
            "  engine / parse-only throughput: {ratio:.3} (target >= 0.25, and >= 300000 events/s)"
        );
    }
}
