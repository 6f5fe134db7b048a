//! Local wall-clock time: the only place the engine speaks to a timezone
//! database (jiff, tzdb bundled in the binary).
//!
//! Instants are unix milliseconds everywhere else. A local time that does
//! not exist (inside a spring-forward gap) resolves to the later side of the
//! gap (`02:30` on 2026-03-08 in New York is `03:30` EDT); an ambiguous one
//! (the repeated hour of a fall-back) resolves to its first occurrence —
//! jiff's "compatible" rule, the same as RFC 5545 and Temporal.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use nudge_bytecode::TimeOfDay;

/// Looks a zone up by IANA name; `None` for unknown names.
pub fn zone(name: &str) -> Option<TimeZone> {
    TimeZone::get(name).ok()
}

fn civil(ms: i64, tz: &TimeZone) -> Option<DateTime> {
    Some(
        Timestamp::from_millisecond(ms)
            .ok()?
            .to_zoned_datetime(tz.clone())
            .datetime(),
    )
}

/// The instant of `date` at `time` in `tz` (gap → later, overlap → earlier).
pub fn instant(date: Date, time: TimeOfDay, tz: &TimeZone) -> Option<i64> {
    let secs = time.0 % 86_400;
    let dt = date.at(
        (secs / 3600) as i8,
        (secs / 60 % 60) as i8,
        (secs % 60) as i8,
        0,
    );
    Some(
        dt.to_zoned_datetime(tz.clone())
            .ok()?
            .timestamp()
            .as_millisecond(),
    )
}

/// The local calendar date of an instant.
pub fn local_date(ms: i64, tz: &TimeZone) -> Option<Date> {
    civil(ms, tz).map(|dt| dt.date())
}

/// Seconds after local midnight of an instant.
fn local_secs(ms: i64, tz: &TimeZone) -> Option<u32> {
    let t = civil(ms, tz)?.time();
    Some(
        u32::try_from(
            i32::from(t.hour()) * 3600 + i32::from(t.minute()) * 60 + i32::from(t.second()),
        )
        .unwrap_or(0),
    )
}

/// The first instant at or after `now` whose local time is `time` (and
/// whose local weekday is `weekday`, 0 = Monday, when given).
pub fn next_local(now: i64, tz: &TimeZone, time: TimeOfDay, weekday: Option<u8>) -> Option<i64> {
    let mut date = local_date(now, tz)?;
    // Eight days always contain the next matching weekday; one more covers
    // a time already past today.
    for _ in 0..9 {
        let day_ok = weekday
            .is_none_or(|w| i16::from(date.weekday().to_monday_zero_offset()) == i16::from(w));
        if day_ok
            && let Some(at) = instant(date, time, tz)
            && at >= now
        {
            return Some(at);
        }
        date = date.tomorrow().ok()?;
    }
    None
}

/// When `now` lies inside the daily window `start..end` (local; wrapping
/// midnight when `start > end`, e.g. 21:00 to 09:00), the instant the window
/// ends; `None` outside it.
pub fn quiet_window_end(now: i64, tz: &TimeZone, start: TimeOfDay, end: TimeOfDay) -> Option<i64> {
    let t = local_secs(now, tz)?;
    let (s, e) = (start.0 % 86_400, end.0 % 86_400);
    let inside = if s <= e {
        t >= s && t < e
    } else {
        t >= s || t < e
    };
    if !inside {
        return None;
    }
    next_local(now, tz, TimeOfDay(e), None)
}

/// The anniversary of `born` in `year`; February 29 falls on February 28 in
/// common years (the last day of February, as most shops and payroll
/// systems do, rather than March 1).
pub fn anniversary(born: nudge_bytecode::Date, year: i16) -> Option<Date> {
    let (m, d) = (born.month as i8, born.day as i8);
    Date::new(year, m, d)
        .or_else(|_| Date::new(year, m, d.saturating_sub(1)))
        .ok()
}

/// A bytecode date as a jiff date.
pub fn civil_date(d: nudge_bytecode::Date) -> Option<Date> {
    Date::new(i16::try_from(d.year).ok()?, d.month as i8, d.day as i8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>()
            .map(|t| t.as_millisecond())
            .unwrap_or(i64::MIN)
    }

    fn nine() -> TimeOfDay {
        TimeOfDay(9 * 3600)
    }

    #[test]
    fn quiet_hours_defer_across_the_new_york_spring_forward() {
        let ny = zone("America/New_York").unwrap_or(TimeZone::UTC);
        // 2026-03-07 22:00 EST (UTC-5) is inside 21:00..09:00; the window
        // ends at 09:00 EDT (UTC-4) on the 8th, after clocks sprang forward.
        let now = ms("2026-03-08T03:00:00Z");
        let end = quiet_window_end(now, &ny, TimeOfDay(21 * 3600), nine());
        assert_eq!(end, Some(ms("2026-03-08T13:00:00Z")));
        // 23 hours of wall clock, not 24: the deferral is 11 real hours.
        assert_eq!(end.map(|e| (e - now) / 3_600_000), Some(10));
    }

    #[test]
    fn quiet_hours_defer_across_the_berlin_spring_forward() {
        let berlin = zone("Europe/Berlin").unwrap_or(TimeZone::UTC);
        // 2026-03-28 23:30 CET (UTC+1); window ends 09:00 CEST (UTC+2).
        let now = ms("2026-03-28T22:30:00Z");
        let end = quiet_window_end(now, &berlin, TimeOfDay(21 * 3600), nine());
        assert_eq!(end, Some(ms("2026-03-29T07:00:00Z")));
        // Outside the window: no deferral.
        assert_eq!(
            quiet_window_end(
                ms("2026-03-29T12:00:00Z"),
                &berlin,
                TimeOfDay(21 * 3600),
                nine()
            ),
            None
        );
    }

    #[test]
    fn next_local_time_and_weekday() {
        let ny = zone("America/New_York").unwrap_or(TimeZone::UTC);
        // Wednesday 2026-11-25 12:00 EST → next 10:00 is Thursday 15:00Z.
        let now = ms("2026-11-25T17:00:00Z");
        assert_eq!(
            next_local(now, &ny, TimeOfDay(36_000), None),
            Some(ms("2026-11-26T15:00:00Z"))
        );
        // Next Monday 09:00 local.
        assert_eq!(
            next_local(now, &ny, nine(), Some(0)),
            Some(ms("2026-11-30T14:00:00Z"))
        );
        // A local time inside the spring-forward gap lands after it.
        let before = ms("2026-03-08T05:00:00Z");
        assert_eq!(
            next_local(before, &ny, TimeOfDay(2 * 3600 + 1800), None),
            Some(ms("2026-03-08T07:30:00Z"))
        );
    }

    #[test]
    fn february_29_falls_on_february_28_in_common_years() {
        let born = nudge_bytecode::Date {
            year: 2000,
            month: 2,
            day: 29,
        };
        assert_eq!(
            anniversary(born, 2027).map(|d| d.to_string()),
            Some("2027-02-28".into())
        );
        assert_eq!(
            anniversary(born, 2028).map(|d| d.to_string()),
            Some("2028-02-29".into())
        );
    }
}
