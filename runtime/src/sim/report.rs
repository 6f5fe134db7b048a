//! What a simulation shows a person: for each profile, each decision in
//! order (entries, waits, sends with their subject or body excerpt,
//! suppressions and deferrals with reasons, exits); then a funnel per flow.

use super::Simulation;
use super::ingest::{LineProblem, Severity};
use crate::engine::trace::{
    Decision, Deferral, ExitReason, Name, NotEntered, ResumedBy, Suppression, TraceRecord,
};
use crate::vm::arith::{Arith, arith};
use crate::vm::text::{plain_text, timestamp_text};
use nudge_bytecode::{Bundle, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
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

pub fn deferral_text(d: &Deferral) -> String {
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

/// The funnel of a whole trace.
pub fn funnel(bundle: &Bundle, trace: &[TraceRecord]) -> Vec<FlowFunnel> {
    let mut counter = FunnelCounter::new(bundle);
    let mut profiles: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for r in trace {
        let flow = r
            .flow
            .as_deref()
            .and_then(|n| bundle.flows.iter().position(|f| f.name == n))
            .and_then(|i| u16::try_from(i).ok());
        let next = u32::try_from(profiles.len()).unwrap_or(u32::MAX);
        let profile = *profiles.entry(r.profile.as_str()).or_insert(next);
        counter.count(profile, flow, r.journey, &r.decision);
    }
    counter.finish()
}

/// The funnel, counted record by record as a run goes (no trace kept).
#[derive(Debug, Clone)]
pub struct FunnelCounter {
    flows: Vec<FlowFunnel>,
    revenue: BTreeMap<(usize, String), Value>,
    /// Journeys (by profile number, flow index and id: journeys are
    /// numbered per profile) in a holdout group, for the lift a report
    /// compares.
    holdout_journeys: std::collections::HashSet<(u32, u16, u64)>,
    /// Per flow, exits and suppressions by reason and sends by template,
    /// named at the end (a flow has a handful of each: no text and no
    /// ordered-map search per record; the engine shares one `Name` per
    /// template, so a template usually matches at a pointer comparison).
    exits: Vec<Vec<(ExitReason, u64)>>,
    sent: Vec<Vec<(Name, u64)>>,
    suppressed: Vec<Vec<(Suppression, u64)>>,
}

/// Adds one to `key`'s count in a short list.
fn bump<K: PartialEq + Clone>(counts: &mut Vec<(K, u64)>, key: &K) {
    match counts.iter_mut().find(|(k, _)| k == key) {
        Some((_, n)) => *n += 1,
        None => counts.push((key.clone(), 1)),
    }
}

impl FunnelCounter {
    pub fn new(bundle: &Bundle) -> FunnelCounter {
        FunnelCounter {
            flows: bundle
                .flows
                .iter()
                .map(|f| FlowFunnel {
                    flow: f.name.clone(),
                    ..FlowFunnel::default()
                })
                .collect(),
            revenue: BTreeMap::new(),
            holdout_journeys: std::collections::HashSet::new(),
            exits: vec![Vec::new(); bundle.flows.len()],
            sent: vec![Vec::new(); bundle.flows.len()],
            suppressed: vec![Vec::new(); bundle.flows.len()],
        }
    }

    /// Counts one trace record of flow index `flow`, for the profile
    /// numbered `profile` (any numbering that tells profiles apart).
    pub fn count(
        &mut self,
        profile: u32,
        flow: Option<u16>,
        journey: Option<u64>,
        decision: &Decision,
    ) {
        let Some(flow) = flow else { return };
        let i = usize::from(flow);
        let Some(f) = self.flows.get_mut(i) else {
            return;
        };
        match decision {
            Decision::Entered { holdout, .. } => {
                f.entered += 1;
                f.holdout += u64::from(*holdout);
                if *holdout && let Some(j) = journey {
                    self.holdout_journeys.insert((profile, flow, j));
                }
            }
            Decision::NotEntered { .. } => f.not_entered += 1,
            Decision::Sent { template, .. } => {
                if let Some(counts) = self.sent.get_mut(i) {
                    bump(counts, template);
                }
            }
            Decision::Suppressed { reason, .. } => {
                if let Some(counts) = self.suppressed.get_mut(i) {
                    bump(counts, reason);
                }
            }
            Decision::Deferred { .. } => f.deferred += 1,
            Decision::Exited { by } => {
                if let Some(counts) = self.exits.get_mut(i) {
                    bump(counts, by);
                }
            }
            Decision::Converted { revenue: rev, .. } => {
                f.converted += 1;
                if journey.is_some_and(|j| self.holdout_journeys.contains(&(profile, flow, j))) {
                    f.converted_holdout += 1;
                }
                if let Some(v) = rev {
                    let slot = self
                        .revenue
                        .entry((i, revenue_key(v)))
                        .or_insert(Value::Int(0));
                    if let Ok(sum) = arith(Arith::Add, slot, v) {
                        *slot = sum;
                    }
                }
            }
            _ => {}
        }
    }

    pub fn finish(self) -> Vec<FlowFunnel> {
        let mut flows = self.flows;
        for (f, counts) in flows.iter_mut().zip(self.exits) {
            for (by, n) in counts {
                *f.exits.entry(exit_text(&by)).or_default() += n;
            }
        }
        for (f, counts) in flows.iter_mut().zip(self.sent) {
            for (template, n) in counts {
                *f.sent.entry(template.to_string()).or_default() += n;
            }
        }
        for (f, counts) in flows.iter_mut().zip(self.suppressed) {
            for (reason, n) in counts {
                *f.suppressed.entry(suppression_text(&reason)).or_default() += n;
            }
        }
        for ((i, key), v) in self.revenue {
            if let Some(f) = flows.get_mut(i) {
                f.revenue.insert(key, plain_text(&v));
            }
        }
        flows
    }
}

/// How many of a repeated problem's lines are named.
const LINES_NAMED: usize = 5;

/// One line per distinct problem (same severity and message), in the order
/// each first came, naming its first lines and counting the rest: a real
/// log repeats a few (every `page` call, an event name always sent in
/// another case) thousands of times, and a line each buried the report.
/// `--format json` still lists every line's problem.
fn write_problems(out: &mut String, problems: &[LineProblem]) {
    // Per problem: its distinct lines, and how many times it came (a batch
    // line may hold it for several elements).
    let mut groups: Vec<(&LineProblem, Vec<usize>, usize)> = Vec::new();
    let mut index: HashMap<(Severity, &str), usize> = HashMap::new();
    for p in problems {
        match index.entry((p.severity, p.message.as_str())) {
            Entry::Occupied(e) => {
                if let Some((_, lines, times)) = groups.get_mut(*e.get()) {
                    if lines.last() != Some(&p.line) {
                        lines.push(p.line);
                    }
                    *times += 1;
                }
            }
            Entry::Vacant(e) => {
                e.insert(groups.len());
                groups.push((p, vec![p.line], 1));
            }
        }
    }
    for (p, lines, times) in groups {
        let sev = match (p.severity, times) {
            (Severity::Error, 1) => "error (line skipped)",
            (Severity::Error, _) => "error (lines skipped)",
            (Severity::Warning, _) => "warning",
        };
        let named: Vec<String> = lines
            .iter()
            .take(LINES_NAMED)
            .map(usize::to_string)
            .collect();
        let more = lines.len().saturating_sub(LINES_NAMED);
        let mut at = match (named.as_slice(), more) {
            ([one], _) => format!("line {one}"),
            ([first @ .., last], 0) => format!("lines {} and {last}", first.join(", ")),
            (all, more) => format!("lines {} and {more} more", all.join(", ")),
        };
        if times > lines.len() {
            let _ = write!(at, " ({times} times)");
        }
        let _ = writeln!(out, "  {at}: {sev}: {}", p.message);
    }
}

/// The human-readable report.
pub fn human(sim: &Simulation) -> String {
    let mut out = String::new();
    if !sim.problems.is_empty() {
        let _ = writeln!(out, "Input problems:");
        write_problems(&mut out, &sim.problems);
        let _ = writeln!(out);
    }
    // Profiles in name order, each one's records in trace order.
    let story = &sim.story;
    let mut order: Vec<u32> = (0..story.profiles.len())
        .filter_map(|i| u32::try_from(i).ok())
        .collect();
    order.sort_by(|a, b| {
        story
            .profiles
            .get(*a as usize)
            .cmp(&story.profiles.get(*b as usize))
    });
    let mut rank = vec![0u32; story.profiles.len()];
    for (r, p) in order.iter().enumerate() {
        if let Some(slot) = rank.get_mut(*p as usize) {
            *slot = u32::try_from(r).unwrap_or(u32::MAX);
        }
    }
    let mut records: Vec<&super::StoryRecord> = story.records.iter().collect();
    records.sort_by_key(|r| rank.get(r.profile as usize).copied().unwrap_or(u32::MAX));
    let flows = &sim.funnel;
    let flow_name = |i: u16| flows.get(usize::from(i)).map_or("?", |f| f.flow.as_str());
    let mut current = None;
    for r in records {
        if current != Some(r.profile) {
            if current.is_some() {
                let _ = writeln!(out);
            }
            current = Some(r.profile);
            let profile = story
                .profiles
                .get(r.profile as usize)
                .map_or("?", |p| p.as_str());
            let _ = writeln!(out, "Profile {profile}");
        }
        {
            let who = match (r.flow(), r.journey()) {
                (Some(f), Some(j)) => format!("{} #{j}", flow_name(f)),
                (Some(f), None) => flow_name(f).to_string(),
                _ => "-".into(),
            };
            let _ = writeln!(
                out,
                "  {}  {who:<28} {}",
                timestamp_text(r.at),
                story
                    .decision(r)
                    .map_or_else(|| "?".to_string(), |d| decision_text(&d))
            );
        }
    }
    if current.is_some() {
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
