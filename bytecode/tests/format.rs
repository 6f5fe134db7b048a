//! Bundle encoding, decoding and verification.

use nudge_bytecode::assemble::CodeBuilder;
use nudge_bytecode::format::{
    Bundle, BundleError, Category, EventKeep, EventMatch, Flow, FlowSettings, KeepField, MAGIC,
    Policies, Reentry, Trigger,
};
use nudge_bytecode::op::{Channel, Op, SplitArm, SplitDef};
use nudge_bytecode::template::{Filter, PartKind, Template, Text, TextNode};
use nudge_bytecode::value::{Record, Value};
use nudge_bytecode::verify::verify_bundle;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn hole(field: &str) -> Result<nudge_bytecode::Code, Box<dyn std::error::Error>> {
    let mut b = CodeBuilder::new();
    b.reserve_locals(1);
    b.emit(Op::LoadLocal(0));
    let n = b.name(field)?;
    b.emit(Op::GetField {
        name: n,
        optional: false,
    });
    b.emit(Op::Return);
    Ok(b.finish()?)
}

/// wait 1h; send email reminder(checkout); split { 50% a { exit } 50% b { wait for ... } }
fn sample() -> Result<Bundle, Box<dyn std::error::Error>> {
    let mut b = CodeBuilder::new();
    let checkout = b.local();
    let hour = b.constant(Value::Duration(3600))?;
    b.emit(Op::Const(hour));
    b.emit(Op::Wait);
    b.emit(Op::LoadLocal(checkout));
    b.emit(Op::Send {
        template: 0,
        argc: 1,
    });
    b.emit(Op::Split(0));
    let arm_a = b.pc() as u32;
    b.emit(Op::Exit);
    let arm_b = b.pc() as u32;
    let day = b.constant(Value::Duration(86_400))?;
    let order = b.name("Order Completed")?;
    b.emit(Op::Const(day));
    let timeout = b.label();
    b.emit_to(
        Op::WaitFor {
            event: order,
            filter: None,
            bind: None,
            timeout: 0,
        },
        timeout,
    );
    b.emit(Op::Exit);
    b.place(timeout)?;
    b.emit(Op::Exit);
    let code = b.finish()?;
    let mut flow = Flow {
        name: "abandoned_checkout".into(),
        version: [0; 32],
        trigger: Trigger::Event {
            event: "Checkout Started".into(),
            filter: None,
            keep: EventKeep::Fields(vec![KeepField::whole("value")]),
        },
        settings: FlowSettings {
            category: Category::Marketing,
            priority: 0,
            reentry: Reentry::AfterExit,
            exit_when: vec![EventMatch {
                event: "Order Completed".into(),
                filter: None,
            }],
            goal: None,
            holdout_bp: 0,
        },
        splits: vec![SplitDef {
            name: "test".into(),
            arms: vec![
                SplitArm {
                    name: "a".into(),
                    weight_bp: 5000,
                    target: arm_a,
                },
                SplitArm {
                    name: "b".into(),
                    weight_bp: 5000,
                    target: arm_b,
                },
            ],
        }],
        code,
    };
    flow.version = flow.compute_version();
    let template = Template {
        name: "reminder".into(),
        channel: Channel::Email,
        params: 1,
        locals: 1,
        parts: vec![(
            PartKind::Subject,
            Text(vec![
                TextNode::Lit("Total ".into()),
                TextNode::Hole {
                    expr: hole("value")?,
                    filters: vec![Filter::Money],
                },
            ]),
        )],
    };
    Ok(Bundle {
        shop: Record::from_fields([("name".to_string(), Value::str("Shop"))]),
        policies: Policies::default(),
        flows: vec![flow],
        templates: vec![template],
        segments: vec![],
        aggregates: vec![],
        schema: Default::default(),
    })
}

#[test]
fn round_trips_and_is_deterministic() -> Result<(), Box<dyn std::error::Error>> {
    let bundle = sample()?;
    let a = bundle.encode()?;
    let b = sample()?.encode()?;
    assert_eq!(a, b, "same bundle, same bytes");
    assert_eq!(a.get(..8), Some(&MAGIC[..]));
    assert_eq!(Bundle::decode(&a)?, bundle);
    Ok(())
}

#[test]
fn rejects_truncated_corrupt_and_foreign_bytes() -> Result<(), Box<dyn std::error::Error>> {
    let bytes = sample()?.encode()?;
    assert_eq!(
        Bundle::decode(&bytes[..10]),
        Err(BundleError::Truncated { len: 10 })
    );
    assert_eq!(
        Bundle::decode(&bytes[..bytes.len() - 1]),
        Err(BundleError::HashMismatch)
    );
    let mut flipped = bytes.clone();
    if let Some(last) = flipped.last_mut() {
        *last ^= 1;
    }
    assert_eq!(Bundle::decode(&flipped), Err(BundleError::HashMismatch));
    assert_eq!(
        Bundle::decode(b"PK\x03\x04 this is a zip file, not a bundle....."),
        Err(BundleError::BadMagic)
    );
    let mut future = bytes.clone();
    if let Some(v) = future.get_mut(8) {
        *v = 9;
    }
    assert!(matches!(
        Bundle::decode(&future),
        Err(BundleError::UnsupportedVersion { found: 9, .. })
    ));
    let msg = Bundle::decode(&bytes[..bytes.len() - 1])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("corrupt or truncated"), "{msg}");
    Ok(())
}

fn verify_message(bundle: &Bundle) -> String {
    verify_bundle(bundle)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

fn reversion(bundle: &mut Bundle) {
    for f in &mut bundle.flows {
        f.version = f.compute_version();
    }
}

#[test]
fn verifier_names_what_is_wrong() -> Result<(), Box<dyn std::error::Error>> {
    let mut bad_jump = sample()?;
    bad_jump.flows[0].code.ops.push(Op::Jump(999));
    reversion(&mut bad_jump);
    assert!(
        verify_message(&bad_jump).contains("jump target 999 is out of range"),
        "{}",
        verify_message(&bad_jump)
    );

    let mut bad_local = sample()?;
    bad_local.flows[0].code.ops[2] = Op::LoadLocal(7);
    reversion(&mut bad_local);
    assert!(
        verify_message(&bad_local).contains("local 7 does not exist"),
        "{}",
        verify_message(&bad_local)
    );

    let mut bad_template = sample()?;
    bad_template.flows[0].code.ops[3] = Op::Send {
        template: 4,
        argc: 1,
    };
    reversion(&mut bad_template);
    assert!(verify_message(&bad_template).contains("template 4 does not exist"));

    let mut wrong_arity = sample()?;
    wrong_arity.flows[0].code.ops[3] = Op::Send {
        template: 0,
        argc: 0,
    };
    reversion(&mut wrong_arity);
    assert!(verify_message(&wrong_arity).contains("takes 1 arguments, 0 given"));

    let mut unbalanced = sample()?;
    unbalanced.flows[0].code.ops[2] = Op::Pop;
    reversion(&mut unbalanced);
    assert!(
        verify_message(&unbalanced).contains("needs 1 values, the stack holds 0"),
        "{}",
        verify_message(&unbalanced)
    );

    let mut leftover = sample()?;
    leftover.flows[0].code.ops.insert(0, Op::LoadNow);
    reversion(&mut leftover);
    // Inserting shifts targets; whichever problem is found first, it is reported.
    assert!(!verify_message(&leftover).is_empty());

    let mut falls_off = sample()?;
    falls_off.flows[0].code.ops.pop();
    falls_off.flows[0].code.ops.push(Op::LoadNow);
    falls_off.flows[0].code.ops.push(Op::Pop);
    reversion(&mut falls_off);
    assert!(
        verify_message(&falls_off).contains("runs past the last instruction"),
        "{}",
        verify_message(&falls_off)
    );

    let mut stale_version = sample()?;
    stale_version.flows[0].settings.priority = 3;
    assert!(verify_message(&stale_version).contains("version hash"));

    let mut weights = sample()?;
    weights.flows[0].splits[0].arms[0].weight_bp = 4000;
    reversion(&mut weights);
    assert!(verify_message(&weights).contains("weights add to 9000 bp"));

    let mut effect_in_hole = sample()?;
    if let Some((_, Text(nodes))) = effect_in_hole.templates[0].parts.first_mut()
        && let Some(TextNode::Hole { expr, .. }) = nodes.get_mut(1)
    {
        expr.ops.insert(0, Op::Exit);
    }
    assert!(verify_message(&effect_in_hole).contains("inside an expression"));
    Ok(())
}

/// Re-frames a body with a valid header so decoding reaches the body
/// decoder and the verifier.
fn with_header(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&nudge_bytecode::format::FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&Sha256::digest(body));
    out.extend_from_slice(body);
    out
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Bundle::decode(&bytes);
        let _ = Bundle::decode(&with_header(&bytes));
    }

    #[test]
    fn mutated_bundles_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
                                   cut in any::<usize>()) {
        let Ok(bundle) = sample() else { return Ok(()) };
        let Ok(bytes) = bundle.encode() else { return Ok(()) };
        let mut body = bytes[42..].to_vec();
        for (at, byte) in edits {
            let len = body.len();
            if let Some(b) = body.get_mut(at % len.max(1)) {
                *b = byte;
            }
        }
        let _ = Bundle::decode(&with_header(&body));
        body.truncate(cut % (body.len() + 1));
        let _ = Bundle::decode(&with_header(&body));
    }
}
