//! Flows (trigger, settings, steps), segments and policies: event and
//! segment names, the scopes of `as` bindings and `it`, conditions,
//! durations, `send` arguments, `match` exhaustiveness, `set` and `track`.

use super::Checker;
use super::builtins;
use super::expr::{constant_duration, constant_percent, facts, strip};
use super::ty::Ty;
use crate::ast::{
    Block, EventMatch, Expr, ExprKind, FlowDecl, FlowSettingKind, Ident, Name, Pattern, PolicyDecl,
    PolicyRuleKind, Reentry, SegmentDecl, Step, StepKind, TriggerKind, WaitUntil,
};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};

impl Checker<'_> {
    pub(super) fn segment(&mut self, s: &SegmentDecl) {
        self.condition(&s.condition, "a segment");
    }

    pub(super) fn policy(&mut self, p: &PolicyDecl) {
        for rule in &p.rules {
            match &rule.kind {
                PolicyRuleKind::Frequency { caps, .. } => {
                    for c in caps {
                        self.duration(&c.window, "a frequency window");
                    }
                }
                PolicyRuleKind::KeepHistory(e) => self.duration(e, "`keep history`"),
                _ => {}
            }
        }
    }

    fn duration(&mut self, e: &Expr, what: &str) {
        self.check_fits(e, &Ty::Duration, Code::TypeMismatch, what);
    }

    /// A duration the compiler must know (a flow setting): a literal such
    /// as `7d`.
    fn const_duration(&mut self, e: &Expr, what: &str) {
        if self.check_fits(e, &Ty::Duration, Code::TypeMismatch, what) && !constant_duration(e) {
            self.not_constant(e, what, "a duration literal such as `7d`");
        }
    }

    /// A percentage the compiler must know: a literal such as `10%`.
    fn const_percent(&mut self, e: &Expr, what: &str) {
        if self.check_fits(e, &Ty::Percent, Code::TypeMismatch, what) && !constant_percent(e) {
            self.not_constant(e, what, "a percentage literal such as `10%`");
        }
    }

    fn not_constant(&mut self, e: &Expr, what: &str, wanted: &str) {
        self.report(
            Diagnostic::new(
                Code::TypeMismatch,
                self.file,
                e.span,
                format!("{what} must be {wanted}"),
            )
            .with_label("not known before the flow runs")
            .with_help(format!("write {wanted}")),
        );
    }

    /// The record type of an event, reporting it if unknown.
    fn event_ty(&mut self, name: &Name) -> Ty {
        if self.index.event(&name.value).is_some() {
            Ty::Event(name.value.clone())
        } else {
            self.report(self.index.unknown_event(self.file, name));
            Ty::Error
        }
    }

    /// The `where` of an event match: the arriving event is `it` and its
    /// `as` name.
    fn event_condition(&mut self, m: &EventMatch, event: &Ty) {
        let Some(cond) = &m.condition else {
            return;
        };
        let mut bindings = vec![("it".to_string(), event.clone())];
        if let Some(b) = &m.binding {
            bindings.push((b.name.clone(), event.clone()));
        }
        self.scoped(bindings, |cx| cx.condition(cond, "`where`"));
    }

    fn segment_name(&mut self, id: &Ident) {
        if self.index.segment(&id.name).is_some() {
            return;
        }
        let d = Diagnostic::new(
            Code::UnknownSegment,
            self.file,
            id.span,
            format!("unknown segment `{}`", id.name),
        )
        .with_label("no such segment");
        let names = self.index.segments().map(|s| s.name.as_str());
        let d = match did_you_mean(&id.name, names) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!(
                "declare it with `segment {} \"...\" = <condition>`",
                id.name
            )),
        };
        self.report(d);
    }

    pub(super) fn flow(&mut self, f: &FlowDecl) {
        self.hints.clear();
        crate::rules::walk::walk_steps(&f.body, &mut |step| {
            if let StepKind::WaitFor {
                event,
                on_arrival: Some(_),
                ..
            } = &step.kind
                && let Some(b) = &event.binding
            {
                self.hints.push((
                    b.name.clone(),
                    "in the arrival block of its `wait for` (and its `where`)",
                ));
            }
        });
        // The trigger event's name in the body: its `as` name, else `it`.
        let mut trigger: Option<(String, Ty)> = None;
        for s in &f.settings {
            if let FlowSettingKind::Trigger(t) = &s.kind {
                match &t.kind {
                    TriggerKind::Event(m) => {
                        let ev = self.event_ty(&m.event);
                        self.event_condition(m, &ev);
                        if trigger.is_none() {
                            let name = m.binding.as_ref().map_or("it", |b| b.name.as_str());
                            trigger = Some((name.to_string(), ev));
                        }
                    }
                    TriggerKind::Entering(id) | TriggerKind::Leaving(id) => self.segment_name(id),
                    TriggerKind::Date { date, .. } => {
                        let t = self.infer(date);
                        // Profiles without the value never fire: optional is fine.
                        match t.unwrap_optional() {
                            Ty::Date | Ty::Timestamp | Ty::Error => {}
                            other => self.report(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    self.file,
                                    date.span,
                                    format!("`when date` needs a `date` or `timestamp`, found `{other}`"),
                                )
                                .with_help("use a date trait such as `profile.birthday`, or a timestamp such as `profile.created_at + 30d`"),
                            ),
                        }
                    }
                    TriggerKind::Inactive { event, duration } => {
                        self.event_ty(event);
                        self.const_duration(duration, "the inactivity period");
                    }
                }
            }
        }
        let outer: Vec<(String, Ty)> = trigger.into_iter().collect();
        self.scoped(outer, |cx| {
            for s in &f.settings {
                match &s.kind {
                    FlowSettingKind::Reentry(Reentry::OncePer(d)) => {
                        cx.const_duration(d, "the reentry period")
                    }
                    FlowSettingKind::ExitWhen(m) => {
                        let ev = cx.event_ty(&m.event);
                        cx.never_match_is_lint = true;
                        cx.event_condition(m, &ev);
                        cx.never_match_is_lint = false;
                    }
                    FlowSettingKind::Goal { event, within } => {
                        let ev = cx.event_ty(&event.event);
                        cx.never_match_is_lint = true;
                        cx.event_condition(event, &ev);
                        cx.never_match_is_lint = false;
                        cx.const_duration(within, "the goal window");
                    }
                    FlowSettingKind::Holdout(e) => cx.const_percent(e, "`holdout`"),
                    _ => {}
                }
            }
            cx.block(&f.body);
        });
    }

    fn block(&mut self, b: &Block) {
        let len = self.narrowed.len();
        for step in &b.steps {
            self.step(step);
            // `if x == none { exit }`: below it, `x` is present.
            let after = facts_after(step);
            if !after.is_empty() {
                self.narrow_paths(after);
            }
        }
        self.narrowed.truncate(len);
    }

    /// Runs `f` for one of several alternative paths (a branch, an arm):
    /// each starts from the suspensions `before` them; `most` keeps the
    /// most any of them waited, for the steps after them.
    fn alternative(&mut self, before: u32, most: &mut u32, f: impl FnOnce(&mut Self)) {
        self.suspensions = before;
        f(self);
        *most = (*most).max(self.suspensions);
        self.suspensions = *most;
    }

    fn step(&mut self, step: &Step) {
        match &step.kind {
            StepKind::Send {
                channel,
                template,
                args,
            } => self.send(*channel, template, args),
            StepKind::Wait(d) => {
                self.duration(d, "`wait`");
                self.suspensions += 1;
            }
            StepKind::WaitUntil(WaitUntil::TimeOfDay { .. }) => self.suspensions += 1,
            StepKind::WaitUntil(WaitUntil::Timestamp(e)) => {
                self.check_fits(e, &Ty::Timestamp, Code::TypeMismatch, "`wait until`");
                self.suspensions += 1;
            }
            StepKind::WaitFor {
                event,
                within,
                on_arrival,
                on_timeout,
            } => {
                let ev = self.event_ty(&event.event);
                if let Some(w) = within {
                    self.duration(w, "the `within` of `wait for`");
                }
                // The condition is judged when an event arrives: after waiting.
                self.suspensions += 1;
                self.event_condition(event, &ev);
                let before = self.suspensions;
                let mut most = before;
                if let Some(b) = on_arrival {
                    let name = event.binding.as_ref().map_or("it", |b| b.name.as_str());
                    self.alternative(before, &mut most, |cx| {
                        cx.scoped(vec![(name.to_string(), ev)], |cx| cx.block(b))
                    });
                }
                if let Some(b) = on_timeout {
                    self.alternative(before, &mut most, |cx| cx.block(b));
                }
            }
            StepKind::If {
                branches,
                else_block,
            } => {
                let mut otherwise: Vec<Vec<String>> = Vec::new();
                let before = self.suspensions;
                let mut most = before;
                for (cond, body) in branches {
                    self.suspensions = before;
                    self.narrowing(otherwise.clone(), |cx| {
                        cx.condition(cond, "`if`");
                        cx.alternative(before, &mut most, |cx| {
                            cx.narrowing(facts(cond, true), |cx| cx.block(body))
                        });
                    });
                    otherwise.extend(facts(cond, false));
                }
                if let Some(b) = else_block {
                    self.narrowing(otherwise, |cx| {
                        cx.alternative(before, &mut most, |cx| cx.block(b))
                    });
                }
                self.suspensions = most;
            }
            StepKind::Match { scrutinee, arms } => {
                self.match_step(step, scrutinee, arms);
            }
            StepKind::Split { arms, .. } => {
                let before = self.suspensions;
                let mut most = before;
                for arm in arms {
                    self.const_percent(&arm.weight, "a split weight");
                    self.alternative(before, &mut most, |cx| cx.block(&arm.body));
                }
            }
            StepKind::Set { target, value } => self.set(target, value),
            StepKind::Track { event, fields } => {
                if self.index.event(&event.value).is_some() {
                    self.record_literal(event.span, fields, &Ty::Event(event.value.clone()));
                } else {
                    // An event the project does not declare may carry anything.
                    for f in fields {
                        self.infer(&f.value);
                    }
                }
            }
            StepKind::Webhook { method, url, body } => {
                if !builtins::WEBHOOK_METHODS.contains(&method.name.as_str()) {
                    let d = Diagnostic::new(
                        Code::UnknownName,
                        self.file,
                        method.span,
                        format!("unknown webhook method `{}`", method.name),
                    )
                    .with_label("not an HTTP method");
                    let methods = builtins::WEBHOOK_METHODS.iter().copied();
                    self.report(match did_you_mean(&method.name, methods) {
                        Some(m) => d.with_help(format!("did you mean `{m}`?")),
                        None => d.with_help(format!(
                            "use one of {}",
                            builtins::WEBHOOK_METHODS.join(", ")
                        )),
                    });
                }
                self.text(url);
                if let Some(b) = body {
                    self.infer(b);
                }
            }
            StepKind::Exit | StepKind::Error => {}
        }
    }

    fn send(&mut self, channel: crate::ast::Channel, template: &Ident, args: &[Expr]) {
        let index = self.index;
        let Some(info) = index.template(&template.name) else {
            for a in args {
                self.infer(a);
            }
            self.report(unknown_template(
                index, self.file, channel, template, "send",
            ));
            return;
        };
        if info.channel != channel {
            for a in args {
                self.infer(a);
            }
            self.report(
                Diagnostic::new(
                    Code::UnknownTemplate,
                    self.file,
                    template.span,
                    format!(
                        "`{}` is {} template, but this sends {}",
                        template.name,
                        with_article(info.channel),
                        with_article(channel)
                    ),
                )
                .with_label(format!("declared as {}", info.channel.as_str()))
                .with_secondary(info.at.file, info.at.span, "declared here")
                .with_help(format!(
                    "write `send {} {}(...)`",
                    info.channel.as_str(),
                    template.name
                )),
            );
            return;
        }
        if args.len() != info.params.len() {
            let wanted = info
                .params
                .iter()
                .map(|p| format!("{}: {}", p.name, p.ty))
                .collect::<Vec<_>>()
                .join(", ");
            self.report(
                Diagnostic::new(
                    Code::WrongTemplateArguments,
                    self.file,
                    template.span,
                    format!(
                        "`{}` takes {} argument{}, given {}",
                        template.name,
                        info.params.len(),
                        if info.params.len() == 1 { "" } else { "s" },
                        args.len()
                    ),
                )
                .with_secondary(info.at.file, info.at.span, "declared here")
                .with_help(format!("pass ({wanted})")),
            );
        }
        for (i, a) in args.iter().enumerate() {
            match info.params.get(i) {
                Some(p) => {
                    let what = format!("argument `{}` of `{}`", p.name, template.name);
                    self.check_fits(a, &p.ty, Code::WrongTemplateArguments, &what);
                }
                None => {
                    self.infer(a);
                }
            }
        }
    }

    fn match_step(&mut self, step: &Step, scrutinee: &Expr, arms: &[crate::ast::MatchArm]) {
        let t = self.infer(scrutinee);
        let t = self.present(scrutinee, t);
        let has_wildcard = arms
            .iter()
            .any(|a| matches!(a.pattern, Pattern::Wildcard(_)));
        match &t {
            Ty::Union(items) => {
                let mut covered: Vec<&str> = Vec::new();
                for arm in arms {
                    if let Pattern::Literals(lits) = &arm.pattern {
                        for l in lits {
                            if self.union_member(l.span, &l.value, items) {
                                covered.push(l.value.as_str());
                            }
                        }
                    }
                }
                let missing: Vec<String> = items
                    .iter()
                    .filter(|i| !covered.contains(&i.as_str()))
                    .map(|i| format!("\"{i}\""))
                    .collect();
                if !has_wildcard && !missing.is_empty() {
                    self.report(
                        Diagnostic::new(
                            Code::NonExhaustiveMatch,
                            self.file,
                            step.span,
                            format!("this match does not cover {}", missing.join(", ")),
                        )
                        .with_label("not every case is covered")
                        .with_help(format!(
                            "add arms for {} or a `_ => {{ }}` arm",
                            missing.join(", ")
                        )),
                    );
                }
            }
            Ty::Error => {}
            t if t.is_text() => {
                if !has_wildcard {
                    self.report(
                        Diagnostic::new(
                            Code::NonExhaustiveMatch,
                            self.file,
                            step.span,
                            format!("a match over `{t}` needs a `_` arm"),
                        )
                        .with_help("add `_ => { }`, or declare the value as a union of literals"),
                    );
                }
            }
            other => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        self.file,
                        scrutinee.span,
                        format!("`match` works on string unions, found `{other}`"),
                    )
                    .with_help("use `if` for other values"),
                );
            }
        }
        let before = self.suspensions;
        let mut most = before;
        for arm in arms {
            self.alternative(before, &mut most, |cx| cx.block(&arm.body));
        }
    }

    fn set(&mut self, target: &Expr, value: &Expr) {
        let trait_field = match &strip(target).kind {
            ExprKind::Field { base, field } => match &strip(base).kind {
                ExprKind::Name(id) if id.name == "profile" && self.lookup("profile").is_none() => {
                    Some(field)
                }
                _ => None,
            },
            _ => None,
        };
        let Some(field) = trait_field else {
            self.infer(value);
            self.report(
                Diagnostic::new(
                    Code::NotAssignable,
                    self.file,
                    target.span,
                    "only a profile trait can be set",
                )
                .with_label("not a profile trait")
                .with_help("write `set profile.<trait> = <value>`"),
            );
            return;
        };
        let ty = self.profile_field(field);
        let what = format!("`profile.{}`", field.name);
        self.check_fits(value, &ty, Code::TypeMismatch, &what);
    }
}

/// The paths narrowed after an `if` that leaves the flow on some paths:
/// with every branch ending in `exit` and no `else`, all its conditions are
/// false below it; with an exiting `else` after one branch, that branch's
/// condition is true below it.
fn facts_after(step: &Step) -> Vec<Vec<String>> {
    let StepKind::If {
        branches,
        else_block,
    } = &step.kind
    else {
        return Vec::new();
    };
    match (else_block, branches.as_slice()) {
        (None, _) if branches.iter().all(|(_, b)| always_exits(b)) => {
            branches.iter().flat_map(|(c, _)| facts(c, false)).collect()
        }
        (Some(e), [(c, b)]) if always_exits(e) && !always_exits(b) => facts(c, true),
        _ => Vec::new(),
    }
}

/// Whether every path through the block ends in `exit`.
fn always_exits(b: &Block) -> bool {
    match b.steps.last().map(|s| &s.kind) {
        Some(StepKind::Exit) => true,
        Some(StepKind::If {
            branches,
            else_block: Some(e),
        }) => branches.iter().all(|(_, b)| always_exits(b)) && always_exits(e),
        _ => false,
    }
}

/// "an email", "an SMS", "a push" — for messages.
/// E0104 for a template that does not exist, with "did you mean" (first
/// among templates of `channel`, then of any channel). `verb` is how the
/// use is written (`send`, or a test's `sent`), for the help line.
pub(super) fn unknown_template(
    index: &crate::resolve::ProjectIndex,
    file: crate::span::FileId,
    channel: crate::ast::Channel,
    template: &Ident,
    verb: &str,
) -> Diagnostic {
    let d = Diagnostic::new(
        Code::UnknownTemplate,
        file,
        template.span,
        format!("unknown {} template `{}`", channel.as_str(), template.name),
    )
    .with_label("no such template");
    let same_channel = index
        .templates()
        .filter(|t| t.channel == channel)
        .map(|t| t.name.as_str());
    let any_channel = index.templates().map(|t| t.name.as_str());
    let args = if verb == "send" { "(...)" } else { "" };
    match (
        did_you_mean(&template.name, same_channel),
        did_you_mean(&template.name, any_channel),
    ) {
        (Some(s), _) => d.with_help(format!("did you mean `{s}`?")),
        (None, Some(s)) => {
            let other = index.template(s).map_or(channel, |t| t.channel);
            d.with_help(format!(
                "did you mean `{s}`? It is {} template: `{verb} {} {s}{args}`",
                with_article(other),
                other.as_str()
            ))
        }
        (None, None) => d.with_help(format!(
            "declare it with `template {} {}(...) {{ ... }}`",
            channel.as_str(),
            template.name
        )),
    }
}

pub(super) fn with_article(channel: crate::ast::Channel) -> &'static str {
    match channel {
        crate::ast::Channel::Email => "an email",
        crate::ast::Channel::Sms => "an SMS",
        crate::ast::Channel::Push => "a push",
    }
}
