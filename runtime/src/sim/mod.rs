//! The in-memory shell behind `nudge simulate` and `nudge test`: reads a
//! Segment-shaped JSONL log (`ingest.rs`), drives the engine on a virtual
//! clock — inputs in timestamp order (ties keep log order), every timer due
//! before an input fired first, then the clock run on to `until` — and
//! collects the trace, the effects and a per-flow funnel (`report.rs`).
//!
//! | file | job |
//! |---|---|
//! | `ingest.rs` | JSONL → typed engine inputs; malformed lines reported by number |
//! | `report.rs` | the funnel, and the human-readable trace |

pub mod ingest;
pub mod report;

use crate::engine::state::EngineState;
use crate::engine::trace::{OutEffect, TraceRecord};
use crate::engine::{Engine, Input};
use ingest::{LineProblem, Reader};
use nudge_bytecode::Bundle;
use report::FlowFunnel;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Simulation {
    pub problems: Vec<LineProblem>,
    /// Inputs read from the log.
    pub inputs: usize,
    pub trace: Vec<TraceRecord>,
    pub effects: Vec<OutEffect>,
    pub funnel: Vec<FlowFunnel>,
    /// The virtual clock at the end (unix ms).
    pub clock: i64,
    /// Journeys still waiting at the end.
    pub waiting: usize,
    /// Per flow, the largest suspended journey seen (its encoded
    /// `JourneyState`: flow version, resume point, locals), in bytes.
    pub journey_bytes: BTreeMap<String, usize>,
}

/// What a run keeps besides the trace and the funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every effect, rendered messages in full (`--format json`).
    Everything,
    /// No effects: the human report reads only the trace and the funnel,
    /// and on a big log the rendered bodies are most of the memory.
    TraceOnly,
}

/// Reads `log` and runs it. `until` (unix ms) runs the clock past the last
/// event so later waits and timers fire.
pub fn simulate(bundle: &Bundle, log: &str, until: Option<i64>) -> Simulation {
    simulate_keeping(bundle, log, until, Keep::Everything)
}

/// `simulate`, keeping only what `keep` says (`effects` is empty for
/// `Keep::TraceOnly`; everything else is the same).
pub fn simulate_keeping(bundle: &Bundle, log: &str, until: Option<i64>, keep: Keep) -> Simulation {
    let (inputs, problems) = Reader::new(&bundle.schema).read_log(log);
    let mut sim = run_keeping(
        bundle,
        inputs.into_iter().map(|(_, i)| i).collect(),
        until,
        keep,
    );
    sim.problems = problems;
    sim
}

/// Runs typed inputs (sorted by time, stable) through a fresh engine.
pub fn run(bundle: &Bundle, inputs: Vec<Input>, until: Option<i64>) -> Simulation {
    run_keeping(bundle, inputs, until, Keep::Everything)
}

fn run_keeping(
    bundle: &Bundle,
    mut inputs: Vec<Input>,
    until: Option<i64>,
    keep: Keep,
) -> Simulation {
    let keep_effects = keep == Keep::Everything;
    inputs.sort_by_key(Input::at);
    let engine = Engine::new(bundle);
    let mut state = EngineState::default();
    let mut trace = Vec::new();
    let mut effects = Vec::new();
    let count = inputs.len();
    // Per flow index; named at the end (no string work per input).
    let mut journey_bytes = vec![0usize; bundle.flows.len()];
    for input in inputs {
        let out = engine.handle(&mut state, input);
        measure(&state, &out.trace, &mut journey_bytes);
        trace.extend(out.trace);
        if keep_effects {
            effects.extend(out.effects);
        }
    }
    if let Some(until) = until {
        // Timer by timer, so journeys parked on the way are measured.
        while let Some(next) = Engine::next_due(&state).filter(|t| *t <= until) {
            let out = engine.advance(&mut state, next);
            measure(&state, &out.trace, &mut journey_bytes);
            trace.extend(out.trace);
            if keep_effects {
                effects.extend(out.effects);
            }
        }
        let out = engine.advance(&mut state, until);
        trace.extend(out.trace);
        if keep_effects {
            effects.extend(out.effects);
        }
    }
    let waiting = state.profiles.values().map(|p| p.journeys.len()).sum();
    let journey_bytes = named_sizes(bundle, &journey_bytes);
    Simulation {
        problems: Vec::new(),
        inputs: count,
        funnel: report::funnel(bundle, &trace),
        trace,
        effects,
        clock: state.clock,
        waiting,
        journey_bytes,
    }
}

/// Records the encoded size of the journeys of the profiles a step touched
/// (as they park), keeping the largest per flow index.
fn measure(state: &EngineState, trace: &[TraceRecord], sizes: &mut [usize]) {
    let mut touched: Vec<&str> = trace.iter().map(|r| r.profile.as_str()).collect();
    touched.dedup();
    for p in touched.iter().filter_map(|p| state.profiles.get(*p)) {
        for j in &p.journeys {
            let n = j.vm.encoded_len().unwrap_or(0);
            if let Some(slot) = sizes.get_mut(usize::from(j.flow)) {
                *slot = n.max(*slot);
            }
        }
    }
}

/// Flow index → size becomes flow name → size, for the flows that had a
/// suspended journey (an encoded journey is never empty: it holds at least
/// the 32-byte flow version).
fn named_sizes(bundle: &Bundle, sizes: &[usize]) -> BTreeMap<String, usize> {
    bundle
        .flows
        .iter()
        .zip(sizes)
        .filter(|(_, n)| **n > 0)
        .map(|(f, n)| (f.name.clone(), *n))
        .collect()
}
