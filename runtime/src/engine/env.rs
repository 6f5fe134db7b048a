//! The VM's view of the world for one profile at one instant, and what the
//! code read of the clock (so segments that time alone changes can be
//! re-checked when they may change).

use super::state::Profile;
use crate::vm::Env;
use nudge_bytecode::{Bundle, Value};
use std::cell::Cell;

/// Code reading `now` itself (`profile.trial_ends_at < now`) may change its
/// result at any instant; such segments are re-checked on every whole UTC
/// hour. (`days_since` and `age` say exactly when they change.)
pub const NOW_RECHECK_MS: i64 = 3_600_000;

pub struct ProfileEnv<'a> {
    pub bundle: &'a Bundle,
    pub now: i64,
    pub id: &'a str,
    pub profile: &'a Profile,
    /// Segment membership to read (the profile's, or one being recomputed).
    pub segments: &'a [bool],
    /// The earliest instant after `now` at which something the code read
    /// of the clock changes (`None`: it read nothing of the clock).
    pub clock_changes: Cell<Option<i64>>,
}

impl<'a> ProfileEnv<'a> {
    pub fn new(bundle: &'a Bundle, now: i64, id: &'a str, profile: &'a Profile) -> Self {
        ProfileEnv {
            bundle,
            now,
            id,
            profile,
            segments: &profile.segments,
            clock_changes: Cell::new(None),
        }
    }
}

impl Env for ProfileEnv<'_> {
    fn now(&self) -> i64 {
        self.now
    }

    fn profile_id(&self) -> &str {
        self.id
    }

    fn profile_trait(&self, name: &str) -> Value {
        match self.profile.traits.get(name) {
            Some(v) => v.clone(),
            None => missing_trait(name),
        }
    }

    fn aggregate(&self, index: u16) -> Value {
        let i = usize::from(index);
        match (
            self.bundle.aggregates.get(i),
            self.profile.aggregates.get(i),
        ) {
            (Some(a), Some(s)) => s.value(a, self.now),
            (Some(a), None) => super::aggregates::AggState::default().value(a, self.now),
            _ => Value::None,
        }
    }

    fn in_segment(&self, index: u16) -> bool {
        self.segments
            .get(usize::from(index))
            .copied()
            .unwrap_or(false)
    }

    fn clock_read(&self, until: Option<i64>) {
        let at = until.unwrap_or_else(|| {
            self.now
                .div_euclid(NOW_RECHECK_MS)
                .saturating_add(1)
                .saturating_mul(NOW_RECHECK_MS)
        });
        if at > self.now {
            let earliest = self.clock_changes.get().map_or(at, |c| c.min(at));
            self.clock_changes.set(Some(earliest));
        }
    }
}

/// The value of a trait no identify call has set. The stdlib declares the
/// consent traits as plain `bool`s (flows write `if profile.sms_consent`),
/// so they must never read as none: SMS is opt-in (false until the customer
/// agrees), marketing email opt-out (true until they unsubscribe), as
/// `policy.rs` enforces them. Other traits are optional and read as none.
fn missing_trait(name: &str) -> Value {
    match name {
        "sms_consent" => Value::Bool(false),
        "email_consent" => Value::Bool(true),
        _ => Value::None,
    }
}
