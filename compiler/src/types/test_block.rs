//! Checking `test "name" { ... }` blocks (run by `nudge test`, see
//! `docs/testing.md`) against the project, so a mistake in a test is found
//! by `nudge check` and the editor instead of when the test runs.
//!
//! What is checked, statement by statement:
//! - `start DATE [TIME]`, `at`, `until`: a date literal and a UTC time
//!   (`local` is E0201).
//! - `start`: before any `profile`, `event` or `wait`, and once (E0403).
//! - `profile "id" { traits }`: a non-empty id (E0201); every trait exists
//!   (E0103) and its value fits the trait's type. Traits not named are
//!   kept, so none is required.
//! - `event "Name" { properties }`: a declared event (E0101), after a
//!   `profile` (E0403); every property is a field of it (E0102) whose
//!   value fits the field's type, and every non-optional field is given
//!   (E0201), nested records included, as the simulator's ingestion
//!   demands; unlike `track`, a list may be left out (ingestion reads it
//!   as empty).
//! - `wait DURATION`: a duration known at compile time (E0201), positive
//!   (E0303): the test clock never goes backwards.
//! - `expect`: after a `profile` (E0403); a known channel (E0106) and
//!   template of that channel (E0104); a known flow (E0106); a reason that
//!   exists for that kind of expectation (E0401); a variant of a split in
//!   a flow that sends the template (E0402); `at` / `until` a date literal
//!   (E0201). An expectation (without `not`) that can never pass is E0404:
//!   a template no flow sends on that channel, a reason the flows that
//!   send it never give (`holdout` without a holdout; caps, quiet hours or
//!   consent from transactional flows only) or the project's policy never
//!   produces on that channel (a cap that is deferred, not skipped; no
//!   caps; no quiet hours), a send `at` a time after the test's
//!   clock at that line (an expectation sees only what happened so far) or
//!   before its start. With `not`, a template no flow sends on that
//!   channel and such an `at` can never fail (W0011).
//!
//! Two tests of one name are E0109 (`nudge test` reports them by name).
//!
//! Values are literals (E0201 otherwise): strings without holes, numbers,
//! money, percents, durations, bools, dates, times, `none`, lists and
//! records, and `-` before a number. Beyond the language's own typing, a
//! value is checked the way the simulator's ingestion reads it: a
//! `timestamp` is RFC 3339 text (`"2026-03-02T09:00:00Z"`), a `timezone`
//! an IANA name (E0110), a `currency` a three-letter code.
//!
//! The helpers that give statements their meaning (the start instant, the
//! wait, the reason names) are public so the runner (`nudge test`) uses the
//! same definitions.

use super::Checker;
use super::expr::strip;
use super::flow::{unknown_template, with_article};
use super::ty::Ty;
use crate::ast::{
    Category, Channel, Expectation, Expr, ExprKind, File, FlowSettingKind, Ident, Item, Lit,
    StepKind, TestDecl, TestStmtKind, TextNode, TimeOfDay, UnaryOp,
};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::policy::{Policy, WhenCapped};
use crate::resolve::ProjectIndex;
use crate::rules::walk::{const_duration, format_duration, walk_steps};
use crate::span::{FileId, Span};

/// 2026-01-01 00:00 UTC in unix milliseconds: the clock of a test without
/// `start`.
pub const DEFAULT_START_MS: i64 = 1_767_225_600_000;

/// The reasons of `expect suppressed ... because R`.
pub const SUPPRESSION_REASONS: &[&str] = &[
    "holdout",
    "frequency_cap",
    "no_address",
    "no_consent",
    "unsubscribed",
    "hard_bounce",
    "complaint",
];

/// The reasons of `expect deferred ... because R`.
pub const DEFERRAL_REASONS: &[&str] = &["quiet_hours", "frequency_cap"];

const CHANNELS: &[&str] = &["email", "sms", "push"];

/// A date literal and optional time of day as UTC unix milliseconds
/// (`start`, `at`, `until`); `None` when `date` is not a date literal.
pub fn instant_ms(date: &Expr, time: Option<&TimeOfDay>) -> Option<i64> {
    let ExprKind::Lit(Lit::Date { year, month, day }) = &strip(date).kind else {
        return None;
    };
    let days = days_from_civil(i64::from(*year), i64::from(*month), i64::from(*day));
    let (h, m) = time.map_or((0, 0), |t| (i64::from(t.hour), i64::from(t.minute)));
    Some(((days * 24 + h) * 60 + m) * 60_000)
}

/// The seconds a test's `wait` moves the clock: a duration made of
/// literals (`3d`, `1h30m`, `1d + 2h`).
pub fn wait_secs(duration: &Expr) -> Option<i64> {
    const_duration(duration)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix milliseconds as `2026-03-09 13:00 UTC`.
pub fn show_instant(ms: i64) -> String {
    let mins = ms.div_euclid(60_000);
    let days = mins.div_euclid(1440);
    let (h, m) = (mins.rem_euclid(1440) / 60, mins.rem_euclid(60));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
}

/// What the project's flows can do that tests make claims about: which
/// templates each flow sends, and its splits' variants. A summary, so an
/// edit inside a flow that changes neither leaves it equal (and the
/// database does not check the tests again).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowFacts {
    flows: Vec<FlowFact>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FlowFact {
    name: String,
    sends: Vec<(Channel, String)>,
    /// Variant names of every split in the flow, in source order.
    variants: Vec<String>,
    /// `category transactional`: exempt from consent, quiet hours, caps.
    transactional: bool,
    /// The flow has a `holdout`.
    holdout: bool,
}

impl FlowFacts {
    /// Summarizes the flows of `files` (stdlib first, then the project).
    pub fn collect(files: &[(FileId, &File)]) -> FlowFacts {
        let mut flows = Vec::new();
        for (_, file) in files {
            for item in &file.items {
                let Item::Flow(f) = item else { continue };
                let mut fact = FlowFact {
                    name: f.name.name.clone(),
                    sends: Vec::new(),
                    variants: Vec::new(),
                    transactional: f.settings.iter().any(|s| {
                        matches!(
                            s.kind,
                            FlowSettingKind::Category(Category::Transactional, _)
                        )
                    }),
                    holdout: f
                        .settings
                        .iter()
                        .any(|s| matches!(s.kind, FlowSettingKind::Holdout(_))),
                };
                walk_steps(&f.body, &mut |step| match &step.kind {
                    StepKind::Send {
                        channel, template, ..
                    } => fact.sends.push((*channel, template.name.clone())),
                    StepKind::Split { arms, .. } => {
                        fact.variants
                            .extend(arms.iter().map(|a| a.name.name.clone()));
                    }
                    _ => {}
                });
                fact.sends.dedup();
                flows.push(fact);
            }
        }
        FlowFacts { flows }
    }

    fn senders(&self, channel: Channel, template: &str) -> impl Iterator<Item = &FlowFact> {
        self.flows
            .iter()
            .filter(move |f| f.sends.iter().any(|(c, t)| *c == channel && t == template))
    }
}

/// The name of every test in the project, where it is declared, in file
/// order: `nudge test` reports tests by name, so two with one name are
/// E0109, like any declaration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestNames {
    tests: Vec<(String, FileId, Span)>,
}

impl TestNames {
    pub fn collect(files: &[(FileId, &File)]) -> TestNames {
        let tests = files
            .iter()
            .flat_map(|(id, file)| {
                file.items.iter().filter_map(move |item| match item {
                    Item::Test(t) => Some((t.name.value.clone(), *id, t.name.span)),
                    _ => None,
                })
            })
            .collect();
        TestNames { tests }
    }

    /// Where a test of this name is first declared.
    fn first(&self, name: &str) -> Option<(FileId, Span)> {
        self.tests
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, f, s)| (*f, *s))
    }
}

/// Every problem of the `test` blocks of one file.
pub fn check_tests(
    index: &ProjectIndex,
    flows: &FlowFacts,
    names: &TestNames,
    policy: &Policy,
    file: FileId,
    ast: &File,
) -> Vec<Diagnostic> {
    let mut cx = Checker::new(index, file);
    for item in &ast.items {
        if let Item::Test(t) = item {
            if let Some((first_file, first_span)) = names.first(&t.name.value)
                && (first_file, first_span) != (file, t.name.span)
            {
                cx.report(
                    Diagnostic::new(
                        Code::DuplicateDeclaration,
                        file,
                        t.name.span,
                        format!("test \"{}\" is declared twice", t.name.value),
                    )
                    .with_label("declared again here")
                    .with_secondary(
                        first_file,
                        first_span,
                        if first_file == file {
                            "first declared here"
                        } else {
                            "first declared here, in another file"
                        },
                    )
                    .with_help("rename one of them: `nudge test` reports tests by name"),
                );
            }
            TestCheck {
                cx: &mut cx,
                flows,
                policy,
                start: DEFAULT_START_MS,
                clock: Some(DEFAULT_START_MS),
                started: false,
                moved: false,
                profile: false,
            }
            .test(t);
        }
    }
    cx.diagnostics
}

/// What a `because` is about: the expectation it belongs to.
struct Why<'e> {
    negated: bool,
    verb: &'static str,
    channel: &'e Ident,
    template: &'e Ident,
    /// The flows that send the template (`None`: unknown, already reported).
    senders: Option<Vec<String>>,
}

/// The state of checking one test: its clock as far as it is known.
struct TestCheck<'c, 'a> {
    cx: &'c mut Checker<'a>,
    flows: &'c FlowFacts,
    policy: &'c Policy,
    /// The instant the test starts at.
    start: i64,
    /// The virtual clock at the statement being checked; `None` once a
    /// statement it depends on was wrong (already reported).
    clock: Option<i64>,
    /// A `start` was seen.
    started: bool,
    /// A `profile`, `event` or `wait` was seen (the clock has been used).
    moved: bool,
    /// A `profile` was seen: `event` and `expect` have a current profile.
    profile: bool,
}

impl TestCheck<'_, '_> {
    fn file(&self) -> FileId {
        self.cx.file
    }

    fn report(&mut self, d: Diagnostic) {
        self.cx.report(d);
    }

    fn test(&mut self, t: &TestDecl) {
        for stmt in &t.body {
            match &stmt.kind {
                TestStmtKind::Start { date, time } => self.start(stmt.span, date, time.as_ref()),
                TestStmtKind::Profile { id, traits } => {
                    self.moved = true;
                    self.profile = true;
                    if id.value.trim().is_empty() {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                self.file(),
                                id.span,
                                "a profile id cannot be empty",
                            )
                            .with_label("empty id")
                            .with_help("write an id such as `profile \"u1\"`"),
                        );
                    }
                    if let Some(traits) = traits {
                        self.traits(traits);
                    }
                }
                TestStmtKind::Event { name, properties } => {
                    self.moved = true;
                    if !self.profile {
                        self.no_profile(stmt.span, &format!("event \"{}\"", name.value));
                    }
                    self.event(name, properties.as_ref());
                }
                TestStmtKind::Wait { duration } => {
                    self.moved = true;
                    self.wait(duration);
                }
                TestStmtKind::Expect { negated, what } => {
                    if !self.profile {
                        self.no_profile(stmt.span, "`expect`");
                    }
                    self.expect(*negated, what);
                }
                TestStmtKind::Error => {}
            }
        }
    }

    fn start(&mut self, span: Span, date: &Expr, time: Option<&TimeOfDay>) {
        if self.started || self.moved {
            let message = if self.started {
                "a test has one `start`"
            } else {
                "`start` comes after the test's clock was already used"
            };
            self.report(
                Diagnostic::new(Code::TestStatementOrder, self.file(), span, message)
                    .with_label("too late")
                    .with_help(
                        "put one `start` first in the test, before any `profile`, `event` or `wait`",
                    ),
            );
        }
        self.started = true;
        self.utc(time);
        match instant_ms(date, time) {
            Some(at) => {
                self.start = at;
                self.clock = Some(at);
            }
            None => {
                self.not_a_date(date, "`start`");
                self.clock = None;
            }
        }
    }

    /// A test's instants are UTC: `local` would suggest otherwise.
    fn utc(&mut self, time: Option<&TimeOfDay>) {
        if let Some(t) = time.filter(|t| t.local) {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    self.file(),
                    t.span,
                    "times in a test are UTC, not local",
                )
                .with_label("UTC")
                .with_help("remove `local` and write the UTC time"),
            );
        }
    }

    fn not_a_date(&mut self, e: &Expr, what: &str) {
        self.report(
            Diagnostic::new(
                Code::TypeMismatch,
                self.file(),
                e.span,
                format!("{what} needs a date literal"),
            )
            .with_label("not a date")
            .with_help("write a date and a UTC time of day, e.g. `2026-03-02 09:00`"),
        );
    }

    fn no_profile(&mut self, span: Span, what: &str) {
        self.report(
            Diagnostic::new(
                Code::TestStatementOrder,
                self.file(),
                span,
                format!("{what} comes before any `profile`, so it has no profile"),
            )
            .with_label("whose?")
            .with_help("add a `profile \"u1\" { ... }` line above it"),
        );
    }

    fn traits(&mut self, traits: &Expr) {
        let ExprKind::Record(fields) = &strip(traits).kind else {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    self.file(),
                    traits.span,
                    "a profile's traits are a record",
                )
                .with_help("write `{ first_name: \"Ana\", timezone: \"Europe/Istanbul\" }`"),
            );
            return;
        };
        for f in fields {
            let ident = Ident {
                name: f.name.value.clone(),
                span: f.name.span,
            };
            let ty = self.cx.profile_field(&ident);
            self.cx
                .test_value(&f.value, &ty, &format!("trait `{}`", f.name.value));
        }
    }

    fn event(&mut self, name: &crate::ast::Name, properties: Option<&Expr>) {
        if self.cx.index.event(&name.value).is_none() {
            let d = self.cx.index.unknown_event(self.file(), name);
            self.report(d);
            // Still report non-literals in the properties.
            if let Some(p) = properties {
                self.cx.literal(p);
            }
            return;
        }
        let ty = Ty::Event(name.value.clone());
        match properties {
            // Without properties the event carries nothing: every field
            // that is not optional is missing.
            None => {
                self.cx
                    .record_fields(name.span, &[], &ty, Checker::test_value, false);
            }
            // Missing fields are reported at the name, as for `track`.
            Some(p) => match &strip(p).kind {
                ExprKind::Record(fields) => {
                    if self.cx.literal(p) {
                        self.cx
                            .record_fields(name.span, fields, &ty, Checker::test_value, false);
                    }
                }
                _ => {
                    self.cx.test_value(p, &ty, "the properties");
                }
            },
        }
    }

    fn wait(&mut self, duration: &Expr) {
        let Some(secs) = wait_secs(duration) else {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    self.file(),
                    duration.span,
                    "a test's `wait` needs a duration written with literals",
                )
                .with_label("not a duration literal")
                .with_help("write a duration with its unit, e.g. `wait 30m` or `wait 3d`"),
            );
            self.clock = None;
            return;
        };
        if secs <= 0 {
            self.report(
                Diagnostic::new(
                    Code::NonPositiveDuration,
                    self.file(),
                    duration.span,
                    format!(
                        "`wait {}` would not move the test's clock forward",
                        format_duration(secs)
                    ),
                )
                .with_label("not positive")
                .with_help(
                    "the clock only moves forward: wait a positive duration, or set the time with `start`",
                ),
            );
            return;
        }
        self.clock = self
            .clock
            .and_then(|c| c.checked_add(secs.saturating_mul(1000)));
    }

    fn channel(&mut self, id: &Ident) -> Option<Channel> {
        match id.name.as_str() {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            "push" => Some(Channel::Push),
            other => {
                let d = Diagnostic::new(
                    Code::UnknownName,
                    self.file(),
                    id.span,
                    format!("unknown channel `{other}`"),
                )
                .with_label("not a channel");
                self.report(match did_you_mean(other, CHANNELS.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help("the channels are `email`, `sms` and `push`"),
                });
                None
            }
        }
    }

    fn expect(&mut self, negated: bool, what: &Expectation) {
        match what {
            Expectation::Sent {
                channel,
                template,
                variant,
                at,
            } => {
                let senders = self.template(negated, "sent", channel, template);
                if let (Some(v), Some(senders)) = (variant, &senders) {
                    self.variant(v, template, senders);
                }
                if let Some((date, time)) = at {
                    self.at(negated, date, time.as_ref());
                }
            }
            Expectation::Suppressed {
                channel,
                template,
                because,
                ..
            } => {
                let senders = self.template(negated, "suppressed", channel, template);
                if let Some(b) = because {
                    let why = Why {
                        negated,
                        verb: "suppressed",
                        channel,
                        template,
                        senders,
                    };
                    self.reason(b, SUPPRESSION_REASONS, &why);
                }
            }
            Expectation::Deferred {
                channel,
                template,
                because,
                until,
                ..
            } => {
                let senders = self.template(negated, "deferred", channel, template);
                if let Some(b) = because {
                    let why = Why {
                        negated,
                        verb: "deferred",
                        channel,
                        template,
                        senders,
                    };
                    self.reason(b, DEFERRAL_REASONS, &why);
                }
                if let Some((date, time)) = until {
                    self.utc(time.as_ref());
                    if instant_ms(date, time.as_ref()).is_none() {
                        self.not_a_date(date, "`until`");
                    }
                }
            }
            Expectation::Entered { flow } | Expectation::Exited { flow } => self.flow(flow),
        }
    }

    /// Checks the channel and template of an expectation; returns the
    /// names of the flows that send it (`None` when something was wrong).
    fn template(
        &mut self,
        negated: bool,
        verb: &str,
        channel: &Ident,
        template: &Ident,
    ) -> Option<Vec<String>> {
        let channel = self.channel(channel)?;
        let index = self.cx.index;
        let Some(info) = index.template(&template.name) else {
            let d = unknown_template(index, self.file(), channel, template, verb);
            self.report(d);
            return None;
        };
        if info.channel != channel {
            self.report(
                Diagnostic::new(
                    Code::UnknownTemplate,
                    self.file(),
                    template.span,
                    format!(
                        "`{}` is {} template, but this expects {} one",
                        template.name,
                        with_article(info.channel),
                        with_article(channel)
                    ),
                )
                .with_label(format!("declared as {}", info.channel.as_str()))
                .with_secondary(info.at.file, info.at.span, "declared here")
                .with_help(format!(
                    "write `{verb} {} {}`",
                    info.channel.as_str(),
                    template.name
                )),
            );
            return None;
        }
        let senders: Vec<String> = self
            .flows
            .senders(channel, &template.name)
            .map(|f| f.name.clone())
            .collect();
        if senders.is_empty() && negated {
            self.report(
                Diagnostic::new(
                    Code::ExpectationNeverFails,
                    self.file(),
                    template.span,
                    format!(
                        "no flow sends {} `{}`, so this expectation can never fail",
                        channel.as_str(),
                        template.name
                    ),
                )
                .with_label("never sent")
                .with_secondary(info.at.file, info.at.span, "declared here")
                .with_help(format!(
                    "expect something a flow can do, or remove the line; flows send it with `send {} {}(...)`",
                    channel.as_str(),
                    template.name
                )),
            );
        }
        if senders.is_empty() && !negated {
            self.report(
                Diagnostic::new(
                    Code::ExpectationNeverPasses,
                    self.file(),
                    template.span,
                    format!(
                        "no flow sends {} `{}`, so this expectation can never pass",
                        channel.as_str(),
                        template.name
                    ),
                )
                .with_label("never sent")
                .with_secondary(info.at.file, info.at.span, "declared here")
                .with_help(format!(
                    "send it from a flow (`send {} {}(...)`), or expect `not {verb} ...`",
                    channel.as_str(),
                    template.name
                )),
            );
        }
        Some(senders)
    }

    fn variant(&mut self, variant: &Ident, template: &Ident, senders: &[String]) {
        if senders.is_empty() {
            return;
        }
        let variants: Vec<&str> = self
            .flows
            .flows
            .iter()
            .filter(|f| senders.contains(&f.name))
            .flat_map(|f| f.variants.iter().map(String::as_str))
            .collect();
        if variants.contains(&variant.name.as_str()) {
            return;
        }
        let flows = senders
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if variants.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::UnknownVariant,
                    self.file(),
                    variant.span,
                    format!(
                        "`{}` is sent by {flows}, which has no `split`",
                        template.name
                    ),
                )
                .with_label("no split")
                .with_help(format!(
                    "remove `variant {}`, or add a `split` around the send",
                    variant.name
                )),
            );
            return;
        }
        let d = Diagnostic::new(
            Code::UnknownVariant,
            self.file(),
            variant.span,
            format!(
                "no split in {flows} (which sends `{}`) has a variant `{}`",
                template.name, variant.name
            ),
        )
        .with_label("no such variant");
        let mut names = variants.clone();
        names.dedup();
        self.report(match did_you_mean(&variant.name, names.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!("the variants are {}", names.join(", "))),
        });
    }

    fn reason(&mut self, reason: &Ident, known: &[&str], why: &Why<'_>) {
        let Why {
            negated,
            verb,
            channel,
            template,
            ..
        } = *why;
        if !known.contains(&reason.name.as_str()) {
            let d = Diagnostic::new(
                Code::UnknownReason,
                self.file(),
                reason.span,
                format!("`{}` is not a reason a send is {verb} for", reason.name),
            )
            .with_label("no such reason");
            self.report(match did_you_mean(&reason.name, known.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!(
                    "a {verb} send's reason is one of {}",
                    known.join(", ")
                )),
            });
            return;
        }
        if negated {
            return;
        }
        let policy = match channel.name.as_str() {
            "email" => &self.policy.email,
            "sms" => &self.policy.sms,
            "push" => &self.policy.push,
            _ => return,
        };
        // What the flows that send it can do: transactional sends skip
        // consent, quiet hours and caps; only a flow with `holdout` holds
        // journeys back.
        let senders: Vec<&FlowFact> = why
            .senders
            .iter()
            .flatten()
            .filter_map(|name| self.flows.flows.iter().find(|f| &f.name == name))
            .collect();
        let known_senders = !senders.is_empty();
        let all_transactional = known_senders && senders.iter().all(|f| f.transactional);
        let flows = senders
            .iter()
            .map(|f| format!("`{}`", f.name))
            .collect::<Vec<_>>()
            .join(", ");
        let why = match reason.name.as_str() {
            "holdout" if known_senders && !senders.iter().any(|f| f.holdout) => Some((
                format!(
                    "`{}` is sent by {flows}, which has no `holdout`",
                    template.name
                ),
                "add `holdout 10%` to the flow, or expect another reason".to_string(),
            )),
            "frequency_cap" | "quiet_hours" | "no_consent" if all_transactional => Some((
                format!(
                    "`{}` is sent by {flows}, which is transactional, and transactional sends skip consent, quiet hours and frequency caps",
                    template.name
                ),
                "expect another reason, or make the flow `category marketing`".to_string(),
            )),
            "frequency_cap" if policy.caps.is_empty() => Some((
                format!("the project has no frequency cap for {}", channel.name),
                "add a cap to the policy, or remove `because frequency_cap`".to_string(),
            )),
            "frequency_cap" if verb == "suppressed" && self.policy.when_capped == WhenCapped::Defer => Some((
                "the project defers capped sends (`when capped: defer`), it does not suppress them".to_string(),
                "expect `deferred ... because frequency_cap`".to_string(),
            )),
            "frequency_cap" if verb == "deferred" && self.policy.when_capped == WhenCapped::Skip => Some((
                "the project suppresses capped sends (`when capped: skip`), it does not defer them".to_string(),
                "expect `suppressed ... because frequency_cap`".to_string(),
            )),
            "quiet_hours" if policy.quiet_hours.is_none() => Some((
                format!("the project has no quiet hours for {}", channel.name),
                "set quiet hours in the policy, or remove `because quiet_hours`".to_string(),
            )),
            _ => None,
        };
        if let Some((message, help)) = why {
            self.report(
                Diagnostic::new(
                    Code::ExpectationNeverPasses,
                    self.file(),
                    reason.span,
                    format!("{message}, so this expectation can never pass"),
                )
                .with_label("never the reason")
                .with_help(help),
            );
        }
    }

    fn at(&mut self, negated: bool, date: &Expr, time: Option<&TimeOfDay>) {
        self.utc(time);
        let Some(at) = instant_ms(date, time) else {
            self.not_a_date(date, "`at`");
            return;
        };
        // Without `not` the expectation can never pass; with `not` it can
        // never fail (a warning: the test passes, but checks nothing).
        let (code, outcome) = if negated {
            (Code::ExpectationNeverFails, "so `not` always holds")
        } else {
            (Code::ExpectationNeverPasses, "so this can never pass")
        };
        let span = Span::new(date.span.start, time.map_or(date.span.end, |t| t.span.end));
        if at < self.start {
            self.report(
                Diagnostic::new(
                    code,
                    self.file(),
                    span,
                    format!(
                        "this send is expected at {}, before the test starts ({}), {outcome}",
                        show_instant(at),
                        show_instant(self.start)
                    ),
                )
                .with_label("before the start")
                .with_help("check the date, or move `start` earlier"),
            );
        } else if let Some(clock) = self.clock
            && at > clock
        {
            self.report(
                Diagnostic::new(
                    code,
                    self.file(),
                    span,
                    format!(
                        "this send is expected at {}, but the test's clock is only at {} here, {outcome}",
                        show_instant(at),
                        show_instant(clock)
                    ),
                )
                .with_label("in the future")
                .with_help(format!(
                    "an expectation sees only what happened so far: add `wait {}` above it",
                    format_duration((at - clock) / 1000)
                )),
            );
        }
    }

    fn flow(&mut self, flow: &Ident) {
        if self.cx.index.flow(&flow.name).is_some() {
            return;
        }
        let d = Diagnostic::new(
            Code::UnknownName,
            self.file(),
            flow.span,
            format!("unknown flow `{}`", flow.name),
        )
        .with_label("no such flow");
        let names = self.cx.index.flows().map(|f| f.name.as_str());
        self.report(match did_you_mean(&flow.name, names) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!(
                "name a flow declared with `flow {} {{ ... }}`",
                flow.name
            )),
        });
    }
}

/// The help for text that reads as a value of the expected type (`"120"`
/// for money): the literal to write instead.
fn unquote_help(s: &str, expected: &Ty) -> Option<String> {
    let s = s.trim();
    let number = s.parse::<rust_decimal::Decimal>().is_ok();
    match expected {
        Ty::Money(c) if number => Some(format!(
            "write money with its currency, without quotes: `{s} {}`",
            c.as_deref().unwrap_or("USD")
        )),
        Ty::Int | Ty::Decimal if number => Some(format!("write the number without quotes: `{s}`")),
        Ty::Percent if number => Some(format!("write a percentage without quotes: `{s}%`")),
        Ty::Bool if s == "true" || s == "false" => {
            Some(format!("write the bool without quotes: `{s}`"))
        }
        Ty::Date if s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok() => {
            Some(format!("write the date without quotes: `{s}`"))
        }
        _ => None,
    }
}

impl Checker<'_> {
    /// A test value where a value of type `expected` is read: a literal
    /// (else E0201) that fits the type the way the simulator's ingestion
    /// reads it. `what` names it in messages (`field \`value\``).
    fn test_value(&mut self, e: &Expr, expected: &Ty, what: &str) -> bool {
        if !self.literal(e) {
            return false;
        }
        let e = strip(e);
        let present = expected.unwrap_optional();
        match (&e.kind, present) {
            (_, Ty::Error) => true,
            (ExprKind::Record(fields), Ty::Record(_) | Ty::Event(_)) => {
                self.record_fields(e.span, fields, present, Checker::test_value, false)
            }
            (ExprKind::List(items), Ty::List(elem)) => {
                let mut ok = true;
                for item in items {
                    ok &= self.test_value(item, elem, what);
                }
                ok
            }
            (ExprKind::Str(text), Ty::Timestamp | Ty::Timezone | Ty::Currency) => {
                let s = text.as_plain().unwrap_or_default();
                self.text_value(e.span, &s, present, what)
            }
            (ExprKind::Str(text), _)
                if let Some(help) = unquote_help(&text.as_plain().unwrap_or_default(), present) =>
            {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        self.file,
                        e.span,
                        format!("{what} should be `{expected}`, found `string`"),
                    )
                    .with_label("this is `string`")
                    .with_help(help),
                );
                false
            }
            (ExprKind::Lit(Lit::Date { .. }), Ty::Timestamp) => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        self.file,
                        e.span,
                        format!("{what} should be a `timestamp`, found a `date`"),
                    )
                    .with_label("a date, not a timestamp")
                    .with_help("write a timestamp as RFC 3339 text, e.g. \"2026-03-02T09:00:00Z\""),
                );
                false
            }
            _ => self.check_fits(e, expected, Code::TypeMismatch, what),
        }
    }

    /// Text where the simulator reads a timestamp, timezone or currency.
    fn text_value(&mut self, span: Span, s: &str, expected: &Ty, what: &str) -> bool {
        let problem = match expected {
            Ty::Timestamp if s.trim().parse::<jiff::Timestamp>().is_err() => Some((
                Code::TypeMismatch,
                format!("{what} should be a timestamp, but \"{s}\" is not one"),
                "write RFC 3339 text with a zone, e.g. \"2026-03-02T09:00:00Z\"".to_string(),
            )),
            Ty::Timezone => {
                let name = crate::ast::Name {
                    value: s.to_string(),
                    span,
                };
                if let Some(d) = crate::manifest::check_timezone(&name, self.file) {
                    self.report(d.with_label("not an IANA timezone"));
                    return false;
                }
                None
            }
            Ty::Currency if !(s.len() == 3 && s.chars().all(|c| c.is_ascii_alphabetic())) => {
                Some((
                    Code::TypeMismatch,
                    format!("{what} should be a currency code, but \"{s}\" is not one"),
                    "write an ISO 4217 code such as \"USD\" or \"EUR\"".to_string(),
                ))
            }
            _ => None,
        };
        match problem {
            Some((code, message, help)) => {
                self.report(
                    Diagnostic::new(code, self.file, span, message)
                        .with_label(format!("not a `{expected}`"))
                        .with_help(help),
                );
                false
            }
            None => true,
        }
    }

    /// Reports the first part of a test value that is not a literal;
    /// returns `true` when it is all literals.
    fn literal(&mut self, e: &Expr) -> bool {
        let problem = match &e.kind {
            ExprKind::Lit(_) | ExprKind::Error => return true,
            ExprKind::Paren(inner) => return self.literal(inner),
            // Every part is looked at, so each non-literal is reported.
            ExprKind::List(items) => {
                let mut ok = true;
                for item in items {
                    ok &= self.literal(item);
                }
                return ok;
            }
            ExprKind::Record(fields) => {
                let mut ok = true;
                for f in fields {
                    ok &= self.literal(&f.value);
                }
                return ok;
            }
            ExprKind::Str(text) => {
                let hole = text.nodes.iter().find_map(|n| match n {
                    TextNode::Literal(..) => None,
                    TextNode::Hole(h) => Some(h.span),
                    TextNode::If { span, .. }
                    | TextNode::For { span, .. }
                    | TextNode::Error(span) => Some(*span),
                });
                match hole {
                    None => return true,
                    Some(span) => (
                        span,
                        "a string in a test has no `{{ }}` or `{% %}` parts",
                        "write the text itself",
                    ),
                }
            }
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } if matches!(
                strip(operand).kind,
                ExprKind::Lit(
                    Lit::Int(_)
                        | Lit::Decimal(_)
                        | Lit::Money { .. }
                        | Lit::Percent(_)
                        | Lit::Duration(_)
                )
            ) =>
            {
                return true;
            }
            _ => (
                e.span,
                "a test value must be a literal",
                "write the value itself: text, a number, money (`80 USD`), a bool, a date, a list or a record",
            ),
        };
        let (span, message, help) = problem;
        self.report(
            Diagnostic::new(Code::TypeMismatch, self.file, span, message)
                .with_label("not a literal")
                .with_help(help),
        );
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    fn date(year: i32, month: u8, day: u8) -> Expr {
        Expr {
            kind: ExprKind::Lit(Lit::Date { year, month, day }),
            span: Span::default(),
        }
    }

    fn time(hour: u8, minute: u8) -> TimeOfDay {
        TimeOfDay {
            hour,
            minute,
            local: false,
            span: Span::default(),
        }
    }

    #[test]
    fn instants_are_utc_and_print_back() {
        assert_eq!(instant_ms(&date(2026, 1, 1), None), Some(DEFAULT_START_MS));
        let at = instant_ms(&date(2026, 3, 8), Some(&time(13, 5)));
        assert_eq!(
            at.map(show_instant).as_deref(),
            Some("2026-03-08 13:05 UTC")
        );
        // Leap day, and a date before 1970.
        let leap = instant_ms(&date(2028, 2, 29), Some(&time(23, 59)));
        assert_eq!(
            leap.map(show_instant).as_deref(),
            Some("2028-02-29 23:59 UTC")
        );
        let old = instant_ms(&date(1969, 12, 31), None);
        assert_eq!(old, Some(-86_400_000));
        assert_eq!(show_instant(-86_400_000), "1969-12-31 00:00 UTC");
        assert_eq!(instant_ms(&Expr::error(Span::default()), None), None);
    }
}
