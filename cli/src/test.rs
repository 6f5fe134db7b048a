//! `nudge test [PROJECT]`: runs the `test "name" { ... }` blocks of a
//! project on the simulator (see `docs/testing.md`). Each test gets a fresh
//! engine and a virtual clock; `profile`/`event` values are turned into
//! Segment-shaped JSON and read by the simulator's own ingestion, so a test
//! feeds the engine exactly what a real log would.
//!
//! The project must check clean first (`compile` runs `nudge check`), and
//! the checker checks test blocks (`nudge_compiler::types::test_block`):
//! statement order, literal values of the right types, known templates,
//! flows, reasons and variants. So this file only runs tests; what a
//! statement means (its instant, its wait, the reason names) comes from
//! the checker's module, and a statement the checker would reject is
//! never run. What can still fail here is the run itself: an ingestion
//! problem, or an expectation the trace does not meet.
//!
//! Exit code: 0 when every test passes, 1 on a failure (or a project that
//! does not build), 2 on usage or I/O errors.

use crate::build::compile;
use crate::project;
use clap::Args;
use nudge_bytecode::Bundle;
use nudge_compiler::ast::{Expectation, Expr, ExprKind, Item, Lit, TestStmtKind, UnaryOp};
use nudge_compiler::db::SourceContents;
use nudge_compiler::parser::parse_file;
use nudge_compiler::span::{FileId, Span};
use nudge_compiler::types::test_block::{DEFAULT_START_MS, instant_ms, show_instant, wait_secs};
use nudge_runtime::engine::Engine;
use nudge_runtime::engine::state::EngineState;
use nudge_runtime::engine::trace::{Decision, Deferral, Suppression, TraceRecord};
use nudge_runtime::sim::ingest::Reader;
use nudge_runtime::sim::report::{decision_text, deferral_text, suppression_text};
use serde_json::{Map, Value as Json, json};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Args)]
pub struct TestArgs {
    /// The project folder (holding nudge.toml) or a single .flow file.
    #[arg(default_value = ".")]
    project: PathBuf,
}

pub fn run(args: &TestArgs) -> u8 {
    let loaded = match project::load(&args.project) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let bundle = match compile(&args.project) {
        Ok(b) => b,
        Err(e) => return e.report(),
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    // Written at once, so a closed pipe (`| head`) is not a panic.
    let mut out = String::new();
    for (i, file) in loaded.files.iter().enumerate() {
        let SourceContents::Text(text) = &file.contents else {
            continue;
        };
        let parsed = parse_file(text, FileId(u32::try_from(i).unwrap_or(u32::MAX)));
        for item in &parsed.file.items {
            let Item::Test(t) = item else { continue };
            match run_test(&bundle, &t.body) {
                Ok(()) => {
                    passed += 1;
                    let _ = writeln!(out, "test {} ... ok", t.name.value);
                }
                Err((at, why)) => {
                    failed += 1;
                    let line = text
                        .get(..at.start as usize)
                        .map_or(0, |b| b.matches('\n').count())
                        + 1;
                    let _ = writeln!(out, "test {} ... FAILED", t.name.value);
                    let _ = writeln!(out, "  --> {}:{line}", file.path);
                    for l in why.lines() {
                        let _ = writeln!(out, "  {l}");
                    }
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "\ntest result: {}. {passed} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush());
    u8::from(failed > 0)
}

/// Runs one test's statements in order; the first failing statement ends
/// it, and the error names where it is.
fn run_test(bundle: &Bundle, body: &[nudge_compiler::ast::TestStmt]) -> Result<(), (Span, String)> {
    let engine = Engine::new(bundle);
    // As `nudge simulate` reads (members no flow reads are not kept).
    let reader = Reader::for_bundle(bundle);
    let mut state = EngineState::default();
    let mut now = DEFAULT_START_MS;
    let mut profile: Option<String> = None;
    let mut trace: Vec<TraceRecord> = Vec::new();
    let feed = |state: &mut EngineState, line: Json, trace: &mut Vec<TraceRecord>| {
        let (inputs, problems) = reader.read_log(&line.to_string());
        if let Some(p) = problems.first() {
            return Err(format!(
                "the simulator could not read this input: {}",
                p.message
            ));
        }
        for (_, input) in inputs {
            trace.extend(engine.handle(state, input).trace);
        }
        Ok(())
    };
    for stmt in body {
        let mut step = || -> Result<(), String> {
            match &stmt.kind {
                TestStmtKind::Start { date, time } => {
                    now = instant_ms(date, time.as_ref()).ok_or_else(unchecked)?;
                }
                TestStmtKind::Profile { id, traits } => {
                    let traits = match traits {
                        Some(e) => json_of(e)?,
                        None => Json::Object(Map::new()),
                    };
                    profile = Some(id.value.clone());
                    feed(
                        &mut state,
                        json!({"type": "identify", "userId": id.value, "traits": traits, "timestamp": now}),
                        &mut trace,
                    )?;
                }
                TestStmtKind::Event { name, properties } => {
                    let p = profile.as_ref().ok_or_else(unchecked)?;
                    let props = match properties {
                        Some(e) => json_of(e)?,
                        None => Json::Object(Map::new()),
                    };
                    feed(
                        &mut state,
                        json!({"type": "track", "userId": p, "event": name.value, "properties": props, "timestamp": now}),
                        &mut trace,
                    )?;
                }
                TestStmtKind::Wait { duration } => {
                    let secs = wait_secs(duration).ok_or_else(unchecked)?;
                    now = now.saturating_add(secs.saturating_mul(1000));
                    // Timer by timer, so each fires at its own due time.
                    while let Some(next) = Engine::next_due(&state).filter(|t| *t <= now) {
                        trace.extend(engine.advance(&mut state, next).trace);
                    }
                    trace.extend(engine.advance(&mut state, now).trace);
                }
                TestStmtKind::Expect { negated, what } => {
                    let p = profile.as_ref().ok_or_else(unchecked)?;
                    let mine: Vec<&TraceRecord> =
                        trace.iter().filter(|r| &r.profile == p).collect();
                    expect(&mine, *negated, what)?;
                }
                TestStmtKind::Error => return Err(unchecked()),
            }
            Ok(())
        };
        step().map_err(|why| (stmt.span, why))?;
    }
    Ok(())
}

/// The failure of a statement `nudge check` rejects: unreachable, since
/// the project is checked before any test runs; kept so bad input is an
/// error, never a panic.
fn unchecked() -> String {
    "this statement does not pass `nudge check`; run it for the details".into()
}

/// Which trace records a failure message shows.
type Related<'t> = Box<dyn Fn(&TraceRecord) -> bool + 't>;

fn expect(trace: &[&TraceRecord], negated: bool, what: &Expectation) -> Result<(), String> {
    let (found, subject, about): (bool, String, Related<'_>) = match what {
        Expectation::Sent {
            channel,
            template,
            variant,
            at,
        } => {
            let at = match at {
                Some((d, t)) => Some(instant_ms(d, t.as_ref()).ok_or_else(unchecked)?),
                None => None,
            };
            let found = trace.iter().any(|r| match &r.decision {
                Decision::Sent {
                    template: t,
                    channel: c,
                    ..
                } => {
                    *t == template.name
                        && channel_is(c, &channel.name)
                        && at.is_none_or(|a| a == r.at)
                        && variant.as_ref().is_none_or(|v| {
                            trace.iter().any(|s| {
                                s.journey == r.journey
                                    && matches!(&s.decision, Decision::SplitAssigned { variant: x, .. } if *x == v.name)
                            })
                        })
                }
                _ => false,
            });
            let mut s = format!("sent {} {}", channel.name, template.name);
            if let Some(v) = variant {
                s += &format!(" variant {}", v.name);
            }
            if let Some(a) = at {
                s += &format!(" at {}", show_instant(a));
            }
            let t = template.name.clone();
            (found, s, Box::new(move |r| touches_template(r, &t, trace)))
        }
        Expectation::Suppressed {
            channel,
            template,
            because,
            says,
        } => {
            let found = trace.iter().any(|r| match &r.decision {
                Decision::Suppressed {
                    template: t,
                    channel: c,
                    reason,
                } => {
                    *t == template.name
                        && channel_is(c, &channel.name)
                        && because
                            .as_ref()
                            .is_none_or(|b| suppression_name(reason) == b.name)
                        && says
                            .as_ref()
                            .is_none_or(|t| suppression_text(reason).contains(&t.value))
                }
                _ => false,
            });
            let mut s = format!("suppressed {} {}", channel.name, template.name);
            if let Some(b) = because {
                s += &format!(" because {}", b.name);
            }
            if let Some(t) = says {
                s += &format!(" {:?}", t.value);
            }
            let t = template.name.clone();
            (found, s, Box::new(move |r| touches_template(r, &t, trace)))
        }
        Expectation::Deferred {
            channel,
            template,
            because,
            says,
            until,
        } => {
            let until = match until {
                Some((d, t)) => Some(instant_ms(d, t.as_ref()).ok_or_else(unchecked)?),
                None => None,
            };
            let found = trace.iter().any(|r| match &r.decision {
                Decision::Deferred {
                    template: t,
                    channel: c,
                    until: u,
                    reason,
                } => {
                    *t == template.name
                        && channel_is(c, &channel.name)
                        && until.is_none_or(|x| x == *u)
                        && because
                            .as_ref()
                            .is_none_or(|b| deferral_name(reason) == b.name)
                        && says
                            .as_ref()
                            .is_none_or(|t| deferral_text(reason).contains(&t.value))
                }
                _ => false,
            });
            let mut s = format!("deferred {} {}", channel.name, template.name);
            if let Some(b) = because {
                s += &format!(" because {}", b.name);
            }
            if let Some(t) = says {
                s += &format!(" {:?}", t.value);
            }
            if let Some(u) = until {
                s += &format!(" until {}", show_instant(u));
            }
            let t = template.name.clone();
            (found, s, Box::new(move |r| touches_template(r, &t, trace)))
        }
        Expectation::Entered { flow } => {
            let f = flow.name.clone();
            let found = trace.iter().any(|r| {
                r.flow.as_deref() == Some(&f) && matches!(r.decision, Decision::Entered { .. })
            });
            (
                found,
                format!("entered {f}"),
                Box::new(move |r| r.flow.as_deref() == Some(&f)),
            )
        }
        Expectation::Exited { flow } => {
            let f = flow.name.clone();
            let found = trace.iter().any(|r| {
                r.flow.as_deref() == Some(&f) && matches!(r.decision, Decision::Exited { .. })
            });
            (
                found,
                format!("exited {f}"),
                Box::new(move |r| r.flow.as_deref() == Some(&f)),
            )
        }
    };
    if found != negated {
        return Ok(());
    }
    let mut msg = format!(
        "expected {}{subject}, but {}",
        if negated { "not " } else { "" },
        if negated {
            "it happened"
        } else {
            "it did not happen"
        }
    );
    let related: Vec<String> = trace
        .iter()
        .filter(|r| about(r))
        .map(|r| format!("  {}  {}", show_instant(r.at), show_decision(r)))
        .collect();
    if related.is_empty() {
        msg += "\nthe trace has nothing about it for this profile";
    } else {
        msg += "\nthe trace for it shows:\n";
        msg += &related.join("\n");
    }
    Err(msg)
}

/// A record naming the template, or a split in a journey that sent it.
fn touches_template(r: &TraceRecord, template: &str, trace: &[&TraceRecord]) -> bool {
    let names = |d: &Decision| match d {
        Decision::Sent { template: t, .. }
        | Decision::Suppressed { template: t, .. }
        | Decision::Deferred { template: t, .. }
        | Decision::RenderFailed { template: t, .. } => t == template,
        _ => false,
    };
    names(&r.decision)
        || (matches!(r.decision, Decision::SplitAssigned { .. })
            && trace
                .iter()
                .any(|s| s.journey == r.journey && names(&s.decision)))
}

/// A trace record in the words of an expectation that would match it, so
/// a failing test shows what to write; other records as `nudge simulate`
/// prints them.
fn show_decision(r: &TraceRecord) -> String {
    let flow = r.flow.as_deref().unwrap_or("-");
    let what = match &r.decision {
        Decision::Sent {
            template, channel, ..
        } => format!("sent {} {template}", channel_name(channel)),
        Decision::Suppressed {
            template,
            channel,
            reason,
        } => format!(
            "suppressed {} {template} because {} {:?}",
            channel_name(channel),
            suppression_name(reason),
            match reason {
                Suppression::FrequencyCap { cap } => cap.to_string(),
                other => suppression_text(other),
            }
        ),
        Decision::Deferred {
            template,
            channel,
            until,
            reason,
        } => format!(
            "deferred {} {template} because {} {:?} until {}",
            channel_name(channel),
            deferral_name(reason),
            match reason {
                Deferral::FrequencyCap { cap } => cap.to_string(),
                other => deferral_text(other),
            },
            show_instant(*until)
        ),
        Decision::SplitAssigned { split, variant } => format!("split {split} → {variant}"),
        other => decision_text(other),
    };
    format!("[{flow}] {what}")
}

fn channel_name(c: &nudge_bytecode::op::Channel) -> String {
    format!("{c:?}").to_lowercase()
}

fn channel_is(c: &nudge_bytecode::op::Channel, name: &str) -> bool {
    channel_name(c) == name
}

fn suppression_name(s: &Suppression) -> &'static str {
    match s {
        Suppression::Holdout => "holdout",
        Suppression::FrequencyCap { .. } => "frequency_cap",
        Suppression::NoAddress => "no_address",
        Suppression::NoConsent => "no_consent",
        Suppression::Unsubscribed => "unsubscribed",
        Suppression::HardBounce => "hard_bounce",
        Suppression::Complaint => "complaint",
    }
}

fn deferral_name(d: &Deferral) -> &'static str {
    match d {
        Deferral::QuietHours => "quiet_hours",
        Deferral::FrequencyCap { .. } => "frequency_cap",
    }
}

fn num<T: ToString>(d: &T) -> Json {
    d.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Json::Null, Json::Number)
}

/// A literal value as the JSON a Segment call would carry (the checker
/// has made sure it is one).
fn json_of(e: &Expr) -> Result<Json, String> {
    Ok(match &e.kind {
        ExprKind::Lit(l) => lit_json(l, false),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => match &operand.kind {
            ExprKind::Lit(l) => lit_json(l, true),
            ExprKind::Paren(inner) => match &inner.kind {
                ExprKind::Lit(l) => lit_json(l, true),
                _ => return Err(unchecked()),
            },
            _ => return Err(unchecked()),
        },
        ExprKind::Str(text) => Json::String(text.as_plain().ok_or_else(unchecked)?),
        ExprKind::List(items) => Json::Array(items.iter().map(json_of).collect::<Result<_, _>>()?),
        ExprKind::Record(fields) => {
            let mut m = Map::new();
            for f in fields {
                m.insert(f.name.value.clone(), json_of(&f.value)?);
            }
            Json::Object(m)
        }
        ExprKind::Paren(inner) => json_of(inner)?,
        _ => return Err(unchecked()),
    })
}

/// A literal as JSON; `negate` for `-` before a number.
fn lit_json(l: &Lit, negate: bool) -> Json {
    match l {
        Lit::Bool(b) => json!(b),
        Lit::Int(i) => json!(if negate { i.saturating_neg() } else { *i }),
        Lit::Decimal(d) | Lit::Percent(d) => num(&if negate { -*d } else { *d }),
        Lit::Money { amount, currency } => {
            let amount = if negate { -*amount } else { *amount };
            json!({"amount": num(&amount), "currency": currency})
        }
        Lit::Duration(s) => json!(if negate { s.saturating_neg() } else { *s }),
        Lit::Time { hour, minute } => json!(format!("{hour:02}:{minute:02}")),
        Lit::Date { year, month, day } => json!(format!("{year:04}-{month:02}-{day:02}")),
        Lit::None => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nudge_compiler::types::test_block::{DEFERRAL_REASONS, SUPPRESSION_REASONS};

    /// The reasons the checker accepts are exactly the ones the runner
    /// matches (a new runtime reason must be added to both).
    #[test]
    fn reason_names_match_the_checker() {
        let cap = || nudge_runtime::engine::trace::CapNote {
            channel: None,
            count: 1,
            per_secs: 86_400,
            counted: 1,
        };
        let suppressions = [
            Suppression::Holdout,
            Suppression::FrequencyCap { cap: cap() },
            Suppression::NoAddress,
            Suppression::NoConsent,
            Suppression::Unsubscribed,
            Suppression::HardBounce,
            Suppression::Complaint,
        ];
        let names: Vec<&str> = suppressions.iter().map(suppression_name).collect();
        assert_eq!(names, SUPPRESSION_REASONS);
        let deferrals = [Deferral::QuietHours, Deferral::FrequencyCap { cap: cap() }];
        let names: Vec<&str> = deferrals.iter().map(deferral_name).collect();
        assert_eq!(names, DEFERRAL_REASONS);
    }
}
