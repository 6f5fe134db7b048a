//! The timer queue: every future instant the engine must act at, in one
//! ordered map inside the engine state (so it is serialized with it and a
//! store can index it by due time).
//!
//! Order: due time, then flow priority (higher first), then creation order.
//! That is the cap-competition rule: sends are checked against frequency
//! caps in time order, and when two are due at the same instant the
//! higher-priority flow's goes first.

use super::profiles::IdKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
/// is 24 bytes, which keeps the queue's nodes small. (The queue is stored
/// with the profiles' ids: see `StoredQueue`.)
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

/// Two queues are equal when their timers are, naming profiles by slot
/// (`EngineState` compares them by id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimerQueue {
    timers: BTreeMap<TimerKey, Timer>,
    next_seq: u64,
}

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
        self.timers.insert(key, Timer { slot, kind });
        key
    }

    /// The queue as stored, with each profile's id (`id` of a slot). A
    /// timer whose slot has no profile is left out: it could not fire.
    pub fn to_stored<'a>(&self, id: impl Fn(u32) -> Option<&'a str>) -> StoredQueue {
        StoredQueue {
            timers: self
                .timers
                .iter()
                .filter_map(|(k, t)| {
                    let profile = IdKey::new(id(t.slot)?);
                    Some((
                        *k,
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
        TimerQueue {
            timers: stored
                .timers
                .into_iter()
                .filter_map(|(k, t)| {
                    Some((
                        k,
                        Timer {
                            slot: slot(t.profile.as_str())?,
                            kind: t.kind,
                        },
                    ))
                })
                .collect(),
            next_seq: stored.next_seq,
        }
    }

    pub fn cancel(&mut self, key: TimerKey) {
        self.timers.remove(&key);
    }

    /// The earliest due time.
    pub fn next_due(&self) -> Option<i64> {
        self.timers.keys().next().map(|k| k.at)
    }

    /// Removes and returns the first timer due at or before `until`.
    pub fn pop_due(&mut self, until: i64) -> Option<(TimerKey, Timer)> {
        if self.timers.first_key_value()?.0.at > until {
            return None;
        }
        self.timers.pop_first()
    }

    pub fn len(&self) -> usize {
        self.timers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
