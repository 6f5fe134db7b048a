//! Handling one piece of work for one profile, then everything it cascades
//! into (events flows emit, segment transitions), in a fixed order.
//!
//! For a track event:
//! 1. de-duplicate by message id; a profile's first identify or track sets
//!    `created_at` (when it has none) to its timestamp;
//! 2. consent: "Unsubscribed" (its `channel`, else email and SMS) and an
//!    SMS STOP reply flip consent at once
//!    (before anything else can send);
//! 3. history: aggregates and `when inactive` silences;
//! 4. goals: conversions are attributed before `exit when` removes the
//!    journey (the goal and the exit are often the same order event);
//! 5. `exit when`: matching journeys leave at once, whatever they wait for;
//! 6. `wait for`: matching journeys resume; journeys held at a deferred
//!    send remember the event for the `wait for` they reach next;
//! 7. event triggers start journeys (higher priority first);
//! 8. traits or history changed: date triggers and segments are
//!    re-evaluated, entering/leaving triggers start journeys.
//!
//! Events a journey emits (`track`) queue behind the current work and take
//! the same path, at most `MAX_CASCADE` per input.

use super::state::{DEDUPE_WINDOW, Heard, MAX_HEARD, Wait};
use super::timers::{TimerKey, TimerKind};
use super::trace::{Decision, ResumedBy};
use super::{Cx, DeliveryOutcome, MAX_CASCADE};
use crate::vm::Resume;
use nudge_bytecode::op::Channel;
use nudge_bytecode::value::same_name;
use nudge_bytecode::{Record, SmolStr, Value};

pub(super) enum Work {
    Identify {
        traits: Record,
        /// The identify call's own timestamp.
        at: i64,
        message_id: Option<SmolStr>,
    },
    Track {
        event: SmolStr,
        properties: Record,
        at: i64,
        message_id: Option<SmolStr>,
    },
    Delivery {
        key: String,
        channel: Channel,
        outcome: DeliveryOutcome,
    },
    Timer(TimerKey, TimerKind),
}

/// The stdlib trait defaulted to the time a profile was first seen.
const CREATED_AT: &str = "created_at";

/// Replies that opt out of SMS (CTIA keywords) and back in.
const STOP_WORDS: [&str; 6] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"];
const START_WORDS: [&str; 3] = ["START", "UNSTOP", "YES"];

impl Cx<'_, '_> {
    pub(super) fn run(&mut self, first: Work) {
        // The first work is done before the loop (as if queued): most
        // inputs cascade into nothing, and the queue then never allocates.
        let mut budget = MAX_CASCADE - 1;
        self.work(first);
        loop {
            if self.dirty {
                self.dirty = false;
                self.reschedule_dates();
                self.reevaluate_segments();
                continue;
            }
            let Some(work) = self.queue.pop_front() else {
                break;
            };
            if budget == 0 {
                if let Work::Track { event, .. } = work {
                    self.trace(
                        None,
                        None,
                        Decision::EventLoopCut {
                            event: event.to_string(),
                        },
                    );
                }
                continue;
            }
            budget -= 1;
            self.work(work);
        }
    }

    fn work(&mut self, work: Work) {
        match work {
            Work::Identify {
                traits,
                at,
                message_id,
            } => {
                if self.duplicate(message_id) {
                    return;
                }
                self.first_seen(at);
                self.p.traits.merge(traits);
                self.dirty = true;
            }
            Work::Track {
                event,
                properties,
                at,
                message_id,
            } => {
                if self.duplicate(message_id) {
                    return;
                }
                self.first_seen(at);
                self.track(&event, properties, at);
            }
            Work::Delivery {
                key,
                channel,
                outcome,
            } => self.delivery(&key, channel, outcome),
            Work::Timer(key, kind) => self.timer(key, kind),
        }
    }

    /// `created_at` defaults to when the profile was first seen: the own
    /// timestamp of the first identify or track the engine handles for it.
    /// A `created_at` an identify sends wins (it is applied after this).
    /// Set once: the trait then exists, so later inputs leave it alone.
    fn first_seen(&mut self, at: i64) {
        if self.p.traits.get(CREATED_AT).is_none() {
            self.p.traits.insert(CREATED_AT, Value::Timestamp(at));
            self.dirty = true;
        }
    }

    /// True (and traced) when this message id was seen recently.
    fn duplicate(&mut self, message_id: Option<SmolStr>) -> bool {
        let Some(id) = message_id else { return false };
        if self.p.seen.insert(&id, DEDUPE_WINDOW) {
            return false;
        }
        self.trace(
            None,
            None,
            Decision::Duplicate {
                message_id: id.into(),
            },
        );
        true
    }

    fn track(&mut self, name: &str, properties: Record, at: i64) {
        let event = Value::Record(properties);
        self.consent(name, &event);
        // Borrowed from the engine, not from `self`: no copy per event.
        let eng = self.eng;
        let concerned = eng.by_event.get(name);
        let inactive = concerned.map_or(&[][..], |c| c.inactive.as_slice());
        self.history(name, &event, at, inactive);
        self.goals(name, &event);
        self.exits(name, &event);
        self.wait_fors(name, &event);
        for &flow in concerned.map_or(&[][..], |c| c.triggered.as_slice()) {
            let Some(f) = self.eng.flow(flow) else {
                continue;
            };
            let nudge_bytecode::format::Trigger::Event { filter, .. } = &f.trigger else {
                continue;
            };
            let matched = self
                .eng
                .vm
                .event_matches(filter.as_ref(), &[], &event, &self.env());
            match matched {
                Ok(true) => self.enter(flow, Some(&event)),
                Ok(false) => {}
                Err(e) => self.trace(
                    Some(flow),
                    None,
                    Decision::Failed {
                        error: format!("trigger filter: {e}"),
                    },
                ),
            }
        }
    }

    fn consent(&mut self, name: &str, event: &Value) {
        let prop = |n: &str| {
            event
                .as_record()
                .and_then(|r| r.get(n))
                .and_then(Value::as_str)
                .map(|s| s.trim().to_ascii_uppercase())
        };
        match name {
            // `channel` names one channel; absent, every marketing channel.
            "Unsubscribed" => match prop("channel").as_deref() {
                Some("SMS") => self.set_consent("sms_consent", false, "sms unsubscribed"),
                Some("EMAIL") => self.set_consent("email_consent", false, "email unsubscribed"),
                _ => {
                    self.set_consent("email_consent", false, "email unsubscribed");
                    self.set_consent("sms_consent", false, "sms unsubscribed");
                }
            },
            "SMS Received" => {
                let body = prop("body").or_else(|| prop("text")).unwrap_or_default();
                if STOP_WORDS.contains(&body.as_str()) {
                    self.p.suppressions.sms_stopped = true;
                    self.set_consent("sms_consent", false, "sms STOP");
                } else if START_WORDS.contains(&body.as_str()) && self.p.suppressions.sms_stopped {
                    self.p.suppressions.sms_stopped = false;
                    self.set_consent("sms_consent", true, "sms START");
                }
            }
            _ => {}
        }
    }

    fn set_consent(&mut self, name: &str, value: bool, what: &str) {
        self.p.traits.insert(name, Value::Bool(value));
        self.dirty = true;
        self.trace(None, None, Decision::ConsentChanged { what: what.into() });
    }

    fn delivery(&mut self, key: &str, channel: Channel, outcome: DeliveryOutcome) {
        let s = &mut self.p.suppressions;
        let what = match (outcome, channel) {
            (DeliveryOutcome::HardBounce, Channel::Email) => {
                s.email_bounced = true;
                "email hard bounce"
            }
            (DeliveryOutcome::HardBounce, Channel::Sms) => {
                s.sms_bounced = true;
                "sms hard bounce"
            }
            (DeliveryOutcome::Complained, _) => {
                s.email_complained = true;
                "email complaint"
            }
            _ => return,
        };
        self.trace(
            None,
            None,
            Decision::ConsentChanged {
                what: format!("{what} ({key})"),
            },
        );
    }

    /// Aggregates and `when inactive` silences.
    fn history(&mut self, name: &str, event: &Value, at: i64, inactive: &[u16]) {
        for (i, a) in self.eng.bundle.aggregates.iter().enumerate() {
            if same_name(&a.event, name)
                && let Some(s) = self.p.aggregates.get_mut(i)
            {
                s.prune(a, self.now);
                s.record(a, at, event);
                self.dirty = true;
            }
        }
        for &flow in inactive {
            self.arm_inactive(flow, at);
        }
    }

    fn goals(&mut self, name: &str, event: &Value) {
        let now = self.now;
        self.p.goals.retain(|g| g.deadline >= now);
        let mut i = 0;
        while let Some(g) = self.p.goals.get(i) {
            let flow = g.flow;
            let Some(goal) = self.eng.flow(flow).and_then(|f| f.settings.goal.as_ref()) else {
                i += 1;
                continue;
            };
            if !same_name(&goal.event.event, name) {
                i += 1;
                continue;
            }
            let locals = match &g.locals {
                Some(l) => l.clone(),
                None => self
                    .p
                    .journeys
                    .iter()
                    .find(|j| j.id == g.journey)
                    .map(|j| self.frame(j))
                    .unwrap_or_default(),
            };
            let journey = g.journey;
            let ok = self
                .eng
                .vm
                .event_matches(goal.event.filter.as_ref(), &locals, event, &self.env())
                .unwrap_or(false);
            if ok {
                self.p.goals.remove(i);
                let revenue = super::reads::REVENUE_FIELDS
                    .iter()
                    .find_map(|f| event.as_record().and_then(|r| r.get(f)))
                    .filter(|v| matches!(v, Value::Money(_) | Value::Int(_) | Value::Decimal(_)))
                    .cloned();
                self.trace(
                    Some(flow),
                    Some(journey),
                    Decision::Converted {
                        event: name.to_string(),
                        revenue,
                    },
                );
            } else {
                i += 1;
            }
        }
    }

    fn exits(&mut self, name: &str, event: &Value) {
        let mut i = 0;
        while let Some(j) = self.p.journeys.get(i) {
            let exits = self
                .eng
                .flow(j.flow)
                .map(|f| f.settings.exit_when.as_slice())
                .unwrap_or_default();
            let mut matching = exits
                .iter()
                .filter(|m| same_name(&m.event, name))
                .peekable();
            if matching.peek().is_none() {
                i += 1;
                continue;
            }
            // The filters read the journey's bound events.
            self.lend(i);
            let exit = self.p.journeys.get(i).is_some_and(|j| {
                matching.any(|m| {
                    self.eng
                        .vm
                        .event_matches(m.filter.as_ref(), &j.vm.locals, event, &self.env())
                        .unwrap_or(false)
                })
            });
            self.unlend(i);
            if exit {
                let j = self.p.journeys.remove(i);
                self.finish(
                    j,
                    super::trace::ExitReason::ExitWhen {
                        event: name.to_string(),
                    },
                );
            } else {
                i += 1;
            }
        }
    }

    fn wait_fors(&mut self, name: &str, event: &Value) {
        self.remember_while_held(name, event);
        let mut waiting = Vec::new();
        for i in 0..self.p.journeys.len() {
            let awaits = self.p.journeys.get(i).is_some_and(
                |j| matches!(&j.wait, Wait::Event { event, .. } if same_name(event, name)),
            );
            if !awaits {
                continue;
            }
            // The filter reads the journey's bound events.
            self.lend(i);
            if let Some(j) = self.p.journeys.get(i)
                && self
                    .eng
                    .vm
                    .wait_for_matches(&j.vm, event, &self.env())
                    .unwrap_or(false)
            {
                waiting.push(j.id);
            }
            self.unlend(i);
        }
        for id in waiting {
            let Some(pos) = self.p.journeys.iter().position(|j| j.id == id) else {
                continue;
            };
            let mut j = self.p.journeys.remove(pos);
            self.attach(&mut j);
            if let Some(k) = j.wait.timer() {
                self.timers.cancel(k);
            }
            j.wait = Wait::Running;
            self.trace(
                Some(j.flow),
                Some(j.id),
                Decision::Resumed {
                    by: ResumedBy::Event {
                        event: name.to_string(),
                    },
                },
            );
            let step =
                self.eng
                    .vm
                    .resume(&mut j.vm, Resume::EventArrived(event.clone()), &self.env());
            self.drive(j, step);
        }
    }

    /// A journey held at a deferred send (quiet hours, a cap) is still
    /// listening: an event its flow's `wait for` awaits is remembered, and
    /// the `wait for` it reaches next may take it (`Cx::heard_for`).
    fn remember_while_held(&mut self, name: &str, event: &Value) {
        let now = self.now;
        for j in &mut self.p.journeys {
            let awaited = self
                .eng
                .awaited
                .get(usize::from(j.flow))
                .is_some_and(|names| names.iter().any(|n| same_name(n, name)));
            if !awaited || !matches!(j.wait, Wait::DeferredSend { .. }) {
                continue;
            }
            if j.heard.len() >= MAX_HEARD {
                j.heard.remove(0);
            }
            j.heard.push(Heard {
                at: now,
                event: name.to_string(),
                properties: event.clone(),
            });
        }
    }

    fn timer(&mut self, key: TimerKey, kind: TimerKind) {
        match kind {
            TimerKind::Journey(id) => self.wake(key, id),
            TimerKind::Date(flow) => {
                self.p.trigger_timers.retain(|(_, k)| *k != key);
                match self.p.date_fired.iter_mut().find(|(f, _)| *f == flow) {
                    Some(slot) => slot.1 = key.at,
                    None => self.p.date_fired.push((flow, key.at)),
                }
                self.enter(flow, None);
                // Arm the next anniversary.
                self.dirty = true;
            }
            TimerKind::Inactive(flow) => {
                self.p.trigger_timers.retain(|(_, k)| *k != key);
                self.enter(flow, None);
            }
            TimerKind::Window => {
                self.p.window_timer = None;
                for (i, a) in self.eng.bundle.aggregates.iter().enumerate() {
                    if let Some(s) = self.p.aggregates.get_mut(i) {
                        s.prune(a, self.now);
                    }
                }
                self.dirty = true;
            }
        }
    }
}
