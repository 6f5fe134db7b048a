//! The deterministic, sans-IO engine: `(state, input, now) -> (new state,
//! outputs)`. No clock, no I/O, no randomness: time arrives with the inputs
//! and the timer queue lives in the state, so the simulator, the test runner
//! and the daemon get the same answer from the same inputs.
//!
//! Inputs (`Input`): identify (trait updates), track events, delivery
//! outcomes, and `Tick` (the clock moved). Before acting on any input the
//! engine fires every timer due up to its instant, in timer order (due time,
//! then higher flow priority, then creation), each at its own due time.
//! Outputs (`Outputs`): effects for the shell (sends with rendered content
//! and idempotency keys, webhooks, emitted events, trait updates) and a
//! trace record for every decision.
//!
//! | file | job |
//! |---|---|
//! | `state.rs` | the serializable state: profiles, journeys, ledgers |
//! | `timers.rs` | the timer queue and its firing order |
//! | `events.rs` | one input for one profile: consent, aggregates, goals, `exit when`, `wait for`, event triggers, and the emitted-event loop |
//! | `journeys.rs` | entering flows (reentry, holdout) and running journeys on the VM, effect by effect |
//! | `triggers.rs` | `when date` and `when inactive` timers |
//! | `segments.rs` | segment re-evaluation, enter/leave transitions, window expiry |
//! | `aggregates.rs` | bounded per-profile history aggregates |
//! | `policy.rs` | send-time policies: consent, suppressions, quiet hours, caps |
//! | `localtime.rs` | timezones (jiff): local times, quiet windows, anniversaries |
//! | `env.rs` | the VM's view of one profile |
//! | `trace.rs` | outputs and trace records |

pub mod aggregates;
pub mod env;
mod events;
mod journeys;
pub mod localtime;
pub mod policy;
pub mod profiles;
pub mod reads;
mod segments;
pub mod state;
pub mod timers;
pub mod trace;
mod triggers;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

use crate::vm::Vm;
use jiff::tz::TimeZone;
use nudge_bytecode::format::Trigger;
use nudge_bytecode::op::Channel;
use nudge_bytecode::value::same_name;
use nudge_bytecode::{Bundle, Record, SmolStr};
use serde::{Deserialize, Serialize};
use state::{EngineState, Profile};
use std::collections::VecDeque;
use timers::{TimerKind, TimerQueue};
use trace::{Decision, Outputs, TraceRecord};

/// One thing that happened in the world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// Trait updates (a Segment `identify`). Traits not named are kept.
    Identify {
        profile: SmolStr,
        traits: Record,
        at: i64,
        message_id: Option<SmolStr>,
    },
    /// An event (a Segment `track`). `properties` are already typed values.
    Track {
        profile: SmolStr,
        event: SmolStr,
        properties: Record,
        at: i64,
        message_id: Option<SmolStr>,
    },
    /// What a provider said about a send (by its idempotency key).
    Delivery {
        profile: SmolStr,
        key: String,
        channel: Channel,
        outcome: DeliveryOutcome,
        at: i64,
    },
    /// The clock moved to `at`: fire due timers.
    Tick { at: i64 },
}

impl Input {
    pub fn at(&self) -> i64 {
        match self {
            Input::Identify { at, .. }
            | Input::Track { at, .. }
            | Input::Delivery { at, .. }
            | Input::Tick { at } => *at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryOutcome {
    Delivered,
    SoftBounce,
    /// Permanent failure: the address is suppressed for every flow.
    HardBounce,
    /// A spam complaint: email to the profile is suppressed for every flow.
    Complained,
}

/// Most emitted events (and segment transitions) one input may cascade
/// into; past it the chain is cut and traced (flows triggering each other
/// in a loop must not hang the engine).
pub const MAX_CASCADE: usize = 256;

/// The flows an event name concerns (`Engine::by_event`).
#[derive(Debug, Default)]
struct EventFlows {
    /// Flows it triggers, higher priority first.
    triggered: Vec<u16>,
    /// `when inactive` flows it re-arms.
    inactive: Vec<u16>,
}

/// The engine over one loaded bundle. Holds only derived, immutable tables;
/// all mutable state is the caller's `EngineState`.
pub struct Engine<'b> {
    bundle: &'b Bundle,
    vm: Vm<'b>,
    default_tz: TimeZone,
    /// Event name → the flows it triggers and re-arms: one hash lookup per
    /// event (two ordered-map lookups were a few `memcmp` calls each).
    by_event: rustc_hash::FxHashMap<&'b str, EventFlows>,
    date_flows: Vec<u16>,
    /// Per segment: flows triggered on entering / on leaving.
    entering: Vec<Vec<u16>>,
    leaving: Vec<Vec<u16>>,
    /// Segments in dependency order.
    segment_order: Vec<u16>,
    /// Aggregates any segment reads (their window expiry re-evaluates).
    segment_aggregates: Vec<u16>,
    /// Per flow: the event names its `wait for` steps await (a journey
    /// held at a deferred send remembers these for its next `wait for`).
    awaited: Vec<Vec<&'b str>>,
    /// Per flow: the locals holding a bound event, kept in the profile's
    /// `BoundEvents` while a journey is parked (`journeys::bindable_locals`).
    bindable: Vec<Vec<u16>>,
    /// Flow names as trace records share them, by flow index.
    flow_names: Vec<trace::Name>,
    /// Template names as trace records share them, by template index.
    template_names: Vec<trace::Name>,
    /// Per flow, what starts it as its `Entered` records say
    /// (`event "Order Completed"`, `entering vip`, `date`, `inactive`).
    trigger_names: Vec<trace::Name>,
    /// Whether sends produce `OutEffect::Send` with the rendered message;
    /// without, only the trace's excerpt is rendered (`trace_only`).
    messages: bool,
    /// Whether parking a journey reports its encoded size (`measuring`).
    measure: bool,
    /// Zones by the names profiles give (`None`: not a zone), the first
    /// `ZONE_CACHE` names seen: a lookup in jiff's database costs more than
    /// the rest of a send's policy check, and a shop's profiles name a
    /// handful of zones.
    zones: std::sync::Mutex<Vec<(Box<str>, Option<TimeZone>)>>,
}

/// How many zone names `Engine::zones` remembers.
const ZONE_CACHE: usize = 64;

impl<'b> Engine<'b> {
    pub fn new(bundle: &'b Bundle) -> Engine<'b> {
        let mut order: Vec<u16> = (0..bundle.flows.len())
            .filter_map(|i| u16::try_from(i).ok())
            .collect();
        // Priority order (stable, so equal priorities keep name order).
        order.sort_by_key(|&i| {
            std::cmp::Reverse(
                bundle
                    .flows
                    .get(usize::from(i))
                    .map(|f| f.settings.priority)
                    .unwrap_or(0),
            )
        });
        let mut by_event: rustc_hash::FxHashMap<&str, EventFlows> = Default::default();
        let mut date_flows = Vec::new();
        let mut entering = vec![Vec::new(); bundle.segments.len()];
        let mut leaving = vec![Vec::new(); bundle.segments.len()];
        for &i in &order {
            let Some(flow) = bundle.flows.get(usize::from(i)) else {
                continue;
            };
            match &flow.trigger {
                Trigger::Event { event, .. } => {
                    by_event.entry(event).or_default().triggered.push(i)
                }
                Trigger::Inactive { event, .. } => {
                    by_event.entry(event).or_default().inactive.push(i)
                }
                Trigger::Date { .. } => date_flows.push(i),
                Trigger::Entering(s) => {
                    if let Some(v) = entering.get_mut(usize::from(*s)) {
                        v.push(i);
                    }
                }
                Trigger::Leaving(s) => {
                    if let Some(v) = leaving.get_mut(usize::from(*s)) {
                        v.push(i);
                    }
                }
            }
        }
        let mut segment_aggregates: Vec<u16> = bundle
            .segments
            .iter()
            .flat_map(|s| s.aggregates.iter().copied())
            .collect();
        segment_aggregates.sort_unstable();
        segment_aggregates.dedup();
        let awaited = bundle
            .flows
            .iter()
            .map(|f| {
                let mut names: Vec<&str> = f
                    .code
                    .ops
                    .iter()
                    .filter_map(|op| match op {
                        nudge_bytecode::op::Op::WaitFor { event, .. } => {
                            f.code.consts.get(usize::from(*event))?.as_str()
                        }
                        _ => None,
                    })
                    .collect();
                names.sort_unstable();
                names.dedup();
                names
            })
            .collect();
        Engine {
            bundle,
            vm: Vm::new(bundle),
            default_tz: localtime::zone(&bundle.policies.default_timezone).unwrap_or(TimeZone::UTC),
            by_event,
            date_flows,
            entering,
            leaving,
            segment_order: segments::dependency_order(bundle),
            segment_aggregates,
            awaited,
            bindable: bundle.flows.iter().map(journeys::bindable_locals).collect(),
            flow_names: bundle
                .flows
                .iter()
                .map(|f| trace::Name::from(f.name.as_str()))
                .collect(),
            template_names: bundle
                .templates
                .iter()
                .map(|t| trace::Name::from(t.name.as_str()))
                .collect(),
            trigger_names: bundle
                .flows
                .iter()
                .map(|f| trace::Name::from(trigger_text(bundle, &f.trigger)))
                .collect(),
            messages: true,
            measure: false,
            zones: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// `localtime::zone`, remembered for the first `ZONE_CACHE` names.
    fn zone(&self, name: &str) -> Option<TimeZone> {
        // A poisoned lock only means a panic elsewhere; the cache is still
        // a list of correct answers.
        let mut zones = self
            .zones
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, tz)) = zones.iter().find(|(n, _)| same_name(n, name)) {
            return tz.clone();
        }
        let tz = localtime::zone(name);
        if zones.len() < ZONE_CACHE {
            zones.push((name.into(), tz.clone()));
        }
        tz
    }

    /// This engine, making no `OutEffect::Send`: a send renders only the
    /// part its trace record shows, and its record carries no idempotency
    /// key (nothing is delivered by it). Every decision and every other
    /// trace record is as with messages. For a shell that reads only the
    /// trace and keeps no keys, such as the human report of `nudge
    /// simulate` (`Story` empties them).
    pub fn trace_only(mut self) -> Engine<'b> {
        self.messages = false;
        self
    }

    /// This engine, reporting the encoded size of every journey it
    /// suspends (`Outputs::parked`), for a shell that tracks journey sizes.
    pub fn measuring(mut self) -> Engine<'b> {
        self.measure = true;
        self
    }

    pub fn bundle(&self) -> &'b Bundle {
        self.bundle
    }

    /// When the engine next needs to act without new input.
    pub fn next_due(state: &EngineState) -> Option<i64> {
        state.timers.next_due()
    }

    /// Handles one input: first fires every timer due up to its instant,
    /// then acts on it. The clock never moves backwards: an input older
    /// than the clock is handled at the clock (its own timestamp still
    /// dates its history entries).
    pub fn handle(&self, state: &mut EngineState, input: Input) -> Outputs {
        let mut out = Outputs::default();
        self.handle_into(state, input, &mut out);
        out
    }

    /// `handle`, appending to `out`: a shell that drains `out` after each
    /// input reuses its buffers instead of allocating two per input.
    pub fn handle_into(&self, state: &mut EngineState, input: Input, out: &mut Outputs) {
        self.handle_at(state, input, None, out);
    }

    /// `handle_into` for a shell that already looked the input's profile
    /// up (`Profiles::prefetch`): `slot` is used when it still holds that
    /// profile, and the id is looked up otherwise.
    pub fn handle_at(
        &self,
        state: &mut EngineState,
        input: Input,
        slot: Option<u32>,
        out: &mut Outputs,
    ) {
        self.advance_into(state, input.at(), out);
        let now = state.clock;
        let (pid, work) = match input {
            Input::Tick { .. } => return,
            Input::Identify {
                profile,
                traits,
                at,
                message_id,
            } => (
                profile,
                events::Work::Identify {
                    traits,
                    at,
                    message_id,
                },
            ),
            Input::Track {
                profile,
                event,
                properties,
                at,
                message_id,
            } => (
                profile,
                events::Work::Track {
                    event,
                    properties,
                    at,
                    message_id,
                },
            ),
            Input::Delivery {
                profile,
                key,
                channel,
                outcome,
                ..
            } => (
                profile,
                events::Work::Delivery {
                    key,
                    channel,
                    outcome,
                },
            ),
        };
        let EngineState {
            profiles, timers, ..
        } = state;
        let (profile, slot) = profiles.slot_or_insert_with(&pid, slot, || self.new_profile());
        let mut cx = Cx {
            eng: self,
            now,
            // From the input's id, at hand, rather than the table's copy
            // (a cache miss per input on a table of every profile).
            pid: trace::Name::from(pid),
            slot,
            p: profile,
            timers,
            out,
            queue: VecDeque::new(),
            dirty: false,
        };
        cx.run(work);
    }

    /// Fires every timer due at or before `until`, each at its own instant,
    /// and moves the clock to `until`.
    pub fn advance(&self, state: &mut EngineState, until: i64) -> Outputs {
        let mut out = Outputs::default();
        self.advance_into(state, until, &mut out);
        out
    }

    /// `advance`, appending to `out`.
    pub fn advance_into(&self, state: &mut EngineState, until: i64, out: &mut Outputs) {
        while let Some((key, timer)) = state.timers.pop_due(until) {
            let now = key.at.max(state.clock);
            state.clock = now;
            let EngineState {
                profiles, timers, ..
            } = state;
            let slot = timer.slot;
            // The profiles of the next timers start loading while this one
            // runs: three timers on, its own lines; the one after next
            // (whose own lines were asked for two timers ago), the blocks
            // they point to. (A timer can take little time: with each step
            // one timer ahead, reading the lines a prefetch of blocks needs
            // still waited on memory.)
            if let Some(later) = timers.ahead(3) {
                profiles.prefetch_at(later);
            }
            if let Some(next) = timers.ahead(1) {
                profiles.prefetch_blocks(next);
            }
            let Some((profile, name)) = profiles.at_mut(slot) else {
                continue;
            };
            let mut cx = Cx {
                eng: self,
                now,
                pid: name.clone(),
                slot,
                p: profile,
                timers,
                out: &mut *out,
                queue: VecDeque::new(),
                dirty: false,
            };
            cx.run(events::Work::Timer(key, timer.kind));
        }
        state.clock = state.clock.max(until);
    }

    fn new_profile(&self) -> Profile {
        Profile {
            aggregates: vec![Default::default(); self.bundle.aggregates.len()],
            segments: smallvec::smallvec![false; self.bundle.segments.len()],
            ..Profile::default()
        }
    }

    /// Flow `flow` of the bundle (an index the engine took from it).
    fn flow(&self, flow: u16) -> Option<&'b nudge_bytecode::format::Flow> {
        self.bundle.flows.get(usize::from(flow))
    }

    fn flow_name(&self, flow: u16) -> &'b str {
        self.flow(flow).map(|f| f.name.as_str()).unwrap_or("?")
    }

    fn flow_priority(&self, flow: u16) -> i64 {
        self.flow(flow).map(|f| f.settings.priority).unwrap_or(0)
    }
}

/// Name `i` of a table the engine made from the bundle (one per flow or
/// template, so always there; `?` rather than a panic if not).
fn shared_name(names: &[trace::Name], i: u16) -> trace::Name {
    names
        .get(usize::from(i))
        .cloned()
        .unwrap_or_else(|| trace::Name::from("?"))
}

/// What starts a flow, as its `Entered` trace records say.
fn trigger_text(bundle: &Bundle, trigger: &Trigger) -> String {
    let segment = |s: &u16| {
        bundle
            .segments
            .get(usize::from(*s))
            .map(|s| s.name.as_str())
            .unwrap_or("?")
    };
    match trigger {
        Trigger::Event { event, .. } => format!("event {event:?}"),
        Trigger::Entering(s) => format!("entering {}", segment(s)),
        Trigger::Leaving(s) => format!("leaving {}", segment(s)),
        Trigger::Date { .. } => "date".into(),
        Trigger::Inactive { .. } => "inactive".into(),
    }
}

/// Working context while handling one input (or timer) for one profile.
struct Cx<'e, 'b> {
    eng: &'e Engine<'b>,
    now: i64,
    /// The profile id, as trace records carry it (inline when short, so
    /// each record's copy touches no other memory).
    pid: trace::Name,
    /// The profile's slot in the state's table (trace records carry it).
    slot: u32,
    p: &'e mut Profile,
    timers: &'e mut TimerQueue,
    out: &'e mut Outputs,
    /// Events flows emitted, handled after the current step.
    queue: VecDeque<events::Work>,
    /// Traits or aggregates changed: re-check date triggers and segments.
    dirty: bool,
}

impl Cx<'_, '_> {
    fn trace(&mut self, flow: Option<u16>, journey: Option<u64>, decision: Decision) {
        // The profile id and flow names are shared, not copied, per record.
        self.out.trace.push(TraceRecord {
            at: self.now,
            profile: self.pid.clone(),
            flow: flow.map(|f| shared_name(&self.eng.flow_names, f)),
            journey,
            decision,
            origin: Some(trace::Origin {
                profile: self.slot,
                flow,
            }),
        });
    }

    fn env(&self) -> env::ProfileEnv<'_> {
        env::ProfileEnv::new(self.eng.bundle, self.now, self.pid.as_str(), self.p)
    }

    fn tz(&self) -> TimeZone {
        match self.p.traits.get("timezone") {
            Some(nudge_bytecode::Value::Str(name)) => self
                .eng
                .zone(name)
                .unwrap_or_else(|| self.eng.default_tz.clone()),
            _ => self.eng.default_tz.clone(),
        }
    }

    fn schedule(&mut self, at: i64, priority: i64, kind: TimerKind) -> timers::TimerKey {
        self.timers.schedule(at, priority, self.slot, kind)
    }
}
