//! The engine's whole state: plain serde data (profiles, journeys as
//! suspended VM state, timers, aggregates, the caps ledger). A store keeps
//! it; the simulator keeps it in memory; property tests serialize and
//! restore it between every two inputs.
//!
//! Everything is a `Vec` or a `BTreeMap`, or (for the hot lookups) a
//! structure from `profiles.rs` that serializes and compares in id order,
//! so two engines fed the same inputs hold byte-identical states.

use super::aggregates::AggState;
use super::profiles::{Profiles, Seen};
use super::timers::{TimerKey, TimerQueue};
use crate::journey::JourneyState;
use nudge_bytecode::op::Channel;
use nudge_bytecode::{Record, Value};
use serde::{Deserialize, Serialize};

/// How many recent message ids a profile remembers for de-duplication
/// (a source retrying a batch resends recent events, not old ones).
pub const DEDUPE_WINDOW: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineState {
    /// The latest instant the engine has acted at (it never goes back).
    pub clock: i64,
    pub next_journey: u64,
    pub profiles: Profiles,
    pub timers: TimerQueue,
}

impl EngineState {
    /// The postcard form, as a store would keep it.
    pub fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_allocvec(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<EngineState, postcard::Error> {
        postcard::from_bytes(bytes)
    }

    /// What is wrong with the profiles' bound-event stores, one line each
    /// (empty when sound): every entry is referred to by exactly `refs`
    /// references of parked journeys and holds a value, every reference
    /// finds its entry, a parked journey's bound locals are empty (the store
    /// has the value), and a profile without journeys keeps no entries.
    /// A state decoded from storage can be checked with it before use.
    pub fn bound_store_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (id, p) in self.profiles.iter() {
            let refs = || {
                p.journeys.iter().flat_map(|j| {
                    let args = j.bound_args.iter().map(|b| b.1);
                    j.bound.iter().map(|b| b.1).chain(args)
                })
            };
            for e in &p.bound.entries {
                let held = refs().filter(|r| *r == e.id).count();
                if held != e.refs as usize {
                    problems.push(format!(
                        "{id}: entry {} counts {} references, journeys hold {held}",
                        e.id, e.refs
                    ));
                }
                if matches!(e.value, Value::None) {
                    problems.push(format!("{id}: entry {} is empty", e.id));
                }
            }
            for r in refs() {
                if p.bound.get(r).is_none() {
                    problems.push(format!("{id}: a journey refers to missing entry {r}"));
                }
            }
            for j in &p.journeys {
                for (l, _) in &j.bound {
                    if j.vm.locals.get(usize::from(*l)) != Some(&Value::None) {
                        problems.push(format!(
                            "{id}: parked journey {} holds its bound local {l}",
                            j.id
                        ));
                    }
                }
            }
            if p.journeys.is_empty() && !p.bound.is_empty() {
                problems.push(format!("{id}: entries left after every journey ended"));
            }
        }
        problems
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub traits: Record,
    /// One per `Bundle::aggregates`.
    pub aggregates: Vec<AggState>,
    /// Membership, one per `Bundle::segments`.
    pub segments: Vec<bool>,
    pub journeys: Vec<Journey>,
    /// Last entry instant per flow index (the reentry ledger).
    pub entries: Vec<(u16, i64)>,
    /// Conversion windows still open.
    pub goals: Vec<OpenGoal>,
    /// Marketing sends still inside the longest cap window (the caps
    /// ledger).
    pub sends: Vec<(i64, Channel)>,
    pub suppressions: Suppressions,
    /// Armed `when date` / `when inactive` timers, per flow index.
    pub trigger_timers: Vec<(u16, TimerKey)>,
    /// Last instant a `when date` trigger fired, per flow index.
    pub date_fired: Vec<(u16, i64)>,
    /// When segments must be re-evaluated for time alone (an aggregate
    /// window drops an event, a clock read changes).
    pub window_timer: Option<TimerKey>,
    /// Recent message ids (de-duplication).
    pub seen: Seen,
    /// The events this profile's suspended journeys bound to locals, each
    /// stored once (`Journey::bound` refers to them).
    pub bound: BoundEvents,
}

/// Events journeys bound to locals (the trigger event, `wait for ... as
/// x`), already projected to the fields the flow reads, stored once per
/// profile: a suspended journey keeps only a reference, so its size does
/// not grow with the event's (an order with many products), and journeys
/// bound to equal values share one entry. An entry counts the references
/// held and goes when the last journey holding it ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundEvents {
    /// The next entry id (per profile, never reused).
    pub next: u64,
    /// In id order (ids only grow, so pushing keeps it sorted).
    pub entries: Vec<BoundEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundEvent {
    pub id: u64,
    /// How many `(local, id)` pairs of suspended journeys refer to it.
    pub refs: u32,
    pub value: Value,
}

impl BoundEvents {
    /// Stores `value` (or finds an equal entry) and counts one more
    /// reference; returns the entry id.
    pub fn insert(&mut self, value: Value) -> u64 {
        // A profile holds a handful of entries: a scan is cheaper than
        // hashing every value, and needs no hash in the state.
        if let Some(e) = self.entries.iter_mut().find(|e| e.value == value) {
            e.refs = e.refs.saturating_add(1);
            return e.id;
        }
        let id = self.next;
        self.next = self.next.saturating_add(1);
        // Most profiles hold one or two entries: no spare capacity (a
        // simulation keeps every profile in memory).
        self.entries.reserve_exact(1);
        self.entries.push(BoundEvent { id, refs: 1, value });
        id
    }

    pub fn get(&self, id: u64) -> Option<&Value> {
        self.position(id)
            .and_then(|i| self.entries.get(i))
            .map(|e| &e.value)
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Value> {
        self.position(id)
            .and_then(|i| self.entries.get_mut(i))
            .map(|e| &mut e.value)
    }

    /// How many references entry `id` has (0 when there is none).
    pub fn refs(&self, id: u64) -> u32 {
        self.position(id)
            .and_then(|i| self.entries.get(i))
            .map_or(0, |e| e.refs)
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.entries.binary_search_by_key(&id, |e| e.id).ok()
    }

    /// The value of entry `id`, dropping one reference: moved out with the
    /// last, else copied.
    pub fn take(&mut self, id: u64) -> Option<Value> {
        let i = self.position(id)?;
        let e = self.entries.get_mut(i)?;
        if e.refs > 1 {
            e.refs -= 1;
            return Some(e.value.clone());
        }
        Some(self.entries.remove(i).value)
    }

    /// Drops one reference; the entry goes with its last.
    pub fn release(&mut self, id: u64) {
        let Some(i) = self.position(id) else { return };
        if let Some(e) = self.entries.get_mut(i) {
            e.refs = e.refs.saturating_sub(1);
            if e.refs == 0 {
                self.entries.remove(i);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The length of the store's postcard form.
    pub fn encoded_len(&self) -> Result<usize, postcard::Error> {
        postcard::experimental::serialized_size(self)
    }
}

/// Hard suppressions: no flow, transactional included, sends past these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppressions {
    pub email_bounced: bool,
    pub email_complained: bool,
    pub sms_bounced: bool,
    /// Replied STOP: carriers require honouring it for every text.
    pub sms_stopped: bool,
}

/// One profile inside one flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journey {
    pub id: u64,
    pub flow: u16,
    pub vm: JourneyState,
    pub entered_at: i64,
    pub holdout: bool,
    pub wait: Wait,
    /// Events heard while the journey was held at a deferred send, kept for
    /// the `wait for` it reaches next (at most `MAX_HEARD`, oldest dropped;
    /// only names some `wait for` of the flow awaits). Empty otherwise.
    pub heard: Vec<Heard>,
    /// The locals holding a bound event, as `(local, BoundEvents id)`.
    /// While the journey is suspended these locals hold `none` and the
    /// profile's `BoundEvents` holds the values; while it runs, the locals
    /// hold copies (the references stay until the journey ends or the
    /// flow clears the local).
    pub bound: Vec<(u16, u64)>,
    /// While held at a deferred send: its arguments kept in the profile's
    /// `BoundEvents` (an argument is often a bound event itself), as
    /// `(argument index, id)`; those arguments hold `none` meanwhile.
    pub bound_args: Vec<(u8, u64)>,
}

impl Journey {
    /// The length of the journey's postcard form, as a store keeps it
    /// (the VM state plus what it waits for, what it heard, and the
    /// references to its bound events; not the events themselves).
    pub fn encoded_len(&self) -> Result<usize, postcard::Error> {
        postcard::experimental::serialized_size(self)
    }
}

/// How many events a held journey remembers for its next `wait for`.
pub const MAX_HEARD: usize = 4;

/// An event that arrived while a journey was held at a deferred send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heard {
    /// The engine's clock when it arrived.
    pub at: i64,
    pub event: String,
    pub properties: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Wait {
    /// Running (between effects); never stored.
    Running,
    /// `wait`, `wait until`: resume at the timer.
    Timer(TimerKey),
    /// `wait for`: resume on the event, or time out at the timer.
    Event { event: String, deadline: TimerKey },
    /// A send postponed by quiet hours or a cap; retried at the timer.
    DeferredSend {
        timer: TimerKey,
        template: u16,
        channel: Channel,
        args: Vec<Value>,
        /// The send instruction (for the idempotency key).
        op: u32,
    },
}

impl Wait {
    pub fn timer(&self) -> Option<TimerKey> {
        match self {
            Wait::Running => None,
            Wait::Timer(k) => Some(*k),
            Wait::Event { deadline, .. } => Some(*deadline),
            Wait::DeferredSend { timer, .. } => Some(*timer),
        }
    }
}

/// A `goal` window: conversions count until `deadline`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenGoal {
    pub journey: u64,
    pub flow: u16,
    pub deadline: i64,
    pub holdout: bool,
    /// The journey's locals once it has exited (the goal's `where` reads
    /// them); `None` while the journey is alive.
    pub locals: Option<Vec<Value>>,
}
