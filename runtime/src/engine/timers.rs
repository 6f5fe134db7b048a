//! The timer queue: every future instant the engine must act at, inside the
//! engine state (so it is serialized with it, as a map ordered by due time
//! that a store can index).
//!
//! Order: due time, then flow priority (higher first), then creation order.
//! That is the cap-competition rule: sends are checked against frequency
//! caps in time order, and when two are due at the same instant the
//! higher-priority flow's goes first.
//!
//! In memory the queue is a calendar of buckets, not an ordered map: the
//! engine only ever schedules, takes the earliest timer and cancels. Timers
//! wait unsorted in buckets of 2^22 ms (about 70 minutes), each knowing its
//! least key; a bucket is sorted when its first timer is taken, and the
//! rest of it fires from that sorted run. Timers scheduled into that bucket
//! or an earlier one meanwhile go to a small heap beside the run. A
//! schedule appends to a bucket and a fire takes the next of a sorted run,
//! both touching memory the queue used a moment ago, and the run tells the
//! engine which profiles the next timers are for (`ahead`). (A binary heap over every timer, which this replaces, cost
//! a chain of cache misses per fire once it held more than the caches: a
//! million-event simulation queues 200,000 timers, and its heap's `pop` was
//! a tenth of the run. A `BTreeMap` before it cost ~870 instructions an
//! insert.) Cancelling is lazy: the key goes into a set of cancelled keys
//! and the entry is dropped when it comes to the top. Keys are unique
//! (their `seq` is), so the firing order is the keys' order whatever the
//! layout.

use super::profiles::IdKey;
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};
use std::cmp::{Ordering, Reverse};
use std::collections::btree_map::Entry as Entry_;
use std::collections::{BTreeMap, BinaryHeap};

/// Timers are grouped by `at >> BUCKET_BITS` (2^22 ms, about 70 minutes).
const BUCKET_BITS: u32 = 22;

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
/// profiles by slot (`EngineState` compares them by id); the layout and the
/// cancelled entries the queue still holds do not count.
#[derive(Debug, Clone)]
pub struct TimerQueue {
    /// Timers of the current bucket, sorted by key, greatest first: the
    /// next to fire is the last.
    run: Vec<Entry>,
    /// Timers scheduled into the current bucket or an earlier one after it
    /// was sorted into `run` (a short wait, a deferral, a timer due in the
    /// past).
    late: BinaryHeap<Reverse<Entry>>,
    /// Timers of buckets after `current`, by bucket.
    far: BTreeMap<i64, Bucket>,
    /// How many entries `far` holds.
    far_len: usize,
    /// The least key in `far` (its first bucket's `least`), kept here so
    /// that finding the top does not walk the map.
    far_least: Option<TimerKey>,
    /// The last bucket taken into `run`: the one a timer was last taken
    /// from `far` for (so the clock has reached it, unless that timer was
    /// cancelled). Buckets are taken only when their first timer is, so a
    /// bucket of many timers ahead of the clock is not taken and given
    /// back as the clock approaches it.
    current: i64,
    /// Keys cancelled while queued below the top, dropped from the queue
    /// when they reach the top. (It may also hold keys that were no longer
    /// queued when cancelled, as `cancel` cannot always tell: `compact`
    /// clears them, and they match no later timer, whose `seq` is greater.)
    ///
    /// Invariant: the top (the least key of `run`, `late` and `far`) is
    /// live, so `next_due` and `is_empty` need not look past it.
    cancelled: FxHashSet<TimerKey>,
    next_seq: u64,
}

/// A bucket's timers, unsorted, and the least key among them.
#[derive(Debug, Clone)]
struct Bucket {
    entries: Vec<Entry>,
    least: TimerKey,
}

/// Where the top of the queue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Run,
    Late,
    Far,
}

impl Default for TimerQueue {
    fn default() -> TimerQueue {
        TimerQueue {
            run: Vec::new(),
            late: BinaryHeap::new(),
            far: BTreeMap::new(),
            far_len: 0,
            far_least: None,
            current: i64::MIN,
            cancelled: FxHashSet::default(),
            next_seq: 0,
        }
    }
}

/// A queued timer, ordered by its key alone (keys are unique).
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
        self.insert(Entry {
            key,
            timer: Timer { slot, kind },
        });
        key
    }

    fn insert(&mut self, e: Entry) {
        let bucket = e.key.at >> BUCKET_BITS;
        if bucket <= self.current {
            self.late.push(Reverse(e));
            return;
        }
        self.far_len += 1;
        self.far_least = Some(self.far_least.map_or(e.key, |k| k.min(e.key)));
        match self.far.entry(bucket) {
            Entry_::Vacant(v) => {
                v.insert(Bucket {
                    entries: vec![e],
                    least: e.key,
                });
            }
            Entry_::Occupied(mut o) => {
                let b = o.get_mut();
                b.least = b.least.min(e.key);
                b.entries.push(e);
            }
        }
    }

    /// The least key queued, and where it is.
    fn top(&self) -> Option<(TimerKey, Place)> {
        // By hand: this runs for every input and timer, and an iterator
        // chain over the three places was 3% of a run's instructions.
        let mut top = self.run.last().map(|e| (e.key, Place::Run));
        if let Some(Reverse(e)) = self.late.peek()
            && top.is_none_or(|(k, _)| e.key < k)
        {
            top = Some((e.key, Place::Late));
        }
        if let Some(least) = self.far_least
            && top.is_none_or(|(k, _)| least < k)
        {
            top = Some((least, Place::Far));
        }
        top
    }

    /// Removes the top, which is at `place` (`top`), without dropping
    /// cancelled entries after it. A top in `far` takes its bucket into
    /// `run` first (`run` and `late` are empty then: they hold earlier
    /// buckets only).
    fn take(&mut self, place: Place) -> Option<Entry> {
        match place {
            Place::Run => self.run.pop(),
            Place::Late => self.late.pop().map(|Reverse(e)| e),
            Place::Far => {
                let (bucket, Bucket { mut entries, .. }) = self.far.pop_first()?;
                self.far_len -= entries.len();
                self.far_least = self.far.first_key_value().map(|(_, b)| b.least);
                self.current = bucket;
                entries.sort_unstable_by_key(|e| Reverse(e.key));
                // `run` is empty (see above).
                self.run = entries;
                self.run.pop()
            }
        }
    }

    /// Drops cancelled entries from the top until it is live (the
    /// invariant).
    fn settle(&mut self) {
        while !self.cancelled.is_empty() {
            match self.top() {
                Some((top, place)) if self.cancelled.remove(&top) => {
                    self.take(place);
                }
                Some(_) => return,
                None => {
                    // Whatever is left was not queued when cancelled.
                    self.cancelled.clear();
                }
            }
        }
    }

    /// How many entries the queue holds, cancelled ones included.
    fn entries(&self) -> usize {
        self.run.len() + self.late.len() + self.far_len
    }

    /// Every entry, cancelled ones included, in no particular order.
    fn all(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.run
            .iter()
            .chain(self.late.iter().map(|Reverse(e)| e))
            .chain(self.far.values().flat_map(|b| &b.entries))
    }

    /// The live timers, in no particular order.
    fn live(&self) -> impl Iterator<Item = (TimerKey, Timer)> + '_ {
        self.all()
            .map(|e| (e.key, e.timer))
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
        let mut queue = TimerQueue {
            next_seq: stored.next_seq,
            ..TimerQueue::default()
        };
        for (key, t) in stored.timers {
            if let Some(slot) = slot(t.profile.as_str()) {
                queue.insert(Entry {
                    key,
                    timer: Timer { slot, kind: t.kind },
                });
            }
        }
        queue
    }

    /// Cancels the timer `key` if it is queued; a key that already fired,
    /// was cancelled or was never queued is a no-op.
    ///
    /// A key at or below the last one fired may still be queued: a timer
    /// scheduled while firing can be due at the same instant with a higher
    /// priority, or at an instant the clock has passed. So only a key below
    /// the queue's least one is known not to be queued.
    pub fn cancel(&mut self, key: TimerKey) {
        let Some((top, place)) = self.top() else {
            return;
        };
        // Below the least queued key, or not yet handed out (every key of a
        // valid state has a lesser `seq`): not queued.
        if key < top || key.seq >= self.next_seq {
            return;
        }
        if key == top {
            self.take(place);
            self.settle();
            return;
        }
        // Above the top: queued, or gone (fired or dropped) while a lesser
        // key was scheduled since. The set cannot tell these apart here;
        // `compact` bounds what the second kind leaves behind.
        if self.cancelled.insert(key) && self.cancelled.len() > 32 + self.entries() / 2 {
            self.compact();
        }
    }

    /// Removes every cancelled entry and empties the set (including keys
    /// that were not queued when cancelled). O(n), and done only once the
    /// set holds more than half as many keys as the queue has entries, so
    /// at most a constant per `cancel` on average. (The top is live, so it
    /// stays, and `run` keeps its order.)
    fn compact(&mut self) {
        let cancelled = std::mem::take(&mut self.cancelled);
        let keep = |e: &Entry| !cancelled.contains(&e.key);
        self.run.retain(keep);
        self.late.retain(|Reverse(e)| keep(e));
        self.far.retain(|_, b| {
            b.entries.retain(keep);
            b.least = b.entries.iter().map(|e| e.key).min().unwrap_or(b.least);
            !b.entries.is_empty()
        });
        self.far_len = self.far.values().map(|b| b.entries.len()).sum();
        self.far_least = self.far.first_key_value().map(|(_, b)| b.least);
    }

    /// The earliest due time.
    pub fn next_due(&self) -> Option<i64> {
        self.top().map(|(k, _)| k.at)
    }

    /// A hint for prefetching: the profile slot of a timer about `n` places
    /// after the next one (timers scheduled since the current bucket was
    /// sorted are not counted), if the current bucket has one.
    pub fn ahead(&self, n: usize) -> Option<u32> {
        let i = self.run.len().checked_sub(n + 1)?;
        self.run.get(i).map(|e| e.timer.slot)
    }

    /// Removes and returns the first timer due at or before `until`.
    pub fn pop_due(&mut self, until: i64) -> Option<(TimerKey, Timer)> {
        let (top, place) = self.top()?;
        if top.at > until {
            return None;
        }
        let e = self.take(place)?;
        self.settle();
        Some((e.key, e.timer))
    }

    /// The number of live timers: O(1) when nothing cancelled waits in the
    /// queue, otherwise a pass over it.
    pub fn len(&self) -> usize {
        if self.cancelled.is_empty() {
            self.entries()
        } else {
            self.live().count()
        }
    }

    pub fn is_empty(&self) -> bool {
        // The top is live whenever there is one, and there is one whenever
        // anything is queued.
        self.run.is_empty() && self.late.is_empty() && self.far.is_empty()
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
    fn ahead_names_the_next_timers_of_the_bucket() {
        let mut q = TimerQueue::default();
        let base = 5 << BUCKET_BITS;
        for slot in [3, 0, 1, 2] {
            q.schedule(base + i64::from(slot), 0, slot, TimerKind::Window);
        }
        // A later bucket is not looked into.
        q.schedule(base << 1, 0, 9, TimerKind::Window);
        // A bucket is sorted when its first timer is taken.
        assert_eq!(q.ahead(0), None);
        assert_eq!(q.pop_due(i64::MAX).map(|(_, t)| t.slot), Some(0));
        assert_eq!(
            (q.ahead(0), q.ahead(1), q.ahead(2)),
            (Some(1), Some(2), Some(3))
        );
        assert_eq!(q.pop_due(i64::MAX).map(|(_, t)| t.slot), Some(1));
        assert_eq!(
            (q.ahead(0), q.ahead(1), q.ahead(2)),
            (Some(2), Some(3), None)
        );
    }

    #[test]
    fn a_timer_due_before_a_waiting_bucket_fires_first() {
        let mut q = TimerQueue::default();
        let far = q.schedule(10 << BUCKET_BITS, 0, 0, TimerKind::Window);
        let same = q.schedule((10 << BUCKET_BITS) + 1, 0, 0, TimerKind::Window);
        let near = q.schedule(3 << BUCKET_BITS, 0, 0, TimerKind::Window);
        let nearer = q.schedule(2 << BUCKET_BITS, 0, 0, TimerKind::Window);
        let past = q.schedule(-5, 0, 0, TimerKind::Window);
        assert!(
            q.run.is_empty() && q.late.is_empty(),
            "no bucket is taken early"
        );
        assert_eq!(q.next_due(), Some(-5));
        assert_eq!(drain(&mut q), vec![past, nearer, near, far, same]);
    }

    /// A big bucket ahead of the clock stays where it is while timers
    /// before it come and go (it is not taken, sorted and given back each
    /// time), and fires in order after them.
    #[test]
    fn a_big_bucket_ahead_is_sorted_once() {
        let mut q = TimerQueue::default();
        let big = 100 << BUCKET_BITS;
        let mut want: Vec<TimerKey> = (0..5_000)
            .map(|i| q.schedule(big + (i * 7919) % 5_000, 0, 0, TimerKind::Window))
            .collect();
        want.sort_unstable();
        for i in 0..1_000 {
            let at = (i % 90) << BUCKET_BITS;
            let k = q.schedule(at, 0, 0, TimerKind::Window);
            assert_eq!(q.pop_due(at).map(|(k, _)| k), Some(k));
            assert!(q.far.contains_key(&100) && q.run.is_empty());
        }
        assert_eq!(drain(&mut q), want);
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
        assert!(q.cancelled.is_empty() && q.entries() == 0);
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
            assert!(q.cancelled.len() <= 33 + q.entries() / 2);
            assert_eq!(q.len(), usize::try_from(i + 1).unwrap_or(0));
        }
        assert_eq!(drain(&mut q).len(), 10_000);
        assert!(q.cancelled.is_empty() && q.entries() == 0);
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

    /// Instants within one bucket, and across a few (half a bucket apart).
    fn instant() -> impl Strategy<Value = i64> {
        prop_oneof![0..40i64, (0..40i64).prop_map(|i| i << (BUCKET_BITS - 1))]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (instant(), -2..3i64).prop_map(|(at, p)| Op::Schedule(at, p)),
            3 => (0..64usize).prop_map(Op::Cancel),
            3 => instant().prop_map(Op::Pop),
            1 => Just(Op::Store),
        ]
    }

    proptest! {
        /// The queue behaves as an ordered map, within a bucket and across
        /// buckets.
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
                prop_assert!(q.cancelled.len() <= 33 + q.entries() / 2);
                let stored = q.to_stored(|_| Some("p"));
                let want: Vec<_> = model.keys().copied().collect();
                prop_assert_eq!(stored.timers.keys().copied().collect::<Vec<_>>(), want);
            }
            let rest: Vec<_> = model.keys().copied().collect();
            prop_assert_eq!(drain(&mut q), rest);
            prop_assert!(q.cancelled.is_empty());
            prop_assert_eq!(q.entries(), 0);
        }
    }
}
