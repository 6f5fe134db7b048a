//! The plain text form of a value: what a string hole (`"{{ x }}"` in flow
//! code) or an unfiltered template hole prints. Filters (`money`, `date`,
//! ...) give the friendlier forms; see `crate::template`.

use nudge_bytecode::{Date, Value};
use std::fmt::Write;

/// `none` prints as the empty string (the checker makes sure a hole that
/// reaches a customer is not optional).
pub fn plain_text(value: &Value) -> String {
    let mut out = String::new();
    write_plain(&mut out, value);
    out
}

pub fn write_plain(out: &mut String, value: &Value) {
    // `write!` into a String cannot fail.
    let _ = match value {
        Value::None => Ok(()),
        Value::Bool(b) => write!(out, "{b}"),
        Value::Int(i) => write!(out, "{i}"),
        Value::Decimal(d) => write!(out, "{}", d.normalize()),
        Value::Str(s) => {
            out.push_str(s);
            Ok(())
        }
        Value::Money(m) => write!(out, "{:.2} {}", m.amount, m.currency),
        Value::Percent(p) => write!(out, "{}%", p.normalize()),
        Value::Duration(s) => {
            out.push_str(&duration_text(*s));
            Ok(())
        }
        Value::Timestamp(ms) => {
            out.push_str(&timestamp_text(*ms));
            Ok(())
        }
        Value::Date(d) => write!(out, "{d}"),
        Value::Time(t) => write!(out, "{t}"),
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_plain(out, item);
            }
            Ok(())
        }
        Value::Record(r) => {
            out.push('{');
            for (i, (name, v)) in r.fields().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(name);
                out.push_str(": ");
                write_plain(out, v);
            }
            out.push('}');
            Ok(())
        }
    };
}

/// `5400` → `1h30m`; the language's own duration syntax.
pub fn duration_text(secs: i64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
    }
    let mut left = secs.unsigned_abs();
    for (unit, size) in [("d", 86_400u64), ("h", 3600), ("m", 60), ("s", 1)] {
        if left >= size {
            let _ = write!(out, "{}{unit}", left / size);
            left %= size;
        }
    }
    out
}

/// Unix milliseconds → `2026-11-25T05:36:39Z` (UTC, RFC 3339; milliseconds
/// shown only when not zero).
pub fn timestamp_text(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let Some(date) = Date::from_days_since_epoch(days) else {
        return format!("@{ms}ms");
    };
    let (h, m, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    if milli == 0 {
        format!("{date}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{date}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(duration_text(5400), "1h30m");
        assert_eq!(duration_text(7 * 86_400), "7d");
        assert_eq!(timestamp_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            timestamp_text(1_764_048_999_123),
            "2025-11-25T05:36:39.123Z"
        );
        assert_eq!(
            plain_text(&Value::List(vec![Value::Int(1), Value::str("a")])),
            "1, a"
        );
    }
}
