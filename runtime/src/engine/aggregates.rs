//! Per-profile history aggregates, maintained incrementally as events
//! arrive: exactly the ones the bundle declares (`Bundle::aggregates`), never
//! raw event history.
//!
//! Storage per aggregate, bounded whatever the event volume:
//! - without a window: one running entry (count, sum; first or last value);
//! - `last` / `exists` with a window: only the latest entry (it alone
//!   decides whether something happened within the window);
//! - `count` / `sum` / `first` with a window: a list of entries (instant,
//!   count, sum), pruned as they fall out of the window, and at most
//!   `MAX_ENTRIES` long: past that the two oldest merge (keeping the newer
//!   instant, so a merged entry leaves the window a little late rather than
//!   early). Below `MAX_ENTRIES` events per window the value is exact.
//!
//! Values are read "as of now": entries older than the window never count,
//! whether or not pruning has run yet. A window is the last `d` up to and
//! including now, `(now - d, now]`, the same as frequency caps: `within: 7d`
//! no longer counts an event exactly 7 days old.

use crate::vm::arith::{Arith, arith};
use nudge_bytecode::Value;
use nudge_bytecode::format::{Aggregate, AggregateKind};
use serde::{Deserialize, Serialize};

/// Most entries one windowed aggregate keeps per profile.
pub const MAX_ENTRIES: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggState {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    at: i64,
    n: u64,
    /// Sum (for `sum`) or the value (for `first`/`last`); `None` otherwise.
    v: Value,
}

fn window_ms(a: &Aggregate) -> Option<i64> {
    a.window_secs.map(|s| s.saturating_mul(1000))
}

/// The aggregated field of an event (`None` when absent).
pub fn field_of(a: &Aggregate, event: &Value) -> Value {
    let mut v = event;
    for name in &a.field {
        match v.as_record().and_then(|r| r.get(name)) {
            Some(x) => v = x,
            None => return Value::None,
        }
    }
    v.clone()
}

fn add(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::None, x) | (x, Value::None) => x.clone(),
        // A value that cannot be added (mixed currencies, a bundle bug)
        // keeps the running sum rather than poisoning it.
        _ => arith(Arith::Add, a, b).unwrap_or_else(|_| a.clone()),
    }
}

impl AggState {
    /// Folds in one event at `at` (`event` is its properties record).
    pub fn record(&mut self, a: &Aggregate, at: i64, event: &Value) {
        let v = match a.kind {
            AggregateKind::Count | AggregateKind::Exists => Value::None,
            AggregateKind::Sum | AggregateKind::First | AggregateKind::Last => {
                let v = field_of(a, event);
                if a.kind == AggregateKind::Sum && v.is_none() {
                    // A missing amount adds nothing but still counts.
                    Value::None
                } else {
                    v
                }
            }
        };
        let entry = Entry { at, n: 1, v };
        let windowed = a.window_secs.is_some();
        match (a.kind, windowed) {
            (AggregateKind::Last | AggregateKind::Exists, _) => {
                // Keep the newest (events may arrive out of order).
                if self.entries.first().is_none_or(|e| e.at <= at) {
                    self.entries = vec![entry];
                }
            }
            (AggregateKind::First, false) => {
                if self.entries.first().is_none_or(|e| e.at > at) {
                    self.entries = vec![entry];
                }
            }
            (AggregateKind::Count | AggregateKind::Sum, false) => match self.entries.first_mut() {
                Some(e) => {
                    e.n = e.n.saturating_add(1);
                    e.v = add(&e.v, &entry.v);
                    e.at = e.at.max(at);
                }
                None => self.entries.push(entry),
            },
            (_, true) => {
                let i = self.entries.partition_point(|e| e.at <= at);
                self.entries.insert(i, entry);
                if self.entries.len() > MAX_ENTRIES {
                    self.merge_oldest(a.kind);
                }
            }
        }
    }

    fn merge_oldest(&mut self, kind: AggregateKind) {
        if self.entries.len() < 2 {
            return;
        }
        let first = self.entries.remove(0);
        if let Some(second) = self.entries.first_mut() {
            second.n = second.n.saturating_add(first.n);
            second.v = match kind {
                AggregateKind::Sum => add(&first.v, &second.v),
                // `first` keeps the older value.
                AggregateKind::First => first.v,
                _ => Value::None,
            };
        }
    }

    /// Drops entries that fell out of the window at `now`.
    pub fn prune(&mut self, a: &Aggregate, now: i64) {
        if let Some(w) = window_ms(a) {
            self.entries.retain(|e| e.at > now.saturating_sub(w));
        }
    }

    /// The aggregate's value at `now`.
    pub fn value(&self, a: &Aggregate, now: i64) -> Value {
        let since = window_ms(a).map(|w| now.saturating_sub(w));
        let live = self
            .entries
            .iter()
            .filter(|e| since.is_none_or(|s| e.at > s) && e.at <= now);
        match a.kind {
            AggregateKind::Count => {
                Value::Int(i64::try_from(live.map(|e| e.n).sum::<u64>()).unwrap_or(i64::MAX))
            }
            AggregateKind::Exists => Value::Bool(live.count() > 0),
            // The empty sum is `Int(0)`; the VM treats it as zero of any
            // currency.
            AggregateKind::Sum => live.fold(Value::Int(0), |acc, e| match (&acc, &e.v) {
                (Value::Int(0), v) if !v.is_none() => v.clone(),
                _ => add(&acc, &e.v),
            }),
            AggregateKind::First => live.map(|e| e.v.clone()).next().unwrap_or(Value::None),
            AggregateKind::Last => live.map(|e| e.v.clone()).next_back().unwrap_or(Value::None),
        }
    }

    /// When the value next changes by time alone (an entry leaving the
    /// window), if ever.
    pub fn next_expiry(&self, a: &Aggregate, now: i64) -> Option<i64> {
        let w = window_ms(a)?;
        self.entries
            .iter()
            .map(|e| e.at.saturating_add(w))
            .find(|&t| t > now)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nudge_bytecode::{Currency, Money, Record};
    use rust_decimal::Decimal;

    const DAY: i64 = 86_400_000;

    fn agg(kind: AggregateKind, window_days: Option<i64>) -> Aggregate {
        Aggregate {
            kind,
            event: "Order Completed".into(),
            field: vec!["revenue".into()],
            window_secs: window_days.map(|d| d * 86_400),
        }
    }

    fn usd(n: i64) -> Value {
        Value::Money(Money {
            amount: Decimal::from(n),
            currency: Currency::new("USD").unwrap_or_else(|| unreachable!()),
        })
    }

    fn order(n: i64) -> Value {
        Value::Record(Record::from_fields([("revenue".to_string(), usd(n))]))
    }

    #[test]
    fn windowed_sum_counts_only_the_window_and_prunes() {
        let a = agg(AggregateKind::Sum, Some(30));
        let mut s = AggState::default();
        s.record(&a, 0, &order(100));
        s.record(&a, 10 * DAY, &order(50));
        assert_eq!(s.value(&a, 20 * DAY), usd(150));
        assert_eq!(s.value(&a, 35 * DAY), usd(50));
        assert_eq!(s.next_expiry(&a, 20 * DAY), Some(30 * DAY));
        s.prune(&a, 35 * DAY);
        assert_eq!(s.entries.len(), 1);
        assert_eq!(s.value(&a, 41 * DAY), Value::Int(0));
    }

    #[test]
    fn storage_stays_bounded_under_many_events() {
        let a = agg(AggregateKind::Count, Some(365));
        let mut s = AggState::default();
        for i in 0..10_000 {
            s.record(&a, i * 1000, &order(1));
        }
        assert!(s.entries.len() <= MAX_ENTRIES);
        assert_eq!(s.value(&a, 10_000_000), Value::Int(10_000));
        let total = agg(AggregateKind::Sum, None);
        let mut t = AggState::default();
        for i in 0..1000 {
            t.record(&total, i, &order(2));
        }
        assert_eq!(t.entries.len(), 1);
        assert_eq!(t.value(&total, 5000), usd(2000));
    }

    #[test]
    fn last_first_exists() {
        let last = agg(AggregateKind::Last, None);
        let first = agg(AggregateKind::First, None);
        let exists = agg(AggregateKind::Exists, Some(7));
        let mut l = AggState::default();
        let mut f = AggState::default();
        let mut e = AggState::default();
        for (at, n) in [(DAY, 1), (3 * DAY, 3), (2 * DAY, 2)] {
            l.record(&last, at, &order(n));
            f.record(&first, at, &order(n));
            e.record(&exists, at, &order(n));
        }
        assert_eq!(l.value(&last, 10 * DAY), usd(3));
        assert_eq!(f.value(&first, 10 * DAY), usd(1));
        assert_eq!(e.value(&exists, 10 * DAY - 1), Value::Bool(true));
        assert_eq!(e.value(&exists, 10 * DAY), Value::Bool(false));
    }
}
