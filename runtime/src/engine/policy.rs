//! The send-time policies of LANGUAGE.md §5, in the order they are checked:
//!
//! 1. holdout — a control-group journey is sent nothing;
//! 2. address — no email address / phone number, nothing to send to;
//! 3. hard suppressions — hard bounce, spam complaint, SMS STOP: these bind
//!    every flow, transactional included;
//! 4. marketing consent — marketing SMS needs `profile.sms_consent == true`;
//!    marketing email needs `profile.email_consent` not `false` (an inbound
//!    "Unsubscribed" sets it to false);
//! 5. quiet hours (marketing only) — deferred to the end of the window, in
//!    the profile's timezone, else the project default;
//! 6. frequency caps (marketing only) — counted across all flows over the
//!    caps ledger; `when capped: skip` suppresses, `defer` retries when the
//!    oldest counted send leaves the window.
//!
//! Transactional flows skip 4–6. Priority between flows is the timer order
//! (`timers.rs`): caps are checked in time order, higher priority first at
//! equal instants, and a send that finds the cap full yields.

use super::localtime;
use super::state::Profile;
use super::trace::{CapNote, Deferral, Suppression};
use crate::vm::text::duration_text;
use jiff::tz::TimeZone;
use nudge_bytecode::format::{Category, FrequencyCap, Policies, WhenCapped};
use nudge_bytecode::op::Channel;
use nudge_bytecode::{SmolStr, Value};

/// What to do with a send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver to this address (shared with the profile's trait: a
    /// trace-only run never writes it out).
    Deliver {
        to: SmolStr,
    },
    Suppress(Suppression),
    Defer {
        until: i64,
        reason: Deferral,
    },
}

/// `email 4 per 7d`
pub fn cap_name(cap: &FrequencyCap) -> String {
    let channel = cap.channel.map(|c| c.as_str()).unwrap_or("all channels");
    format!(
        "{channel} {} per {}",
        cap.count,
        duration_text(cap.per_secs)
    )
}

/// The cap a send ran into and what filled it, for the trace (written
/// out only when read: `CapNote`'s `Display`).
pub fn cap_note(cap: &FrequencyCap, counted: usize) -> CapNote {
    CapNote {
        channel: cap.channel,
        count: cap.count,
        per_secs: cap.per_secs,
        counted: u32::try_from(counted).unwrap_or(u32::MAX),
    }
}

fn address(profile: &Profile, channel: Channel) -> Option<SmolStr> {
    let name = match channel {
        Channel::Email => "email",
        Channel::Sms => "phone",
        // Push goes to the profile's devices through a webhook provider;
        // the profile id addresses it.
        Channel::Push => return Some(SmolStr::default()),
    };
    match profile.traits.get(name) {
        Some(Value::Str(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

pub struct SendCheck<'a> {
    pub policies: &'a Policies,
    pub category: Category,
    pub holdout: bool,
    pub channel: Channel,
    pub profile: &'a Profile,
    /// The profile's zone; read only by quiet hours on `channel` (a caller
    /// with none for the channel may pass any zone).
    pub tz: &'a TimeZone,
    pub now: i64,
}

impl SendCheck<'_> {
    pub fn verdict(&self) -> Verdict {
        if self.holdout {
            return Verdict::Suppress(Suppression::Holdout);
        }
        let Some(to) = address(self.profile, self.channel) else {
            return Verdict::Suppress(Suppression::NoAddress);
        };
        let s = &self.profile.suppressions;
        match self.channel {
            Channel::Email if s.email_complained => {
                return Verdict::Suppress(Suppression::Complaint);
            }
            Channel::Email if s.email_bounced => return Verdict::Suppress(Suppression::HardBounce),
            Channel::Sms if s.sms_bounced => return Verdict::Suppress(Suppression::HardBounce),
            Channel::Sms if s.sms_stopped => return Verdict::Suppress(Suppression::Unsubscribed),
            _ => {}
        }
        if self.category == Category::Transactional {
            return Verdict::Deliver { to };
        }
        let consent = |name: &str| self.profile.traits.get(name).and_then(Value::as_bool);
        match self.channel {
            Channel::Sms if consent("sms_consent") != Some(true) => {
                return Verdict::Suppress(Suppression::NoConsent);
            }
            Channel::Email if consent("email_consent") == Some(false) => {
                return Verdict::Suppress(Suppression::Unsubscribed);
            }
            _ => {}
        }
        for q in &self.policies.quiet_hours {
            if q.channel.is_none_or(|c| c == self.channel)
                && let Some(until) = localtime::quiet_window_end(self.now, self.tz, q.start, q.end)
            {
                return Verdict::Defer {
                    until,
                    reason: Deferral::QuietHours,
                };
            }
        }
        if let Some((cap, counted, frees_at)) = self.full_cap() {
            let cap = cap_note(cap, counted);
            return match self.policies.when_capped {
                WhenCapped::Skip => Verdict::Suppress(Suppression::FrequencyCap { cap }),
                WhenCapped::Defer => Verdict::Defer {
                    until: frees_at,
                    reason: Deferral::FrequencyCap { cap },
                },
            };
        }
        Verdict::Deliver { to }
    }

    /// The first cap this send would exceed, with how many sends it counts
    /// now and the instant it has room again.
    fn full_cap(&self) -> Option<(&FrequencyCap, usize, i64)> {
        for cap in &self.policies.caps {
            if cap.channel.is_some_and(|c| c != self.channel) {
                continue;
            }
            let window = cap.per_secs.saturating_mul(1000);
            let since = self.now.saturating_sub(window);
            let counts =
                |(at, ch): &&(i64, Channel)| *at > since && cap.channel.is_none_or(|c| c == *ch);
            // Counted first without collecting: most sends find room.
            if self.profile.sends.iter().filter(counts).count() >= cap.count as usize {
                // On the stack for the usual cap of a few sends.
                let counted: smallvec::SmallVec<[i64; 16]> = self
                    .profile
                    .sends
                    .iter()
                    .filter(counts)
                    .map(|(at, _)| *at)
                    .collect();
                // Room again once enough of the oldest counted sends leave.
                let n = counted.len();
                let surplus = n + 1 - cap.count as usize;
                let mut sorted = counted;
                sorted.sort_unstable();
                let leaves = sorted.get(surplus - 1).copied().unwrap_or(self.now);
                return Some((cap, n, leaves.saturating_add(window).max(self.now + 1)));
            }
        }
        None
    }
}

/// Records a marketing send in the caps ledger and drops entries older than
/// the longest cap window.
pub fn record_send(policies: &Policies, profile: &mut Profile, channel: Channel, now: i64) {
    profile.sends.push((now, channel));
    let longest = policies.caps.iter().map(|c| c.per_secs).max().unwrap_or(0);
    let since = now.saturating_sub(longest.saturating_mul(1000));
    profile.sends.retain(|(at, _)| *at > since);
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use nudge_bytecode::format::QuietHours;
    use nudge_bytecode::{Record, TimeOfDay};

    const DAY: i64 = 86_400_000;

    /// The note a text reads as (the test fails on a text that is none).
    pub(in crate::engine) fn note(text: &str) -> CapNote {
        CapNote::parse(text).unwrap_or(CapNote {
            channel: None,
            count: 0,
            per_secs: 0,
            counted: u32::MAX,
        })
    }

    #[test]
    fn a_cap_note_starts_with_the_caps_name_and_reads_back() {
        let email = FrequencyCap {
            channel: Some(Channel::Email),
            count: 2,
            per_secs: 7 * 86_400,
        };
        let all = FrequencyCap {
            channel: None,
            count: 5,
            per_secs: 36 * 3600,
        };
        assert_eq!(
            cap_note(&email, 2).to_string(),
            "email 2 per 7d: 2 already sent in the last 7d"
        );
        assert_eq!(
            cap_note(&all, 5).to_string(),
            format!("{}: 5 already sent in the last 1d12h", cap_name(&all))
        );
        for channel in [
            None,
            Some(Channel::Email),
            Some(Channel::Sms),
            Some(Channel::Push),
        ] {
            for per_secs in [1, 59, 60, 3600, 86_400, 90_061, 7 * 86_400, 0, -30] {
                for (count, counted) in [(0, 0), (1, 1), (4, 7), (u32::MAX, u32::MAX)] {
                    let note = CapNote {
                        channel,
                        count,
                        per_secs,
                        counted,
                    };
                    let text = note.to_string();
                    assert_eq!(CapNote::parse(&text), Some(note), "{text}");
                    let json = serde_json::to_string(&note).unwrap_or_default();
                    assert_eq!(json, format!("{text:?}"));
                    let back: Option<CapNote> = serde_json::from_str(&json).ok();
                    assert_eq!(back, Some(note));
                }
            }
        }
        for bad in [
            "",
            "email 2 per 7d",
            "email 2 per 7d: 2 already sent in the last 1d",
            "fax 2 per 7d: 2 already sent in the last 7d",
            "email x per 7d: 2 already sent in the last 7d",
            "email 2 per 7y: 2 already sent in the last 7y",
            "email 2 per : 2 already sent in the last ",
        ] {
            assert_eq!(CapNote::parse(bad), None, "{bad}");
        }
    }

    fn profile(sms_consent: bool) -> Profile {
        Profile {
            traits: Record::from_fields([
                ("email".to_string(), Value::str("a@example.com")),
                ("phone".to_string(), Value::str("+15555550100")),
                ("sms_consent".to_string(), Value::Bool(sms_consent)),
            ]),
            ..Profile::default()
        }
    }

    fn policies(when_capped: WhenCapped) -> Policies {
        Policies {
            caps: vec![
                FrequencyCap {
                    channel: Some(Channel::Email),
                    count: 1,
                    per_secs: 86_400,
                },
                FrequencyCap {
                    channel: Some(Channel::Email),
                    count: 2,
                    per_secs: 7 * 86_400,
                },
            ],
            quiet_hours: vec![QuietHours {
                channel: Some(Channel::Sms),
                start: TimeOfDay(21 * 3600),
                end: TimeOfDay(9 * 3600),
            }],
            when_capped,
            ..Policies::default()
        }
    }

    fn check<'a>(
        p: &'a Policies,
        prof: &'a Profile,
        channel: Channel,
        now: i64,
        cat: Category,
    ) -> Verdict {
        SendCheck {
            policies: p,
            category: cat,
            holdout: false,
            channel,
            profile: prof,
            tz: &TimeZone::UTC,
            now,
        }
        .verdict()
    }

    #[test]
    fn caps_skip_or_defer_and_name_the_cap() {
        let skip = policies(WhenCapped::Skip);
        let mut p = profile(true);
        let noon = 12 * 3_600_000;
        record_send(&skip, &mut p, Channel::Email, noon);
        assert_eq!(
            check(
                &skip,
                &p,
                Channel::Email,
                noon + 3_600_000,
                Category::Marketing
            ),
            Verdict::Suppress(Suppression::FrequencyCap {
                cap: note("email 1 per 1d: 1 already sent in the last 1d")
            })
        );
        // Transactional is exempt; SMS is another channel.
        assert!(matches!(
            check(&skip, &p, Channel::Email, noon + 1, Category::Transactional),
            Verdict::Deliver { .. }
        ));
        assert!(matches!(
            check(&skip, &p, Channel::Sms, noon + 1, Category::Marketing),
            Verdict::Deliver { .. }
        ));
        record_send(&skip, &mut p, Channel::Email, noon + 2 * DAY);
        let defer = policies(WhenCapped::Defer);
        assert_eq!(
            check(
                &defer,
                &p,
                Channel::Email,
                noon + 4 * DAY,
                Category::Marketing
            ),
            Verdict::Defer {
                until: noon + 7 * DAY,
                reason: Deferral::FrequencyCap {
                    cap: note("email 2 per 7d: 2 already sent in the last 7d")
                }
            }
        );
    }

    #[test]
    fn consent_and_suppressions() {
        let pol = policies(WhenCapped::Skip);
        let p = profile(false);
        let noon = 12 * 3_600_000;
        assert_eq!(
            check(&pol, &p, Channel::Sms, noon, Category::Marketing),
            Verdict::Suppress(Suppression::NoConsent)
        );
        assert!(matches!(
            check(&pol, &p, Channel::Sms, noon, Category::Transactional),
            Verdict::Deliver { .. }
        ));
        let mut bounced = profile(true);
        bounced.suppressions.email_bounced = true;
        assert_eq!(
            check(
                &pol,
                &bounced,
                Channel::Email,
                noon,
                Category::Transactional
            ),
            Verdict::Suppress(Suppression::HardBounce)
        );
        let mut unsub = profile(true);
        unsub.traits.insert("email_consent", Value::Bool(false));
        assert_eq!(
            check(&pol, &unsub, Channel::Email, noon, Category::Marketing),
            Verdict::Suppress(Suppression::Unsubscribed)
        );
        assert_eq!(
            check(
                &pol,
                &Profile::default(),
                Channel::Email,
                noon,
                Category::Marketing
            ),
            Verdict::Suppress(Suppression::NoAddress)
        );
    }

    #[test]
    fn quiet_hours_defer_marketing_sms_only() {
        let pol = policies(WhenCapped::Skip);
        let p = profile(true);
        let late = 22 * 3_600_000;
        assert_eq!(
            check(&pol, &p, Channel::Sms, late, Category::Marketing),
            Verdict::Defer {
                until: DAY + 9 * 3_600_000,
                reason: Deferral::QuietHours
            }
        );
        assert!(matches!(
            check(&pol, &p, Channel::Sms, late, Category::Transactional),
            Verdict::Deliver { .. }
        ));
        assert!(matches!(
            check(&pol, &p, Channel::Email, late, Category::Marketing),
            Verdict::Deliver { .. }
        ));
    }
}
