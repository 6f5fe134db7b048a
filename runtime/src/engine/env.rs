//! The VM's view of the world for one profile at one instant.

use super::state::Profile;
use crate::vm::Env;
use nudge_bytecode::{Bundle, Value};

pub struct ProfileEnv<'a> {
    pub bundle: &'a Bundle,
    pub now: i64,
    pub id: &'a str,
    pub profile: &'a Profile,
    /// Segment membership to read (the profile's, or one being recomputed).
    pub segments: &'a [bool],
}

impl<'a> ProfileEnv<'a> {
    pub fn new(bundle: &'a Bundle, now: i64, id: &'a str, profile: &'a Profile) -> Self {
        ProfileEnv {
            bundle,
            now,
            id,
            profile,
            segments: &profile.segments,
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
