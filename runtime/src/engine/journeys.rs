//! Entering flows and running journeys on the VM, effect by effect.
//!
//! A journey runs until it waits (a timer, an event, or a deferred send),
//! exits, or fails; then it is parked in the profile. Nothing else holds a
//! journey, so "exit when cancels waiting journeys at once" is just removing
//! it and its timer.
//!
//! Parking moves the events the journey bound to locals (its trigger event,
//! `wait for ... as x`) into the profile's `BoundEvents`, leaving `none`
//! and a reference (`Journey::bound`); taking a journey out to run puts
//! them back (moved when only it refers to them, else copied). A send
//! held for quiet hours or a cap keeps its arguments there the same way.
//! A filter over a parked journey borrows them (`lend`). Finishing a
//! journey drops its references.

use super::Cx;
use super::policy::{self, SendCheck, Verdict};
use super::state::{BoundEvents, Heard, Journey, OpenGoal, Profile, Wait};
use super::timers::{TimerKey, TimerKind};
use super::trace::{
    Content, Decision, ExitReason, NotEntered, OutEffect, OutboundMessage, ResumedBy, excerpt_of,
};
use crate::template::{Rendered, render, render_excerpt};
use crate::vm::{Effect, Resume, VmError, split_bucket};
use nudge_bytecode::Value;
use nudge_bytecode::format::{Category, EventKeep, Flow, Reentry, Trigger};
use nudge_bytecode::op::{Channel, Op};

/// The salt of the holdout draw: not a valid split name, so a flow's
/// holdout never correlates with one of its splits.
pub const HOLDOUT_SALT: &str = "#holdout";

/// Whether a profile falls in a flow's holdout (deterministic, like splits:
/// sha256 of profile, flow and `HOLDOUT_SALT`, mapped to basis points).
pub fn in_holdout(profile: &str, flow: &str, holdout_bp: u16) -> bool {
    holdout_bp > 0 && split_bucket(profile, flow, HOLDOUT_SALT) < u32::from(holdout_bp)
}

/// The locals of `flow` that hold a bound event (the trigger event unless
/// the flow reads none of it, each `wait for ... as x`): the ones a parked
/// journey keeps in the profile's `BoundEvents`.
///
/// Only locals nothing writes except `none` qualify (the lowering writes
/// `none` to a `wait for` binding when its block ends, and nothing else to
/// either kind): parking drops the local's value, trusting the store to
/// hold the same one. A hand-made bundle writing other values there keeps
/// them in the journey.
pub(super) fn bindable_locals(flow: &Flow) -> Vec<u16> {
    let code = &flow.code;
    let mut slots = Vec::new();
    if let Trigger::Event { keep, .. } = &flow.trigger
        && !matches!(keep, EventKeep::Nothing)
        && code.locals > 0
    {
        slots.push(0);
    }
    slots.extend(code.ops.iter().filter_map(|op| match op {
        Op::WaitFor { bind, .. } => *bind,
        _ => None,
    }));
    let is_none = |op: Option<&Op>| matches!(op, Some(Op::Const(c)) if matches!(code.consts.get(usize::from(*c)), Some(Value::None)));
    let mut overwritten = Vec::new();
    for ops in std::iter::once(&code.ops).chain(code.lambdas.iter().map(|l| &l.ops)) {
        for (i, op) in ops.iter().enumerate() {
            if let Op::StoreLocal(l) = op
                && !is_none(i.checked_sub(1).and_then(|p| ops.get(p)))
            {
                overwritten.push(*l);
            }
        }
    }
    overwritten.extend(code.lambdas.iter().map(|l| l.param));
    slots.retain(|l| !overwritten.contains(l));
    slots.sort_unstable();
    slots.dedup();
    slots
}

enum SendResult {
    Done,
    Deferred { until: i64 },
}

impl Cx<'_, '_> {
    /// Starts a journey of `flow` unless its reentry rule says no.
    pub(super) fn enter(&mut self, flow: u16, event: Option<&Value>) {
        let Some(f) = self.eng.flow(flow) else {
            return;
        };
        let last = self
            .p
            .entries
            .iter()
            .find(|(i, _)| *i == flow)
            .map(|(_, at)| *at);
        let refused = match f.settings.reentry {
            Reentry::Always => None,
            Reentry::AfterExit => self
                .p
                .journeys
                .iter()
                .any(|j| j.flow == flow)
                .then_some(NotEntered::AlreadyActive),
            Reentry::Once => last.map(|_| NotEntered::EnteredBefore),
            Reentry::OncePer { secs } => last
                .filter(|l| self.now.saturating_sub(*l) < secs.saturating_mul(1000))
                .map(|l| NotEntered::TooSoon { last_entry: l }),
        };
        if let Some(reason) = refused {
            self.trace(Some(flow), None, Decision::NotEntered { reason });
            return;
        }
        match self.p.entries.iter_mut().find(|(i, _)| *i == flow) {
            Some(slot) => slot.1 = self.now,
            None => self.p.entries.push((flow, self.now)),
        }
        let holdout = in_holdout(self.pid.as_str(), &f.name, f.settings.holdout_bp);
        self.p.journeys_started += 1;
        let id = self.p.journeys_started;
        let trigger = super::shared_name(&self.eng.trigger_names, flow);
        self.trace(Some(flow), Some(id), Decision::Entered { trigger, holdout });
        // Closed conversion windows go (they are also dropped on events).
        let now = self.now;
        self.p.goals.retain(|g| g.deadline >= now);
        if let Some(goal) = &f.settings.goal {
            // Room for exactly the windows open (`push` would make room for
            // four, kept by every profile that ever had one).
            if self.p.goals.len() == self.p.goals.capacity() {
                self.p.goals.reserve_exact(1);
            }
            self.p.goals.push(OpenGoal {
                journey: id,
                flow,
                deadline: self
                    .now
                    .saturating_add(goal.within_secs.saturating_mul(1000)),
                holdout,
                locals: None,
            });
        }
        let started = self.eng.vm.start(usize::from(flow), event, &self.env());
        match started {
            Ok((vm, effect)) => {
                let j = Journey {
                    id,
                    flow,
                    vm,
                    entered_at: self.now,
                    holdout,
                    wait: Wait::Running,
                    heard: Vec::new(),
                    bound: Vec::new(),
                    bound_args: Vec::new(),
                };
                self.drive(j, Ok(effect));
            }
            Err(e) => {
                self.trace(
                    Some(flow),
                    Some(id),
                    Decision::Failed {
                        error: e.to_string(),
                    },
                );
                self.trace(
                    Some(flow),
                    Some(id),
                    Decision::Exited {
                        by: ExitReason::Error,
                    },
                );
            }
        }
    }

    /// Acts on effects until the journey parks, exits or fails.
    pub(super) fn drive(&mut self, mut j: Journey, mut step: Result<Effect, VmError>) {
        let priority = self.eng.flow_priority(j.flow);
        loop {
            let effect = match step {
                Ok(e) => e,
                Err(e) => {
                    self.trace(
                        Some(j.flow),
                        Some(j.id),
                        Decision::Failed {
                            error: e.to_string(),
                        },
                    );
                    self.finish(j, ExitReason::Error);
                    return;
                }
            };
            let resume = match effect {
                Effect::Send {
                    template,
                    channel,
                    args,
                } => {
                    let op = j.vm.pc.saturating_sub(1);
                    match self.send(&j, template, channel, &args, op) {
                        SendResult::Done => Resume::Continue,
                        SendResult::Deferred { until } => {
                            let timer = self.schedule(until, priority, TimerKind::Journey(j.id));
                            j.wait = Wait::DeferredSend {
                                timer,
                                template,
                                channel,
                                args,
                                op,
                            };
                            self.park(j);
                            return;
                        }
                    }
                }
                Effect::WaitUntil { at } => {
                    if at > self.now {
                        return self.park_timer(j, at, priority);
                    }
                    self.trace(Some(j.flow), Some(j.id), Decision::WaitPassed { until: at });
                    Resume::Continue
                }
                Effect::WaitUntilLocal { time, weekday } => {
                    match super::localtime::next_local(self.now, &self.tz(), time, weekday) {
                        Some(at) if at > self.now => return self.park_timer(j, at, priority),
                        _ => Resume::Continue,
                    }
                }
                Effect::WaitFor { event, deadline } => {
                    self.trace(
                        Some(j.flow),
                        Some(j.id),
                        Decision::WaitingFor {
                            event: event.clone(),
                            deadline,
                        },
                    );
                    if let Some(heard) = self.heard_for(&mut j, &event, deadline) {
                        self.trace(
                            Some(j.flow),
                            Some(j.id),
                            Decision::Resumed {
                                by: ResumedBy::Heard {
                                    event: heard.event,
                                    at: heard.at,
                                },
                            },
                        );
                        step = self.eng.vm.resume(
                            &mut j.vm,
                            Resume::EventArrived(heard.properties),
                            &self.env(),
                        );
                        continue;
                    }
                    let key =
                        self.schedule(deadline.max(self.now), priority, TimerKind::Journey(j.id));
                    j.wait = Wait::Event {
                        event,
                        deadline: key,
                    };
                    self.park(j);
                    return;
                }
                Effect::Track { event, properties } => {
                    self.trace(
                        Some(j.flow),
                        Some(j.id),
                        Decision::Tracked {
                            event: event.clone(),
                        },
                    );
                    self.out.effects.push(OutEffect::Track {
                        profile: self.pid.to_string(),
                        event: event.clone(),
                        properties: properties.clone(),
                    });
                    self.queue.push_back(super::events::Work::Track {
                        event: event.into(),
                        properties,
                        at: self.now,
                        message_id: None,
                    });
                    Resume::Continue
                }
                Effect::SetTrait { name, value } => {
                    self.trace(
                        Some(j.flow),
                        Some(j.id),
                        Decision::TraitSet { name: name.clone() },
                    );
                    self.p.traits.insert(name.clone(), value.clone());
                    self.out.effects.push(OutEffect::SetTrait {
                        profile: self.pid.to_string(),
                        name,
                        value,
                    });
                    self.dirty = true;
                    Resume::Continue
                }
                Effect::Webhook { method, url, body } => {
                    let key = self.key(&j, j.vm.pc.saturating_sub(1));
                    self.trace(
                        Some(j.flow),
                        Some(j.id),
                        Decision::Webhook {
                            url: url.clone(),
                            key: key.clone(),
                        },
                    );
                    self.out.effects.push(OutEffect::Webhook {
                        key,
                        profile: self.pid.to_string(),
                        method,
                        url,
                        body,
                    });
                    Resume::Continue
                }
                Effect::SplitAssigned { split, variant } => {
                    self.trace(
                        Some(j.flow),
                        Some(j.id),
                        Decision::SplitAssigned { split, variant },
                    );
                    Resume::Continue
                }
                Effect::Exit => {
                    let last = self
                        .eng
                        .flow(j.flow)
                        .map(|f| f.code.ops.len().saturating_sub(1));
                    let by = if last == Some(j.vm.pc as usize) {
                        ExitReason::End
                    } else {
                        ExitReason::ExitStep
                    };
                    self.finish(j, by);
                    return;
                }
            };
            step = self.eng.vm.resume(&mut j.vm, resume, &self.env());
        }
    }

    /// The event heard during a hold that the `wait for` just reached
    /// takes, if any: the first (in arrival order) with the awaited name
    /// that passes its `where` and is no older than its `within` (the
    /// window reaches back as far as it reaches ahead). The rest are
    /// forgotten either way: only the next `wait for` may use them.
    fn heard_for(&mut self, j: &mut Journey, event: &str, deadline: i64) -> Option<Heard> {
        if j.heard.is_empty() {
            return None;
        }
        let heard = std::mem::take(&mut j.heard);
        let within = deadline.saturating_sub(self.now);
        let since = self.now.saturating_sub(within);
        heard.into_iter().find(|h| {
            h.event == event
                && h.at >= since
                && self
                    .eng
                    .vm
                    .wait_for_matches(&j.vm, &h.properties, &self.env())
                    .unwrap_or(false)
        })
    }

    fn park_timer(&mut self, mut j: Journey, at: i64, priority: i64) {
        // A wait of the flow's own: what was heard during an earlier hold
        // is not for a `wait for` after it.
        j.heard.clear();
        self.trace(Some(j.flow), Some(j.id), Decision::Waiting { until: at });
        let key = self.schedule(at, priority, TimerKind::Journey(j.id));
        j.wait = Wait::Timer(key);
        self.park(j);
    }

    /// Suspends a journey in the profile: the events it bound go to the
    /// profile's store (or are found there), its locals keep `none`.
    fn park(&mut self, mut j: Journey) {
        let Profile {
            journeys, bound, ..
        } = &mut *self.p;
        // References whose local the flow cleared since (a `wait for` block
        // ended) go; the others' values return to the store (moved out by
        // `attach`) or are there already (shared, copied out).
        j.bound
            .retain(|(l, id)| match j.vm.locals.get_mut(usize::from(*l)) {
                Some(v) if !matches!(v, Value::None) => {
                    let value = std::mem::replace(v, Value::None);
                    if let Some(slot) = bound.get_mut(*id)
                        && matches!(slot, Value::None)
                    {
                        *slot = value;
                    }
                    true
                }
                _ => {
                    bound.release(*id);
                    false
                }
            });
        // Locals bound since the journey last ran.
        for &l in self
            .eng
            .bindable
            .get(usize::from(j.flow))
            .into_iter()
            .flatten()
        {
            if let Some(v) = j.vm.locals.get_mut(usize::from(l))
                && !matches!(v, Value::None)
            {
                let value = std::mem::replace(v, Value::None);
                // One or two per journey: no spare capacity.
                j.bound.reserve_exact(1);
                j.bound.push((l, bound.insert(value)));
            }
        }
        // A deferred send's arguments, until it is retried (`wake`).
        if let Wait::DeferredSend { args, .. } = &mut j.wait {
            for (i, a) in args.iter_mut().enumerate() {
                if let (Ok(i), false) = (u8::try_from(i), matches!(a, Value::None)) {
                    let value = std::mem::replace(a, Value::None);
                    j.bound_args.reserve_exact(1);
                    j.bound_args.push((i, bound.insert(value)));
                }
            }
        }
        // Room for exactly the journeys a profile has (a journey is about
        // 200 bytes; `push` would double, and most profiles have one or
        // two parked at a time). `finish` gives back what is left over.
        if journeys.len() == journeys.capacity() {
            journeys.reserve_exact(1);
        }
        if self.eng.measure {
            self.out
                .parked
                .push((j.flow, j.measured_len().unwrap_or(0)));
        }
        journeys.push(j);
    }

    /// Puts a parked journey's bound events back into its locals, before
    /// the VM runs it: moved out of the store when only this journey
    /// refers to them (`park` moves them back), else copied.
    pub(super) fn attach(&mut self, j: &mut Journey) {
        fill_bound_locals(j, &mut self.p.bound, true);
    }

    /// Moves the bound events of parked journey `i` from the store into its
    /// locals, so a filter reads them without a copy; `unlend` puts them
    /// back before anything else reads the store.
    pub(super) fn lend(&mut self, i: usize) {
        let Profile {
            journeys, bound, ..
        } = &mut *self.p;
        if let Some(j) = journeys.get_mut(i) {
            fill_bound_locals(j, bound, false);
        }
    }

    /// Undoes `lend`.
    pub(super) fn unlend(&mut self, i: usize) {
        let Profile {
            journeys, bound, ..
        } = &mut *self.p;
        let Some(j) = journeys.get_mut(i) else { return };
        for (l, id) in &j.bound {
            let value =
                j.vm.locals
                    .get_mut(usize::from(*l))
                    .map(|v| std::mem::replace(v, Value::None));
            if let (Some(slot), Some(value)) = (bound.get_mut(*id), value)
                && matches!(slot, Value::None)
            {
                *slot = value;
            }
        }
    }

    /// A parked journey's locals with its bound events in place (a copy).
    pub(super) fn frame(&self, j: &Journey) -> Vec<Value> {
        let mut locals = j.vm.locals.clone();
        for (l, id) in &j.bound {
            if let (Some(slot), Some(v)) = (locals.get_mut(usize::from(*l)), self.p.bound.get(*id))
            {
                *slot = v.clone();
            }
        }
        locals
    }

    /// The journey is over: its timer goes, its goal window (if any) keeps
    /// a copy of the locals its `where` reads, its references to bound
    /// events go. `j` may be running or parked (an `exit when`).
    pub(super) fn finish(&mut self, mut j: Journey, by: ExitReason) {
        if let Some(k) = j.wait.timer() {
            self.timers.cancel(k);
        }
        let reads_locals = self
            .eng
            .flow(j.flow)
            .and_then(|f| f.settings.goal.as_ref())
            .is_some_and(|goal| goal.event.filter.is_some());
        if self.p.goals.iter().any(|g| g.journey == j.id) {
            let locals = if !reads_locals {
                Vec::new()
            } else if matches!(j.wait, Wait::Running) {
                std::mem::take(&mut j.vm.locals)
            } else {
                self.frame(&j)
            };
            if let Some(g) = self.p.goals.iter_mut().find(|g| g.journey == j.id) {
                g.locals = Some(locals);
            }
        }
        for (_, id) in &j.bound {
            self.p.bound.release(*id);
        }
        for (_, id) in &j.bound_args {
            self.p.bound.release(*id);
        }
        // A profile keeps no room for journeys it no longer has: kept, the
        // room of its busiest moment stayed for good (measured with massif
        // on a 200k-event run, a sixth of the whole heap).
        if self.p.journeys.len() < self.p.journeys.capacity() {
            self.p.journeys.shrink_to_fit();
        }
        self.trace(Some(j.flow), Some(j.id), Decision::Exited { by });
    }

    /// A journey's timer fired.
    pub(super) fn wake(&mut self, key: TimerKey, id: u64) {
        let Some(pos) = self
            .p
            .journeys
            .iter()
            .position(|j| j.id == id && j.wait.timer() == Some(key))
        else {
            return;
        };
        let mut j = self.p.journeys.remove(pos);
        // A deferred send's arguments first: the last reference to an entry
        // the locals share moves it, not copies it.
        if let Wait::DeferredSend { args, .. } = &mut j.wait {
            for (i, id) in std::mem::take(&mut j.bound_args) {
                if let (Some(slot), Some(v)) = (args.get_mut(usize::from(i)), self.p.bound.take(id))
                {
                    *slot = v;
                }
            }
        }
        self.attach(&mut j);
        let wait = std::mem::replace(&mut j.wait, Wait::Running);
        let input = match wait {
            Wait::Running | Wait::Timer(_) => {
                self.trace(
                    Some(j.flow),
                    Some(j.id),
                    Decision::Resumed {
                        by: ResumedBy::Timer,
                    },
                );
                Resume::Continue
            }
            Wait::Event { .. } => {
                self.trace(
                    Some(j.flow),
                    Some(j.id),
                    Decision::Resumed {
                        by: ResumedBy::Timeout,
                    },
                );
                Resume::TimedOut
            }
            Wait::DeferredSend {
                template,
                channel,
                args,
                op,
                ..
            } => match self.send(&j, template, channel, &args, op) {
                SendResult::Done => Resume::Continue,
                SendResult::Deferred { until } => {
                    let priority = self.eng.flow_priority(j.flow);
                    let timer = self.schedule(until, priority, TimerKind::Journey(j.id));
                    j.wait = Wait::DeferredSend {
                        timer,
                        template,
                        channel,
                        args,
                        op,
                    };
                    self.park(j);
                    return;
                }
            },
        };
        let step = self.eng.vm.resume(&mut j.vm, input, &self.env());
        self.drive(j, step);
    }

    /// `profile/flow/journey/op`, the send's idempotency key. Written
    /// piece by piece: one allocation, no formatting machinery (a key per
    /// send).
    fn key(&self, j: &Journey, op: u32) -> String {
        let (pid, flow) = (self.pid.as_str(), self.eng.flow_name(j.flow));
        let mut key = String::with_capacity(pid.len() + flow.len() + 24);
        key.push_str(pid);
        key.push('/');
        key.push_str(flow);
        key.push('/');
        push_decimal(&mut key, j.id);
        key.push('/');
        push_decimal(&mut key, u64::from(op));
        key
    }

    /// Policies, then rendering, then the outbound message.
    fn send(
        &mut self,
        j: &Journey,
        template: u16,
        channel: Channel,
        args: &[Value],
        op: u32,
    ) -> SendResult {
        let bundle = self.eng.bundle;
        let Some(flow) = self.eng.flow(j.flow) else {
            return SendResult::Done;
        };
        let tname = super::shared_name(&self.eng.template_names, template);
        // The profile's zone matters only to quiet hours on this channel
        // (reading it is a cold lookup in the profile's traits).
        let quiet = bundle
            .policies
            .quiet_hours
            .iter()
            .any(|q| q.channel.is_none_or(|c| c == channel));
        let tz = if quiet {
            self.tz()
        } else {
            jiff::tz::TimeZone::UTC
        };
        let verdict = SendCheck {
            policies: &bundle.policies,
            category: flow.settings.category,
            holdout: j.holdout,
            channel,
            profile: self.p,
            tz: &tz,
            now: self.now,
        }
        .verdict();
        let to = match verdict {
            Verdict::Deliver { to } => to,
            Verdict::Suppress(reason) => {
                self.trace(
                    Some(j.flow),
                    Some(j.id),
                    Decision::Suppressed {
                        template: tname,
                        channel,
                        reason,
                    },
                );
                return SendResult::Done;
            }
            Verdict::Defer { until, reason } => {
                self.trace(
                    Some(j.flow),
                    Some(j.id),
                    Decision::Deferred {
                        template: tname,
                        channel,
                        until,
                        reason,
                    },
                );
                return SendResult::Deferred { until };
            }
        };
        let rendered = if self.eng.messages {
            render(&self.eng.vm, template, args, &self.env()).map(|r| {
                let c = content(r);
                (c.excerpt(), Some(c))
            })
        } else {
            render_excerpt(&self.eng.vm, template, args, &self.env()).map(|t| (excerpt_of(t), None))
        };
        let (excerpt, content) = match rendered {
            Ok(r) => r,
            Err(e) => {
                self.trace(
                    Some(j.flow),
                    Some(j.id),
                    Decision::RenderFailed {
                        template: tname,
                        error: e.to_string(),
                    },
                );
                return SendResult::Done;
            }
        };
        let marketing = flow.settings.category == Category::Marketing;
        if marketing {
            policy::record_send(&bundle.policies, self.p, channel, self.now);
        }
        let Some(content) = content else {
            // Only the trace, which then carries no key (`trace_only`).
            let key = String::new();
            self.trace(
                Some(j.flow),
                Some(j.id),
                Decision::Sent {
                    template: tname,
                    channel,
                    key,
                    excerpt,
                },
            );
            return SendResult::Done;
        };
        let key = self.key(j, op);
        self.trace(
            Some(j.flow),
            Some(j.id),
            Decision::Sent {
                template: tname.clone(),
                channel,
                key: key.clone(),
                excerpt,
            },
        );
        self.out.effects.push(OutEffect::Send(OutboundMessage {
            key,
            profile: self.pid.to_string(),
            flow: flow.name.clone(),
            template: tname.to_string(),
            channel,
            to: to.to_string(),
            marketing,
            content,
        }));
        SendResult::Done
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    for &d in digits.get(i..).unwrap_or(&[]) {
        out.push(char::from(d));
    }
}

fn content(r: Rendered) -> Content {
    match r {
        Rendered::Email(e) => Content::Email {
            subject: e.subject,
            preheader: e.preheader,
            from: e.from,
            reply_to: e.reply_to,
            html: e.html,
            text: e.text,
        },
        Rendered::Sms(s) => Content::Sms {
            segments: u32::try_from(s.measure.segments).unwrap_or(u32::MAX),
            encoding: format!("{:?}", s.measure.encoding),
            body: s.body,
        },
        Rendered::Push(p) => Content::Push {
            title: p.title,
            body: p.body,
            url: p.url,
        },
    }
}

/// Fills journey `j`'s bound locals from `store`. An entry is moved out
/// (leaving `none` in the store) unless `copy_shared` and another journey
/// refers to it too, in which case it is copied. A journey that refers to one
/// entry from two locals gets it in the first and a copy in the second.
fn fill_bound_locals(j: &mut Journey, store: &mut BoundEvents, copy_shared: bool) {
    for k in 0..j.bound.len() {
        let Some(&(l, id)) = j.bound.get(k) else {
            break;
        };
        let shared = copy_shared && store.refs(id) > 1;
        let value = match store.get_mut(id) {
            Some(v) if shared => v.clone(),
            Some(v) if !matches!(v, Value::None) => std::mem::replace(v, Value::None),
            _ => j
                .bound
                .iter()
                .take(k)
                .find(|(_, other)| *other == id)
                .and_then(|(first, _)| j.vm.locals.get(usize::from(*first)))
                .cloned()
                .unwrap_or(Value::None),
        };
        if let Some(slot) = j.vm.locals.get_mut(usize::from(l)) {
            *slot = value;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn push_decimal_writes_what_display_writes() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            let mut s = String::from("x");
            super::push_decimal(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
    }
}
