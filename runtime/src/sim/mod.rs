//! The in-memory shell behind `nudge simulate` and `nudge test`: reads a
//! Segment-shaped JSONL log (`ingest.rs`), drives the engine on a virtual
//! clock — inputs in timestamp order (ties keep log order), every timer due
//! before an input fired first, then the clock run on to `until` — and
//! collects the trace, the effects and a per-flow funnel (`report.rs`).
//!
//! The human report's run (`Keep::TraceOnly`) is partitioned by profile
//! (`parts.rs`): lines are routed to partitions, held up to a budget, and
//! run a partition at a time. Otherwise a log in time order (the usual
//! case) is streamed: each line is read,
//! typed and handed to the engine before the next is read, and each trace
//! record is counted into the funnel and kept in a compact form (`Story`:
//! the profile as a number, the flow as its index) as it comes. Only a log
//! out of time order is read whole and sorted first (the run starts over
//! when the first late input shows up; nothing is printed before the end).
//! The log comes from a `LogSource`: a string, or a reader such as a file
//! (`Reopen`), so a big log is never held in memory whole.
//!
//! | file | job |
//! |---|---|
//! | `ingest.rs` | JSONL → typed engine inputs; malformed lines reported by number |
//! | `parts.rs` | the partitioned run: routing lines by profile, a partition at a time |
//! | `report.rs` | the funnel, and the human-readable trace |

pub mod ingest;
mod parts;
pub mod report;

pub use crate::chunks::Chunks;

use crate::engine::state::EngineState;
use crate::engine::trace::{
    Decision, ExitReason, Name, NotEntered, OutEffect, Outputs, ResumedBy, TraceRecord,
};
use crate::engine::{Engine, Input};
use ingest::{LineProblem, Reader};
use nudge_bytecode::Bundle;
use report::{FlowFunnel, FunnelCounter};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Simulation {
    pub problems: Vec<LineProblem>,
    /// Inputs read from the log.
    pub inputs: usize,
    /// Every trace record in full (`Keep::Everything` only; the human
    /// report reads `story`).
    pub trace: Vec<TraceRecord>,
    pub effects: Vec<OutEffect>,
    pub funnel: Vec<FlowFunnel>,
    /// The virtual clock at the end (unix ms).
    pub clock: i64,
    /// Journeys still waiting at the end.
    pub waiting: usize,
    /// Per flow, the largest suspended journey seen (the whole encoded
    /// `Journey`: VM state, what it waits for, references to the events it
    /// bound, which the profile keeps), in bytes.
    pub journey_bytes: BTreeMap<String, usize>,
    /// The trace in compact form, for the human report.
    #[serde(skip)]
    pub story: Story,
    /// The engine's state at the end: one per partition of the profiles
    /// (`parts.rs`), or one when the run was not partitioned. (Handed over
    /// rather than dropped inside the run: freeing a big state takes a
    /// while, and a report can be printed first.)
    #[serde(skip)]
    pub states: Vec<EngineState>,
}

/// The trace as the human report reads it: profiles numbered by their slot
/// in the engine's table (the order the engine first saw them), flows by
/// index, and each distinct decision kept once.
///
/// A million-event run makes about four million records. As full
/// `TraceRecord`s (104 bytes, plus an idempotency key and an excerpt on
/// the heap for every send) they were more than half the run's memory,
/// and writing that much fresh memory was a fifth of its time (page
/// faults). A story record is 32 bytes: the decisions repeat (the same
/// few sends, exits and waits, told apart only by their instants), so
/// each is kept once without its instant, which the record carries.
#[derive(Debug, Clone)]
pub struct Story {
    /// Profile ids by number.
    pub profiles: Vec<String>,
    pub records: Chunks<StoryRecord>,
    /// The distinct decisions by number, each without its own instant
    /// (`StoryRecord::time`) and without a send's idempotency key (the
    /// report does not show keys).
    decisions: Vec<Decision>,
    /// Decision → number in `decisions`.
    numbers: HashMap<Decision, u32, rustc_hash::FxBuildHasher>,
    /// A direct-mapped cache in front of `numbers`: per slot (by flow, kind
    /// of decision and a little of its content, `recent_slot`), the number
    /// of the decision last pushed there; `u32::MAX` for none. Records repeat (every journey of
    /// a flow waits, resumes and exits alike), so the decision is usually
    /// the one the slot holds: one comparison instead of hashing every
    /// string of it and probing the map. Equality decides; a slot only
    /// says where to look first. Empty until the first push.
    recent: Vec<u32>,
    /// Per `plain_kind`, the number of that decision; `u32::MAX` until it
    /// first comes. Such a decision carries nothing once its instant is
    /// out, so its kind alone names it: no slot, no comparison.
    plain: [u32; PLAIN],
}

/// Slots in `Story::recent` (16 KiB): room for the common decisions of a
/// bundle of a few dozen flows with few sharing a slot.
const RECENT: usize = 1 << 12;

/// The story as told (`Story::told`): each profile's records in their
/// order. Not how it is held: the numbering of profiles and decisions, the
/// order records of different profiles came in (a partitioned run tells
/// profiles in another order than a sequential one) and the caches.
impl PartialEq for Story {
    fn eq(&self, other: &Story) -> bool {
        self.told() == other.told()
    }
}

impl Eq for Story {}

impl Default for Story {
    fn default() -> Story {
        Story {
            profiles: Vec::new(),
            records: Chunks::default(),
            decisions: Vec::new(),
            numbers: HashMap::default(),
            recent: Vec::new(),
            plain: [u32::MAX; PLAIN],
        }
    }
}

impl Story {
    /// Adds a record. The decision is read where it lies: its own instant
    /// moves into the record and is set to 0 there, and a send's key is
    /// emptied (`detach_time`), so a decision seen before costs a
    /// comparison (or a hash), not a move or a copy. Only a new one is
    /// cloned.
    pub fn push(
        &mut self,
        at: i64,
        profile: u32,
        flow: Option<u16>,
        journey: Option<u64>,
        decision: &mut Decision,
    ) {
        let time = detach_time(decision);
        if let Some(kind) = plain_kind(decision) {
            let number = match self.plain.get(kind) {
                Some(&n) if n != u32::MAX => n,
                _ => {
                    let n = self.number(decision);
                    if let Some(p) = self.plain.get_mut(kind) {
                        *p = n;
                    }
                    n
                }
            };
            self.push_record(at, time, profile, flow, journey, number);
            return;
        }
        if self.recent.is_empty() {
            self.recent = vec![u32::MAX; RECENT];
        }
        let slot = recent_slot(flow, decision);
        let number = match self.recent.get(slot) {
            Some(&n)
                if self
                    .decisions
                    .get(n as usize)
                    .is_some_and(|d| same(d, decision)) =>
            {
                n
            }
            _ => {
                let n = self.number(decision);
                if let Some(s) = self.recent.get_mut(slot) {
                    *s = n;
                }
                n
            }
        };
        self.push_record(at, time, profile, flow, journey, number);
    }

    fn push_record(
        &mut self,
        at: i64,
        time: i64,
        profile: u32,
        flow: Option<u16>,
        journey: Option<u64>,
        number: u32,
    ) {
        self.records.push(StoryRecord {
            at,
            time,
            journey: journey.map_or(0, |j| {
                u32::try_from(j.saturating_add(1)).unwrap_or(u32::MAX)
            }),
            profile,
            decision: number,
            flow: flow.unwrap_or(NO_FLOW),
        });
    }

    /// The number of a decision (already without its instant), given it
    /// when it is new.
    fn number(&mut self, decision: &Decision) -> u32 {
        if let Some(n) = self.numbers.get(decision) {
            return *n;
        }
        let n = u32::try_from(self.decisions.len()).unwrap_or(u32::MAX);
        self.decisions.push(decision.clone());
        self.numbers.insert(decision.clone(), n);
        n
    }

    /// The story as the report tells it: per profile (in id order), its
    /// records in order, each as its instant, flow, journey and decision.
    pub fn told(&self) -> Vec<(&str, Vec<ToldRecord>)> {
        let mut by: BTreeMap<&str, Vec<ToldRecord>> = BTreeMap::new();
        for r in self.records.iter() {
            let name = self
                .profiles
                .get(r.profile as usize)
                .map_or("?", String::as_str);
            by.entry(name)
                .or_default()
                .push((r.at, r.flow(), r.journey(), self.decision(r)));
        }
        by.into_iter().collect()
    }

    /// A record's decision in full (a send's idempotency key left empty).
    pub fn decision(&self, r: &StoryRecord) -> Option<Decision> {
        let d = self.decisions.get(r.decision as usize)?;
        Some(attach_time(d, r.time))
    }
}

/// `StoryRecord::flow` when the record names no flow.
const NO_FLOW: u16 = u16::MAX;

/// How many trace records `Run::input_held` lets gather before they are
/// taken (about 160 KiB of them: they stay in the cache until then).
const HELD_RECORDS: usize = 1024;

/// Takes the decision's own instant (`until`, `deadline`, ...) out of it,
/// leaving 0 there, and returns it (0 when it has none); a send's
/// idempotency key is emptied too. In place: the caller's record is
/// dropped afterwards anyway, and moving a whole `Decision` per record
/// cost more than the rest of the bookkeeping.
fn detach_time(d: &mut Decision) -> i64 {
    match d {
        Decision::Waiting { until }
        | Decision::WaitPassed { until }
        | Decision::Deferred { until, .. } => std::mem::take(until),
        Decision::WaitingFor { deadline, .. } => std::mem::take(deadline),
        Decision::NotEntered {
            reason: NotEntered::TooSoon { last_entry },
        } => std::mem::take(last_entry),
        Decision::Resumed {
            by: ResumedBy::Heard { at, .. },
        } => std::mem::take(at),
        Decision::Sent { key, .. } => {
            key.clear();
            0
        }
        _ => 0,
    }
}

/// Kinds of decision that carry nothing but their instant (`plain_kind`).
const PLAIN: usize = 10;

/// For a decision without its instant (`detach_time`) that carries nothing
/// else, its index among those kinds (`Story::plain`). Waits, resumes by a
/// timer, refused entries and ends are over half of all records.
fn plain_kind(d: &Decision) -> Option<usize> {
    match d {
        Decision::Waiting { .. } => Some(0),
        Decision::WaitPassed { .. } => Some(1),
        Decision::NotEntered { reason } => Some(match reason {
            NotEntered::AlreadyActive => 2,
            NotEntered::EnteredBefore => 3,
            NotEntered::TooSoon { .. } => 4,
        }),
        Decision::Resumed {
            by: ResumedBy::Timer,
        } => Some(5),
        Decision::Resumed {
            by: ResumedBy::Timeout,
        } => Some(6),
        Decision::Exited { by } => match by {
            ExitReason::ExitStep => Some(7),
            ExitReason::End => Some(8),
            ExitReason::Error => Some(9),
            ExitReason::ExitWhen { .. } => None,
        },
        _ => None,
    }
}

/// `a == b`, with an entry (one record in eight, and not a `plain_kind`)
/// compared here, where the compiler sees the kind of both, instead of in
/// the derived comparison of every kind.
fn same(a: &Decision, b: &Decision) -> bool {
    match (a, b) {
        (
            Decision::Entered {
                trigger: t,
                holdout: h,
            },
            Decision::Entered {
                trigger: u,
                holdout: k,
            },
        ) => h == k && t == u,
        _ => a == b,
    }
}

/// `Story::recent`'s slot for a decision of `flow`: by the flow, the kind
/// of decision and what most often tells two of a kind in a flow apart (a
/// send's excerpt is personalized, a split has its variants, a conversion
/// its revenue, a suppression its template and reason), so those
/// take slots of their own instead of evicting each other. Any function of
/// the decision would do (the slot is only where to look first); this one
/// reads little more than the kind.
fn recent_slot(flow: Option<u16>, d: &Decision) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    flow.hash(&mut h);
    std::mem::discriminant(d).hash(&mut h);
    match d {
        Decision::Sent { excerpt, .. } => h.write(excerpt.as_bytes()),
        Decision::Suppressed {
            template, reason, ..
        } => {
            h.write(template.as_bytes());
            reason.hash(&mut h);
        }
        // The amount's digits as they are: `Decimal`'s own hash first
        // normalizes, which costs more than the slot saves.
        Decision::Converted {
            revenue: Some(nudge_bytecode::Value::Money(m)),
            ..
        } => h.write_i128(m.amount.mantissa()),
        Decision::SplitAssigned { variant, .. } => h.write(variant.as_bytes()),
        Decision::Exited { by } => std::mem::discriminant(by).hash(&mut h),
        _ => {}
    }
    // `finish` brings the well-mixed high bits of the product down.
    usize::try_from(h.finish() % RECENT as u64).unwrap_or(0)
}

/// `detach_time` undone (but for a send's key).
fn attach_time(d: &Decision, time: i64) -> Decision {
    let mut d = d.clone();
    match &mut d {
        Decision::Waiting { until }
        | Decision::WaitPassed { until }
        | Decision::Deferred { until, .. } => *until = time,
        Decision::WaitingFor { deadline, .. } => *deadline = time,
        Decision::NotEntered {
            reason: NotEntered::TooSoon { last_entry },
        } => *last_entry = time,
        Decision::Resumed {
            by: ResumedBy::Heard { at, .. },
        } => *at = time,
        _ => {}
    }
    d
}

/// A story record as told: instant, flow index, journey, decision.
pub type ToldRecord = (i64, Option<u16>, Option<u64>, Option<Decision>);

/// One trace record of the story (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoryRecord {
    pub at: i64,
    /// The decision's own instant, when it has one (see `Story::decision`).
    time: i64,
    /// The journey id + 1; 0 for none. (Journeys are numbered per profile:
    /// 32 bits hold more than a profile ever starts, and keep the record
    /// at 32 bytes, not 40: 30 MB less at 1M events.)
    journey: u32,
    /// Index into `Story::profiles`.
    pub profile: u32,
    /// Index into the story's decisions.
    decision: u32,
    /// Index into the bundle's flows; `NO_FLOW` for none.
    flow: u16,
}

const _: () = assert!(std::mem::size_of::<StoryRecord>() == 32);

impl StoryRecord {
    pub fn flow(&self) -> Option<u16> {
        (self.flow != NO_FLOW).then_some(self.flow)
    }

    pub fn journey(&self) -> Option<u64> {
        self.journey.checked_sub(1).map(u64::from)
    }
}

/// What a run keeps besides the story and the funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every effect, rendered messages in full, and the full trace
    /// (`--format json`).
    Everything,
    /// No effects and no full trace: the human report reads only the story
    /// and the funnel, and on a big log the rendered bodies and the copied
    /// profile ids would be most of the memory.
    TraceOnly,
}

/// Reads `log` and runs it. `until` (unix ms) runs the clock past the last
/// event so later waits and timers fire.
pub fn simulate(bundle: &Bundle, log: &str, until: Option<i64>) -> Simulation {
    simulate_keeping(bundle, log, until, Keep::Everything)
}

/// `simulate`, keeping only what `keep` says (`effects` and `trace` are
/// empty for `Keep::TraceOnly`; everything else is the same).
pub fn simulate_keeping(bundle: &Bundle, log: &str, until: Option<i64>, keep: Keep) -> Simulation {
    match simulate_source(bundle, &mut &*log, until, keep) {
        Ok(sim) => sim,
        // Reading a string cannot fail; say so rather than panic if it did.
        Err(e) => {
            let mut sim = Run::new(bundle, keep).finish(None);
            sim.problems.push(LineProblem {
                line: 0,
                severity: ingest::Severity::Error,
                message: e.to_string(),
            });
            sim
        }
    }
}

/// A log that can be read line by line, and read again from its start.
pub trait LogSource {
    /// Calls `f` with each line's bytes, without its line break (`\n` or
    /// `\r\n`, as `str::lines`), in order, until `f` returns false. Lines
    /// are not checked for UTF-8 here: `line_text` does that per line, so
    /// one bad line is reported and skipped instead of ending the run.
    fn each_line(&mut self, f: &mut dyn FnMut(&[u8]) -> bool) -> std::io::Result<()>;
}

impl LogSource for &str {
    fn each_line(&mut self, f: &mut dyn FnMut(&[u8]) -> bool) -> std::io::Result<()> {
        for line in self.lines() {
            if !f(line.as_bytes()) {
                break;
            }
        }
        Ok(())
    }
}

/// A log read through a buffered reader that `open` makes (called again
/// to read the log a second time), e.g. a file: only the reader's buffer
/// (and a line that spans two fills of it) is in memory at a time. Lines
/// are handed out straight from the buffer, not copied.
pub struct Reopen<F>(pub F);

impl<F, R> LogSource for Reopen<F>
where
    F: FnMut() -> std::io::Result<R>,
    R: std::io::BufRead,
{
    fn each_line(&mut self, f: &mut dyn FnMut(&[u8]) -> bool) -> std::io::Result<()> {
        let mut reader = (self.0)()?;
        // The start of a line the buffer ended in the middle of.
        let mut carry: Vec<u8> = Vec::new();
        loop {
            let buf = match reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                // The last line, without a line break (a `\r` there is
                // the line's own, as `str::lines` keeps it).
                if !carry.is_empty() {
                    f(&carry);
                }
                return Ok(());
            }
            let mut start = 0;
            while let Some(n) = buf
                .get(start..)
                .and_then(|rest| memchr::memchr(b'\n', rest))
            {
                let end = start + n;
                let piece = buf.get(start..end).unwrap_or_default();
                let go = if carry.is_empty() {
                    f(without_cr(piece))
                } else {
                    carry.extend_from_slice(piece);
                    let go = f(without_cr(&carry));
                    carry.clear();
                    go
                };
                if !go {
                    return Ok(());
                }
                start = end + 1;
            }
            carry.extend_from_slice(buf.get(start..).unwrap_or_default());
            let used = buf.len();
            reader.consume(used);
        }
    }
}

/// A line without the `\r` of a `\r\n` break.
fn without_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Line `line_no`'s text, or `None` (with a problem) when it is not UTF-8.
pub fn line_text<'l>(
    line_no: usize,
    line: &'l [u8],
    problems: &mut Vec<LineProblem>,
) -> Option<&'l str> {
    match std::str::from_utf8(line) {
        Ok(text) => Some(text),
        Err(e) => {
            problems.push(LineProblem {
                line: line_no,
                severity: ingest::Severity::Error,
                message: format!(
                    "not valid UTF-8 (byte {} of the line); save the log as UTF-8",
                    e.valid_up_to() + 1
                ),
            });
            None
        }
    }
}

/// `simulate_keeping` over any `LogSource`. A log in time order is read
/// once, partitioned by profile with `Keep::TraceOnly` (`parts.rs`),
/// streaming otherwise; one out of order is read a second time, whole, and
/// sorted. Errors are the source's (an unreadable file, text that is not
/// UTF-8).
///
/// Streaming runs each input three inputs after reading it, in the same
/// order, and uses the lead to have its profile loaded: when an input is
/// read its place in the profile index is prefetched, a step later its
/// profile's own lines, a step later the blocks they point to (traits, seen
/// ids, journeys, aggregates, open goals), and a step later it runs. The
/// engine waits for memory more than it computes: at 1M events over 100k
/// profiles, prefetching profiles two steps ahead made the simulate phase
/// about 1.15x faster, and splitting the index lookup off as a third step
/// gained a few percent more. What the run computes does not change.
pub fn simulate_source(
    bundle: &Bundle,
    src: &mut dyn LogSource,
    until: Option<i64>,
    keep: Keep,
) -> std::io::Result<Simulation> {
    // The human report's run is partitioned (`parts.rs`); the full trace
    // keeps the order a single state makes.
    if keep == Keep::TraceOnly {
        return match parts::simulate(Run::new(bundle, keep), src, until, parts::BUDGET)? {
            Some(sim) => Ok(sim),
            None => sorted(bundle, src, until, keep),
        };
    }
    let reader = Reader::for_bundle(bundle);
    let mut problems = Vec::new();
    let mut run = Run::new(bundle, keep);
    let mut last = i64::MIN;
    let mut late = false;
    let mut pending = Vec::new();
    let mut held: std::collections::VecDeque<Held> = std::collections::VecDeque::with_capacity(4);
    let mut line_no = 0;
    src.each_line(&mut |line| {
        line_no += 1;
        let Some(line) = line_text(line_no, line, &mut problems) else {
            return true;
        };
        reader.read_line(line_no, line, &mut problems, &mut |_, input| {
            pending.push(input)
        });
        for input in pending.drain(..) {
            if input.at() < last {
                late = true;
                return false;
            }
            last = input.at();
            // Three inputs held back. This one's place in the profile
            // index starts loading; the one before finds its slot there
            // and its profile starts loading; the one before that, the
            // blocks the profile points to; and the one before that runs.
            let hash = input_profile(&input).map(|id| run.state.profiles.locate(id));
            let n = held.len();
            if let Some(h) = n.checked_sub(1).and_then(|i| held.get_mut(i)) {
                h.slot = h.hash.and_then(|hash| run.state.profiles.guess(hash));
            }
            if let Some(s) = n
                .checked_sub(2)
                .and_then(|i| held.get(i))
                .and_then(|h| h.slot)
            {
                run.state.profiles.prefetch_blocks(s);
            }
            held.push_back(Held {
                input,
                hash,
                slot: None,
            });
            if held.len() > 3
                && let Some(next) = held.pop_front()
            {
                run.input_at(next.input, next.slot);
            }
        }
        true
    })?;
    if late {
        return sorted(bundle, src, until, keep);
    }
    for h in held.drain(..) {
        run.input_at(h.input, h.slot);
    }
    let mut sim = run.finish(until);
    sim.problems = problems;
    Ok(sim)
}

/// The human report's run (`Keep::TraceOnly`) partitioned by profile, as
/// `simulate_source` runs it (`parts.rs`), holding about `budget` bytes of
/// lines at most before running them; `None` when an input came late in
/// its partition (`simulate_source` then runs the log sorted).
pub fn simulate_parts(
    bundle: &Bundle,
    src: &mut dyn LogSource,
    until: Option<i64>,
    budget: usize,
) -> std::io::Result<Option<Simulation>> {
    parts::simulate(Run::new(bundle, Keep::TraceOnly), src, until, budget)
}

/// After a late input: reads the whole log, sorts it, and runs it.
fn sorted(
    bundle: &Bundle,
    src: &mut dyn LogSource,
    until: Option<i64>,
    keep: Keep,
) -> std::io::Result<Simulation> {
    let reader = Reader::for_bundle(bundle);
    let mut inputs = Vec::new();
    let mut problems = Vec::new();
    let mut line_no = 0;
    src.each_line(&mut |line| {
        line_no += 1;
        if let Some(line) = line_text(line_no, line, &mut problems) {
            reader.read_line(line_no, line, &mut problems, &mut |_, input| {
                inputs.push(input)
            });
        }
        true
    })?;
    let mut sim = run_keeping(bundle, inputs, until, keep);
    sim.problems = problems;
    Ok(sim)
}

/// An input `simulate_source` read and holds back while its profile
/// loads: the hash of its profile's id, then a guess at its slot.
struct Held {
    input: Input,
    hash: Option<u64>,
    slot: Option<u32>,
}

/// The profile an input is for.
fn input_profile(input: &Input) -> Option<&str> {
    match input {
        Input::Identify { profile, .. }
        | Input::Track { profile, .. }
        | Input::Delivery { profile, .. } => Some(profile),
        Input::Tick { .. } => None,
    }
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
    inputs.sort_by_key(Input::at);
    let mut run = Run::new(bundle, keep);
    for input in inputs {
        run.input(input);
    }
    run.finish(until)
}

/// One simulation in progress.
struct Run<'b> {
    bundle: &'b Bundle,
    engine: Engine<'b>,
    state: EngineState,
    keep: Keep,
    count: usize,
    trace: Vec<TraceRecord>,
    effects: Vec<OutEffect>,
    story: Story,
    funnel: FunnelCounter,
    /// Profiles of records that name no engine slot (`TraceRecord::origin`
    /// is `None`; the engine always gives one), numbered from `EXTRA` in
    /// the order they came; `finish` renumbers them after the engine's.
    /// Records with a slot are numbered by it: nothing to look up per
    /// record (a per-slot table of numbers was a cache miss per input).
    extras: Vec<Name>,
    /// The last flow a record named.
    last_flow: Option<u16>,
    /// Per flow index, the largest suspended journey (named at the end).
    journey_bytes: Vec<usize>,
    /// The engine's outputs for one step, emptied by `take` and reused.
    out: Outputs,
    /// A partitioned run (`parts.rs`): the current partition's story
    /// number per slot (`u32::MAX` until its first record), as its
    /// partitions' slots overlap. Unused otherwise: a slot is the number.
    numbers: Vec<u32>,
    partitioned: bool,
    /// The next story number a partitioned run gives.
    next_number: u32,
}

impl<'b> Run<'b> {
    fn new(bundle: &'b Bundle, keep: Keep) -> Run<'b> {
        Run {
            bundle,
            engine: match keep {
                Keep::Everything => Engine::new(bundle).measuring(),
                Keep::TraceOnly => Engine::new(bundle).measuring().trace_only(),
            },
            state: EngineState::default(),
            keep,
            count: 0,
            trace: Vec::new(),
            effects: Vec::new(),
            story: Story::default(),
            funnel: FunnelCounter::new(bundle),
            extras: Vec::new(),
            last_flow: None,
            journey_bytes: vec![0; bundle.flows.len()],
            out: Outputs::default(),
            numbers: Vec::new(),
            partitioned: false,
            next_number: 0,
        }
    }

    fn input(&mut self, input: Input) {
        self.input_at(input, None);
    }

    /// `input`, with the slot `Profiles::prefetch` found for its profile.
    fn input_at(&mut self, input: Input, slot: Option<u32>) {
        self.input_held(input, slot);
        self.flush();
    }

    /// `input_at`, its outputs left in `self.out` until `flush`: counting
    /// and keeping the records of many inputs at once, the story's code
    /// runs apart from the engine's instead of taking turns with it.
    fn input_held(&mut self, input: Input, slot: Option<u32>) {
        self.count += 1;
        self.engine
            .handle_at(&mut self.state, input, slot, &mut self.out);
        if self.out.trace.len() >= HELD_RECORDS {
            self.flush();
        }
    }

    /// Takes the outputs `input_held` left.
    fn flush(&mut self) {
        let mut out = std::mem::take(&mut self.out);
        self.take(&mut out, true);
        self.out = out;
    }

    fn finish(mut self, until: Option<i64>) -> Simulation {
        self.settle(until);
        self.name_profiles();
        let state = std::mem::take(&mut self.state);
        self.into_simulation(vec![state])
    }

    /// Runs the clock of the current state on to `until`.
    fn settle(&mut self, until: Option<i64>) {
        if let Some(until) = until {
            // Timer by timer, so journeys parked on the way are measured.
            while let Some(next) = Engine::next_due(&self.state).filter(|t| *t <= until) {
                let mut out = self.engine.advance(&mut self.state, next);
                self.take(&mut out, true);
            }
            let mut out = self.engine.advance(&mut self.state, until);
            self.take(&mut out, false);
        }
    }

    /// The simulation, once the profiles are named.
    fn into_simulation(self, states: Vec<EngineState>) -> Simulation {
        let waiting = states
            .iter()
            .flat_map(|s| s.profiles.values())
            .map(|p| p.journeys.len())
            .sum();
        Simulation {
            problems: Vec::new(),
            inputs: self.count,
            funnel: self.funnel.finish(),
            trace: self.trace,
            effects: self.effects,
            clock: states.iter().map(|s| s.clock).max().unwrap_or(0),
            waiting,
            journey_bytes: named_sizes(self.bundle, &self.journey_bytes),
            story: self.story,
            states,
        }
    }

    /// The story number of the current state's profile at `slot`.
    fn number(&mut self, slot: u32) -> u32 {
        if !self.partitioned {
            return slot;
        }
        let i = slot as usize;
        if self.numbers.len() <= i {
            self.numbers.resize(i + 1, u32::MAX);
        }
        match self.numbers.get_mut(i) {
            Some(n) if *n == u32::MAX => {
                *n = self.next_number;
                self.next_number = self.next_number.saturating_add(1);
                *n
            }
            Some(n) => *n,
            None => u32::MAX,
        }
    }

    /// Counts, measures and keeps one step's outputs, leaving `out` empty
    /// (its buffers kept for the next step).
    fn take(&mut self, out: &mut Outputs, measure_journeys: bool) {
        if measure_journeys {
            for (flow, n) in out.parked.drain(..) {
                if let Some(slot) = self.journey_bytes.get_mut(usize::from(flow)) {
                    *slot = n.max(*slot);
                }
            }
        }
        out.parked.clear();
        if self.keep == Keep::Everything {
            self.effects.append(&mut out.effects);
        }
        out.effects.clear();
        // By reference: a record is 100-odd bytes, and moving each out of
        // the buffer was a `memcpy` per record. The records are dropped in
        // place below (or moved whole into `trace`).
        for r in &mut out.trace {
            // The engine says where a record comes from; a record from
            // elsewhere is looked up by its names.
            let (profile, flow) = match r.origin {
                Some(o) => (self.number(o.profile), o.flow),
                None => (
                    self.profile_number(&r.profile),
                    r.flow.as_deref().and_then(|n| self.flow_index(n)),
                ),
            };
            self.funnel.count(profile, flow, r.journey, &r.decision);
            match self.keep {
                // The full trace keeps the decision as it is.
                Keep::Everything => {
                    let mut d = r.decision.clone();
                    self.story.push(r.at, profile, flow, r.journey, &mut d);
                }
                Keep::TraceOnly => {
                    self.story
                        .push(r.at, profile, flow, r.journey, &mut r.decision);
                }
            }
        }
        match self.keep {
            Keep::Everything => self.trace.append(&mut out.trace),
            Keep::TraceOnly => out.trace.clear(),
        }
    }

    fn flow_index(&mut self, name: &str) -> Option<u16> {
        // Records come in runs of one journey: try the last flow first.
        if let Some(i) = self.last_flow
            && self
                .bundle
                .flows
                .get(usize::from(i))
                .is_some_and(|f| f.name == name)
        {
            return Some(i);
        }
        let i = self
            .bundle
            .flows
            .iter()
            .position(|f| f.name == name)
            .and_then(|i| u16::try_from(i).ok());
        self.last_flow = i.or(self.last_flow);
        i
    }

    /// The number of the profile named `name`, for a record that names no
    /// slot: its slot when the engine has it, else a number from `EXTRA`.
    fn profile_number(&mut self, name: &Name) -> u32 {
        if let Some(slot) = self.state.profiles.slot_of(name.as_str()) {
            return self.number(slot);
        }
        let k = match self.extras.iter().position(|e| e == name) {
            Some(k) => k,
            None => {
                self.extras.push(name.clone());
                self.extras.len() - 1
            }
        };
        EXTRA.saturating_add(u32::try_from(k).unwrap_or(u32::MAX))
    }

    /// Names the story's profiles once the run is over: the engine's, by
    /// slot, then the extras, whose records are renumbered to follow.
    fn name_profiles(&mut self) {
        let engine = self.state.profiles.len();
        self.story.profiles = (0..engine)
            .map(|slot| {
                let slot = u32::try_from(slot).unwrap_or(u32::MAX);
                self.state.profiles.id_at(slot).unwrap_or("?").to_string()
            })
            .collect();
        self.name_extras();
    }

    /// Names the extras (`profile_number`), numbered after the engines'
    /// profiles, which `story.profiles` names already.
    fn name_extras(&mut self) {
        if self.extras.is_empty() {
            return;
        }
        let first = u32::try_from(self.story.profiles.len()).unwrap_or(u32::MAX);
        self.story
            .profiles
            .extend(self.extras.iter().map(|e| e.as_str().to_string()));
        for i in 0..self.story.records.len() {
            if let Some(r) = self.story.records.get_mut(i)
                && r.profile >= EXTRA
            {
                r.profile = first.saturating_add(r.profile - EXTRA);
            }
        }
    }
}

/// The first number `Run::profile_number` gives a profile the engine does
/// not have (renumbered by `Run::name_profiles`).
const EXTRA: u32 = 1 << 31;

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

#[cfg(test)]
mod tests {
    use super::Story;
    use crate::engine::trace::{
        Decision, Deferral, ExitReason, Name, NotEntered, ResumedBy, Suppression,
    };
    use nudge_bytecode::op::Channel;

    /// Every decision that carries an instant, and some that do not.
    fn decisions() -> Vec<Decision> {
        let t = Name::from("cart_reminder");
        vec![
            Decision::Waiting { until: 7 },
            Decision::WaitPassed { until: 8 },
            Decision::WaitingFor {
                event: "Order Completed".into(),
                deadline: 9,
            },
            Decision::Deferred {
                template: t.clone(),
                channel: Channel::Sms,
                until: 10,
                reason: Deferral::QuietHours,
            },
            Decision::NotEntered {
                reason: NotEntered::TooSoon { last_entry: 11 },
            },
            Decision::Resumed {
                by: ResumedBy::Heard {
                    event: "Order Completed".into(),
                    at: 12,
                },
            },
            Decision::Resumed {
                by: ResumedBy::Timer,
            },
            Decision::Suppressed {
                template: t.clone(),
                channel: Channel::Email,
                reason: Suppression::FrequencyCap {
                    cap: crate::engine::trace::CapNote {
                        channel: Some(Channel::Email),
                        count: 2,
                        per_secs: 7 * 86_400,
                        counted: 2,
                    },
                },
            },
            Decision::Exited {
                by: ExitReason::End,
            },
            Decision::Sent {
                template: t,
                channel: Channel::Email,
                key: String::new(),
                excerpt: "Still thinking it over?".into(),
            },
        ]
    }

    #[test]
    fn story_gives_back_each_decision_with_its_instant() {
        let mut story = Story::default();
        for (i, mut d) in decisions().into_iter().enumerate() {
            let i = u64::try_from(i).unwrap_or(0);
            story.push(100, 0, Some(2), Some(i), &mut d);
        }
        story.push(101, 1, None, None, &mut Decision::Waiting { until: 70 });
        let told: Vec<Decision> = story
            .records
            .iter()
            .filter_map(|r| story.decision(r))
            .collect();
        let mut want = decisions();
        want.push(Decision::Waiting { until: 70 });
        assert_eq!(told, want);
        let last = story.records.iter().last().copied();
        assert_eq!(last.map(|r| (r.flow(), r.journey())), Some((None, None)));
        let first = story.records.iter().next().copied();
        assert_eq!(
            first.map(|r| (r.flow(), r.journey())),
            Some((Some(2), Some(0)))
        );
        // The two waits differ only by their instant: one decision kept.
        assert_eq!(story.decisions.len(), decisions().len());
    }

    /// The lines `src` hands out, as text (lossy, to show bad bytes).
    fn lines_of(src: &mut dyn super::LogSource) -> Vec<String> {
        let mut out = Vec::new();
        let read = src.each_line(&mut |l| {
            out.push(String::from_utf8_lossy(l).into_owned());
            true
        });
        assert!(read.is_ok());
        out
    }

    #[test]
    fn a_reader_hands_out_the_lines_str_lines_would_across_buffer_refills() {
        let text = "{\"a\":1}\r\n\nline three is longer than the buffer\nlast\r";
        let want: Vec<String> = text.lines().map(String::from).collect();
        for capacity in [1, 2, 3, 7, 64, 1 << 16] {
            let mut src = super::Reopen(|| {
                Ok::<_, std::io::Error>(std::io::BufReader::with_capacity(
                    capacity,
                    text.as_bytes(),
                ))
            });
            assert_eq!(lines_of(&mut src), want, "buffer of {capacity}");
            // Read again from the start.
            assert_eq!(lines_of(&mut src), want, "again, buffer of {capacity}");
        }
        assert_eq!(lines_of(&mut &*text), want);
    }

    #[test]
    fn a_line_that_is_not_utf8_is_reported_and_skipped() {
        let mut problems = Vec::new();
        assert_eq!(
            super::line_text(3, b"{\"ok\":true}", &mut problems),
            Some("{\"ok\":true}")
        );
        assert_eq!(
            super::line_text(4, b"{\"name\":\"Jos\xe9\"}", &mut problems),
            None
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 4);
        assert_eq!(
            problems[0].message,
            "not valid UTF-8 (byte 13 of the line); save the log as UTF-8"
        );
    }

    #[test]
    fn profiles_are_numbered_by_slot_and_unknown_ones_follow() {
        let bundle = nudge_bytecode::Bundle {
            shop: nudge_bytecode::Record::new(),
            policies: Default::default(),
            flows: vec![],
            templates: vec![],
            segments: vec![],
            aggregates: vec![],
            schema: Default::default(),
        };
        let mut run = super::Run::new(&bundle, super::Keep::TraceOnly);
        for id in ["u1", "u2"] {
            run.state
                .profiles
                .get_or_insert_with(id, crate::engine::state::Profile::default);
        }
        // A record naming no slot: by the engine's slot, or after them.
        let numbers = [
            run.profile_number(&Name::from("u2")),
            run.profile_number(&Name::from("x")),
            run.profile_number(&Name::from("u1")),
            run.profile_number(&Name::from("x")),
            run.profile_number(&Name::from("y")),
        ];
        assert_eq!(
            numbers,
            [1, super::EXTRA, 0, super::EXTRA, super::EXTRA + 1]
        );
        let mut decision = Decision::Resumed {
            by: ResumedBy::Timer,
        };
        for &n in &numbers {
            run.story.push(0, n, None, None, &mut decision);
        }
        run.name_profiles();
        assert_eq!(run.story.profiles, ["u1", "u2", "x", "y"]);
        let told: Vec<u32> = run.story.records.iter().map(|r| r.profile).collect();
        assert_eq!(told, [1, 2, 0, 2, 3]);
    }

    #[test]
    fn story_numbers_each_decision_once_however_they_interleave() {
        let mut story = Story::default();
        let sent = |excerpt: &str| Decision::Sent {
            template: Name::from("welcome"),
            channel: Channel::Email,
            key: "k".into(),
            excerpt: excerpt.into(),
        };
        // Sends of one flow and kind that differ in content, and the
        // decisions that carry nothing but an instant, in turns.
        let mut want = Vec::new();
        for round in 0..3i64 {
            for (i, mut d) in decisions()
                .into_iter()
                .chain(["Hi Maya", "Hi Ines", "Hi Maya"].map(sent))
                .enumerate()
            {
                let flow = u16::try_from(i % 2).ok();
                story.push(round, 0, flow, None, &mut d);
                want.push(d);
            }
        }
        let told: Vec<Decision> = story
            .records
            .iter()
            .map(|r| {
                story.decision(r).map(|mut d| {
                    super::detach_time(&mut d);
                    d
                })
            })
            .collect::<Option<_>>()
            .unwrap_or_default();
        assert_eq!(told, want);
        // Each of `decisions()` once over all rounds, and two excerpts.
        assert_eq!(story.decisions.len(), decisions().len() + 2);
    }

    #[test]
    fn story_drops_a_sends_key_only() {
        let mut story = Story::default();
        let sent = |key: &str| Decision::Sent {
            template: Name::from("welcome"),
            channel: Channel::Email,
            key: key.into(),
            excerpt: "Welcome, Maya".into(),
        };
        story.push(1, 0, Some(0), Some(1), &mut sent("j1:4"));
        story.push(2, 1, Some(0), Some(2), &mut sent("j2:4"));
        let told: Vec<Decision> = story
            .records
            .iter()
            .filter_map(|r| story.decision(r))
            .collect();
        assert_eq!(told, vec![sent(""), sent("")]);
        assert_eq!(story.decisions.len(), 1);
    }
}
