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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// The profile's id, inline when short: scheduling allocates nothing
    /// and firing reads the id from the queue node itself.
    pub profile: IdKey,
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

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerQueue {
    timers: BTreeMap<TimerKey, Timer>,
    next_seq: u64,
}

impl TimerQueue {
    pub fn schedule(
        &mut self,
        at: i64,
        priority: i64,
        profile: &IdKey,
        kind: TimerKind,
    ) -> TimerKey {
        let key = TimerKey {
            at,
            rank: priority.saturating_neg(),
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.timers.insert(
            key,
            Timer {
                profile: profile.clone(),
                kind,
            },
        );
        key
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
            let timer = Timer {
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
            let back: Option<Timer> = postcard::from_bytes(&bytes).ok();
            assert_eq!(back, Some(timer), "{id}");
            assert_eq!(json, serde_json::to_string(id).unwrap_or_default());
        }
    }
}
