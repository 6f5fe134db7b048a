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
}

impl Journey {
    /// The length of the journey's postcard form, as a store keeps it
    /// (the VM state plus what it waits for and what it heard).
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
