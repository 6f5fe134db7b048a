//! `nudge simulate PROJECT --events FILE.jsonl [--until TS] [--format
//! human|json]`: builds the project, replays a Segment-shaped event log on
//! a virtual clock and prints the trace and the per-flow funnel.
//!
//! Exit code: 0 when every line was read, 1 when some were skipped (they
//! are listed first) or the project does not build, 2 on usage or I/O
//! errors.

use crate::build::compile;
use clap::{Args, ValueEnum};
use nudge_runtime::sim::ingest::{Severity, timestamp_text};
use nudge_runtime::sim::{Keep, Reopen, report, simulate_source};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct SimulateArgs {
    /// The project folder (holding nudge.toml) or a single .flow file.
    #[arg(default_value = ".")]
    project: PathBuf,
    /// The event log: one Segment track/identify call (or batch) per line.
    #[arg(long)]
    events: PathBuf,
    /// Run the virtual clock on to this instant (RFC 3339, e.g.
    /// 2026-12-01T00:00:00Z) so waits after the last event fire.
    #[arg(long)]
    until: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Per-profile trace and funnel for people.
    Human,
    /// One JSON object: problems, trace, effects, funnel.
    Json,
}

pub fn run(args: &SimulateArgs) -> u8 {
    let until = match &args.until {
        None => None,
        Some(text) => match timestamp_text(text) {
            Some(t) => Some(t),
            None => {
                eprintln!(
                    "error: --until {text:?} is not an RFC 3339 time (e.g. 2026-12-01T00:00:00Z)"
                );
                return 2;
            }
        },
    };
    // The log is streamed line by line (see `sim::LogSource`); an unreadable
    // file is a usage error before anything is built.
    if let Err(e) = std::fs::File::open(&args.events) {
        eprintln!("error: {}: {e}", args.events.display());
        return 2;
    }
    let bundle = match compile(&args.project) {
        Ok(b) => b,
        Err(e) => return e.report(),
    };
    // The human report shows no effects: don't keep the rendered bodies.
    let keep = match args.format {
        Format::Human => Keep::TraceOnly,
        Format::Json => Keep::Everything,
    };
    let path = &args.events;
    let mut log =
        Reopen(|| std::fs::File::open(path).map(|f| std::io::BufReader::with_capacity(1 << 16, f)));
    let sim = match simulate_source(&bundle, &mut log, until, keep) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("error: {}: {e}", args.events.display());
            return 2;
        }
    };
    let out = match args.format {
        Format::Human => report::human(&sim),
        Format::Json => match serde_json::to_string_pretty(&sim) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        },
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return 2;
    }
    if sim.problems.iter().any(|p| p.severity == Severity::Error) {
        1
    } else {
        0
    }
}
