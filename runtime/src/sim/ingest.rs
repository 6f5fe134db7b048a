//! Reading Segment-shaped JSON (the `/v1/batch` element shape: `type`,
//! `userId`/`anonymousId`, `event`, `properties`, `traits`, `timestamp`,
//! `messageId`) into engine inputs, typed by the bundle's `Schema`.
//!
//! Real senders are sloppy; what happens to each kind of sloppiness:
//! - **a line that is not JSON, or not an object**, or lacks a profile id
//!   (`userId`, else `anonymousId`), a usable `timestamp`, or (for track)
//!   `event`: an error naming the line; the line is skipped.
//! - **`page`, `screen`, `group`, `alias`**: skipped with a note (flows
//!   cannot trigger on them).
//! - **a line holding a whole batch** (`{"batch": [...]}`): each element is
//!   read, problems still name the line.
//! - **event names in another case or spelling** (`order completed`,
//!   `order_completed`): coerced to the declared name when exactly one
//!   declared event matches ignoring case, spaces, `_` and `-`; a warning
//!   says so. Undeclared names pass through unchanged (no flow names them).
//! - **numbers sent as strings** (`"19"`) for `int`, `decimal`, `money`,
//!   `percent` fields: coerced, with a warning; non-numeric text is a
//!   warning and the field is treated as absent. Numbers for string-typed
//!   fields (`order_id: 123`) become text silently (ids are often numeric).
//! - **money**: a number, numeric string or `{amount, currency}`; the
//!   currency is the event's own `currency` property, else USD.
//! - **string unions**: a member matched ignoring case is coerced; anything
//!   else is a warning and absent.
//! - **timestamps**: RFC 3339 text, or a number (seconds, or milliseconds
//!   when above 10^11). **Dates**: `YYYY-MM-DD` (a full timestamp's date
//!   part is accepted).
//! - **missing fields** are absent (`none`); **extra fields** of a declared
//!   event are dropped (no flow can read them); fields and events the
//!   schema does not declare are kept as plain JSON values.

use crate::engine::Input;
use nudge_bytecode::schema::{FieldType, RecordSchema, Scalar, Schema};
use nudge_bytecode::{Currency, Date, Money, Record, TimeOfDay, Value};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineProblem {
    /// 1-based line number in the log.
    pub line: usize,
    pub severity: Severity,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    /// The line (or batch element) was skipped.
    Error,
    /// Read, with a coercion or a dropped field.
    Warning,
}

/// Events the engine itself reacts to, normalized even if undeclared.
const ENGINE_EVENTS: [&str; 2] = ["Unsubscribed", "SMS Received"];

fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

pub struct Reader<'s> {
    schema: &'s Schema,
    /// (normalized, declared) event names.
    names: Vec<(String, String)>,
}

impl<'s> Reader<'s> {
    pub fn new(schema: &'s Schema) -> Reader<'s> {
        let mut names: Vec<(String, String)> = schema
            .events
            .iter()
            .map(|e| e.name.as_str())
            .chain(ENGINE_EVENTS)
            .map(|n| (norm(n), n.to_string()))
            .collect();
        names.sort();
        names.dedup();
        Reader { schema, names }
    }

    /// Reads a whole JSONL log: inputs with their line numbers, and every
    /// problem found.
    pub fn read_log(&self, text: &str) -> (Vec<(usize, Input)>, Vec<LineProblem>) {
        let mut inputs = Vec::new();
        let mut problems = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            if line.trim().is_empty() {
                continue;
            }
            let mut p = Problems {
                line: line_no,
                out: &mut problems,
            };
            match serde_json::from_str::<Json>(line) {
                Ok(Json::Object(obj)) => match obj.get("batch") {
                    Some(Json::Array(items)) => {
                        for item in items {
                            if let Some(input) = self.element(item, &mut p) {
                                inputs.push((line_no, input));
                            }
                        }
                    }
                    _ => {
                        if let Some(input) = self.element(&Json::Object(obj), &mut p) {
                            inputs.push((line_no, input));
                        }
                    }
                },
                Ok(_) => p.error("not a JSON object".into()),
                Err(e) => p.error(format!("not valid JSON: {e}")),
            }
        }
        (inputs, problems)
    }

    fn element(&self, el: &Json, p: &mut Problems) -> Option<Input> {
        let Some(obj) = el.as_object() else {
            p.error("a batch element is not a JSON object".into());
            return None;
        };
        let kind = obj.get("type").and_then(Json::as_str).unwrap_or("");
        let profile = ["userId", "anonymousId"]
            .iter()
            .find_map(|k| match obj.get(*k) {
                Some(Json::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Some(Json::Number(n)) => Some(n.to_string()),
                _ => None,
            });
        if matches!(kind, "page" | "screen" | "group" | "alias") {
            p.warn(format!("`{kind}` calls are not used by flows; skipped"));
            return None;
        }
        if !matches!(kind, "track" | "identify") {
            p.error(format!(
                "`type` must be \"track\" or \"identify\", found {}",
                short(obj.get("type"))
            ));
            return None;
        }
        let Some(profile) = profile else {
            p.error("no `userId` or `anonymousId`".into());
            return None;
        };
        let at = match obj.get("timestamp").map(timestamp) {
            Some(Some(at)) => at,
            Some(None) => {
                p.error(format!(
                    "`timestamp` is not a time: {}",
                    short(obj.get("timestamp"))
                ));
                return None;
            }
            None => {
                p.error("no `timestamp`".into());
                return None;
            }
        };
        let message_id = obj.get("messageId").and_then(|m| match m {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        });
        if kind == "identify" {
            let mut traits = Record::new();
            if let Some(Json::Object(t)) = obj.get("traits") {
                for (name, j) in t {
                    let v = match self.schema.trait_type(name) {
                        Some(ty) => self.typed(&format!("traits.{name}"), ty, j, None, p),
                        None => Some(untyped(j)),
                    };
                    if let Some(v) = v {
                        traits.insert(name.clone(), v);
                    }
                }
            }
            return Some(Input::Identify {
                profile,
                traits,
                at,
                message_id,
            });
        }
        let Some(raw) = obj.get("event").and_then(Json::as_str) else {
            p.error("a track call without `event`".into());
            return None;
        };
        let event = self.event_name(raw, p);
        let props = obj.get("properties").and_then(Json::as_object);
        let properties = match (self.schema.event(&event), props) {
            (_, None) => Record::new(),
            (Some(schema), Some(props)) => self.record(&event, schema, props, None, p),
            (None, Some(props)) => props
                .iter()
                .map(|(k, v)| (k.clone(), untyped(v)))
                .collect::<Vec<_>>()
                .into_iter()
                .collect_record(),
        };
        Some(Input::Track {
            profile,
            event,
            properties,
            at,
            message_id,
        })
    }

    fn event_name(&self, raw: &str, p: &mut Problems) -> String {
        if self.names.iter().any(|(_, n)| n == raw) {
            return raw.to_string();
        }
        let key = norm(raw);
        let matches: Vec<&String> = self
            .names
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, n)| n)
            .collect();
        match matches.as_slice() {
            [one] => {
                p.warn(format!("event {raw:?} read as {one:?}"));
                (*one).clone()
            }
            _ => raw.to_string(),
        }
    }

    /// `inherited`: the currency of the enclosing event, for nested records
    /// (a product's `price` takes its order's `currency`).
    fn record(
        &self,
        path: &str,
        schema: &RecordSchema,
        obj: &serde_json::Map<String, Json>,
        inherited: Option<Currency>,
        p: &mut Problems,
    ) -> Record {
        let currency = obj
            .get("currency")
            .and_then(Json::as_str)
            .and_then(|c| Currency::new(&c.trim().to_ascii_uppercase()))
            .or(inherited);
        let mut out = Record::new();
        for (name, j) in obj {
            let Some(ty) = schema.field(name) else {
                continue;
            };
            if let Some(v) = self.typed(&format!("{path}.{name}"), ty, j, currency, p) {
                out.insert(name.clone(), v);
            }
        }
        out
    }

    /// `None`: invalid (warned) — the field is absent.
    fn typed(
        &self,
        path: &str,
        ty: &FieldType,
        j: &Json,
        currency: Option<Currency>,
        p: &mut Problems,
    ) -> Option<Value> {
        if j.is_null() {
            return Some(Value::None);
        }
        let bad = |p: &mut Problems, what: &str| {
            p.warn(format!(
                "`{path}`: expected {what}, found {}; treated as absent",
                short(Some(j))
            ));
            None
        };
        match ty {
            FieldType::Optional(inner) => self.typed(path, inner, j, currency, p),
            FieldType::Unknown => Some(untyped(j)),
            FieldType::List(inner) => match j {
                Json::Array(items) => Some(Value::List(
                    items
                        .iter()
                        .filter_map(|x| self.typed(path, inner, x, currency, p))
                        .collect(),
                )),
                _ => bad(p, "a list"),
            },
            FieldType::Record(name) | FieldType::Event(name) => {
                let schema = match ty {
                    FieldType::Record(_) => self.schema.record(name),
                    _ => self.schema.event(name),
                };
                match (j, schema) {
                    (Json::Object(obj), Some(s)) => {
                        Some(Value::Record(self.record(path, s, obj, currency, p)))
                    }
                    (Json::Object(_), None) => Some(untyped(j)),
                    _ => bad(p, "an object"),
                }
            }
            FieldType::Union(members) => {
                let s = j.as_str().map(str::trim)?;
                if let Some(m) = members.iter().find(|m| m.as_str() == s) {
                    return Some(Value::str(m.as_str()));
                }
                match members.iter().find(|m| m.eq_ignore_ascii_case(s)) {
                    Some(m) => {
                        p.warn(format!("`{path}`: {s:?} read as {m:?}"));
                        Some(Value::str(m.as_str()))
                    }
                    None => bad(p, &format!("one of {}", members.join(", "))),
                }
            }
            FieldType::Scalar(s) => self.scalar(path, *s, j, currency, p),
        }
    }

    fn scalar(
        &self,
        path: &str,
        s: Scalar,
        j: &Json,
        currency: Option<Currency>,
        p: &mut Problems,
    ) -> Option<Value> {
        let bad = |p: &mut Problems, what: &str| {
            p.warn(format!(
                "`{path}`: expected {what}, found {}; treated as absent",
                short(Some(j))
            ));
            None
        };
        // A number, or a number sent as a string (coerced with a warning).
        let number = |p: &mut Problems| -> Option<Decimal> {
            match j {
                Json::Number(n) => decimal(&n.to_string()),
                Json::String(t) => {
                    let d = decimal(t.trim().trim_end_matches('%').trim());
                    if d.is_some() {
                        p.warn(format!("`{path}`: number sent as text {t:?}, coerced"));
                    }
                    d
                }
                _ => None,
            }
        };
        match s {
            Scalar::Bool => match j {
                Json::Bool(b) => Some(Value::Bool(*b)),
                Json::String(t) => match t.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" => Some(Value::Bool(true)),
                    "false" | "no" | "0" => Some(Value::Bool(false)),
                    _ => bad(p, "true or false"),
                },
                Json::Number(n) if n.as_i64() == Some(1) => Some(Value::Bool(true)),
                Json::Number(n) if n.as_i64() == Some(0) => Some(Value::Bool(false)),
                _ => bad(p, "true or false"),
            },
            Scalar::Int => match number(p) {
                Some(d) if d.fract().is_zero() => i64::try_from(d).ok().map(Value::Int),
                _ => bad(p, "a whole number"),
            },
            Scalar::Decimal => match number(p) {
                Some(d) => Some(Value::Decimal(d)),
                None => bad(p, "a number"),
            },
            Scalar::Percent => match number(p) {
                Some(d) => Some(Value::Percent(d)),
                None => bad(p, "a percentage"),
            },
            Scalar::Money => {
                if let Json::Object(o) = j {
                    let amount = o.get("amount").and_then(|a| match a {
                        Json::Number(n) => decimal(&n.to_string()),
                        Json::String(t) => decimal(t.trim()),
                        _ => None,
                    });
                    let cur = o
                        .get("currency")
                        .and_then(Json::as_str)
                        .and_then(|c| Currency::new(&c.trim().to_ascii_uppercase()))
                        .or(currency);
                    return match amount {
                        Some(amount) => Some(money(amount, cur)),
                        None => bad(p, "an amount"),
                    };
                }
                match number(p) {
                    Some(d) => Some(money(d, currency)),
                    None => bad(p, "an amount of money"),
                }
            }
            Scalar::Currency => match j
                .as_str()
                .and_then(|c| Currency::new(&c.trim().to_ascii_uppercase()))
            {
                Some(c) => Some(Value::str(c.as_str())),
                None => bad(p, "a currency code"),
            },
            Scalar::Timestamp => match timestamp(j) {
                Some(ms) => Some(Value::Timestamp(ms)),
                None => bad(p, "a timestamp"),
            },
            Scalar::Date => match j.as_str().and_then(date) {
                Some(d) => Some(Value::Date(d)),
                None => bad(p, "a date (YYYY-MM-DD)"),
            },
            Scalar::Time => match j.as_str().and_then(time) {
                Some(t) => Some(Value::Time(t)),
                None => bad(p, "a time of day (HH:MM)"),
            },
            Scalar::Duration => match j.as_i64() {
                Some(secs) => Some(Value::Duration(secs)),
                None => bad(p, "a duration in seconds"),
            },
            Scalar::String | Scalar::Email | Scalar::Phone | Scalar::Url | Scalar::Timezone => {
                match j {
                    Json::String(t) => Some(Value::str(t.trim())),
                    Json::Number(n) => Some(Value::str(n.to_string())),
                    _ => bad(p, "text"),
                }
            }
        }
    }
}

trait CollectRecord {
    fn collect_record(self) -> Record;
}

impl<I: Iterator<Item = (String, Value)>> CollectRecord for I {
    fn collect_record(self) -> Record {
        Record::from_fields(self)
    }
}

struct Problems<'a> {
    line: usize,
    out: &'a mut Vec<LineProblem>,
}

impl Problems<'_> {
    fn error(&mut self, message: String) {
        self.out.push(LineProblem {
            line: self.line,
            severity: Severity::Error,
            message,
        });
    }
    fn warn(&mut self, message: String) {
        self.out.push(LineProblem {
            line: self.line,
            severity: Severity::Warning,
            message,
        });
    }
}

fn short(j: Option<&Json>) -> String {
    match j {
        None => "nothing".into(),
        Some(j) => {
            let s = j.to_string();
            if s.chars().count() > 40 {
                format!("{}…", s.chars().take(40).collect::<String>())
            } else {
                s
            }
        }
    }
}

fn decimal(t: &str) -> Option<Decimal> {
    Decimal::from_str(t)
        .ok()
        .or_else(|| Decimal::from_scientific(t).ok())
}

fn money(amount: Decimal, currency: Option<Currency>) -> Value {
    match currency.or_else(|| Currency::new("USD")) {
        Some(currency) => Value::Money(Money { amount, currency }),
        None => Value::Decimal(amount),
    }
}

/// RFC 3339 text, or a unix number (seconds; milliseconds above 10^11).
pub fn timestamp(j: &Json) -> Option<i64> {
    match j {
        Json::String(s) => s
            .trim()
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|t| t.as_millisecond()),
        Json::Number(n) => {
            let x = n.as_f64()?;
            if !x.is_finite() {
                return None;
            }
            let ms = if x.abs() > 1e11 { x } else { x * 1000.0 };
            Some(ms.round() as i64)
        }
        _ => None,
    }
}

fn date(s: &str) -> Option<Date> {
    let s = s.trim();
    let head = s.get(..10)?;
    let mut parts = head.split('-');
    let y = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let d = parts.next()?.parse().ok()?;
    Date::new(y, m, d)
}

fn time(s: &str) -> Option<TimeOfDay> {
    let (h, m) = s.trim().split_once(':')?;
    TimeOfDay::new(h.parse().ok()?, m.get(..2)?.parse().ok()?)
}

/// Plain JSON → value, for what the schema does not declare.
pub fn untyped(j: &Json) -> Value {
    match j {
        Json::Null => Value::None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => decimal(&n.to_string())
                .map(Value::Decimal)
                .unwrap_or(Value::None),
        },
        Json::String(s) => Value::str(s.as_str()),
        Json::Array(items) => Value::List(items.iter().map(untyped).collect()),
        Json::Object(o) => Value::Record(Record::from_fields(
            o.iter().map(|(k, v)| (k.clone(), untyped(v))),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::panic, reason = "a failing test may panic")]
mod tests {
    use super::*;
    use nudge_bytecode::schema::FieldSchema;

    fn field(name: &str, ty: FieldType) -> FieldSchema {
        FieldSchema {
            name: name.to_string(),
            ty,
        }
    }

    fn money() -> FieldType {
        FieldType::Optional(Box::new(FieldType::Scalar(Scalar::Money)))
    }

    #[test]
    fn nested_amounts_take_the_event_currency() {
        let schema = Schema {
            events: vec![RecordSchema {
                name: "Order Completed".into(),
                // Sorted by name, as lowering writes them.
                fields: vec![
                    field(
                        "currency",
                        FieldType::Optional(Box::new(FieldType::Scalar(Scalar::Currency))),
                    ),
                    field(
                        "products",
                        FieldType::List(Box::new(FieldType::Record("Product".into()))),
                    ),
                    field("revenue", money()),
                ],
            }],
            records: vec![RecordSchema {
                name: "Product".into(),
                fields: vec![field("price", money())],
            }],
            traits: Vec::new(),
        };
        let log = r#"{"type":"track","userId":"u","timestamp":"2026-03-01T00:00:00Z","event":"Order Completed","properties":{"revenue":20,"currency":"EUR","products":[{"price":5},{"price":7,"currency":"GBP"}]}}"#;
        let (inputs, problems) = Reader::new(&schema).read_log(log);
        assert!(problems.is_empty(), "{problems:?}");
        let Some((_, Input::Track { properties, .. })) = inputs.first() else {
            panic!("no track input: {inputs:?}");
        };
        let currency = |v: Option<&Value>| match v {
            Some(Value::Money(m)) => m.currency.as_str().to_string(),
            other => format!("{other:?}"),
        };
        assert_eq!(currency(properties.get("revenue")), "EUR");
        let Some(Value::List(products)) = properties.get("products") else {
            panic!("no products: {properties:?}");
        };
        let prices: Vec<String> = products
            .iter()
            .map(|p| match p {
                Value::Record(r) => currency(r.get("price")),
                other => format!("{other:?}"),
            })
            .collect();
        // A product without its own currency takes the order's.
        assert_eq!(prices, ["EUR", "GBP"]);
    }
}
