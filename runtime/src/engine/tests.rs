//! Engine tests over small hand-assembled bundles (the flows each test needs
//! and nothing more), read as stories: inputs in, trace out.

#![allow(clippy::panic, reason = "a failing test may panic")]

use super::state::EngineState;
use super::trace::*;
use super::{DeliveryOutcome, Engine, Input};
use crate::vm::split_arm;
use nudge_bytecode::assemble::CodeBuilder;
use nudge_bytecode::format::*;
use nudge_bytecode::op::{Builtin, Channel, Code, Op, SplitArm, SplitDef};
use nudge_bytecode::template::{PartKind, Placeholder, Template, Text, TextNode};
use nudge_bytecode::{Currency, Date, Money, Record, TimeOfDay, Value};
use rust_decimal::Decimal;

pub(super) const MIN: i64 = 60_000;
pub(super) const HOUR: i64 = 3_600_000;
pub(super) const DAY: i64 = 86_400_000;

pub(super) fn ts(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .unwrap_or(i64::MIN)
}

pub(super) fn usd(n: i64) -> Value {
    Value::Money(Money {
        amount: Decimal::from(n),
        currency: Currency::new("USD").unwrap_or_else(|| unreachable!()),
    })
}

pub(super) fn rec(fields: &[(&str, Value)]) -> Record {
    Record::from_fields(fields.iter().map(|(k, v)| (k.to_string(), v.clone())))
}

pub(super) fn email(name: &str, subject: &str) -> Template {
    Template {
        name: name.into(),
        channel: Channel::Email,
        params: 0,
        locals: 0,
        parts: vec![
            (PartKind::Subject, Text(vec![TextNode::Lit(subject.into())])),
            (
                PartKind::Text,
                Text(vec![
                    TextNode::Lit("Hello. Unsubscribe: ".into()),
                    TextNode::Placeholder(Placeholder::UnsubscribeUrl),
                ]),
            ),
        ],
    }
}

pub(super) fn sms(name: &str, body: &str) -> Template {
    Template {
        name: name.into(),
        channel: Channel::Sms,
        params: 0,
        locals: 0,
        parts: vec![(PartKind::Body, Text(vec![TextNode::Lit(body.into())]))],
    }
}

/// A flow body, step by step.
pub(super) enum S {
    Send(u16),
    Wait(i64),
    WaitLocal(u32, Option<u8>),
    /// `wait for "event" as x within d { Send(a) } timeout { Send(b) }`
    /// (`x` is cleared when the block ends, as the lowering does).
    WaitFor(&'static str, i64, u16, u16),
    Split(u16, u16),
    Exit,
    Track(&'static str),
}

pub(super) fn body(steps: &[S]) -> (Code, Vec<SplitDef>) {
    let mut b = CodeBuilder::new();
    b.local();
    let mut splits = vec![];
    for s in steps {
        match s {
            S::Send(t) => {
                b.emit(Op::Send {
                    template: *t,
                    argc: 0,
                });
            }
            S::Wait(ms) => {
                let c = b.constant(Value::Duration(ms / 1000)).unwrap_or(0);
                b.emit(Op::Const(c));
                b.emit(Op::Wait);
            }
            S::WaitLocal(secs, weekday) => {
                b.emit(Op::WaitUntilLocal {
                    time: TimeOfDay(*secs),
                    weekday: *weekday,
                });
            }
            S::WaitFor(event, within, arrived, timeout) => {
                let c = b.constant(Value::Duration(within / 1000)).unwrap_or(0);
                let e = b.name(event).unwrap_or(0);
                let none = b.constant(Value::None).unwrap_or(0);
                let bind = b.local();
                let timeout_l = b.label();
                let end = b.label();
                b.emit(Op::Const(c));
                b.emit_to(
                    Op::WaitFor {
                        event: e,
                        filter: None,
                        bind: Some(bind),
                        timeout: 0,
                    },
                    timeout_l,
                );
                b.emit(Op::Send {
                    template: *arrived,
                    argc: 0,
                });
                b.emit(Op::Const(none));
                b.emit(Op::StoreLocal(bind));
                b.emit_to(Op::Jump(0), end);
                let _ = b.place(timeout_l);
                b.emit(Op::Send {
                    template: *timeout,
                    argc: 0,
                });
                let _ = b.place(end);
            }
            S::Split(a, c) => {
                let (la, lc, end) = (b.label(), b.label(), b.label());
                b.emit(Op::Split(0));
                let _ = b.place(la);
                b.emit(Op::Send {
                    template: *a,
                    argc: 0,
                });
                b.emit_to(Op::Jump(0), end);
                let _ = b.place(lc);
                b.emit(Op::Send {
                    template: *c,
                    argc: 0,
                });
                let _ = b.place(end);
                splits.push(SplitDef {
                    name: "discount_test".into(),
                    arms: vec![
                        SplitArm {
                            name: "control".into(),
                            weight_bp: 5000,
                            target: b.label_target(la).unwrap_or(0),
                        },
                        SplitArm {
                            name: "ten_off".into(),
                            weight_bp: 5000,
                            target: b.label_target(lc).unwrap_or(0),
                        },
                    ],
                });
            }
            S::Exit => {
                b.emit(Op::Exit);
            }
            S::Track(event) => {
                let e = b.name(event).unwrap_or(0);
                let c = b.constant(Value::None).unwrap_or(0);
                b.emit(Op::Const(c));
                b.emit(Op::Track { event: e });
            }
        }
    }
    b.emit(Op::Exit);
    (b.finish().unwrap_or_default(), splits)
}

/// `LoadEvent.field == LoadLocal(0).field` (the `exit when` / `goal` filter
/// matching the trigger event's id).
pub(super) fn same(field: &str, locals: u16) -> Code {
    let mut b = CodeBuilder::new();
    b.reserve_locals(locals);
    let f = b.name(field).unwrap_or(0);
    b.emit(Op::LoadEvent);
    b.emit(Op::GetField {
        name: f,
        optional: false,
    });
    b.emit(Op::LoadLocal(0));
    b.emit(Op::GetField {
        name: f,
        optional: false,
    });
    b.emit(Op::Eq);
    b.emit(Op::Return);
    b.finish().unwrap_or_default()
}

pub(super) fn settings() -> FlowSettings {
    FlowSettings {
        category: Category::Marketing,
        priority: 0,
        reentry: Reentry::AfterExit,
        exit_when: vec![],
        goal: None,
        holdout_bp: 0,
    }
}

pub(super) fn flow(name: &str, trigger: Trigger, settings: FlowSettings, steps: &[S]) -> Flow {
    let (code, splits) = body(steps);
    let mut f = Flow {
        name: name.into(),
        version: [0; 32],
        trigger,
        settings,
        splits,
        code,
    };
    f.version = f.compute_version();
    f
}

pub(super) fn on(event: &str) -> Trigger {
    Trigger::Event {
        event: event.into(),
        filter: None,
        keep: EventKeep::Whole,
    }
}

pub(super) fn bundle(flows: Vec<Flow>, templates: Vec<Template>, policies: Policies) -> Bundle {
    let b = Bundle {
        shop: Record::new(),
        policies,
        flows,
        templates,
        segments: vec![],
        aggregates: vec![],
        schema: Default::default(),
    };
    if let Err(e) = nudge_bytecode::verify::verify_bundle(&b) {
        panic!("test bundle does not verify: {e}");
    }
    b
}

pub(super) fn templates() -> Vec<Template> {
    vec![
        email("welcome", "Welcome!"),
        email("reminder", "You left something behind"),
        sms(
            "last_call",
            "Shop: your cart expires tonight. Reply STOP to opt out",
        ),
        email("offer", "10% off"),
    ]
}

pub(super) fn profile(id: &str, at: i64) -> Input {
    Input::Identify {
        profile: id.into(),
        traits: rec(&[
            ("email", Value::str(format!("{id}@example.com"))),
            ("phone", Value::str("+15555550100")),
            ("sms_consent", Value::Bool(true)),
        ]),
        at,
        message_id: None,
    }
}

pub(super) fn track(id: &str, event: &str, props: &[(&str, Value)], at: i64) -> Input {
    Input::Track {
        profile: id.into(),
        event: event.into(),
        properties: rec(props),
        at,
        message_id: None,
    }
}

/// Runs inputs (then the clock to `until`) and returns the whole trace.
struct Run<'b> {
    engine: Engine<'b>,
    state: EngineState,
    out: Outputs,
}

impl<'b> Run<'b> {
    fn new(b: &'b Bundle) -> Self {
        Run {
            engine: Engine::new(b),
            state: EngineState::default(),
            out: Outputs::default(),
        }
    }
    fn feed(&mut self, input: Input) -> &mut Self {
        let o = self.engine.handle(&mut self.state, input);
        self.out.effects.extend(o.effects);
        self.out.trace.extend(o.trace);
        self
    }
    fn until(&mut self, at: i64) -> &mut Self {
        let o = self.engine.advance(&mut self.state, at);
        self.out.effects.extend(o.effects);
        self.out.trace.extend(o.trace);
        self
    }
    fn sent(&self) -> Vec<(i64, String)> {
        self.out
            .trace
            .iter()
            .filter_map(|r| match &r.decision {
                Decision::Sent { template, .. } => Some((r.at, template.to_string())),
                _ => None,
            })
            .collect()
    }
    fn decisions(&self) -> Vec<&Decision> {
        self.out.trace.iter().map(|r| &r.decision).collect()
    }
    fn has(&self, d: &Decision) -> bool {
        self.decisions().contains(&d)
    }
}

#[test]
fn event_trigger_waits_and_sends_with_idempotency_keys() {
    let b = bundle(
        vec![flow(
            "welcome",
            on("Signed Up"),
            settings(),
            &[S::Send(0), S::Wait(DAY), S::Send(1)],
        )],
        templates(),
        Policies::default(),
    );
    let mut r = Run::new(&b);
    let t0 = ts("2026-11-25T10:00:00Z");
    r.feed(profile("p1", t0))
        .feed(track("p1", "Signed Up", &[], t0));
    assert_eq!(Engine::next_due(&r.state), Some(t0 + DAY));
    r.until(t0 + 2 * DAY);
    assert_eq!(
        r.sent(),
        vec![(t0, "welcome".into()), (t0 + DAY, "reminder".into())]
    );
    assert!(r.has(&Decision::Exited {
        by: ExitReason::End
    }));
    let keys: Vec<&str> = r
        .out
        .effects
        .iter()
        .filter_map(|e| match e {
            OutEffect::Send(m) => Some(m.key.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(keys, vec!["p1/welcome/1/0", "p1/welcome/1/3"]);
    assert!(r.state.timers.is_empty());
    let Some(OutEffect::Send(m)) = r.out.effects.first() else {
        panic!("a send");
    };
    assert_eq!(m.to, "p1@example.com");
    assert!(
        matches!(&m.content, Content::Email { text, .. } if text.contains("{{nudge:unsubscribe_url}}"))
    );
}

#[test]
fn exit_when_cancels_a_waiting_journey_at_once() {
    let mut s = settings();
    s.exit_when = vec![EventMatch {
        event: "Order Completed".into(),
        filter: Some(same("checkout_id", 1)),
    }];
    let b = bundle(
        vec![flow(
            "abandoned_checkout",
            on("Checkout Started"),
            s,
            &[S::Wait(HOUR), S::Send(1)],
        )],
        templates(),
        Policies::default(),
    );
    let mut r = Run::new(&b);
    let t0 = ts("2026-11-25T10:00:00Z");
    r.feed(profile("p1", t0))
        .feed(track(
            "p1",
            "Checkout Started",
            &[("checkout_id", Value::str("c1"))],
            t0,
        ))
        // Another checkout's order does not match the filter.
        .feed(track(
            "p1",
            "Order Completed",
            &[("checkout_id", Value::str("c9"))],
            t0 + MIN,
        ));
    assert_eq!(
        r.state.profiles.get("p1").map(|p| p.journeys.len()),
        Some(1)
    );
    r.feed(track(
        "p1",
        "Order Completed",
        &[("checkout_id", Value::str("c1"))],
        t0 + 2 * MIN,
    ));
    assert!(r.has(&Decision::Exited {
        by: ExitReason::ExitWhen {
            event: "Order Completed".into()
        }
    }));
    assert!(r.state.timers.is_empty(), "the wait's timer is gone");
    r.until(t0 + DAY);
    assert!(r.sent().is_empty(), "an order cancels the cart reminder");
}

#[test]
fn wait_for_resumes_on_arrival_or_times_out() {
    let b = bundle(
        vec![flow(
            "post_purchase",
            on("Order Completed"),
            {
                let mut s = settings();
                s.reentry = Reentry::Always;
                s
            },
            &[S::WaitFor("Order Delivered", 7 * DAY, 0, 1)],
        )],
        templates(),
        Policies::default(),
    );
    let mut r = Run::new(&b);
    let t0 = ts("2026-11-25T10:00:00Z");
    r.feed(profile("p1", t0))
        .feed(track("p1", "Order Completed", &[], t0))
        .feed(track("p1", "Order Delivered", &[], t0 + 2 * DAY))
        .feed(track("p1", "Order Completed", &[], t0 + 3 * DAY))
        .until(t0 + 20 * DAY);
    assert_eq!(
        r.sent(),
        vec![
            (t0 + 2 * DAY, "welcome".into()),
            (t0 + 10 * DAY, "reminder".into())
        ]
    );
    assert!(r.has(&Decision::Resumed {
        by: ResumedBy::Timeout
    }));
}

#[test]
fn reentry_rules() {
    let mk = |reentry| {
        let mut s = settings();
        s.reentry = reentry;
        flow("f", on("Go"), s, &[S::Wait(2 * DAY), S::Send(0)])
    };
    let t0 = ts("2026-11-25T10:00:00Z");
    let entries = |reentry| {
        let b = bundle(vec![mk(reentry)], templates(), Policies::default());
        let mut r = Run::new(&b);
        r.feed(profile("p", t0));
        for d in [0, 1, 3, 10] {
            r.feed(track("p", "Go", &[], t0 + d * DAY));
        }
        r.until(t0 + 30 * DAY);
        r.decisions()
            .iter()
            .filter(|d| matches!(d, Decision::Entered { .. }))
            .count()
    };
    assert_eq!(
        entries(Reentry::AfterExit),
        3,
        "day 1 refused: still active"
    );
    assert_eq!(entries(Reentry::Always), 4);
    assert_eq!(entries(Reentry::Once), 1);
    assert_eq!(entries(Reentry::OncePer { secs: 7 * 86_400 }), 2);
}

#[test]
fn goal_conversion_is_attributed_with_revenue_within_the_window() {
    let mut s = settings();
    s.goal = Some(Goal {
        event: EventMatch {
            event: "Order Completed".into(),
            filter: None,
        },
        within_secs: 5 * 86_400,
    });
    s.exit_when = vec![EventMatch {
        event: "Order Completed".into(),
        filter: None,
    }];
    let b = bundle(
        vec![flow(
            "cart",
            on("Checkout Started"),
            s,
            &[S::Wait(HOUR), S::Send(1)],
        )],
        templates(),
        Policies::default(),
    );
    let t0 = ts("2026-11-25T10:00:00Z");
    let mut r = Run::new(&b);
    r.feed(profile("p", t0))
        .feed(track("p", "Checkout Started", &[], t0))
        .until(t0 + DAY)
        .feed(track(
            "p",
            "Order Completed",
            &[("revenue", usd(42))],
            t0 + 2 * DAY,
        ));
    assert!(r.has(&Decision::Converted {
        event: "Order Completed".into(),
        revenue: Some(usd(42))
    }));
    // Outside the window: no conversion.
    let mut late = Run::new(&b);
    late.feed(profile("p", t0))
        .feed(track("p", "Checkout Started", &[], t0))
        .feed(track(
            "p",
            "Order Completed",
            &[("revenue", usd(42))],
            t0 + 6 * DAY,
        ));
    assert!(
        !late
            .decisions()
            .iter()
            .any(|d| matches!(d, Decision::Converted { .. }))
    );
}

#[test]
fn holdout_enters_but_is_sent_nothing() {
    let mut s = settings();
    s.holdout_bp = 5000;
    let b = bundle(
        vec![flow("welcome", on("Signed Up"), s, &[S::Send(0)])],
        templates(),
        Policies::default(),
    );
    let mut r = Run::new(&b);
    let t0 = ts("2026-11-25T10:00:00Z");
    for i in 0..200 {
        let id = format!("p{i}");
        r.feed(profile(&id, t0))
            .feed(track(&id, "Signed Up", &[], t0));
    }
    let held = r
        .decisions()
        .iter()
        .filter(|d| matches!(d, Decision::Entered { holdout: true, .. }))
        .count();
    let suppressed = r
        .decisions()
        .iter()
        .filter(|d| {
            matches!(
                d,
                Decision::Suppressed {
                    reason: Suppression::Holdout,
                    ..
                }
            )
        })
        .count();
    assert_eq!(held, suppressed);
    assert_eq!(held + r.sent().len(), 200);
    assert!((70..130).contains(&held), "{held}");
}

#[test]
fn split_assignment_is_stable_and_matches_weights() {
    let split = SplitDef {
        name: "discount_test".into(),
        arms: vec![
            SplitArm {
                name: "a".into(),
                weight_bp: 5000,
                target: 0,
            },
            SplitArm {
                name: "b".into(),
                weight_bp: 3000,
                target: 0,
            },
            SplitArm {
                name: "c".into(),
                weight_bp: 2000,
                target: 0,
            },
        ],
    };
    let n = 100_000;
    let mut counts = [0u32; 3];
    for i in 0..n {
        let p = format!("user-{i}");
        let arm = split_arm(&p, "abandoned_checkout", &split).unwrap_or(9);
        assert_eq!(split_arm(&p, "abandoned_checkout", &split), Some(arm));
        if let Some(c) = counts.get_mut(arm) {
            *c += 1;
        }
    }
    for (count, weight) in counts.iter().zip([50.0, 30.0, 20.0]) {
        let share = f64::from(*count) * 100.0 / f64::from(n);
        assert!((share - weight).abs() < 1.0, "{share} vs {weight}");
    }
    // The same profile lands in the same variant through the engine too.
    let b = bundle(
        vec![flow(
            "abandoned_checkout",
            on("Go"),
            {
                let mut s = settings();
                s.reentry = Reentry::Always;
                s
            },
            &[S::Split(0, 3)],
        )],
        templates(),
        Policies::default(),
    );
    let mut r = Run::new(&b);
    r.feed(profile("ada", 0));
    for d in 0..5 {
        r.feed(track("ada", "Go", &[], d * DAY));
    }
    let variants: Vec<&str> = r
        .decisions()
        .into_iter()
        .filter_map(|d| match d {
            Decision::SplitAssigned { variant, .. } => Some(variant.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(variants.len(), 5);
    assert!(variants.iter().all(|v| *v == variants[0]));
}

pub(super) fn capped(when_capped: WhenCapped) -> Policies {
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
        when_capped,
        ..Policies::default()
    }
}

#[test]
fn frequency_cap_suppresses_the_third_email_of_the_week_and_says_so() {
    let b = bundle(
        vec![flow(
            "welcome",
            on("Signed Up"),
            settings(),
            &[
                S::Send(0),
                S::Wait(2 * DAY),
                S::Send(1),
                S::Wait(2 * DAY),
                S::Send(3),
            ],
        )],
        templates(),
        capped(WhenCapped::Skip),
    );
    let mut r = Run::new(&b);
    let t0 = ts("2026-11-25T10:00:00Z");
    r.feed(profile("p", t0))
        .feed(track("p", "Signed Up", &[], t0))
        .until(t0 + 10 * DAY);
    assert_eq!(r.sent().len(), 2);
    assert!(r.has(&Decision::Suppressed {
        template: "offer".into(),
        channel: Channel::Email,
        reason: Suppression::FrequencyCap {
            cap: super::policy::tests::note("email 2 per 7d: 2 already sent in the last 7d")
        }
    }));
}

#[test]
fn capped_sends_defer_until_the_cap_has_room() {
    let b = bundle(
        vec![flow(
            "welcome",
            on("Signed Up"),
            settings(),
            &[S::Send(0), S::Wait(HOUR), S::Send(1)],
        )],
        templates(),
        capped(WhenCapped::Defer),
    );
    let mut r = Run::new(&b);
    let t0 = ts("2026-11-25T10:00:00Z");
    r.feed(profile("p", t0))
        .feed(track("p", "Signed Up", &[], t0))
        .until(t0 + 10 * DAY);
    assert_eq!(
        r.sent(),
        vec![(t0, "welcome".into()), (t0 + DAY, "reminder".into())]
    );
}

#[test]
fn higher_priority_flow_wins_a_contested_cap() {
    let mk = |name: &str, priority, t| {
        let mut s = settings();
        s.priority = priority;
        flow(name, on("Go"), s, &[S::Wait(HOUR), S::Send(t)])
    };
    // Flows are sorted by name in a bundle; "a_low" would go first by name.
    let b = bundle(
        vec![mk("a_low", 1, 0), mk("b_high", 10, 1)],
        templates(),
        capped(WhenCapped::Skip),
    );
    let mut r = Run::new(&b);
    r.feed(profile("p", 0))
        .feed(track("p", "Go", &[], 0))
        .until(DAY / 2);
    assert_eq!(r.sent(), vec![(HOUR, "reminder".into())]);
    assert!(r.has(&Decision::Suppressed {
        template: "welcome".into(),
        channel: Channel::Email,
        reason: Suppression::FrequencyCap {
            cap: super::policy::tests::note("email 1 per 1d: 1 already sent in the last 1d")
        }
    }));
}

pub(super) fn quiet(tz: &str) -> Policies {
    Policies {
        quiet_hours: vec![QuietHours {
            channel: Some(Channel::Sms),
            start: TimeOfDay(21 * 3600),
            end: TimeOfDay(9 * 3600),
        }],
        default_timezone: tz.into(),
        ..Policies::default()
    }
}

#[test]
fn quiet_hours_defer_an_sms_to_nine_local_across_dst() {
    for (tz, at, expect) in [
        // Sat 2026-03-07 22:00 EST; 09:00 EDT on Sunday the 8th is 13:00Z.
        (
            "America/New_York",
            "2026-03-08T03:00:00Z",
            "2026-03-08T13:00:00Z",
        ),
        // Sat 2026-03-28 23:30 CET; 09:00 CEST on the 29th is 07:00Z.
        (
            "Europe/Berlin",
            "2026-03-28T22:30:00Z",
            "2026-03-29T07:00:00Z",
        ),
    ] {
        let b = bundle(
            vec![flow("cart", on("Go"), settings(), &[S::Send(2)])],
            templates(),
            quiet(tz),
        );
        let mut r = Run::new(&b);
        r.feed(profile("p", ts(at)))
            .feed(track("p", "Go", &[], ts(at)))
            .until(ts(at) + DAY);
        assert!(r.has(&Decision::Deferred {
            template: "last_call".into(),
            channel: Channel::Sms,
            until: ts(expect),
            reason: Deferral::QuietHours
        }));
        assert_eq!(r.sent(), vec![(ts(expect), "last_call".into())], "{tz}");
    }
}

#[test]
fn profile_timezone_wins_over_the_project_default() {
    let b = bundle(
        vec![flow(
            "cart",
            on("Go"),
            settings(),
            &[S::WaitLocal(10 * 3600, None), S::Send(0)],
        )],
        templates(),
        quiet("UTC"),
    );
    let mut r = Run::new(&b);
    let t0 = ts("2026-11-25T12:00:00Z");
    r.feed(profile("p", t0))
        .feed(Input::Identify {
            profile: "p".into(),
            traits: rec(&[("timezone", Value::str("America/New_York"))]),
            at: t0,
            message_id: None,
        })
        .feed(track("p", "Go", &[], t0))
        .until(t0 + 2 * DAY);
    // 07:00 in New York: today's 10:00 EST is 15:00Z.
    assert_eq!(
        r.sent(),
        vec![(ts("2026-11-25T15:00:00Z"), "welcome".into())]
    );
}

#[test]
fn consent_stop_unsubscribe_and_hard_bounces() {
    let b = bundle(
        vec![
            flow("promo", on("Go"), settings(), &[S::Send(2), S::Send(0)]),
            flow(
                "receipt",
                on("Order Completed"),
                {
                    let mut s = settings();
                    s.category = Category::Transactional;
                    s.reentry = Reentry::Always;
                    s
                },
                &[S::Send(1), S::Send(2)],
            ),
        ],
        templates(),
        Policies::default(),
    );
    let mut r = Run::new(&b);
    let t0 = ts("2026-11-25T12:00:00Z");
    r.feed(profile("p", t0))
        .feed(track(
            "p",
            "SMS Received",
            &[("body", Value::str(" stop "))],
            t0,
        ))
        .feed(track("p", "Unsubscribed", &[], t0))
        .feed(track("p", "Go", &[], t0 + MIN));
    assert!(r.sent().is_empty());
    assert!(r.has(&Decision::Suppressed {
        template: "last_call".into(),
        channel: Channel::Sms,
        reason: Suppression::Unsubscribed
    }));
    assert!(r.has(&Decision::Suppressed {
        template: "welcome".into(),
        channel: Channel::Email,
        reason: Suppression::Unsubscribed
    }));
    // Transactional email still goes to an unsubscribed profile; the STOP
    // binds every text.
    r.feed(track("p", "Order Completed", &[], t0 + 2 * MIN));
    assert_eq!(r.sent(), vec![(t0 + 2 * MIN, "reminder".into())]);
    // A hard bounce binds transactional mail too.
    r.feed(Input::Delivery {
        profile: "p".into(),
        key: "k".into(),
        channel: Channel::Email,
        outcome: DeliveryOutcome::HardBounce,
        at: t0 + 3 * MIN,
    })
    .feed(track("p", "Order Completed", &[], t0 + 4 * MIN));
    assert_eq!(r.sent().len(), 1);
    assert!(r.has(&Decision::Suppressed {
        template: "reminder".into(),
        channel: Channel::Email,
        reason: Suppression::HardBounce
    }));
    // No consent at all: marketing SMS is suppressed with that reason.
    let mut r = Run::new(&b);
    r.feed(Input::Identify {
        profile: "q".into(),
        traits: rec(&[("phone", Value::str("+1555"))]),
        at: t0,
        message_id: None,
    })
    .feed(track("q", "Go", &[], t0));
    assert!(r.has(&Decision::Suppressed {
        template: "last_call".into(),
        channel: Channel::Sms,
        reason: Suppression::NoConsent
    }));
}

pub(super) fn birthday_flow() -> Flow {
    let mut b = CodeBuilder::new();
    let n = b.name("birthday").unwrap_or(0);
    b.emit(Op::LoadTrait(n));
    b.emit(Op::Return);
    let mut s = settings();
    s.reentry = Reentry::Always;
    flow(
        "birthday",
        Trigger::Date {
            date: b.finish().unwrap_or_default(),
            at: Some(TimeOfDay(10 * 3600)),
            yearly: true,
        },
        s,
        &[S::Send(3)],
    )
}

#[test]
fn yearly_birthday_at_ten_local_with_february_29() {
    let b = bundle(vec![birthday_flow()], templates(), quiet("Europe/Berlin"));
    let mut r = Run::new(&b);
    let t0 = ts("2026-11-25T12:00:00Z");
    r.feed(profile("p", t0)).feed(Input::Identify {
        profile: "p".into(),
        traits: rec(&[(
            "birthday",
            Value::Date(Date {
                year: 2000,
                month: 2,
                day: 29,
            }),
        )]),
        at: t0,
        message_id: None,
    });
    r.until(ts("2029-01-01T00:00:00Z"));
    assert_eq!(
        r.sent(),
        vec![
            // Feb 28 in 2027 (common year), Feb 29 in 2028; 10:00 CET.
            (ts("2027-02-28T09:00:00Z"), "offer".into()),
            (ts("2028-02-29T09:00:00Z"), "offer".into()),
        ]
    );
}

#[test]
fn inactive_fires_once_per_silence() {
    let mut s = settings();
    s.reentry = Reentry::Always;
    let b = bundle(
        vec![flow(
            "win_back",
            Trigger::Inactive {
                event: "Order Completed".into(),
                for_secs: 90 * 86_400,
            },
            s,
            &[S::Send(3)],
        )],
        templates(),
        Policies::default(),
    );
    let mut r = Run::new(&b);
    let t0 = ts("2026-01-01T12:00:00Z");
    r.feed(profile("p", t0))
        .feed(track("p", "Order Completed", &[], t0))
        .feed(track("p", "Order Completed", &[], t0 + 30 * DAY))
        .until(t0 + 300 * DAY);
    assert_eq!(r.sent(), vec![(t0 + 120 * DAY, "offer".into())]);
    r.feed(track("p", "Order Completed", &[], t0 + 301 * DAY))
        .until(t0 + 500 * DAY);
    assert_eq!(r.sent().len(), 2);
}

/// `segment vip = sum("Order Completed".revenue, within: 30d) >= 100 USD`
pub(super) fn vip_bundle() -> Bundle {
    let mut c = CodeBuilder::new();
    let k = c.constant(usd(100)).unwrap_or(0);
    c.emit(Op::LoadAggregate(0));
    c.emit(Op::Const(k));
    c.emit(Op::Ge);
    c.emit(Op::Return);
    let mut b = bundle(vec![], templates(), Policies::default());
    b.aggregates = vec![Aggregate {
        kind: AggregateKind::Sum,
        event: "Order Completed".into(),
        field: vec!["revenue".into()],
        window_secs: Some(30 * 86_400),
    }];
    b.segments = vec![Segment {
        name: "vip".into(),
        condition: c.finish().unwrap_or_default(),
        aggregates: vec![0],
        traits: vec![],
        segments: vec![],
    }];
    b.flows = vec![
        flow(
            "vip_welcome",
            Trigger::Entering(0),
            settings(),
            &[S::Send(0)],
        ),
        flow(
            "vip_goodbye",
            Trigger::Leaving(0),
            settings(),
            &[S::Send(3)],
        ),
    ];
    b
}

#[test]
fn segments_enter_on_events_and_leave_when_the_window_passes() {
    let b = vip_bundle();
    let mut r = Run::new(&b);
    let t0 = ts("2026-11-01T12:00:00Z");
    r.feed(profile("p", t0))
        .feed(track("p", "Order Completed", &[("revenue", usd(60))], t0))
        .feed(track(
            "p",
            "Order Completed",
            &[("revenue", usd(50))],
            t0 + DAY,
        ));
    assert!(r.has(&Decision::SegmentEntered {
        segment: "vip".into()
    }));
    // The first order leaves the 30-day window: 50 USD < 100 USD.
    r.until(t0 + 40 * DAY);
    assert_eq!(
        r.sent(),
        vec![
            (t0 + DAY, "welcome".into()),
            (t0 + 30 * DAY, "offer".into())
        ]
    );
}

#[test]
fn emitted_events_feed_back_and_loops_are_cut() {
    let mut s = settings();
    s.reentry = Reentry::Always;
    let b = bundle(
        vec![
            flow("ping", on("Ping"), s.clone(), &[S::Track("Ping")]),
            flow("echo", on("Ping"), s, &[S::Send(0)]),
        ],
        templates(),
        Policies::default(),
    );
    let mut r = Run::new(&b);
    r.feed(profile("p", 0)).feed(track("p", "Ping", &[], 0));
    assert!(
        r.decisions()
            .iter()
            .any(|d| matches!(d, Decision::EventLoopCut { .. }))
    );
    assert!(r.sent().len() > 1);
}

#[test]
fn duplicate_message_ids_are_ignored() {
    let b = bundle(
        vec![flow("welcome", on("Signed Up"), settings(), &[S::Send(0)])],
        templates(),
        Policies::default(),
    );
    let mut r = Run::new(&b);
    let ev = |at| Input::Track {
        profile: "p".into(),
        event: "Signed Up".into(),
        properties: Record::new(),
        at,
        message_id: Some("m1".into()),
    };
    r.feed(profile("p", 0)).feed(ev(0)).feed(ev(5));
    assert!(r.has(&Decision::Duplicate {
        message_id: "m1".into()
    }));
    assert_eq!(r.sent().len(), 1);
}

#[test]
fn state_round_trips_and_a_restored_engine_continues_identically() {
    let b = vip_bundle();
    let t0 = ts("2026-11-01T12:00:00Z");
    let inputs = vec![
        profile("p", t0),
        track("p", "Order Completed", &[("revenue", usd(120))], t0),
        profile("q", t0 + HOUR),
        track("q", "Order Completed", &[("revenue", usd(20))], t0 + DAY),
        Input::Tick { at: t0 + 60 * DAY },
    ];
    let engine = Engine::new(&b);
    let mut straight = EngineState::default();
    let mut restored = EngineState::default();
    let mut a = vec![];
    let mut c = vec![];
    for input in inputs {
        a.push(engine.handle(&mut straight, input.clone()));
        let bytes = restored.encode().unwrap_or_default();
        restored = EngineState::decode(&bytes).unwrap_or_default();
        c.push(engine.handle(&mut restored, input));
    }
    assert_eq!(a, c);
    assert_eq!(straight, restored);
}

#[test]
fn an_exit_step_ends_the_journey_there() {
    let b = bundle(
        vec![flow(
            "f",
            on("Go"),
            settings(),
            &[S::Send(0), S::Exit, S::Send(1)],
        )],
        templates(),
        Policies::default(),
    );
    let mut r = Run::new(&b);
    r.feed(profile("p", 0)).feed(track("p", "Go", &[], 0));
    assert_eq!(r.sent(), vec![(0, "welcome".into())]);
    assert!(r.has(&Decision::Exited {
        by: ExitReason::ExitStep
    }));
}

/// `send sms last_call` (deferred by quiet hours), then `wait for "Order
/// Completed" within d { send welcome } timeout { send reminder }`, with
/// a `wait` between the two when `wait_between` is given.
fn held_then_wait_for(within: i64, wait_between: Option<i64>) -> Bundle {
    let mut steps = vec![S::Send(2)];
    steps.extend(wait_between.map(S::Wait));
    steps.push(S::WaitFor("Order Completed", within, 0, 1));
    bundle(
        vec![flow("cart", on("Go"), settings(), &steps)],
        templates(),
        quiet("America/New_York"),
    )
}

#[test]
fn a_journey_held_at_a_deferred_send_keeps_listening_for_its_next_wait_for() {
    // Tue 2026-03-03 22:00 EST: the SMS is held until 09:00 EST (14:00Z).
    let t0 = ts("2026-03-04T03:00:00Z");
    let nine = ts("2026-03-04T14:00:00Z");
    let order = |at| {
        track(
            "p",
            "Order Completed",
            &[("order_id", Value::str("o1"))],
            at,
        )
    };
    let b = held_then_wait_for(DAY, None);
    let mut r = Run::new(&b);
    r.feed(profile("p", t0))
        .feed(track("p", "Go", &[], t0))
        // The customer orders at night, while the SMS is held.
        .feed(order(t0 + 2 * HOUR))
        .until(t0 + 3 * DAY);
    assert_eq!(
        r.sent(),
        vec![(nine, "last_call".into()), (nine, "welcome".into())]
    );
    assert!(r.has(&Decision::Resumed {
        by: ResumedBy::Heard {
            event: "Order Completed".into(),
            at: t0 + 2 * HOUR
        }
    }));
    // The state stays plain data, and small: the held journey with the
    // order it heard.
    let mut r = Run::new(&b);
    r.feed(profile("p", t0))
        .feed(track("p", "Go", &[], t0))
        .feed(order(t0 + 2 * HOUR));
    let j = r
        .state
        .profiles
        .get("p")
        .and_then(|p| p.journeys.first())
        .cloned();
    let j = j.unwrap_or_else(|| panic!("no held journey"));
    assert_eq!(j.heard.len(), 1);
    let bytes = postcard::to_allocvec(&j).unwrap_or_default();
    assert!(!bytes.is_empty() && bytes.len() < 512, "{}", bytes.len());

    // Heard more than `within` before the `wait for` is reached: too old.
    let b = held_then_wait_for(2 * HOUR, None);
    let mut r = Run::new(&b);
    r.feed(profile("p", t0))
        .feed(track("p", "Go", &[], t0))
        .feed(order(t0 + 2 * HOUR))
        .until(t0 + 3 * DAY);
    assert_eq!(
        r.sent(),
        vec![
            (nine, "last_call".into()),
            (nine + 2 * HOUR, "reminder".into())
        ]
    );

    // A wait of the flow's own between the send and the `wait for`: the
    // `wait for` listens only once reached, as always.
    let b = held_then_wait_for(DAY, Some(HOUR));
    let mut r = Run::new(&b);
    r.feed(profile("p", t0))
        .feed(track("p", "Go", &[], t0))
        .feed(order(t0 + 2 * HOUR))
        .until(t0 + 3 * DAY);
    assert_eq!(
        r.sent(),
        vec![
            (nine, "last_call".into()),
            (nine + HOUR + DAY, "reminder".into())
        ]
    );

    // Without a hold nothing is remembered: an order before the `wait for`
    // is reached does not count (the SMS goes out at once at 10:00 EST).
    let day = ts("2026-03-04T15:00:00Z");
    let b = held_then_wait_for(DAY, Some(HOUR));
    let mut r = Run::new(&b);
    r.feed(profile("p", day))
        .feed(track("p", "Go", &[], day))
        .feed(order(day + 30 * MIN))
        .until(day + 3 * DAY);
    assert_eq!(
        r.sent(),
        vec![
            (day, "last_call".into()),
            (day + HOUR + DAY, "reminder".into())
        ]
    );
}

#[test]
fn exit_when_fires_while_a_send_is_held() {
    let mut s = settings();
    s.exit_when = vec![EventMatch {
        event: "Order Completed".into(),
        filter: None,
    }];
    let b = bundle(
        vec![flow("cart", on("Go"), s, &[S::Send(2), S::Send(0)])],
        templates(),
        quiet("America/New_York"),
    );
    let t0 = ts("2026-03-04T03:00:00Z");
    let mut r = Run::new(&b);
    r.feed(profile("p", t0))
        .feed(track("p", "Go", &[], t0))
        .feed(track("p", "Order Completed", &[], t0 + HOUR))
        .until(t0 + 3 * DAY);
    assert!(r.sent().is_empty());
    assert!(r.has(&Decision::Exited {
        by: ExitReason::ExitWhen {
            event: "Order Completed".into()
        }
    }));
}

/// A bundle with one segment over `code` and flows entered on entering it
/// (sends `welcome`) and on leaving it (sends `offer`).
fn time_segment_bundle(code: Code) -> Bundle {
    let mut b = bundle(vec![], templates(), Policies::default());
    b.segments = vec![Segment {
        name: "timed".into(),
        condition: code,
        aggregates: vec![],
        traits: vec!["since".into()],
        segments: vec![],
    }];
    b.flows = vec![
        flow("on_enter", Trigger::Entering(0), settings(), &[S::Send(0)]),
        flow("on_leave", Trigger::Leaving(0), settings(), &[S::Send(3)]),
    ];
    b
}

/// `<builtin>(profile.since) <cmp> n`, or `profile.since <cmp> now` when
/// `builtin` is `None`.
fn since_code(builtin: Option<Builtin>, cmp: Op, n: i64) -> Code {
    let mut c = CodeBuilder::new();
    let t = c.name("since").unwrap_or(0);
    c.emit(Op::LoadTrait(t));
    match builtin {
        Some(f) => {
            c.emit(Op::Call(f));
            let k = c.constant(Value::Int(n)).unwrap_or(0);
            c.emit(Op::Const(k));
        }
        None => {
            c.emit(Op::LoadNow);
        }
    }
    c.emit(cmp);
    c.emit(Op::Return);
    c.finish().unwrap_or_default()
}

fn identify(id: &str, traits: &[(&str, Value)], at: i64) -> Input {
    Input::Identify {
        profile: id.into(),
        traits: rec(traits),
        at,
        message_id: None,
    }
}

#[test]
fn segments_reading_the_clock_enter_and_leave_with_time_alone() {
    // `days_since(profile.since) < 7`: a new customer for a week, exactly.
    let b = time_segment_bundle(since_code(Some(Builtin::DaysSince), Op::Lt, 7));
    let t0 = ts("2026-03-02T09:30:00Z");
    let mut r = Run::new(&b);
    r.feed(identify(
        "p",
        &[
            ("email", Value::str("p@example.com")),
            ("since", Value::Timestamp(t0)),
        ],
        t0,
    ))
    // No other input: only the clock moves.
    .until(t0 + 30 * DAY);
    assert_eq!(
        r.sent(),
        vec![(t0, "welcome".into()), (t0 + 7 * DAY, "offer".into())]
    );
    assert!(r.has(&Decision::SegmentLeft {
        segment: "timed".into()
    }));

    // `days_since(profile.since) >= 30`: entered 30 days on, to the
    // millisecond, though nothing happened in between.
    let b = time_segment_bundle(since_code(Some(Builtin::DaysSince), Op::Ge, 30));
    let mut r = Run::new(&b);
    r.feed(identify(
        "p",
        &[
            ("email", Value::str("p@example.com")),
            ("since", Value::Timestamp(t0 - 2 * DAY)),
        ],
        t0,
    ))
    .until(t0 + 60 * DAY);
    assert_eq!(r.sent(), vec![(t0 + 28 * DAY, "welcome".into())]);

    // `age(profile.since) >= 18`: at UTC midnight of the 18th birthday; a
    // February 29 birthday counts from March 1 in common years.
    let b = time_segment_bundle(since_code(Some(Builtin::Age), Op::Ge, 18));
    let mut r = Run::new(&b);
    let born = Date::new(2008, 2, 29).unwrap_or_else(|| unreachable!());
    r.feed(identify(
        "p",
        &[
            ("email", Value::str("p@example.com")),
            ("since", Value::Date(born)),
        ],
        t0 - 30 * DAY,
    ))
    .until(t0 + 30 * DAY);
    assert_eq!(
        r.sent(),
        vec![(ts("2026-03-01T00:00:00Z"), "welcome".into())]
    );

    // `profile.since < now` (a trial that ends): re-checked on the whole
    // hour, so entered at the first whole UTC hour after it.
    let b = time_segment_bundle(since_code(None, Op::Lt, 0));
    let mut r = Run::new(&b);
    r.feed(identify(
        "p",
        &[
            ("email", Value::str("p@example.com")),
            ("since", Value::Timestamp(t0 + 2 * DAY)),
        ],
        t0,
    ))
    .until(t0 + 5 * DAY);
    assert_eq!(
        r.sent(),
        vec![(ts("2026-03-04T10:00:00Z"), "welcome".into())]
    );
    // ...and the timer keeps at most one instant per profile.
    assert!(r.state.timers.len() <= 1, "{}", r.state.timers.len());
}

#[test]
fn created_at_defaults_to_when_the_profile_was_first_seen() {
    let b = bundle(vec![], templates(), Policies::default());
    let t0 = ts("2026-03-02T09:00:00Z");
    let created = |r: &Run, id: &str| {
        r.state
            .profiles
            .get(id)
            .and_then(|p| p.traits.get("created_at"))
            .cloned()
    };
    let mut r = Run::new(&b);
    // First seen through a track (the event's own time, though the clock
    // is already later); later inputs leave it alone.
    r.until(t0 + HOUR)
        .feed(track("a", "Product Viewed", &[], t0))
        .feed(identify(
            "a",
            &[("first_name", Value::str("Ana"))],
            t0 + DAY,
        ))
        .feed(track("a", "Product Viewed", &[], t0 + 2 * DAY));
    assert_eq!(created(&r, "a"), Some(Value::Timestamp(t0)));
    // An identify that says when wins, on the first call or later.
    let said = Value::Timestamp(t0 - 90 * DAY);
    r.feed(identify("b", &[("created_at", said.clone())], t0 + 3 * DAY));
    assert_eq!(created(&r, "b"), Some(said.clone()));
    r.feed(identify("a", &[("created_at", said.clone())], t0 + 3 * DAY));
    assert_eq!(created(&r, "a"), Some(said));
    // A delivery report does not count as seeing the customer.
    r.feed(Input::Delivery {
        profile: "c".into(),
        key: "k".into(),
        channel: Channel::Email,
        outcome: DeliveryOutcome::Delivered,
        at: t0 + 4 * DAY,
    });
    assert_eq!(created(&r, "c"), None);
    r.feed(identify("c", &[], t0 + 5 * DAY));
    assert_eq!(created(&r, "c"), Some(Value::Timestamp(t0 + 5 * DAY)));
}

/// An order with `n` products, the fields a shop sends for each.
fn big_order(id: &str, n: usize) -> Vec<(&'static str, Value)> {
    let product = |i: usize| {
        Value::Record(rec(&[
            ("name", Value::str(format!("Trail shoe model {i}"))),
            ("category", Value::str("Footwear")),
            ("price", usd(120)),
            ("url", Value::str(format!("https://shop.example/p/{i}"))),
            (
                "image_url",
                Value::str(format!("https://cdn.shop.example/p/{i}.jpg")),
            ),
        ]))
    };
    vec![
        ("order_id", Value::str(id)),
        ("products", Value::List((0..n).map(product).collect())),
    ]
}

/// `wait for "Order Delivered" as d within 7d { wait 1h; send 0; } timeout
/// { exit }; wait 1d` — the delivery is held across the hour, then cleared
/// (as the lowering does) when its block ends.
fn holds_its_delivery() -> Flow {
    let mut b = CodeBuilder::new();
    b.local();
    let d = b.local();
    let within = b.constant(Value::Duration(7 * 86_400)).unwrap_or(0);
    let hour = b.constant(Value::Duration(3_600)).unwrap_or(0);
    let day = b.constant(Value::Duration(86_400)).unwrap_or(0);
    let none = b.constant(Value::None).unwrap_or(0);
    let e = b.name("Order Delivered").unwrap_or(0);
    let timeout = b.label();
    b.emit(Op::Const(within));
    b.emit_to(
        Op::WaitFor {
            event: e,
            filter: None,
            bind: Some(d),
            timeout: 0,
        },
        timeout,
    );
    b.emit(Op::Const(hour));
    b.emit(Op::Wait);
    b.emit(Op::Send {
        template: 0,
        argc: 0,
    });
    b.emit(Op::Const(none));
    b.emit(Op::StoreLocal(d));
    b.emit(Op::Const(day));
    b.emit(Op::Wait);
    let _ = b.place(timeout);
    b.emit(Op::Exit);
    let mut s = settings();
    s.reentry = Reentry::Always;
    s.exit_when = vec![EventMatch {
        event: "Order Refunded".into(),
        filter: Some(same("order_id", 2)),
    }];
    let mut f = Flow {
        name: "care".into(),
        version: [0; 32],
        trigger: on("Order Completed"),
        settings: s,
        splits: vec![],
        code: b.finish().unwrap_or_default(),
    };
    f.version = f.compute_version();
    f
}

#[test]
fn bound_events_are_kept_once_per_profile_and_freed_with_the_last_journey() {
    let mut receipt = settings();
    receipt.reentry = Reentry::Always;
    let b = bundle(
        vec![
            holds_its_delivery(),
            flow(
                "receipt",
                on("Order Completed"),
                receipt,
                &[S::Wait(DAY), S::Send(1)],
            ),
        ],
        templates(),
        Policies::default(),
    );
    let t0 = ts("2026-03-02T12:00:00Z");
    let mut r = Run::new(&b);
    r.feed(profile("p", t0))
        .feed(track("p", "Order Completed", &big_order("o1", 10), t0))
        .feed(profile("q", t0))
        .feed(track("q", "Order Completed", &big_order("o2", 1), t0));
    let sizes = |r: &Run, id: &str| -> Vec<usize> {
        let p = r.state.profiles.get(id);
        p.iter()
            .flat_map(|p| &p.journeys)
            .map(|j| j.encoded_len().unwrap_or(usize::MAX))
            .collect()
    };
    let store = |r: &Run, id: &str| -> Vec<(u64, u32)> {
        let p = r.state.profiles.get(id);
        p.iter()
            .flat_map(|p| &p.bound.entries)
            .map(|e| (e.id, e.refs))
            .collect()
    };
    // Both journeys refer to one stored order; their size does not depend
    // on how many products it has.
    assert_eq!(store(&r, "p"), vec![(0, 2)]);
    assert_eq!(sizes(&r, "p"), sizes(&r, "q"));
    // The soundness check finds a miscounted entry and a held local.
    let mut broken = r.state.clone();
    if let Some(p) = broken.profiles.get_mut("p") {
        if let Some(e) = p.bound.entries.first_mut() {
            e.refs += 1;
        }
        if let Some(slot) = p.journeys.first_mut().and_then(|j| {
            j.bound
                .first()
                .map(|b| b.0)
                .and_then(|l| j.vm.locals.get_mut(usize::from(l)))
        }) {
            *slot = Value::Int(1);
        }
    }
    let problems = broken.bound_store_problems();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        sizes(&r, "p").iter().all(|n| *n < 100),
        "{:?}",
        sizes(&r, "p")
    );
    super::props::check_bound_store(&r.state);

    // The delivery is bound and held across the hour, then cleared.
    r.feed(track(
        "p",
        "Order Delivered",
        &[("order_id", Value::str("o1"))],
        t0 + HOUR,
    ));
    assert_eq!(store(&r, "p"), vec![(0, 2), (1, 1)]);
    super::props::check_bound_store(&r.state);
    r.until(t0 + 3 * HOUR);
    assert_eq!(store(&r, "p"), vec![(0, 2)]);
    assert_eq!(r.sent(), vec![(t0 + 2 * HOUR, "welcome".to_string())]);

    // Through the encoding, then an `exit when` whose filter reads the
    // stored order: another order's refund leaves it alone.
    let bytes = r.state.encode().unwrap_or_default();
    r.state = EngineState::decode(&bytes).unwrap_or_default();
    r.feed(track(
        "p",
        "Order Refunded",
        &[("order_id", Value::str("o9"))],
        t0 + 4 * HOUR,
    ));
    assert_eq!(store(&r, "p"), vec![(0, 2)]);
    super::props::check_bound_store(&r.state);
    r.feed(track(
        "p",
        "Order Refunded",
        &[("order_id", Value::str("o1"))],
        t0 + 5 * HOUR,
    ));
    assert!(r.has(&Decision::Exited {
        by: ExitReason::ExitWhen {
            event: "Order Refunded".into()
        }
    }));
    assert_eq!(store(&r, "p"), vec![(0, 1)]);
    super::props::check_bound_store(&r.state);

    // The receipts end, `q`'s wait for a delivery times out: nothing is
    // left.
    r.until(t0 + 8 * DAY);
    let p = r.state.profiles.get("p");
    assert_eq!(p.map(|p| p.journeys.len()), Some(0));
    assert_eq!(p.map(|p| p.bound.is_empty()), Some(true));
    let q = r.state.profiles.get("q");
    assert_eq!(q.map(|p| p.journeys.len()), Some(0));
    assert_eq!(q.map(|p| p.bound.is_empty()), Some(true));
    super::props::check_bound_store(&r.state);
}

/// A send held for quiet hours keeps its arguments in the profile's store
/// too (here the trigger event, shared with the journey's local), and gets
/// them back when it is retried.
#[test]
fn a_held_send_keeps_its_arguments_in_the_profile() {
    let mut b = CodeBuilder::new();
    b.local();
    b.emit(Op::LoadLocal(0));
    b.emit(Op::Send {
        template: 0,
        argc: 1,
    });
    b.emit(Op::Exit);
    let mut f = Flow {
        name: "receipt".into(),
        version: [0; 32],
        trigger: on("Order Completed"),
        settings: settings(),
        splits: vec![],
        code: b.finish().unwrap_or_default(),
    };
    f.version = f.compute_version();
    let mut h = CodeBuilder::new();
    h.reserve_locals(1);
    let id = h.name("order_id").unwrap_or(0);
    h.emit(Op::LoadLocal(0));
    h.emit(Op::GetField {
        name: id,
        optional: false,
    });
    h.emit(Op::Return);
    let hole = h.finish().unwrap_or_default();
    let mut t = sms("order_sms", "Order ");
    t.params = 1;
    t.locals = 1;
    t.parts = vec![(
        PartKind::Body,
        Text(vec![
            TextNode::Lit("Order ".into()),
            TextNode::Hole {
                expr: hole,
                filters: vec![],
            },
        ]),
    )];
    let b = bundle(vec![f], vec![t], quiet("America/New_York"));
    // Sat 2026-03-07 22:00 EST: held until 09:00 EDT (13:00Z).
    let at = ts("2026-03-08T03:00:00Z");
    let mut r = Run::new(&b);
    r.feed(profile("p", at))
        .feed(track("p", "Order Completed", &big_order("o1", 10), at));
    let p = r.state.profiles.get("p");
    let j = p.and_then(|p| p.journeys.first());
    assert_eq!(j.map(|j| j.bound_args.len()), Some(1));
    let size = j.map(|j| j.encoded_len().unwrap_or(usize::MAX));
    assert!(size < Some(120), "{size:?}");
    let store: Vec<u32> = p
        .iter()
        .flat_map(|p| &p.bound.entries)
        .map(|e| e.refs)
        .collect();
    assert_eq!(store, vec![2]);
    super::props::check_bound_store(&r.state);

    let bytes = r.state.encode().unwrap_or_default();
    r.state = EngineState::decode(&bytes).unwrap_or_default();
    r.until(at + DAY);
    assert_eq!(
        r.sent(),
        vec![(ts("2026-03-08T13:00:00Z"), "order_sms".into())]
    );
    let excerpt = r.out.trace.iter().find_map(|x| match &x.decision {
        Decision::Sent { excerpt, .. } => Some(excerpt.clone()),
        _ => None,
    });
    assert!(
        excerpt.as_deref().is_some_and(|e| e.contains("Order o1")),
        "the held send rendered with its order"
    );
    let p = r.state.profiles.get("p");
    assert_eq!(p.map(|p| p.bound.is_empty()), Some(true));
}
