//! Segment membership: re-evaluated whenever its inputs may have changed —
//! a trait update, an event feeding an aggregate, a consent flip — and when
//! time moves an event out of an aggregate's window. For the latter each
//! profile keeps one `Window` timer at the earliest instant an entry of a
//! segment-read aggregate leaves its window; when it fires the aggregates
//! are pruned and segments re-evaluated. Time alone also changes
//! conditions that read the clock: while evaluating, the VM reports each
//! read (`Env::clock_read`) with the instant its value next changes —
//! exact for `days_since(ts)` (the next whole day since `ts`) and `age(d)`
//! (UTC midnight of the next birthday), the next whole UTC hour for `now`
//! itself — and the same timer is set no later than the earliest of them.
//! Only clock reads the evaluation actually made count (a branch not taken
//! cannot change the result until an input changes, which re-evaluates
//! anyway), so this is exact up to the hourly granularity of `now`.
//!
//! Segments are evaluated in dependency order, so `profile in vip` inside
//! another segment sees the fresh value. Each change of membership is a
//! transition: traced, and it starts the `when entering` / `when leaving`
//! flows of that segment (higher priority first).

use super::Cx;
use super::timers::TimerKind;
use super::trace::Decision;
use nudge_bytecode::{Bundle, Value};

/// Segment indices ordered so each comes after the segments it reads (a
/// cycle, which the checker rejects, falls back to index order).
pub fn dependency_order(bundle: &Bundle) -> Vec<u16> {
    let n = bundle.segments.len();
    let mut order = Vec::with_capacity(n);
    let mut state = vec![0u8; n]; // 0 new, 1 visiting, 2 done
    fn visit(i: usize, bundle: &Bundle, state: &mut [u8], order: &mut Vec<u16>) {
        match state.get(i) {
            Some(0) => {}
            _ => return,
        }
        if let Some(s) = state.get_mut(i) {
            *s = 1;
        }
        if let Some(seg) = bundle.segments.get(i) {
            for &d in &seg.segments {
                visit(usize::from(d), bundle, state, order);
            }
        }
        if let Some(s) = state.get_mut(i) {
            *s = 2;
        }
        if let Ok(i) = u16::try_from(i) {
            order.push(i);
        }
    }
    for i in 0..n {
        visit(i, bundle, &mut state, &mut order);
    }
    order
}

impl Cx<'_, '_> {
    pub(super) fn reevaluate_segments(&mut self) {
        let bundle = self.eng.bundle;
        if bundle.segments.is_empty() {
            return;
        }
        let mut members = self.p.segments.clone();
        members.resize(bundle.segments.len(), false);
        let mut clock_changes: Option<i64> = None;
        for &i in &self.eng.segment_order {
            let Some(seg) = bundle.segments.get(usize::from(i)) else {
                continue;
            };
            let env = super::env::ProfileEnv {
                bundle,
                now: self.now,
                id: self.pid.as_str(),
                profile: self.p,
                segments: &members,
                clock_changes: std::cell::Cell::new(None),
            };
            // A condition that fails to evaluate (a bundle bug, or a trait
            // of the wrong shape) means "not a member".
            let v = self
                .eng
                .vm
                .eval(&seg.condition, &mut Vec::new(), None, &env);
            let is = matches!(v, Ok(Value::Bool(true)));
            if let Some(at) = env.clock_changes.get() {
                clock_changes = Some(clock_changes.map_or(at, |c| c.min(at)));
            }
            if let Some(m) = members.get_mut(usize::from(i)) {
                *m = is;
            }
        }
        let before = std::mem::replace(&mut self.p.segments, members.clone());
        self.arm_window_timer(clock_changes);
        for (i, (&was, &is)) in before.iter().zip(members.iter()).enumerate() {
            if was == is {
                continue;
            }
            let name = bundle
                .segments
                .get(i)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            let flows = if is {
                self.trace(
                    None,
                    None,
                    Decision::SegmentEntered {
                        segment: name.clone(),
                    },
                );
                self.eng.entering.get(i).cloned().unwrap_or_default()
            } else {
                self.trace(
                    None,
                    None,
                    Decision::SegmentLeft {
                        segment: name.clone(),
                    },
                );
                self.eng.leaving.get(i).cloned().unwrap_or_default()
            };
            for flow in flows {
                self.enter(flow, None);
            }
        }
    }

    /// One timer at the earliest instant an aggregate window drops an
    /// event or (`clock_changes`) a clock read by a segment changes.
    fn arm_window_timer(&mut self, clock_changes: Option<i64>) {
        let bundle = self.eng.bundle;
        let next = self
            .eng
            .segment_aggregates
            .iter()
            .filter_map(|&i| {
                let a = bundle.aggregates.get(usize::from(i))?;
                self.p
                    .aggregates
                    .get(usize::from(i))?
                    .next_expiry(a, self.now)
            })
            .chain(clock_changes)
            .min();
        let current = self.p.window_timer;
        if current.map(|k| k.at) == next {
            return;
        }
        if let Some(k) = current {
            self.timers.cancel(k);
        }
        self.p.window_timer = next.map(|at| self.schedule(at, 0, TimerKind::Window));
    }
}
