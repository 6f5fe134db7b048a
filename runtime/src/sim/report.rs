//! What a simulation shows a person: for each profile, each decision in
//! order (entries, waits, sends with their subject or body excerpt,
//! suppressions and deferrals with reasons, exits); then a funnel per flow.

use super::Simulation;
use super::ingest::Severity;
use crate::engine::trace::{
    Decision, Deferral, ExitReason, NotEntered, ResumedBy, Suppression, TraceRecord,
};
use crate::vm::arith::{Arith, arith};
use crate::vm::text::{plain_text, timestamp_text};
use nudge_bytecode::{Bundle, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowFunnel {
    pub flow: String,
    pub entered: u64,
    pub holdout: u64,
    pub not_entered: u64,
    /// Sends per template.
    pub sent: BTreeMap<String, u64>,
    /// Suppressed sends per reason.
    pub suppressed: BTreeMap<String, u64>,
    pub deferred: u64,
    /// Exits per reason.
    pub exits: BTreeMap<String, u64>,
    pub converted: u64,
    pub converted_holdout: u64,
    /// Attributed revenue per currency (or "number"), as text.
    pub revenue: BTreeMap<String, String>,
}

pub fn suppression_text(s: &Suppression) -> String {
    match s {
        Suppression::Holdout => "holdout".into(),
        Suppression::FrequencyCap { cap } => format!("frequency cap ({cap})"),
        Suppression::NoAddress => "no address".into(),
        Suppression::NoConsent => "no sms consent".into(),
        Suppression::Unsubscribed => "unsubscribed".into(),
        Suppression::HardBounce => "hard bounce".into(),
        Suppression::Complaint => "spam complaint".into(),
    }
}

fn deferral_text(d: &Deferral) -> String {
    match d {
        Deferral::QuietHours => "quiet hours".into(),
        Deferral::FrequencyCap { cap } => format!("frequency cap ({cap})"),
    }
}

pub fn exit_text(e: &ExitReason) -> String {
    match e {
        ExitReason::ExitWhen { event } => format!("exit when {event:?}"),
        ExitReason::ExitStep => "exit step".into(),
        ExitReason::End => "end".into(),
        ExitReason::Error => "error".into(),
    }
}

/// One decision as a line of text (without time, profile and flow).
pub fn decision_text(d: &Decision) -> String {
    match d {
        Decision::Entered { trigger, holdout } => {
            format!(
                "entered ({trigger}){}",
                if *holdout { ", holdout group" } else { "" }
            )
        }
        Decision::NotEntered { reason } => match reason {
            NotEntered::AlreadyActive => {
                "not entered: already in this flow (reentry after exit)".into()
            }
            NotEntered::EnteredBefore => "not entered: entered before (reentry once)".into(),
            NotEntered::TooSoon { last_entry } => format!(
                "not entered: last entry {} too recent (reentry once per)",
                timestamp_text(*last_entry)
            ),
        },
        Decision::Sent {
            template,
            channel,
            excerpt,
            ..
        } => {
            format!("sent {} {template}: {excerpt:?}", channel.as_str())
        }
        Decision::Suppressed {
            template,
            channel,
            reason,
        } => format!(
            "suppressed {} {template}: {}",
            channel.as_str(),
            suppression_text(reason)
        ),
        Decision::Deferred {
            template,
            channel,
            until,
            reason,
        } => format!(
            "deferred {} {template} to {}: {}",
            channel.as_str(),
            timestamp_text(*until),
            deferral_text(reason)
        ),
        Decision::RenderFailed { template, error } => {
            format!("render of {template} failed: {error}")
        }
        Decision::Waiting { until } => format!("waiting until {}", timestamp_text(*until)),
        Decision::WaitPassed { until } => {
            format!(
                "wait until {} already passed, going on",
                timestamp_text(*until)
            )
        }
        Decision::WaitingFor { event, deadline } => {
            format!("waiting for {event:?} until {}", timestamp_text(*deadline))
        }
        Decision::Resumed { by } => match by {
            ResumedBy::Timer => "resumed".into(),
            ResumedBy::Event { event } => format!("resumed by {event:?}"),
            ResumedBy::Heard { event, at } => format!(
                "resumed by {event:?} (heard at {} while a send was held)",
                timestamp_text(*at)
            ),
            ResumedBy::Timeout => "timed out waiting".into(),
        },
        Decision::SplitAssigned { split, variant } => format!("split {split}: {variant}"),
        Decision::Tracked { event } => format!("tracked {event:?}"),
        Decision::TraitSet { name } => format!("set profile.{name}"),
        Decision::Webhook { url, .. } => format!("webhook {url}"),
        Decision::Exited { by } => format!("exited: {}", exit_text(by)),
        Decision::Converted { event, revenue } => match revenue {
            Some(v) => format!("converted: {event:?}, revenue {}", plain_text(v)),
            None => format!("converted: {event:?}"),
        },
        Decision::SegmentEntered { segment } => format!("entered segment {segment}"),
        Decision::SegmentLeft { segment } => format!("left segment {segment}"),
        Decision::ConsentChanged { what } => format!("consent: {what}"),
        Decision::Duplicate { message_id } => format!("duplicate message {message_id:?} ignored"),
        Decision::Failed { error } => format!("failed: {error}"),
        Decision::EventLoopCut { event } => {
            format!("emitted event {event:?} dropped: cascade limit")
        }
    }
}

fn revenue_key(v: &Value) -> String {
    match v {
        Value::Money(m) => m.currency.to_string(),
        _ => "number".into(),
    }
}

pub fn funnel(bundle: &Bundle, trace: &[TraceRecord]) -> Vec<FlowFunnel> {
    let mut flows: Vec<FlowFunnel> = bundle
        .flows
        .iter()
        .map(|f| FlowFunnel {
            flow: f.name.clone(),
            ..FlowFunnel::default()
        })
        .collect();
    let mut revenue: BTreeMap<(usize, String), Value> = BTreeMap::new();
    for r in trace {
        let Some(i) = r
            .flow
            .as_deref()
            .and_then(|n| flows.iter().position(|f| f.flow == n))
        else {
            continue;
        };
        let Some(f) = flows.get_mut(i) else { continue };
        match &r.decision {
            Decision::Entered { holdout, .. } => {
                f.entered += 1;
                f.holdout += u64::from(*holdout);
            }
            Decision::NotEntered { .. } => f.not_entered += 1,
            Decision::Sent { template, .. } => *f.sent.entry(template.clone()).or_default() += 1,
            Decision::Suppressed { reason, .. } => {
                *f.suppressed.entry(suppression_text(reason)).or_default() += 1
            }
            Decision::Deferred { .. } => f.deferred += 1,
            Decision::Exited { by } => *f.exits.entry(exit_text(by)).or_default() += 1,
            Decision::Converted { revenue: rev, .. } => {
                f.converted += 1;
                if let Some(v) = rev {
                    let slot = revenue.entry((i, revenue_key(v))).or_insert(Value::Int(0));
                    if let Ok(sum) = arith(Arith::Add, slot, v) {
                        *slot = sum;
                    }
                }
            }
            _ => {}
        }
    }
    // Holdout conversions, for the lift a report compares.
    let holdout_journeys: Vec<(String, u64)> = trace
        .iter()
        .filter(|r| matches!(r.decision, Decision::Entered { holdout: true, .. }))
        .filter_map(|r| Some((r.flow.clone()?, r.journey?)))
        .collect();
    for r in trace {
        if let (Decision::Converted { .. }, Some(flow), Some(j)) = (&r.decision, &r.flow, r.journey)
            && holdout_journeys.contains(&(flow.clone(), j))
            && let Some(f) = flows.iter_mut().find(|f| &f.flow == flow)
        {
            f.converted_holdout += 1;
        }
    }
    for ((i, key), v) in revenue {
        if let Some(f) = flows.get_mut(i) {
            f.revenue.insert(key, plain_text(&v));
        }
    }
    flows
}

/// The human-readable report.
pub fn human(sim: &Simulation) -> String {
    let mut out = String::new();
    if !sim.problems.is_empty() {
        let _ = writeln!(out, "Input problems:");
        for p in &sim.problems {
            let sev = match p.severity {
                Severity::Error => "error (line skipped)",
                Severity::Warning => "warning",
            };
            let _ = writeln!(out, "  line {}: {sev}: {}", p.line, p.message);
        }
        let _ = writeln!(out);
    }
    let mut by_profile: BTreeMap<&str, Vec<&TraceRecord>> = BTreeMap::new();
    for r in &sim.trace {
        by_profile.entry(&r.profile).or_default().push(r);
    }
    for (profile, records) in by_profile {
        let _ = writeln!(out, "Profile {profile}");
        for r in records {
            let who = match (&r.flow, r.journey) {
                (Some(f), Some(j)) => format!("{f} #{j}"),
                (Some(f), None) => f.clone(),
                _ => "-".into(),
            };
            let _ = writeln!(
                out,
                "  {}  {who:<28} {}",
                timestamp_text(r.at),
                decision_text(&r.decision)
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "Funnel");
    for f in &sim.funnel {
        let _ = writeln!(
            out,
            "  {}: entered {} (holdout {}), not entered {}",
            f.flow, f.entered, f.holdout, f.not_entered
        );
        let join = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !f.sent.is_empty() {
            let _ = writeln!(out, "    sent: {}", join(&f.sent));
        }
        if !f.suppressed.is_empty() {
            let _ = writeln!(out, "    suppressed: {}", join(&f.suppressed));
        }
        if f.deferred > 0 {
            let _ = writeln!(out, "    deferred: {}", f.deferred);
        }
        if !f.exits.is_empty() {
            let _ = writeln!(out, "    exits: {}", join(&f.exits));
        }
        if f.converted > 0 {
            let rev: Vec<String> = f.revenue.values().cloned().collect();
            let _ = writeln!(
                out,
                "    converted: {} (holdout {}){}",
                f.converted,
                f.converted_holdout,
                if rev.is_empty() {
                    String::new()
                } else {
                    format!(", revenue {}", rev.join(", "))
                }
            );
        }
    }
    if !sim.journey_bytes.is_empty() {
        let sizes: Vec<String> = sim
            .journey_bytes
            .iter()
            .map(|(flow, n)| format!("{flow} {n} B"))
            .collect();
        let _ = writeln!(
            out,
            "\nLargest suspended journey (encoded): {}",
            sizes.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\n{} inputs, clock at {}, {} journeys still waiting",
        sim.inputs,
        timestamp_text(sim.clock),
        sim.waiting
    );
    out
}
