//! Property tests: random event streams over a small project (a cart flow
//! with `exit when`, a goal, a split, `wait for` and a local-time SMS; a
//! welcome series; a transactional receipt; caps, quiet hours, consent).
//!
//! (a) the outputs are identical across two runs, and across serializing
//!     and restoring the whole state between every two inputs;
//! (b) no journey sends after it exited;
//! (c) no profile exceeds a frequency cap with marketing sends;
//! (d) no SMS goes out without consent (or after STOP);
//! (e) the profile's bound-event store counts exactly the references its
//!     journeys hold (no leak, no dangling reference), so it is empty once
//!     every journey ended.

#![allow(clippy::panic, reason = "a failing test may panic")]

use super::state::EngineState;
use super::tests::*;
use super::trace::{Decision, OutEffect, Outputs};
use super::{Engine, Input};
use nudge_bytecode::Value;
use nudge_bytecode::format::*;
use nudge_bytecode::op::Channel;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn project(when_capped: WhenCapped) -> Bundle {
    let mut cart = settings();
    cart.priority = 5;
    cart.exit_when = vec![EventMatch {
        event: "Order Completed".into(),
        filter: Some(same("checkout_id", 1)),
    }];
    cart.goal = Some(Goal {
        event: EventMatch {
            event: "Order Completed".into(),
            filter: None,
        },
        within_secs: 5 * 86_400,
    });
    cart.holdout_bp = 1000;
    let mut receipt = settings();
    receipt.category = Category::Transactional;
    receipt.reentry = Reentry::Always;
    let mut policies = capped(when_capped);
    policies.caps.push(FrequencyCap {
        channel: Some(Channel::Sms),
        count: 1,
        per_secs: 86_400,
    });
    policies.quiet_hours = quiet("America/New_York").quiet_hours;
    policies.default_timezone = "America/New_York".into();
    bundle(
        vec![
            flow(
                "cart",
                on("Checkout Started"),
                cart,
                &[
                    S::Wait(HOUR),
                    S::Send(1),
                    S::Split(1, 3),
                    S::WaitFor("Product Viewed", DAY, 0, 2),
                    S::WaitLocal(20 * 3600 + 1800, None),
                    S::Send(2),
                ],
            ),
            flow(
                "receipt",
                on("Order Completed"),
                receipt,
                &[S::Send(1), S::Send(2)],
            ),
            flow(
                "welcome",
                on("Signed Up"),
                settings(),
                &[
                    S::Send(0),
                    S::Wait(DAY),
                    S::Send(3),
                    S::Wait(DAY / 2),
                    S::Send(2),
                ],
            ),
        ],
        templates(),
        policies,
    )
}

#[derive(Debug, Clone)]
enum Ev {
    Identify {
        consent: Option<bool>,
        email: bool,
        tz: Option<&'static str>,
    },
    Track(&'static str, u8),
    Stop,
    Start,
    Unsubscribe,
    Bounce,
    Tick,
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        (
            proptest::option::of(any::<bool>()),
            any::<bool>(),
            proptest::option::of(prop_oneof![
                Just("Europe/Berlin"),
                Just("Asia/Tokyo"),
                Just("Nowhere/Bogus")
            ])
        )
            .prop_map(|(consent, email, tz)| Ev::Identify { consent, email, tz }),
        (
            prop_oneof![
                Just("Checkout Started"),
                Just("Order Completed"),
                Just("Signed Up"),
                Just("Product Viewed")
            ],
            0u8..3
        )
            .prop_map(|(e, c)| Ev::Track(e, c)),
        Just(Ev::Stop),
        Just(Ev::Start),
        Just(Ev::Unsubscribe),
        Just(Ev::Bounce),
        Just(Ev::Tick),
    ]
}

fn stream() -> impl Strategy<Value = Vec<Input>> {
    proptest::collection::vec((0u8..3, 0i64..(30 * 60), ev()), 1..60).prop_map(|items| {
        let mut at = ts("2026-03-05T12:00:00Z");
        items
            .into_iter()
            .map(|(p, gap_min, e)| {
                // Gaps of up to 30 hours, so DST, quiet hours, caps and
                // waits all come into play.
                at += gap_min * MIN;
                let id = format!("p{p}");
                match e {
                    Ev::Identify { consent, email, tz } => {
                        let mut traits = vec![("phone", Value::str("+15555550100"))];
                        if email {
                            traits.push(("email", Value::str(format!("{id}@example.com"))));
                        }
                        if let Some(c) = consent {
                            traits.push(("sms_consent", Value::Bool(c)));
                        }
                        if let Some(tz) = tz {
                            traits.push(("timezone", Value::str(tz)));
                        }
                        Input::Identify {
                            profile: id.into(),
                            traits: rec(&traits),
                            at,
                            message_id: None,
                        }
                    }
                    Ev::Track(name, c) => track(
                        &id,
                        name,
                        &[
                            ("checkout_id", Value::str(format!("c{c}"))),
                            ("revenue", usd(10)),
                        ],
                        at,
                    ),
                    Ev::Stop => track(&id, "SMS Received", &[("body", Value::str("STOP"))], at),
                    Ev::Start => track(&id, "SMS Received", &[("body", Value::str("start"))], at),
                    Ev::Unsubscribe => track(&id, "Unsubscribed", &[], at),
                    Ev::Bounce => Input::Delivery {
                        profile: id.into(),
                        key: "k".into(),
                        channel: Channel::Email,
                        outcome: super::DeliveryOutcome::HardBounce,
                        at,
                    },
                    Ev::Tick => Input::Tick { at },
                }
            })
            .collect()
    })
}

/// (d): every marketing SMS went to a profile with consent and no STOP.
fn check_sms_consent(state: &EngineState, out: &Outputs) {
    for e in &out.effects {
        if let OutEffect::Send(m) = e
            && m.channel == Channel::Sms
            && m.marketing
        {
            let p = state.profiles.get(&m.profile);
            let consent = p.and_then(|p| p.traits.get("sms_consent")).cloned();
            let stopped = p.is_some_and(|p| p.suppressions.sms_stopped);
            assert_eq!(
                consent,
                Some(Value::Bool(true)),
                "(d) SMS without consent: {m:?}"
            );
            assert!(!stopped, "(d) SMS after STOP: {m:?}");
        }
    }
}

/// (e): the bound-event stores are sound (`EngineState::bound_store_problems`).
pub(super) fn check_bound_store(state: &EngineState) {
    let problems = state.bound_store_problems();
    assert!(problems.is_empty(), "(e) {problems:#?}");
}

/// Runs the stream; with `restore`, the state goes through its encoding
/// between every two inputs. Also checks (d) as it goes.
fn run(b: &Bundle, inputs: &[Input], restore: bool) -> Vec<Outputs> {
    let engine = Engine::new(b);
    let mut state = EngineState::default();
    let mut outs = Vec::new();
    let end = inputs.last().map(Input::at).unwrap_or(0) + 10 * DAY;
    for input in inputs.iter().cloned().chain([Input::Tick { at: end }]) {
        if restore {
            let bytes = state.encode().unwrap_or_default();
            state = EngineState::decode(&bytes).unwrap_or_default();
        }
        // Timers due before the input fire first (checked against the
        // state they fired in), then the input itself.
        let due = engine.advance(&mut state, input.at());
        check_sms_consent(&state, &due);
        check_bound_store(&state);
        outs.push(due);
        let out = engine.handle(&mut state, input);
        check_sms_consent(&state, &out);
        check_bound_store(&state);
        outs.push(out);
    }
    outs
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_streams_keep_the_engine_honest(inputs in stream(), defer in any::<bool>()) {
        let b = project(if defer { WhenCapped::Defer } else { WhenCapped::Skip });
        let first = run(&b, &inputs, false);
        // (a) determinism, and suspend/serialize/resume at every step.
        prop_assert_eq!(&first, &run(&b, &inputs, false));
        prop_assert_eq!(&first, &run(&b, &inputs, true));

        let trace: Vec<_> = first.iter().flat_map(|o| o.trace.iter()).collect();
        // (b) nothing is sent by a journey after its exit (journeys are
        // numbered per profile).
        let mut exited = BTreeSet::new();
        for r in &trace {
            match &r.decision {
                Decision::Exited { .. } => {
                    exited.insert((&r.profile, r.journey));
                }
                Decision::Sent { .. } => {
                    prop_assert!(!exited.contains(&(&r.profile, r.journey)), "(b) send after exit: {:?}", r);
                }
                _ => {}
            }
        }
        // (c) caps hold over marketing sends, per profile and channel.
        let mut sends: BTreeMap<(String, Channel), Vec<i64>> = BTreeMap::new();
        let mut at = 0;
        for o in &first {
            let times: Vec<i64> = o.trace.iter().filter(|r| matches!(r.decision, Decision::Sent { .. })).map(|r| r.at).collect();
            let mut times = times.into_iter();
            for e in &o.effects {
                if let OutEffect::Send(m) = e {
                    at = times.next().unwrap_or(at);
                    if m.marketing {
                        sends.entry((m.profile.clone(), m.channel)).or_default().push(at);
                    }
                }
            }
        }
        for ((profile, channel), times) in &sends {
            for cap in b.policies.caps.iter().filter(|c| c.channel == Some(*channel)) {
                let w = cap.per_secs * 1000;
                for t in times {
                    let n = times.iter().filter(|s| **s > t - w && **s <= *t).count();
                    prop_assert!(n <= cap.count as usize, "(c) {profile} {channel:?} {n} sends within {w}ms at {t}");
                }
            }
        }
    }
}

/// The random project is not vacuous: a plain story through it sends,
/// caps, defers for quiet hours and splits.
#[test]
fn the_property_project_exercises_every_policy() {
    let b = project(WhenCapped::Skip);
    let t0 = ts("2026-03-07T18:00:00Z");
    let mut inputs = vec![];
    for p in ["p0", "p1", "p2", "p3", "p4"] {
        inputs.push(Input::Identify {
            profile: p.into(),
            traits: rec(&[
                ("email", Value::str("x@example.com")),
                ("phone", Value::str("+1555")),
                ("sms_consent", Value::Bool(true)),
            ]),
            at: t0,
            message_id: None,
        });
        inputs.push(track(p, "Signed Up", &[], t0));
        inputs.push(track(
            p,
            "Checkout Started",
            &[("checkout_id", Value::str("c1"))],
            t0,
        ));
    }
    let outs = run(&b, &inputs, false);
    let ds: Vec<&Decision> = outs
        .iter()
        .flat_map(|o| o.trace.iter().map(|r| &r.decision))
        .collect();
    let count = |f: &dyn Fn(&Decision) -> bool| ds.iter().filter(|d| f(d)).count();
    assert!(count(&|d| matches!(d, Decision::Sent { .. })) > 5);
    assert!(
        count(&|d| matches!(
            d,
            Decision::Suppressed {
                reason: super::trace::Suppression::FrequencyCap { .. },
                ..
            }
        )) > 0
    );
    assert!(
        count(&|d| matches!(
            d,
            Decision::Deferred {
                reason: super::trace::Deferral::QuietHours,
                ..
            }
        )) > 0
    );
    assert!(count(&|d| matches!(d, Decision::SplitAssigned { .. })) > 0);
}
