//! Time-based triggers: `when date` and `when inactive`.
//!
//! `when date profile.birthday [at 10:00 local]` (a `date`) fires yearly on
//! the anniversary, at the given local time (midnight local when no time is
//! given), in the profile's timezone; February 29 falls on February 28 in
//! common years. A `timestamp` (`profile.created_at + 30d`), or a `date` that
//! is not yearly, fires once, and only if it is still ahead when the engine
//! learns it (a date already past when a profile is imported does not fire).
//! The next instant is re-derived whenever traits change, so editing a
//! birthday moves its timer; an instant never fires twice.
//!
//! `when inactive "E" for d` arms a timer at the last "E" + d; every newer
//! "E" pushes it back; when it fires the flow is entered once, and nothing
//! re-arms it until the next "E" — once per silence, not every day. A
//! profile that never sent "E" is not inactive (it was never active).

use super::Cx;
use super::localtime;
use super::timers::TimerKind;
use nudge_bytecode::format::Trigger;
use nudge_bytecode::{TimeOfDay, Value};

impl Cx<'_, '_> {
    fn trigger_timer(&self, flow: u16) -> Option<super::timers::TimerKey> {
        self.p
            .trigger_timers
            .iter()
            .find(|(f, _)| *f == flow)
            .map(|(_, k)| *k)
    }

    fn set_trigger_timer(&mut self, flow: u16, at: Option<i64>, kind: TimerKind) {
        let current = self.trigger_timer(flow);
        if current.map(|k| k.at) == at {
            return;
        }
        if let Some(k) = current {
            self.timers.cancel(k);
            self.p.trigger_timers.retain(|(f, _)| *f != flow);
        }
        if let Some(at) = at {
            let key = self.schedule(at, self.eng.flow_priority(flow), kind);
            self.p.trigger_timers.push((flow, key));
        }
    }

    pub(super) fn arm_inactive(&mut self, flow: u16, event_at: i64) {
        let Some(Trigger::Inactive { for_secs, .. }) = self.eng.flow(flow).map(|f| &f.trigger)
        else {
            return;
        };
        let at = event_at.saturating_add(for_secs.saturating_mul(1000));
        // An older event arriving late never pulls the silence back.
        if self.trigger_timer(flow).is_some_and(|k| k.at >= at) || at <= self.now {
            return;
        }
        self.set_trigger_timer(flow, Some(at), TimerKind::Inactive(flow));
    }

    pub(super) fn reschedule_dates(&mut self) {
        // The engine outlives the step: its list is read in place.
        let eng = self.eng;
        for &flow in &eng.date_flows {
            let at = self.next_date(flow);
            self.set_trigger_timer(flow, at, TimerKind::Date(flow));
        }
    }

    fn next_date(&self, flow: u16) -> Option<i64> {
        let f = self.eng.flow(flow)?;
        let Trigger::Date { date, at, yearly } = &f.trigger else {
            return None;
        };
        let value = self
            .eng
            .vm
            .eval(date, &mut Vec::new(), None, &self.env())
            .ok()?;
        let tz = self.tz();
        let time = at.unwrap_or(TimeOfDay(0));
        let fired = self
            .p
            .date_fired
            .iter()
            .find(|(f, _)| *f == flow)
            .map(|(_, at)| *at);
        let fresh = |t: i64| t > self.now && fired.is_none_or(|l| t > l);
        match value {
            Value::Date(d) if *yearly => {
                let year = localtime::local_date(self.now, &tz)?.year();
                (year..=year.saturating_add(2))
                    .filter_map(|y| localtime::anniversary(d, y))
                    .filter_map(|day| localtime::instant(day, time, &tz))
                    .find(|t| fresh(*t))
            }
            Value::Date(d) => {
                let t = localtime::instant(localtime::civil_date(d)?, time, &tz)?;
                fresh(t).then_some(t)
            }
            Value::Timestamp(ts) => {
                let t = match at {
                    Some(time) => localtime::instant(localtime::local_date(ts, &tz)?, *time, &tz)?,
                    None => ts,
                };
                fresh(t).then_some(t)
            }
            _ => None,
        }
    }
}
