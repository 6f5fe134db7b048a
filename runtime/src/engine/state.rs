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
use super::timers::{StoredQueue, TimerKey, TimerQueue};
use crate::journey::JourneyState;
use nudge_bytecode::op::Channel;
use nudge_bytecode::{Record, Value};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// How many recent message ids a profile remembers for de-duplication
/// (a source retrying a batch resends recent events, not old ones).
pub const DEDUPE_WINDOW: usize = 64;

/// Stored (and compared) with each timer naming its profile by id, as
/// `Stored` spells it: slots number profiles in the order the table first
/// saw them, which a decoded state does anew.
#[derive(Debug, Clone, Default)]
pub struct EngineState {
    /// The latest instant the engine has acted at (it never goes back).
    pub clock: i64,
    pub profiles: Profiles,
    pub timers: TimerQueue,
}

/// `EngineState` as stored: the fields in order, the timers by id.
#[derive(Serialize)]
struct StoredRef<'a> {
    clock: i64,
    profiles: &'a Profiles,
    timers: StoredQueue,
}

#[derive(Deserialize)]
struct Stored {
    clock: i64,
    profiles: Profiles,
    timers: StoredQueue,
}

impl EngineState {
    fn stored_timers(&self) -> StoredQueue {
        self.timers.to_stored(|slot| self.profiles.id_at(slot))
    }
}

impl Serialize for EngineState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StoredRef {
            clock: self.clock,
            profiles: &self.profiles,
            timers: self.stored_timers(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for EngineState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<EngineState, D::Error> {
        let stored = Stored::deserialize(d)?;
        let timers = TimerQueue::from_stored(stored.timers, |id| stored.profiles.slot_of(id));
        Ok(EngineState {
            clock: stored.clock,
            profiles: stored.profiles,
            timers,
        })
    }
}

impl PartialEq for EngineState {
    fn eq(&self, other: &EngineState) -> bool {
        self.clock == other.clock
            && self.profiles == other.profiles
            && self.stored_timers() == other.stored_timers()
    }
}

impl Eq for EngineState {}

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
    // The small lists below are held in the profile itself up to a typical
    // size (one block, usually one or two cache lines, instead of a heap
    // block each: 200k events, simulated D1 misses -3.8%; 1M events, peak
    // RSS -12 MB). They encode as the vectors they were.
    /// Membership, one per `Bundle::segments`.
    pub segments: SmallVec<[bool; 16]>,
    pub journeys: Vec<Journey>,
    /// Last entry instant per flow index (the reentry ledger).
    pub entries: SmallVec<[(u16, i64); 2]>,
    /// Conversion windows still open.
    pub goals: Vec<OpenGoal>,
    /// Marketing sends still inside the longest cap window (the caps
    /// ledger).
    pub sends: SmallVec<[(i64, Channel); 2]>,
    pub suppressions: Suppressions,
    /// How many journeys the profile has started; the latest one's id.
    /// Journeys are numbered per profile from 1, not across the state: a
    /// profile's story then never depends on other profiles (so profiles
    /// can be run apart, in any order, and a partitioned daemon needs no
    /// shared counter).
    pub journeys_started: u64,
    /// Armed `when date` / `when inactive` timers, per flow index.
    pub trigger_timers: SmallVec<[(u16, TimerKey); 1]>,
    /// Last instant a `when date` trigger fired, per flow index.
    pub date_fired: SmallVec<[(u16, i64); 1]>,
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

    /// `encoded_len` with its timer's sequence number counted as one byte,
    /// as the simulator reports sizes. That number counts every timer the
    /// state has set, so its length (up to ten bytes) grows with the state
    /// and differs between a partitioned run's states, while the journey
    /// stays the same.
    pub fn measured_len(&self) -> Result<usize, postcard::Error> {
        let seq = self.wait.timer().map_or(0, |k| k.seq);
        // Postcard writes a u64 as a varint: seven bits a byte.
        let seq_bytes = (64 - seq.leading_zeros()).div_ceil(7).max(1) as usize;
        Ok(self.encoded_len()?.saturating_sub(seq_bytes - 1))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::profiles::IdKey;
    use crate::engine::timers::{StoredTimer, TimerKind};
    use std::collections::BTreeMap;

    /// The shape the state had when each timer held its profile's id
    /// (less the state-wide journey counter, which went when journeys came
    /// to be numbered per profile).
    #[derive(Serialize)]
    struct Old<'a> {
        clock: i64,
        profiles: &'a Profiles,
        timers: OldQueue,
    }

    #[derive(Serialize)]
    struct OldQueue {
        timers: BTreeMap<TimerKey, StoredTimer>,
        next_seq: u64,
    }

    /// "zed" first seen, then "amy": slots 0 and 1, where a decoded state
    /// numbers them the other way round (in id order).
    fn state() -> EngineState {
        let mut s = EngineState {
            clock: 5,
            ..EngineState::default()
        };
        for id in ["zed", "amy"] {
            s.profiles.get_or_insert_with(id, Profile::default);
        }
        s.timers.schedule(100, 0, 0, TimerKind::Journey(1));
        s.timers.schedule(50, 3, 1, TimerKind::Date(2));
        s.timers.schedule(100, 0, 1, TimerKind::Window);
        s
    }

    #[test]
    fn a_state_stores_its_timers_by_profile_id_as_before() {
        let s = state();
        let by_id = |id: &str, kind| StoredTimer {
            profile: IdKey::new(id),
            kind,
        };
        let key = |at, rank, seq| TimerKey { at, rank, seq };
        let old = Old {
            clock: 5,
            profiles: &s.profiles,
            timers: OldQueue {
                timers: BTreeMap::from([
                    (key(100, 0, 0), by_id("zed", TimerKind::Journey(1))),
                    (key(50, -3, 1), by_id("amy", TimerKind::Date(2))),
                    (key(100, 0, 2), by_id("amy", TimerKind::Window)),
                ]),
                next_seq: 3,
            },
        };
        let bytes = s.encode().unwrap_or_default();
        assert_eq!(bytes, postcard::to_allocvec(&old).unwrap_or_default());
        assert_eq!(
            serde_json::to_string(&s).unwrap_or_default(),
            serde_json::to_string(&old).unwrap_or_default()
        );
    }

    #[test]
    fn a_journey_is_measured_with_its_timers_sequence_number_as_one_byte() {
        let at = |seq| Journey {
            id: 1,
            flow: 0,
            vm: JourneyState {
                flow_version: [0; 32],
                pc: 3,
                locals: Vec::new(),
            },
            entered_at: 0,
            holdout: false,
            wait: Wait::Timer(TimerKey {
                at: 5,
                rank: 0,
                seq,
            }),
            heard: Vec::new(),
            bound: Vec::new(),
            bound_args: Vec::new(),
        };
        let len = |j: &Journey| (j.encoded_len().ok(), j.measured_len().ok());
        let (first, measured) = len(&at(0));
        assert_eq!(measured, first);
        for seq in [1, 127, 128, 300, 1 << 40, u64::MAX] {
            let (encoded, measured) = len(&at(seq));
            assert_eq!(measured, first, "{seq}");
            assert!(encoded >= first, "{seq}");
        }
    }

    #[test]
    fn a_profiles_inline_lists_encode_as_the_vectors_they_were() {
        let key = TimerKey {
            at: 9,
            rank: -1,
            seq: 4,
        };
        let p = Profile {
            segments: SmallVec::from_slice(&[true; 20]),
            entries: SmallVec::from_slice(&[(1, 5), (2, 6), (3, 7)]),
            sends: SmallVec::from_slice(&[(8, Channel::Sms)]),
            trigger_timers: SmallVec::from_slice(&[(0, key), (1, key)]),
            date_fired: SmallVec::from_slice(&[(4, 11)]),
            ..Profile::default()
        };
        let both = |a: &dyn erased::Both, b: &dyn erased::Both| {
            assert_eq!(a.postcard(), b.postcard());
            assert_eq!(a.json(), b.json());
        };
        both(&p.segments, &p.segments.to_vec());
        both(&p.entries, &p.entries.to_vec());
        both(&p.sends, &p.sends.to_vec());
        both(&p.trigger_timers, &p.trigger_timers.to_vec());
        both(&p.date_fired, &p.date_fired.to_vec());
        let back: Option<Profile> =
            postcard::from_bytes(&postcard::to_allocvec(&p).unwrap_or_default()).ok();
        assert_eq!(back, Some(p));
    }

    /// A value's postcard and JSON forms, whatever its type.
    mod erased {
        pub trait Both {
            fn postcard(&self) -> Vec<u8>;
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Both for T {
            fn postcard(&self) -> Vec<u8> {
                postcard::to_allocvec(self).unwrap_or_default()
            }
            fn json(&self) -> String {
                serde_json::to_string(self).unwrap_or_default()
            }
        }
    }

    #[test]
    fn a_decoded_state_renumbers_profiles_and_its_timers_follow() {
        let mut s = state();
        let mut back = EngineState::decode(&s.encode().unwrap_or_default()).unwrap_or_default();
        assert_eq!(back, s);
        assert_eq!(back.profiles.slot_of("amy"), Some(0));
        assert_eq!(back.profiles.slot_of("zed"), Some(1));
        let fired = |st: &mut EngineState| {
            std::iter::from_fn(|| st.timers.pop_due(i64::MAX))
                .map(|(k, t)| (k, st.profiles.id_at(t.slot).map(str::to_string), t.kind))
                .collect::<Vec<_>>()
        };
        assert_eq!(fired(&mut back), fired(&mut s));
    }

    #[test]
    fn a_stored_timer_naming_no_profile_is_dropped() {
        let s = state();
        let mut stored = s.timers.to_stored(|slot| s.profiles.id_at(slot));
        stored.timers.insert(
            TimerKey {
                at: 1,
                rank: 0,
                seq: 7,
            },
            StoredTimer {
                profile: IdKey::new("nobody"),
                kind: TimerKind::Window,
            },
        );
        let queue = TimerQueue::from_stored(stored, |id| s.profiles.slot_of(id));
        assert_eq!(queue, s.timers);
    }
}
