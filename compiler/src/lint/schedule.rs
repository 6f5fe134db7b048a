//! Lints about when a flow sends: W0004 (its own schedule exceeds a
//! frequency cap) and W0007 (`wait until` a time inside quiet hours).
//!
//! W0004 works out a marketing flow's worst-case send schedule. Every path
//! through the step tree (each `if`/`match`/`split` arm and each outcome of
//! `wait for` is a separate path) gets the list of its sends with the
//! earliest time each can happen after the journey starts:
//! - `wait d` adds d;
//! - `wait until 10:00` adds the time to the next 10:00: when the clock
//!   time is unknown (at the start, after `wait until <timestamp>` or an
//!   event arrival) that can be almost nothing, so it adds 0 and the clock
//!   becomes 10:00; when the clock is known (an earlier `wait until` plus
//!   fixed waits) it adds the exact gap, a full day when it is already 10:00
//!   (the next such time is strictly later). `wait until monday 09:00` is
//!   treated like `wait until 09:00` (its earliest case);
//! - `wait until <timestamp>` adds 0;
//! - `wait for ... within d`: on arrival 0 (the event may come at once), on
//!   timeout d.
//!
//! A path "can send K messages within W" when K of its sends on one channel
//! lie within less than W of each other (a send exactly W after another is
//! outside that window). The lint reports each cap `N per W` of the project
//! for which some path can send more than N, at the send that exceeds it.
//! Sends too old to share a window with a later send are forgotten as the
//! walk goes, so paths that differ only in old history merge.
//! A flow with more than 1,024 distinct paths (after merging paths that
//! differ only in sends on channels without caps) is not analysed.
//!
//! W0007 reports `wait until T` when T is inside the quiet hours of a
//! channel that the flow sends on right after the wait (before any other
//! wait): that send would be deferred to the end of the quiet hours. The
//! `at T` of a date trigger is checked the same way against the flow's first
//! sends.

use crate::ast::{self, Block, Channel, FlowDecl, StepKind, WaitUntil};
use crate::diagnostic::{Code, Diagnostic};
use crate::policy::Policy;
use crate::rules::{const_duration, format_duration};
use crate::span::{FileId, Span};
use std::collections::{HashMap, HashSet};

const DAY: i64 = 86_400;
const MAX_PATHS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Send {
    channel: Channel,
    at: i64,
    span: Span,
}

/// One path's state so far.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Path {
    /// Earliest time since the journey started.
    at: i64,
    /// Local clock time (seconds after midnight) if known.
    clock: Option<i64>,
    sends: Vec<Send>,
    /// The path left the flow (`exit`).
    exited: bool,
}

impl Path {
    fn wait(&mut self, secs: i64) {
        self.at = self.at.saturating_add(secs.max(0));
        if let Some(c) = self.clock.as_mut() {
            *c = (*c + secs.max(0)).rem_euclid(DAY);
        }
    }
}

/// What the walk knows about the caps, and the worst windows found so far.
struct Walk<'p> {
    policy: &'p Policy,
    /// (channel, index of the cap) → most sends within its window on one
    /// path, with those sends.
    worst: HashMap<(Channel, usize), (usize, Vec<Send>)>,
}

impl Walk<'_> {
    /// Sends on channels without caps are not tracked, so branches that
    /// differ only in those collapse into one path.
    fn tracks(&self, channel: Channel) -> bool {
        !self.policy.channel(channel).caps.is_empty()
    }

    fn longest_window(&self, channel: Channel) -> i64 {
        self.policy
            .channel(channel)
            .caps
            .iter()
            .map(|c| c.window_secs)
            .max()
            .unwrap_or(0)
    }

    /// Records the send just added to `path` against every cap of its channel.
    fn check(&mut self, path: &Path, channel: Channel) {
        for (i, cap) in self.policy.channel(channel).caps.iter().enumerate() {
            let window: Vec<Send> = path
                .sends
                .iter()
                .filter(|s| s.channel == channel && s.at > path.at - cap.window_secs)
                .cloned()
                .collect();
            let count = window.len();
            if count <= cap.count as usize {
                continue;
            }
            let entry = self.worst.entry((channel, i)).or_insert((0, Vec::new()));
            if count > entry.0 {
                *entry = (count, window);
            }
        }
    }

    /// Forgets sends too old to share a window with any later send, so
    /// paths with the same recent history merge.
    fn forget_old(&self, path: &mut Path) {
        let at = path.at;
        path.sends
            .retain(|s| s.at > at - self.longest_window(s.channel));
    }
}

struct TooManyPaths;

fn dedup(paths: &mut Vec<Path>) {
    let mut seen = HashSet::with_capacity(paths.len());
    paths.retain(|p| seen.insert(p.clone()));
}

/// Runs every path in `paths` through the block.
fn run_block(
    block: &Block,
    paths: Vec<Path>,
    walk: &mut Walk<'_>,
) -> Result<Vec<Path>, TooManyPaths> {
    let (mut done, mut live): (Vec<Path>, Vec<Path>) = paths.into_iter().partition(|p| p.exited);
    for step in &block.steps {
        if live.is_empty() {
            break;
        }
        live = run_step(step, live, walk)?;
        let (exited, mut still): (Vec<Path>, Vec<Path>) = live.into_iter().partition(|p| p.exited);
        done.extend(exited);
        for p in &mut still {
            walk.forget_old(p);
        }
        live = still;
        dedup(&mut live);
        if live.len() + done.len() > MAX_PATHS {
            return Err(TooManyPaths);
        }
    }
    done.extend(live);
    Ok(done)
}

fn run_step(
    step: &ast::Step,
    mut paths: Vec<Path>,
    walk: &mut Walk<'_>,
) -> Result<Vec<Path>, TooManyPaths> {
    match &step.kind {
        StepKind::Send { channel, .. } if !walk.tracks(*channel) => Ok(paths),
        StepKind::Send { channel, .. } => {
            for p in &mut paths {
                p.sends.push(Send {
                    channel: *channel,
                    at: p.at,
                    span: step.span,
                });
                walk.check(p, *channel);
            }
            Ok(paths)
        }
        StepKind::Wait(d) => {
            let secs = const_duration(d).unwrap_or(0);
            for p in &mut paths {
                p.wait(secs);
            }
            Ok(paths)
        }
        StepKind::WaitUntil(WaitUntil::TimeOfDay { time, .. }) => {
            let target = i64::from(time.hour) * 3600 + i64::from(time.minute) * 60;
            for p in &mut paths {
                let gap = match p.clock {
                    Some(now) => {
                        let g = (target - now).rem_euclid(DAY);
                        if g == 0 { DAY } else { g }
                    }
                    None => 0,
                };
                p.at = p.at.saturating_add(gap);
                p.clock = Some(target);
            }
            Ok(paths)
        }
        StepKind::WaitUntil(WaitUntil::Timestamp(_)) => {
            for p in &mut paths {
                p.clock = None;
            }
            Ok(paths)
        }
        StepKind::WaitFor {
            within,
            on_arrival,
            on_timeout,
            ..
        } => {
            let within = within.as_ref().and_then(const_duration).unwrap_or(0);
            let mut arrived = paths.clone();
            for p in &mut arrived {
                p.clock = None;
            }
            let mut timed_out = paths;
            for p in &mut timed_out {
                p.wait(within);
            }
            let mut out = match on_arrival {
                Some(b) => run_block(b, arrived, walk)?,
                None => arrived,
            };
            out.extend(match on_timeout {
                Some(b) => run_block(b, timed_out, walk)?,
                None => timed_out,
            });
            Ok(out)
        }
        StepKind::If {
            branches,
            else_block,
        } => {
            let mut out = Vec::new();
            for (_, b) in branches {
                out.extend(run_block(b, paths.clone(), walk)?);
            }
            match else_block {
                Some(b) => out.extend(run_block(b, paths, walk)?),
                None => out.extend(paths),
            }
            Ok(out)
        }
        StepKind::Match { arms, .. } => {
            let mut out = Vec::new();
            for arm in arms {
                out.extend(run_block(&arm.body, paths.clone(), walk)?);
            }
            Ok(out)
        }
        StepKind::Split { arms, .. } => {
            let mut out = Vec::new();
            for arm in arms {
                out.extend(run_block(&arm.body, paths.clone(), walk)?);
            }
            Ok(out)
        }
        StepKind::Exit => {
            for p in &mut paths {
                p.exited = true;
            }
            Ok(paths)
        }
        StepKind::Set { .. }
        | StepKind::Track { .. }
        | StepKind::Webhook { .. }
        | StepKind::Error => Ok(paths),
    }
}

/// W0004 for one marketing flow.
pub(super) fn frequency(file: FileId, flow: &FlowDecl, policy: &Policy, out: &mut Vec<Diagnostic>) {
    let channels = [Channel::Email, Channel::Sms, Channel::Push];
    if channels.iter().all(|c| policy.channel(*c).caps.is_empty()) {
        return;
    }
    let start = Path {
        at: 0,
        clock: None,
        sends: Vec::new(),
        exited: false,
    };
    let mut walk = Walk {
        policy,
        worst: HashMap::new(),
    };
    if run_block(&flow.body, vec![start], &mut walk).is_err() {
        return;
    }
    for channel in channels {
        for (i, cap) in policy.channel(channel).caps.iter().enumerate() {
            let Some((count, window_sends)) = walk.worst.remove(&(channel, i)) else {
                continue;
            };
            // The send that goes over the cap is the (N+1)-th in the window.
            let Some(over) = window_sends.get(cap.count as usize) else {
                continue;
            };
            let plural = |n: usize| {
                let noun = match channel {
                    Channel::Email => "email",
                    Channel::Sms => "SMS",
                    Channel::Push => "push notification",
                };
                match (n, channel) {
                    (1, _) | (_, Channel::Sms) => format!("{n} {noun}"),
                    _ => format!("{n} {noun}s"),
                }
            };
            let mut d = Diagnostic::new(
                Code::FrequencyExceedsCap,
                file,
                over.span,
                format!(
                    "flow `{}` can send {} within {}, but the project allows {} per {}",
                    flow.name.name,
                    plural(count),
                    format_duration(cap.window_secs),
                    cap.count,
                    format_duration(cap.window_secs)
                ),
            )
            .with_label("this send goes over the cap");
            for earlier in window_sends.iter().take(cap.count as usize) {
                d = d.with_secondary(file, earlier.span, "sent earlier in the same window");
            }
            out.push(d.with_help(format!(
                "space the sends at least {} apart or send fewer; the runtime will {} sends over the cap",
                format_duration(cap.window_secs),
                match policy.when_capped {
                    crate::policy::WhenCapped::Skip => "skip",
                    crate::policy::WhenCapped::Defer => "defer",
                }
            )));
        }
    }
}

/// Sends reached right after a point in a block (before any other wait).
fn sends_before_wait(steps: &[ast::Step], out: &mut Vec<Channel>) -> bool {
    for step in steps {
        match &step.kind {
            StepKind::Send { channel, .. } => out.push(*channel),
            StepKind::Wait(_) | StepKind::WaitUntil(_) | StepKind::WaitFor { .. } => return false,
            StepKind::Exit => return false,
            StepKind::If { .. } | StepKind::Match { .. } | StepKind::Split { .. } => {
                let mut all_continue = true;
                for b in crate::rules::walk::child_blocks(step) {
                    all_continue &= sends_before_wait(&b.steps, out);
                }
                if !all_continue {
                    return false;
                }
            }
            StepKind::Set { .. }
            | StepKind::Track { .. }
            | StepKind::Webhook { .. }
            | StepKind::Error => {}
        }
    }
    true
}

/// Reports `time` (a `wait until` or a date trigger's `at`) when it lies in
/// the quiet hours of a channel among `steps`' first sends.
fn check_time(
    file: FileId,
    written: &str,
    time: &ast::TimeOfDay,
    steps: &[ast::Step],
    policy: &Policy,
    out: &mut Vec<Diagnostic>,
) {
    let mut channels = Vec::new();
    sends_before_wait(steps, &mut channels);
    let minute = u16::from(time.hour) * 60 + u16::from(time.minute);
    let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    let mut reported: Vec<Channel> = Vec::new();
    for channel in channels {
        if reported.contains(&channel) {
            continue;
        }
        let Some(quiet) = policy.channel(channel).quiet_hours else {
            continue;
        };
        if !quiet.contains(minute) {
            continue;
        }
        reported.push(channel);
        out.push(
            Diagnostic::new(
                Code::WaitInQuietHours,
                file,
                time.span,
                format!(
                    "`{written} {}` lands inside the quiet hours for {} ({} to {}), so the {} after it waits until {}",
                    hm(minute),
                    channel.as_str(),
                    hm(quiet.from_minute),
                    hm(quiet.to_minute),
                    channel.as_str(),
                    hm(quiet.to_minute)
                ),
            )
            .with_help(format!(
                "pick a time outside the quiet hours, e.g. `{written} {} local`",
                hm(quiet.to_minute)
            )),
        );
    }
}

fn check_quiet_block(file: FileId, block: &Block, policy: &Policy, out: &mut Vec<Diagnostic>) {
    for (i, step) in block.steps.iter().enumerate() {
        for child in crate::rules::walk::child_blocks(step) {
            check_quiet_block(file, child, policy, out);
        }
        if let StepKind::WaitUntil(WaitUntil::TimeOfDay { time, .. }) = &step.kind {
            let rest = block.steps.get(i + 1..).unwrap_or_default();
            check_time(file, "wait until", time, rest, policy, out);
        }
    }
}

/// W0007 for one flow: its `wait until` times, and the `at` time of a date
/// trigger (`when date profile.birthday at 22:00`), which works the same way.
pub(super) fn quiet_hours(
    file: FileId,
    flow: &FlowDecl,
    policy: &Policy,
    out: &mut Vec<Diagnostic>,
) {
    for s in &flow.settings {
        if let ast::FlowSettingKind::Trigger(t) = &s.kind
            && let ast::TriggerKind::Date { at: Some(time), .. } = &t.kind
        {
            check_time(file, "at", time, &flow.body.steps, policy, out);
        }
    }
    check_quiet_block(file, &flow.body, policy, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::ast::{Expr, ExprKind, Ident, Lit, Step, TimeOfDay};
    use crate::diagnostic::Diagnostic;
    use crate::policy::FrequencyCap;

    fn step(kind: StepKind, at: u32) -> Step {
        Step {
            kind,
            span: Span::new(at, at + 1),
        }
    }

    fn email(at: u32) -> Step {
        step(
            StepKind::Send {
                channel: Channel::Email,
                template: Ident {
                    name: "t".into(),
                    span: Span::default(),
                },
                args: Vec::new(),
            },
            at,
        )
    }

    fn dur(secs: i64) -> Expr {
        Expr {
            kind: ExprKind::Lit(Lit::Duration(secs)),
            span: Span::default(),
        }
    }

    fn wait(secs: i64) -> Step {
        step(StepKind::Wait(dur(secs)), 0)
    }

    fn until(hour: u8) -> Step {
        step(
            StepKind::WaitUntil(WaitUntil::TimeOfDay {
                weekday: None,
                time: TimeOfDay {
                    hour,
                    minute: 0,
                    local: true,
                    span: Span::default(),
                },
            }),
            0,
        )
    }

    fn block(steps: Vec<Step>) -> Block {
        Block {
            steps,
            span: Span::default(),
        }
    }

    fn lint(steps: Vec<Step>, caps: &[(u32, i64)]) -> Vec<Diagnostic> {
        let flow = FlowDecl {
            name: Ident {
                name: "f".into(),
                span: Span::default(),
            },
            settings: Vec::new(),
            body: block(steps),
            span: Span::default(),
        };
        let mut policy = Policy::default();
        policy.email.caps = caps
            .iter()
            .map(|&(count, window_secs)| FrequencyCap { count, window_secs })
            .collect();
        let mut out = Vec::new();
        frequency(FileId(0), &flow, &policy, &mut out);
        out
    }

    #[test]
    fn fixed_waits_at_the_cap_boundary() {
        // exactly one day apart: fine for 1 per 1d
        assert!(lint(vec![email(1), wait(DAY), email(2)], &[(1, DAY)]).is_empty());
        let d = lint(vec![email(1), wait(DAY - 1), email(2)], &[(1, DAY)]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].primary.span.start, 2);
        assert_eq!(
            d[0].message,
            "flow `f` can send 2 emails within 1d, but the project allows 1 per 1d"
        );
        assert_eq!(d[0].secondary.len(), 1);
    }

    #[test]
    fn wait_until_from_unknown_clock_can_be_immediate() {
        let d = lint(vec![email(1), until(10), email(2)], &[(1, DAY)]);
        assert_eq!(d.len(), 1);
        // after a known clock time the next 10:00 is a full day later
        let steps = vec![
            until(10),
            email(1),
            until(10),
            email(2),
            until(10),
            email(3),
        ];
        assert!(lint(steps, &[(1, DAY)]).is_empty());
        // 10:00 then 18:00 the same day
        let d = lint(vec![until(10), email(1), until(18), email(2)], &[(1, DAY)]);
        assert_eq!(d.len(), 1);
        // 18:00 then 10:00 is 16 hours later: still within a day
        let d = lint(vec![until(18), email(1), until(10), email(2)], &[(1, DAY)]);
        assert_eq!(d.len(), 1);
        // fixed waits move the known clock
        let d = lint(
            vec![until(10), email(1), wait(20 * 3600), until(10), email(2)],
            &[(1, DAY)],
        );
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn branches_are_separate_paths_and_exit_ends_one() {
        let branchy = step(
            StepKind::If {
                branches: vec![(Expr::error(Span::default()), block(vec![email(2)]))],
                else_block: Some(block(vec![step(StepKind::Exit, 0)])),
            },
            0,
        );
        // if-arm sends a second email at once; the else path exits.
        let d = lint(vec![email(1), branchy.clone()], &[(1, DAY)]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].primary.span.start, 2);
        // one email per path after the branch: fine
        let d = lint(vec![branchy, wait(DAY)], &[(1, DAY)]);
        assert!(d.is_empty());
        // after exit nothing more is sent
        let d = lint(
            vec![email(1), step(StepKind::Exit, 0), email(2)],
            &[(1, DAY)],
        );
        assert!(d.is_empty());
    }

    #[test]
    fn wait_for_arrival_is_immediate_and_timeout_waits() {
        let wf = |arrival: Vec<Step>, timeout: Vec<Step>| {
            step(
                StepKind::WaitFor {
                    event: crate::ast::EventMatch {
                        event: crate::ast::Name {
                            value: "E".into(),
                            span: Span::default(),
                        },
                        binding: None,
                        condition: None,
                        span: Span::default(),
                    },
                    within: Some(dur(2 * DAY)),
                    on_arrival: Some(block(arrival)),
                    on_timeout: Some(block(timeout)),
                },
                0,
            )
        };
        let d = lint(vec![email(1), wf(vec![], vec![email(3)])], &[(1, DAY)]);
        assert!(d.is_empty(), "timeout comes 2d later: {d:?}");
        let d = lint(vec![email(1), wf(vec![email(2)], vec![])], &[(1, DAY)]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].primary.span.start, 2);
        // the rest of the block runs after either outcome
        let d = lint(vec![email(1), wf(vec![], vec![]), email(4)], &[(1, DAY)]);
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn several_caps_are_checked() {
        let steps: Vec<Step> = (0..5u32).flat_map(|i| [email(i + 1), wait(DAY)]).collect();
        let d = lint(steps, &[(1, DAY), (4, 7 * DAY)]);
        assert_eq!(d.len(), 1);
        assert!(
            d[0].message.contains("5 emails within 7d"),
            "{}",
            d[0].message
        );
        assert_eq!(d[0].primary.span.start, 5);
    }
}
