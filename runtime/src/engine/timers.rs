//! The timer queue: every future instant the engine must act at, inside the
//! engine state (so it is serialized with it, as a map ordered by due time
//! that a store can index).
//!
//! Order: due time, then flow priority (higher first), then creation order.
//! That is the cap-competition rule: sends are checked against frequency
//! caps in time order, and when two are due at the same instant the
//! higher-priority flow's goes first.
//!
//! In memory the queue is a binary min-heap, not an ordered map: the engine
//! only ever schedules, takes the earliest timer and cancels, and a heap
//! push costs a few comparisons where an insert into the large `BTreeMap`
//! it replaces cost ~870 instructions (200,000 events: ~2% of the run). A
//! heap cannot remove an arbitrary entry, so cancelling is lazy: the key
//! goes into a set of cancelled keys and the entry is dropped when it
//! comes to the top. Keys are unique (their `seq` is), so the firing order
//! is the keys' order whatever the heap's layout.

use super::profiles::IdKey;
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};

/// Identifies a queued timer; ordered as the queue fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimerKey {
    pub at: i64,
    /// `-priority`, so higher priority sorts first.
    pub rank: i64,
    pub seq: u64,
}

/// A queued timer: what to do, for the profile at `slot` in the state's
/// table. Firing finds the profile there, with no lookup of its id; a timer
/// is 24 bytes, which keeps the queue's entries (key and timer) small.
/// (The queue is stored with the profiles' ids: see `StoredQueue`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    pub slot: u32,
    pub kind: TimerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerKind {
    /// Wake journey `id` (a wait, a `wait for` deadline or a deferred send).
    Journey(u64),
    /// A `when date` trigger of flow `flow` is due.
    Date(u16),
    /// A `when inactive` silence of flow `flow` has lasted long enough.
    Inactive(u16),
    /// A history window moved past an event, or a clock value a segment
    /// read (`days_since`, `age`, `now`) changed: re-evaluate segments.
    Window,
}

/// Two queues are equal when their live timers and `next_seq` are, naming
/// profiles by slot (`EngineState` compares them by id); the heap's layout
/// and the cancelled entries it still holds do not count.
#[derive(Debug, Clone, Default)]
pub struct TimerQueue {
    /// Live timers and cancelled ones not yet dropped. Invariant: the top
    /// (the least key) is live, so `next_due` and `is_empty` need not look
    /// past it.
    heap: BinaryHeap<Reverse<Entry>>,
    /// Keys cancelled while in `heap` below its top, dropped from both when
    /// they reach the top. (It may also hold keys that were no longer in the
    /// heap when cancelled, as `cancel` cannot always tell: `compact` clears
    /// them, and they match no later timer, whose `seq` is greater.)
    cancelled: FxHashSet<TimerKey>,
    next_seq: u64,
}

/// A heap entry, ordered by its key alone (keys are unique).
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: TimerKey,
    timer: Timer,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.key == other.key
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> Ordering {
        self.key.cmp(&other.key)
    }
}

impl PartialEq for TimerQueue {
    fn eq(&self, other: &TimerQueue) -> bool {
        self.next_seq == other.next_seq && self.sorted() == other.sorted()
    }
}

impl Eq for TimerQueue {}

/// A timer as stored: naming its profile by id (slots are numbered anew
/// when a state is decoded). The same bytes as the queue had when its timers
/// held ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTimer {
    pub profile: IdKey,
    pub kind: TimerKind,
}

/// `TimerQueue` as stored (`StoredTimer`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredQueue {
    pub timers: BTreeMap<TimerKey, StoredTimer>,
    pub next_seq: u64,
}

impl TimerQueue {
    /// Queues a timer for the profile at `slot`.
    pub fn schedule(&mut self, at: i64, priority: i64, slot: u32, kind: TimerKind) -> TimerKey {
        let key = TimerKey {
            at,
            rank: priority.saturating_neg(),
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.heap.push(Reverse(Entry {
            key,
            timer: Timer { slot, kind },
        }));
        key
    }

    /// The live timers, in no particular order.
    fn live(&self) -> impl Iterator<Item = (TimerKey, Timer)> + '_ {
        self.heap
            .iter()
            .map(|Reverse(e)| (e.key, e.timer))
            .filter(|(k, _)| self.cancelled.is_empty() || !self.cancelled.contains(k))
    }

    /// The live timers in firing order.
    fn sorted(&self) -> Vec<(TimerKey, Timer)> {
        let mut all: Vec<_> = self.live().collect();
        all.sort_unstable_by_key(|(k, _)| *k);
        all
    }

    /// The queue as stored, with each profile's id (`id` of a slot). A
    /// timer whose slot has no profile is left out: it could not fire.
    pub fn to_stored<'a>(&self, id: impl Fn(u32) -> Option<&'a str>) -> StoredQueue {
        StoredQueue {
            timers: self
                .live()
                .filter_map(|(k, t)| {
                    let profile = IdKey::new(id(t.slot)?);
                    Some((
                        k,
                        StoredTimer {
                            profile,
                            kind: t.kind,
                        },
                    ))
                })
                .collect(),
            next_seq: self.next_seq,
        }
    }

    /// A stored queue, its profiles found by id (`slot` of an id). A timer
    /// naming no known profile is dropped: it could not fire.
    pub fn from_stored(stored: StoredQueue, slot: impl Fn(&str) -> Option<u32>) -> TimerQueue {
        let entries: Vec<_> = stored
            .timers
            .into_iter()
            .filter_map(|(key, t)| {
                Some(Reverse(Entry {
                    key,
                    timer: Timer {
                        slot: slot(t.profile.as_str())?,
                        kind: t.kind,
                    },
                }))
            })
            .collect();
        TimerQueue {
            heap: BinaryHeap::from(entries),
            cancelled: FxHashSet::default(),
            next_seq: stored.next_seq,
        }
    }

    /// Cancels the timer `key` if it is queued; a key that already fired,
    /// was cancelled or was never queued is a no-op.
    ///
    /// A key at or below the last one fired may still be queued: a timer
    /// scheduled while firing can be due at the same instant with a higher
    /// priority, or at an instant the clock has passed. So only a key below
    /// the heap's least one is known not to be queued.
    pub fn cancel(&mut self, key: TimerKey) {
        let Some(Reverse(top)) = self.heap.peek() else {
            return;
        };
        // Below the least queued key, or not yet handed out (every key of a
        // valid state has a lesser `seq`): not queued.
        if key < top.key || key.seq >= self.next_seq {
            return;
        }
        if key == top.key {
            self.heap.pop();
            self.drop_cancelled_top();
            return;
        }
        // Above the top: queued, or gone (fired or dropped) while a lesser
        // key was scheduled since. The set cannot tell these apart here;
        // `compact` bounds what the second kind leaves behind.
        if self.cancelled.insert(key) && self.cancelled.len() > 32 + self.heap.len() / 2 {
            self.compact();
        }
    }

    /// Drops cancelled entries from the top until it is live (the heap's
    /// invariant).
    fn drop_cancelled_top(&mut self) {
        while !self.cancelled.is_empty() {
            match self.heap.peek() {
                Some(Reverse(top)) if self.cancelled.remove(&top.key) => {
                    self.heap.pop();
                }
                _ => break,
            }
        }
        if self.heap.is_empty() {
            // Whatever is left was not in the heap when cancelled.
            self.cancelled.clear();
        }
    }

    /// Removes every cancelled entry and empties the set (including keys
    /// that were not in the heap when cancelled). O(n), and done only once
    /// the set holds more than half as many keys as the heap has entries,
    /// so at most a constant per `cancel` on average.
    fn compact(&mut self) {
        let cancelled = std::mem::take(&mut self.cancelled);
        self.heap.retain(|Reverse(e)| !cancelled.contains(&e.key));
    }

    /// The earliest due time.
    pub fn next_due(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse(e)| e.key.at)
    }

    /// The next timer to fire.
    pub fn peek(&self) -> Option<&Timer> {
        self.heap.peek().map(|Reverse(e)| &e.timer)
    }

    /// Removes and returns the first timer due at or before `until`.
    pub fn pop_due(&mut self, until: i64) -> Option<(TimerKey, Timer)> {
        if self.heap.peek()?.0.key.at > until {
            return None;
        }
        let Reverse(e) = self.heap.pop()?;
        self.drop_cancelled_top();
        Some((e.key, e.timer))
    }

    /// The number of live timers: O(1) when nothing cancelled waits in the
    /// heap, otherwise a pass over it.
    pub fn len(&self) -> usize {
        if self.cancelled.is_empty() {
            self.heap.len()
        } else {
            self.live().count()
        }
    }

    pub fn is_empty(&self) -> bool {
        // The top is live whenever there is one.
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic, reason = "a failing test may panic")]

    use super::*;
    use proptest::prelude::*;

    /// The shape `Timer` had when it held a `String`.
    #[derive(Serialize)]
    struct OldTimer {
        profile: String,
        kind: TimerKind,
    }

    #[test]
    fn timers_encode_as_before_and_round_trip() {
        let long = "x".repeat(40);
        for id in ["", "u1", "user-0000000000000000001", long.as_str(), "é"] {
            let timer = StoredTimer {
                profile: IdKey::new(id),
                kind: TimerKind::Journey(7),
            };
            let old = OldTimer {
                profile: id.to_string(),
                kind: TimerKind::Journey(7),
            };
            let bytes = postcard::to_allocvec(&timer).unwrap_or_default();
            assert_eq!(bytes, postcard::to_allocvec(&old).unwrap_or_default());
            let json = serde_json::to_string(&timer.profile).unwrap_or_default();
            let back: Option<StoredTimer> = postcard::from_bytes(&bytes).ok();
            assert_eq!(back, Some(timer), "{id}");
            assert_eq!(json, serde_json::to_string(id).unwrap_or_default());
        }
    }

    fn drain(q: &mut TimerQueue) -> Vec<TimerKey> {
        std::iter::from_fn(|| q.pop_due(i64::MAX))
            .map(|(k, _)| k)
            .collect()
    }

    #[test]
    fn timer_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Timer>(), 24);
    }

    #[test]
    fn fires_in_key_order() {
        let mut q = TimerQueue::default();
        let a = q.schedule(100, 0, 0, TimerKind::Window);
        let b = q.schedule(50, 0, 0, TimerKind::Window);
        let c = q.schedule(100, 5, 0, TimerKind::Window);
        let d = q.schedule(100, 5, 0, TimerKind::Window);
        assert_eq!(q.next_due(), Some(50));
        assert_eq!(q.pop_due(49), None);
        assert_eq!(q.pop_due(50).map(|(k, _)| k), Some(b));
        assert_eq!(q.pop_due(99), None);
        assert_eq!(drain(&mut q), vec![c, d, a]);
    }

    #[test]
    fn cancelling_a_fired_timer_is_a_no_op() {
        let mut q = TimerQueue::default();
        let a = q.schedule(10, 0, 0, TimerKind::Window);
        let b = q.schedule(20, 0, 0, TimerKind::Window);
        assert_eq!(q.pop_due(10).map(|(k, _)| k), Some(a));
        q.cancel(a);
        assert_eq!(q.len(), 1);
        assert!(q.cancelled.is_empty());
        // Fired, then a lesser key is scheduled: `a` is above the top now.
        let c = q.schedule(5, 0, 0, TimerKind::Window);
        assert_eq!(q.pop_due(5).map(|(k, _)| k), Some(c));
        let d = q.schedule(1, 0, 0, TimerKind::Window);
        q.cancel(c);
        q.cancel(a);
        assert_eq!(q.len(), 2);
        assert_eq!(drain(&mut q), vec![d, b]);
        assert!(q.cancelled.is_empty());
        assert!(q.is_empty());
    }

    #[test]
    fn cancelling_twice_then_popping() {
        let mut q = TimerQueue::default();
        let a = q.schedule(10, 0, 0, TimerKind::Window);
        let b = q.schedule(20, 0, 0, TimerKind::Window);
        let c = q.schedule(30, 0, 0, TimerKind::Window);
        q.cancel(b);
        q.cancel(b);
        assert_eq!(q.len(), 2);
        assert_eq!(q.cancelled.len(), 1);
        assert_eq!(q.pop_due(10).map(|(k, _)| k), Some(a));
        // `b` was dropped on the way to `c`.
        assert_eq!(q.next_due(), Some(30));
        assert!(q.cancelled.is_empty());
        q.cancel(b);
        assert!(q.cancelled.is_empty());
        q.cancel(c);
        q.cancel(c);
        assert_eq!(q.next_due(), None);
        assert_eq!(q.pop_due(i64::MAX), None);
        assert_eq!(q.len(), 0);
        assert!(q.is_empty());
        assert!(q.cancelled.is_empty());
    }

    #[test]
    fn len_and_is_empty_count_live_timers() {
        let mut q = TimerQueue::default();
        let keys: Vec<_> = (0..10)
            .map(|i| q.schedule(i, 0, 0, TimerKind::Window))
            .collect();
        for k in keys.iter().skip(1).step_by(2) {
            q.cancel(*k);
        }
        assert_eq!(q.len(), 5);
        assert!(!q.is_empty());
        for k in keys.iter().step_by(2) {
            q.cancel(*k);
        }
        assert_eq!(q.len(), 0);
        assert!(q.is_empty());
        assert_eq!(q.next_due(), None);
        assert!(q.cancelled.is_empty() && q.heap.is_empty());
    }

    #[test]
    fn keys_no_longer_queued_do_not_pile_up() {
        let mut q = TimerQueue::default();
        // A fired key sits above the top once a lesser one is queued, and
        // `cancel` cannot tell it from a queued one: the set keeps it until
        // `compact`, within its bound, and the count stays exact.
        for i in 0..10_000 {
            let fired = q.schedule(1_000_000 + i, 0, 0, TimerKind::Window);
            assert_eq!(q.pop_due(i64::MAX).map(|(k, _)| k), Some(fired));
            let lesser = q.schedule(0, 0, 0, TimerKind::Window);
            q.cancel(fired);
            assert_eq!(q.pop_due(0).map(|(k, _)| k), Some(lesser));
            q.schedule(2_000_000 + i, 0, 0, TimerKind::Window);
            assert!(q.cancelled.len() <= 33 + q.heap.len() / 2);
            assert_eq!(q.len(), usize::try_from(i + 1).unwrap_or(0));
        }
        assert_eq!(drain(&mut q).len(), 10_000);
        assert!(q.cancelled.is_empty() && q.heap.is_empty());
    }

    #[test]
    fn equality_and_stored_form_ignore_the_layout() {
        let mut a = TimerQueue::default();
        let mut b = TimerQueue::default();
        let ka: Vec<_> = (0..20)
            .map(|i| a.schedule((i * 7) % 11, i % 3, 0, TimerKind::Journey(i as u64)))
            .collect();
        let _: Vec<_> = (0..20)
            .map(|i| b.schedule((i * 7) % 11, i % 3, 0, TimerKind::Journey(i as u64)))
            .collect();
        a.cancel(ka[3]);
        assert_ne!(a, b);
        b.cancel(ka[3]);
        assert_eq!(a, b);
        let id = |_| Some("p");
        let back = TimerQueue::from_stored(a.to_stored(id), |_| Some(0));
        assert_eq!(back, a);
        assert_eq!(back.to_stored(id), b.to_stored(id));
        assert!(!back.to_stored(id).timers.contains_key(&ka[3]));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Schedule(i64, i64),
        /// Cancel the n-th key handed out (modulo how many), fired or not.
        Cancel(usize),
        Pop(i64),
        Store,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..40i64, -2..3i64).prop_map(|(at, p)| Op::Schedule(at, p)),
            3 => (0..64usize).prop_map(Op::Cancel),
            3 => (0..40i64).prop_map(Op::Pop),
            1 => Just(Op::Store),
        ]
    }

    proptest! {
        /// The heap behaves as the ordered map it replaced.
        #[test]
        fn behaves_as_an_ordered_map(ops in prop::collection::vec(op(), 0..200)) {
            let mut q = TimerQueue::default();
            let mut model: BTreeMap<TimerKey, Timer> = BTreeMap::new();
            let mut keys = Vec::new();
            for op in ops {
                match op {
                    Op::Schedule(at, p) => {
                        let kind = TimerKind::Journey(keys.len() as u64);
                        let k = q.schedule(at, p, 0, kind);
                        model.insert(k, Timer { slot: 0, kind });
                        keys.push(k);
                    }
                    Op::Cancel(n) => {
                        if let Some(k) = keys.get(n % keys.len().max(1)) {
                            q.cancel(*k);
                            model.remove(k);
                        }
                    }
                    Op::Pop(until) => {
                        let want = match model.first_key_value() {
                            Some((k, _)) if k.at <= until => model.pop_first(),
                            _ => None,
                        };
                        prop_assert_eq!(q.pop_due(until), want);
                    }
                    Op::Store => {
                        let stored = q.to_stored(|_| Some("p"));
                        q = TimerQueue::from_stored(stored, |_| Some(0));
                    }
                }
                prop_assert_eq!(q.next_due(), model.keys().next().map(|k| k.at));
                prop_assert_eq!(q.len(), model.len());
                prop_assert_eq!(q.is_empty(), model.is_empty());
                prop_assert!(q.cancelled.len() <= 33 + q.heap.len() / 2);
                let stored = q.to_stored(|_| Some("p"));
                let want: Vec<_> = model.keys().copied().collect();
                prop_assert_eq!(stored.timers.keys().copied().collect::<Vec<_>>(), want);
            }
            let rest: Vec<_> = model.keys().copied().collect();
            prop_assert_eq!(drain(&mut q), rest);
            prop_assert!(q.cancelled.is_empty());
            prop_assert!(q.heap.is_empty());
        }
    }
}
