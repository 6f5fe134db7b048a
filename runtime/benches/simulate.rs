//! `cargo bench -p nudge-runtime --bench simulate`: throughput of
//! `nudge simulate` — a generated log of 1,000,000 events over 100,000
//! profiles (see `eventlog.rs`) through the `examples/shop` bundle, on one
//! thread — beside a parse-only baseline on the same log: the simulator's
//! own reader (`ingest::Reader::for_bundle`, streaming line by line), each
//! line parsed and typed against the bundle's schema into an engine input
//! (keeping, of each event, the members the bundle reads, as the simulator
//! does), which is then dropped instead of run.
//!
//! Each phase runs in a child process (this binary again, with `--phase`),
//! so each one's peak resident memory (VmHWM) is its own. The log is
//! written to a file beside the bundle first (removed at the end), and each
//! phase streams it line by line, as `nudge simulate` streams its file. The timed
//! part of the simulate phase is `sim::simulate_keeping(.., Keep::TraceOnly)`
//! (streamed ingest, the engine with every send's excerpt rendered and its
//! other parts evaluated, the compact story for the report, the funnel) —
//! what `nudge simulate` (human format) does before printing. Rates are
//! given by the wall clock and by the CPU time of the phase (on a shared
//! machine the wall clock also counts time other processes held the core).
//!
//! The bundle comes from `nudge build examples/shop -o FILE` (`scripts/bench`
//! makes it); default `target/bench/shop.bundle`.
//!
//! Both phases run `--repeat` rounds (default 3), alternating, and each
//! reports its fastest round by CPU time, with the range over all rounds:
//! on a shared VM one binary's time swings by a fifth from run to run.
//! Last comes what simulating costs beyond reading the input: the two
//! fastest CPU times' difference, as events per second. (The targets are
//! read on the simulate phase's own rate; this line is for attributing it.)
//!
//! Options (after `--`): `--events N` (default 1,000,000), `--profiles P`
//! (default 100,000), `--repeat R` (default 3), `--bundle FILE`, `--json`
//! (one JSON object on stdout, for `scripts/bench`), `--write FILE` (write
//! the log and exit, for `nudge simulate examples/shop --events FILE`).

// A bench reports failures by exiting.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod eventlog;

// The allocator `nudge` itself runs with (see cli/src/main.rs).
#[global_allocator]
static GLOBAL: nudge_sys::Mimalloc = nudge_sys::Mimalloc;

use nudge_bytecode::Bundle;
use nudge_runtime::sim::{self, LogSource, Reopen, ingest::Reader};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

struct Options {
    events: usize,
    profiles: usize,
    bundle: PathBuf,
    json: bool,
    write: Option<PathBuf>,
    phase: Option<String>,
    /// The log file a phase streams (the parent writes it).
    log: Option<PathBuf>,
    /// Rounds of (parse, simulate); each phase reports its fastest round.
    repeat: usize,
}

fn options() -> Options {
    let mut o = Options {
        events: 1_000_000,
        profiles: 100_000,
        bundle: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench/shop.bundle"),
        json: false,
        write: None,
        phase: None,
        log: None,
        repeat: 3,
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
            "--repeat" => {
                o.repeat = value
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(o.repeat)
                    .max(1);
                i += 1;
            }
            "--log" => {
                o.log = value.map(PathBuf::from);
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

/// CPU time this (single-threaded) process has run, in seconds (Linux),
/// if known: on a shared machine the wall clock also counts the time other
/// processes held the core.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
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
                "{}: {e}\nmake it with: cargo run --release -p nudge -- build examples/shop -o {}\n(scripts/bench makes it and runs this bench)",
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

/// Runs one phase in this process; prints `seconds inputs problems
/// peak_kib cpu_seconds`. The log is streamed from `--log` (as `nudge
/// simulate` streams its file), or generated in memory without it.
fn phase(o: &Options, which: &str) {
    let bundle = load_bundle(&o.bundle);
    let text;
    let mut text_src: &str;
    let mut file;
    let src: &mut dyn LogSource = match &o.log {
        Some(path) => {
            file = Reopen(move || {
                std::fs::File::open(path).map(|f| std::io::BufReader::with_capacity(1 << 16, f))
            });
            &mut file
        }
        None => {
            text = eventlog::generate(o.events, o.profiles);
            text_src = text.as_str();
            &mut text_src
        }
    };
    let mut kept = None;
    let start = Instant::now();
    let cpu_start = cpu_secs();
    let result = match which {
        "parse" => {
            // The simulator's own reader, streaming as the simulator does:
            // each input is typed, then dropped.
            let reader = Reader::for_bundle(&bundle);
            let mut problems = Vec::new();
            let mut inputs = 0usize;
            let mut line_no = 0;
            src.each_line(&mut |line| {
                line_no += 1;
                if let Some(line) = sim::line_text(line_no, line, &mut problems) {
                    reader.read_line(line_no, line, &mut problems, &mut |_, input| {
                        std::hint::black_box(&input);
                        inputs += 1;
                    });
                }
                true
            })
            .map(|()| (inputs, problems.len()))
        }
        _ => sim::simulate_source(&bundle, src, None, sim::Keep::TraceOnly).map(|s| {
            let figures = (s.inputs, s.problems.len());
            // Dropped after the clock stops: `nudge simulate` prints the
            // report from it first, and drops it at exit.
            kept = Some(s);
            figures
        }),
    };
    let (inputs, problems) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{which}: {e}");
            std::process::exit(2);
        }
    };
    let secs = start.elapsed().as_secs_f64();
    let cpu = match (cpu_start, cpu_secs()) {
        (Some(a), Some(b)) => b - a,
        _ => secs,
    };
    println!(
        "{secs} {inputs} {problems} {} {cpu}",
        peak_rss_kib().unwrap_or(0)
    );
    drop(std::hint::black_box(kept));
}

struct Figures {
    secs: f64,
    /// CPU seconds (the wall clock when unknown).
    cpu: f64,
    inputs: usize,
    problems: usize,
    peak_kib: u64,
}

fn child(o: &Options, which: &str, log: &Path) -> Figures {
    let fail = |m: String| -> ! {
        eprintln!("{which} phase: {m}");
        let _ = std::fs::remove_file(log);
        std::process::exit(1);
    };
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(e.to_string()));
    let out = Command::new(exe)
        .args(["--phase", which, "--events", &o.events.to_string()])
        .args(["--profiles", &o.profiles.to_string(), "--bundle"])
        .arg(&o.bundle)
        .arg("--log")
        .arg(log)
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
        f.get(4).and_then(|v| v.parse().ok()),
    ) {
        (Some(secs), Some(inputs), Some(problems), Some(peak_kib), Some(cpu)) => Figures {
            secs,
            cpu,
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
    // The bundle first: on a fresh checkout there is none yet, and the
    // error says how to make it (rather than failing to write the log).
    load_bundle(&o.bundle);
    // The log goes to a file beside the bundle that both phases stream (so
    // neither holds it in memory, as `nudge simulate` does not); removed at
    // the end.
    let log = o
        .bundle
        .with_file_name(format!("simulate-{}-{}.jsonl", o.events, o.profiles));
    if let Err(e) = std::fs::write(&log, eventlog::generate(o.events, o.profiles)) {
        eprintln!("{}: {e}", log.display());
        std::process::exit(2);
    }
    // Rounds alternate the phases, so a slow spell of a shared machine
    // falls on both; each phase keeps its fastest round by CPU time (on
    // this project's VMs one binary swings ±20% from run to run).
    let mut parses = Vec::new();
    let mut simulates = Vec::new();
    for _ in 0..o.repeat {
        parses.push(child(&o, "parse", &log));
        simulates.push(child(&o, "simulate", &log));
    }
    let _ = std::fs::remove_file(&log);
    let spread = |runs: &[Figures]| {
        let rates = runs.iter().map(|f| o.events as f64 / f.cpu);
        let lo = rates.clone().fold(f64::INFINITY, f64::min);
        let hi = rates.fold(0.0, f64::max);
        (lo, hi)
    };
    let (parse_lo, parse_hi) = spread(&parses);
    let (sim_lo, sim_hi) = spread(&simulates);
    let fastest = |runs: Vec<Figures>| {
        runs.into_iter()
            .min_by(|a, b| a.cpu.total_cmp(&b.cpu))
            .unwrap_or_else(|| {
                eprintln!("no rounds ran");
                std::process::exit(1);
            })
    };
    let parse = fastest(parses);
    let simulate = fastest(simulates);
    if parse.problems > 0 || simulate.problems > 0 {
        eprintln!(
            "the generated log has {} ingest problems; fix eventlog.rs",
            parse.problems
        );
        std::process::exit(1);
    }
    let rate = |f: &Figures| o.events as f64 / f.secs;
    let cpu_rate = |f: &Figures| o.events as f64 / f.cpu;
    let ratio = rate(&simulate) / rate(&parse);
    let cpu_ratio = cpu_rate(&simulate) / cpu_rate(&parse);
    // What the simulate phase spends beyond reading its input (the two
    // fastest rounds' CPU times, so both from good spells of the machine).
    let beyond_reading = o.events as f64 / (simulate.cpu - parse.cpu).max(f64::MIN_POSITIVE);
    if o.json {
        println!(
            "{{\"events\":{},\"profiles\":{},\"inputs\":{},\"parse_events_per_sec\":{:.0},\"parse_peak_rss_kib\":{},\"simulate_events_per_sec\":{:.0},\"simulate_peak_rss_kib\":{},\"ratio\":{:.3},\"parse_events_per_cpu_sec\":{:.0},\"simulate_events_per_cpu_sec\":{:.0},\"cpu_ratio\":{:.3},\"rounds\":{},\"parse_events_per_cpu_sec_range\":[{:.0},{:.0}],\"simulate_events_per_cpu_sec_range\":[{:.0},{:.0}],\"beyond_reading_events_per_cpu_sec\":{:.0}}}",
            o.events,
            o.profiles,
            simulate.inputs,
            rate(&parse),
            parse.peak_kib,
            rate(&simulate),
            simulate.peak_kib,
            ratio,
            cpu_rate(&parse),
            cpu_rate(&simulate),
            cpu_ratio,
            o.repeat,
            parse_lo,
            parse_hi,
            sim_lo,
            sim_hi,
            beyond_reading
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
        println!(
            "  by CPU time: parse only {:.0} events/s ({:.2} s), simulate {:.0} events/s ({:.2} s), ratio {cpu_ratio:.3}",
            cpu_rate(&parse),
            parse.cpu,
            cpu_rate(&simulate),
            simulate.cpu
        );
        println!(
            "  fastest of {} rounds by CPU time; all rounds: parse only {parse_lo:.0}-{parse_hi:.0} events/s, simulate {sim_lo:.0}-{sim_hi:.0} events/s",
            o.repeat
        );
        println!(
            "  beyond reading the input (simulate less parse-only CPU time): {:.2} s = {beyond_reading:.0} events/s",
            simulate.cpu - parse.cpu
        );
    }
}
