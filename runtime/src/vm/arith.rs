//! Operators on runtime values: arithmetic over numbers, money, percents,
//! durations, timestamps and dates; comparisons; membership. The checker has
//! already rejected ill-typed uses, so a mismatch here means a bundle built
//! by something else: it is an error value, never a panic.

use nudge_bytecode::{Date, Money, Value};
use rust_decimal::Decimal;
use std::cmp::Ordering;

const MS_PER_SEC: i64 = 1000;
const SECS_PER_DAY: i64 = 86_400;

/// A binary operator that can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

impl Arith {
    fn symbol(self) -> &'static str {
        match self {
            Arith::Add => "+",
            Arith::Sub => "-",
            Arith::Mul => "*",
            Arith::Div => "/",
        }
    }
}

fn mismatch(op: &str, a: &Value, b: &Value) -> String {
    format!("cannot apply `{op}` to {} and {}", a.kind(), b.kind())
}

fn overflow(op: Arith) -> String {
    format!("arithmetic overflow in `{}`", op.symbol())
}

fn dec(op: Arith, a: Decimal, b: Decimal) -> Result<Decimal, String> {
    match op {
        Arith::Add => a.checked_add(b),
        Arith::Sub => a.checked_sub(b),
        Arith::Mul => a.checked_mul(b),
        Arith::Div if b.is_zero() => return Err("division by zero".to_string()),
        Arith::Div => a.checked_div(b),
    }
    .ok_or_else(|| overflow(op))
}

fn int(op: Arith, a: i64, b: i64) -> Result<Value, String> {
    match op {
        Arith::Add => a.checked_add(b).map(Value::Int).ok_or_else(|| overflow(op)),
        Arith::Sub => a.checked_sub(b).map(Value::Int).ok_or_else(|| overflow(op)),
        Arith::Mul => a.checked_mul(b).map(Value::Int).ok_or_else(|| overflow(op)),
        // `/` on ints gives a decimal: `3 / 2` is 1.5, not 1.
        Arith::Div => dec(op, Decimal::from(a), Decimal::from(b)).map(Value::Decimal),
    }
}

/// A plain number (`int` or `decimal`) as a decimal.
fn number(v: &Value) -> Option<Decimal> {
    match v {
        Value::Int(i) => Some(Decimal::from(*i)),
        Value::Decimal(d) => Some(*d),
        _ => None,
    }
}

fn same_currency(op: &str, a: &Money, b: &Money) -> Result<(), String> {
    if a.currency != b.currency {
        return Err(format!(
            "cannot apply `{op}` to {} and {} money",
            a.currency, b.currency
        ));
    }
    Ok(())
}

fn checked_i64(op: Arith, v: Option<i64>) -> Result<i64, String> {
    v.ok_or_else(|| overflow(op))
}

fn date_plus_secs(op: Arith, d: &Date, secs: i64) -> Result<Value, String> {
    let days = checked_i64(
        op,
        d.days_since_epoch()
            .checked_add(secs.div_euclid(SECS_PER_DAY)),
    )?;
    Date::from_days_since_epoch(days)
        .map(Value::Date)
        .ok_or_else(|| overflow(op))
}

/// `a op b`.
pub fn arith(op: Arith, a: &Value, b: &Value) -> Result<Value, String> {
    use Value as V;
    match (op, a, b) {
        (_, V::Int(x), V::Int(y)) => int(op, *x, *y),
        // The empty sum is `Int(0)` (its currency is unknown): zero plus
        // money is that money, so `sum(...)` over no events still adds up.
        (Arith::Add, V::Int(0), m @ V::Money(_)) | (Arith::Add, m @ V::Money(_), V::Int(0)) => {
            Ok(m.clone())
        }
        (_, V::Int(_) | V::Decimal(_), V::Int(_) | V::Decimal(_)) => {
            let (x, y) = (number(a).unwrap_or_default(), number(b).unwrap_or_default());
            dec(op, x, y).map(V::Decimal)
        }
        (Arith::Add | Arith::Sub, V::Money(x), V::Money(y)) => {
            same_currency(op.symbol(), x, y)?;
            Ok(V::Money(Money {
                amount: dec(op, x.amount, y.amount)?,
                currency: x.currency,
            }))
        }
        (Arith::Div, V::Money(x), V::Money(y)) => {
            same_currency("/", x, y)?;
            dec(op, x.amount, y.amount).map(V::Decimal)
        }
        (Arith::Mul | Arith::Div, V::Money(m), n @ (V::Int(_) | V::Decimal(_))) => {
            let n = number(n).unwrap_or_default();
            Ok(V::Money(Money {
                amount: dec(op, m.amount, n)?,
                currency: m.currency,
            }))
        }
        (Arith::Mul, n @ (V::Int(_) | V::Decimal(_)), V::Money(m)) => {
            let n = number(n).unwrap_or_default();
            Ok(V::Money(Money {
                amount: dec(op, n, m.amount)?,
                currency: m.currency,
            }))
        }
        // `10% * price` and `price * 10%`: a share of the amount.
        (Arith::Mul, V::Money(m), V::Percent(p)) | (Arith::Mul, V::Percent(p), V::Money(m)) => {
            let share = dec(Arith::Div, *p, Decimal::ONE_HUNDRED)?;
            Ok(V::Money(Money {
                amount: dec(op, m.amount, share)?,
                currency: m.currency,
            }))
        }
        (Arith::Mul, n @ (V::Int(_) | V::Decimal(_)), V::Percent(p))
        | (Arith::Mul, V::Percent(p), n @ (V::Int(_) | V::Decimal(_))) => {
            let n = number(n).unwrap_or_default();
            let share = dec(Arith::Div, *p, Decimal::ONE_HUNDRED)?;
            dec(op, n, share).map(V::Decimal)
        }
        (Arith::Add | Arith::Sub, V::Percent(x), V::Percent(y)) => dec(op, *x, *y).map(V::Percent),
        (Arith::Add, V::Duration(x), V::Duration(y)) => {
            checked_i64(op, x.checked_add(*y)).map(V::Duration)
        }
        (Arith::Sub, V::Duration(x), V::Duration(y)) => {
            checked_i64(op, x.checked_sub(*y)).map(V::Duration)
        }
        (Arith::Mul, V::Duration(d), V::Int(n)) | (Arith::Mul, V::Int(n), V::Duration(d)) => {
            checked_i64(op, d.checked_mul(*n)).map(V::Duration)
        }
        (Arith::Div, V::Duration(d), V::Int(n)) => {
            if *n == 0 {
                return Err("division by zero".to_string());
            }
            checked_i64(op, d.checked_div(*n)).map(V::Duration)
        }
        (Arith::Div, V::Duration(x), V::Duration(y)) => {
            dec(op, Decimal::from(*x), Decimal::from(*y)).map(V::Decimal)
        }
        (Arith::Add, V::Timestamp(t), V::Duration(d))
        | (Arith::Add, V::Duration(d), V::Timestamp(t)) => {
            let ms = checked_i64(op, d.checked_mul(MS_PER_SEC))?;
            checked_i64(op, t.checked_add(ms)).map(V::Timestamp)
        }
        (Arith::Sub, V::Timestamp(t), V::Duration(d)) => {
            let ms = checked_i64(op, d.checked_mul(MS_PER_SEC))?;
            checked_i64(op, t.checked_sub(ms)).map(V::Timestamp)
        }
        (Arith::Sub, V::Timestamp(x), V::Timestamp(y)) => {
            checked_i64(op, x.checked_sub(*y)).map(|ms| V::Duration(ms.div_euclid(MS_PER_SEC)))
        }
        (Arith::Add, V::Date(d), V::Duration(s)) | (Arith::Add, V::Duration(s), V::Date(d)) => {
            date_plus_secs(op, d, *s)
        }
        (Arith::Sub, V::Date(d), V::Duration(s)) => {
            date_plus_secs(op, d, checked_i64(op, s.checked_neg())?)
        }
        (Arith::Sub, V::Date(x), V::Date(y)) => {
            let days = x.days_since_epoch() - y.days_since_epoch();
            checked_i64(op, days.checked_mul(SECS_PER_DAY)).map(V::Duration)
        }
        (Arith::Add, V::Str(x), V::Str(y)) => Ok(V::str(format!("{x}{y}"))),
        _ => Err(mismatch(op.symbol(), a, b)),
    }
}

/// `-a`.
pub fn negate(a: &Value) -> Result<Value, String> {
    let neg = || "arithmetic overflow in unary `-`".to_string();
    match a {
        Value::Int(i) => i.checked_neg().map(Value::Int).ok_or_else(neg),
        Value::Decimal(d) => Ok(Value::Decimal(-*d)),
        Value::Percent(d) => Ok(Value::Percent(-*d)),
        Value::Money(m) => Ok(Value::Money(Money {
            amount: -m.amount,
            currency: m.currency,
        })),
        Value::Duration(s) => s.checked_neg().map(Value::Duration).ok_or_else(neg),
        other => Err(format!("cannot negate {}", other.kind())),
    }
}

/// `a == b`: structural, except that ints and decimals compare by value and
/// decimals ignore trailing zeros (`9.90 == 9.9`).
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(_) | Value::Decimal(_), Value::Int(_) | Value::Decimal(_)) => {
            number(a) == number(b)
        }
        (Value::Money(x), Value::Money(y)) => x.currency == y.currency && x.amount == y.amount,
        (Value::Percent(x), Value::Percent(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Record(x), Value::Record(y)) => {
            x.len() == y.len()
                && x.fields()
                    .zip(y.fields())
                    .all(|((n, p), (m, q))| n == m && equal(p, q))
        }
        _ => a == b,
    }
}

/// Ordering for `< <= > >=`.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    use Value as V;
    match (a, b) {
        (V::Int(_) | V::Decimal(_), V::Int(_) | V::Decimal(_)) => Ok(number(a)
            .unwrap_or_default()
            .cmp(&number(b).unwrap_or_default())),
        (V::Money(x), V::Money(y)) => {
            same_currency("<", x, y)?;
            Ok(x.amount.cmp(&y.amount))
        }
        // The empty sum `Int(0)` against money: zero of that currency.
        (V::Int(0), V::Money(y)) => Ok(Decimal::ZERO.cmp(&y.amount)),
        (V::Money(x), V::Int(0)) => Ok(x.amount.cmp(&Decimal::ZERO)),
        (V::Percent(x), V::Percent(y)) => Ok(x.cmp(y)),
        (V::Duration(x), V::Duration(y)) | (V::Timestamp(x), V::Timestamp(y)) => Ok(x.cmp(y)),
        (V::Date(x), V::Date(y)) => Ok(x.cmp(y)),
        (V::Time(x), V::Time(y)) => Ok(x.cmp(y)),
        (V::Str(x), V::Str(y)) => Ok(x.cmp(y)),
        _ => Err(mismatch("<", a, b)),
    }
}

/// `x in list`.
pub fn contains(x: &Value, list: &Value) -> Result<bool, String> {
    match list {
        Value::List(items) => Ok(items.iter().any(|item| equal(x, item))),
        other => Err(format!(
            "`in` needs a list on the right, found {}",
            other.kind()
        )),
    }
}

/// Whole days from `then` (timestamp or date) to `now_ms`.
pub fn days_since(then: &Value, now_ms: i64) -> Result<Value, String> {
    let then_ms = match then {
        Value::None => return Ok(Value::None),
        Value::Timestamp(t) => *t,
        Value::Date(d) => d
            .days_since_epoch()
            .saturating_mul(SECS_PER_DAY * MS_PER_SEC),
        other => {
            return Err(format!(
                "days_since needs a timestamp or date, found {}",
                other.kind()
            ));
        }
    };
    Ok(Value::Int(
        now_ms
            .saturating_sub(then_ms)
            .div_euclid(SECS_PER_DAY * MS_PER_SEC),
    ))
}

/// The first instant after `now_ms` at which `days_since(then)` gives
/// another value (`None` when it never changes: `then` is none or not a
/// time). Lets the engine re-check a segment exactly when time changes it.
pub fn days_since_changes_at(then: &Value, now_ms: i64) -> Option<i64> {
    let day = SECS_PER_DAY * MS_PER_SEC;
    let then_ms = match then {
        Value::Timestamp(t) => *t,
        Value::Date(d) => d.days_since_epoch().saturating_mul(day),
        _ => return None,
    };
    let whole = now_ms.saturating_sub(then_ms).div_euclid(day);
    Some(then_ms.saturating_add(whole.saturating_add(1).saturating_mul(day)))
}

/// The first instant after `now_ms` at which `age(born)` gives another
/// value: UTC midnight of the next birthday (March 1 in common years for
/// February 29, as `age` counts it).
pub fn age_changes_at(born: &Value, now_ms: i64) -> Option<i64> {
    let Value::Date(born) = born else {
        return None;
    };
    let day = SECS_PER_DAY * MS_PER_SEC;
    let today = now_ms.div_euclid(day);
    let year = Date::from_days_since_epoch(today)?.year;
    (year..=year.saturating_add(1))
        .filter_map(|y| Date::new(y, born.month, born.day).or_else(|| Date::new(y, 3, 1)))
        .map(|d| d.days_since_epoch())
        .find(|d| *d > today)
        .map(|d| d.saturating_mul(day))
}

/// Whole years from `born` to the UTC date of `now_ms`.
pub fn age(born: &Value, now_ms: i64) -> Result<Value, String> {
    let born = match born {
        Value::None => return Ok(Value::None),
        Value::Date(d) => *d,
        other => return Err(format!("age needs a date, found {}", other.kind())),
    };
    let today = Date::from_days_since_epoch(now_ms.div_euclid(SECS_PER_DAY * MS_PER_SEC))
        .ok_or_else(|| "now is out of the calendar's range".to_string())?;
    let mut years = i64::from(today.year) - i64::from(born.year);
    if (today.month, today.day) < (born.month, born.day) {
        years -= 1;
    }
    Ok(Value::Int(years))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nudge_bytecode::Currency;

    fn usd(cents: i64) -> Value {
        Value::Money(Money {
            amount: Decimal::new(cents, 2),
            currency: Currency::new("USD").unwrap_or_else(|| unreachable!()),
        })
    }

    #[test]
    fn money_arithmetic_keeps_currency_and_rejects_mixing() {
        assert_eq!(arith(Arith::Add, &usd(999), &usd(1)), Ok(usd(1000)));
        assert_eq!(
            arith(Arith::Mul, &usd(2000), &Value::Percent(Decimal::from(10))),
            Ok(usd(200))
        );
        let eur = Value::Money(Money {
            amount: Decimal::ONE,
            currency: Currency::new("EUR").unwrap_or_else(|| unreachable!()),
        });
        assert!(arith(Arith::Add, &usd(1), &eur).is_err());
        assert!(compare(&usd(1), &eur).is_err());
        assert_eq!(compare(&usd(50_000), &usd(49_999)), Ok(Ordering::Greater));
    }

    #[test]
    fn time_arithmetic() {
        assert_eq!(
            arith(Arith::Add, &Value::Timestamp(1_000), &Value::Duration(60)),
            Ok(Value::Timestamp(61_000))
        );
        assert_eq!(
            arith(
                Arith::Sub,
                &Value::Timestamp(61_999),
                &Value::Timestamp(1_000)
            ),
            Ok(Value::Duration(60))
        );
        let d = Date::new(2024, 2, 28)
            .map(Value::Date)
            .unwrap_or(Value::None);
        let next = Date::new(2024, 2, 29)
            .map(Value::Date)
            .unwrap_or(Value::None);
        assert_eq!(arith(Arith::Add, &d, &Value::Duration(86_400)), Ok(next));
        assert_eq!(
            days_since(&Value::Timestamp(0), 3 * 86_400_000 + 5),
            Ok(Value::Int(3))
        );
        let born = Date::new(2000, 6, 15)
            .map(Value::Date)
            .unwrap_or(Value::None);
        let before_birthday = Date::new(2026, 6, 14)
            .map(|d| d.days_since_epoch() * 86_400_000)
            .unwrap_or(0);
        assert_eq!(age(&born, before_birthday), Ok(Value::Int(25)));
        assert_eq!(age(&born, before_birthday + 86_400_000), Ok(Value::Int(26)));
    }

    #[test]
    fn numbers_mix_and_divide_safely() {
        assert_eq!(
            arith(Arith::Div, &Value::Int(3), &Value::Int(2)),
            Ok(Value::Decimal(Decimal::new(15, 1)))
        );
        assert!(arith(Arith::Div, &Value::Int(3), &Value::Int(0)).is_err());
        assert!(arith(Arith::Add, &Value::Int(i64::MAX), &Value::Int(1)).is_err());
        assert!(equal(&Value::Int(2), &Value::Decimal(Decimal::new(200, 2))));
        assert_eq!(
            contains(
                &Value::str("a"),
                &Value::List(vec![Value::str("b"), Value::str("a")])
            ),
            Ok(true)
        );
    }
}
