//! Runtime values: what expressions compute, what journeys keep in their
//! locals, what events and profile traits hold once the engine has read them.
//!
//! Representation choices (stable: they are part of the bundle and journey
//! encodings):
//! - `Timestamp` is **unix milliseconds** (UTC). Segment event timestamps
//!   carry milliseconds and ordering events within one second matters.
//! - `Duration` is **seconds** (the language's smallest unit is `1s`).
//!   `timestamp + duration` is `ms + secs * 1000`.
//! - `Percent` holds the number before the sign: `10%` is `Percent(10)`.
//! - `Date` is a calendar date without zone; `Time` is seconds after
//!   midnight in whatever zone the step names (always the profile's `local`).
//! - `currency`, `timezone`, `email`, `phone`, `url` and string-union values
//!   are `Str` at runtime: the checker already told them apart.
//! - A `Record` keeps its fields sorted by name, so two records with the same
//!   content encode to the same bytes and lookup is a binary search. Lowering
//!   projects records (e.g. a trigger event kept in a journey) down to the
//!   fields later steps read, which keeps journeys small.
//!
//! Nothing here uses a `HashMap`, so encoding is deterministic.

use crate::format::KeepField;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// Text in values and record field names: inline up to 23 bytes (field
/// names, ids, most event strings), else shared; a copy never allocates.
pub use smol_str::SmolStr;

/// One runtime value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Value {
    /// `none`: an absent optional.
    None,
    Bool(bool),
    Int(i64),
    Decimal(#[serde(with = "compact_decimal")] Decimal),
    /// Strings and everything shaped like one (currency codes, timezones,
    /// emails, phones, urls, string-union members).
    Str(SmolStr),
    Money(Money),
    /// `10%` is `Percent(10)`.
    Percent(#[serde(with = "compact_decimal")] Decimal),
    /// Seconds.
    Duration(i64),
    /// Unix milliseconds, UTC.
    Timestamp(i64),
    Date(Date),
    /// Time of day.
    Time(TimeOfDay),
    List(Vec<Value>),
    Record(Record),
}

/// Decimals encode as (mantissa, scale): `9.99` is `(999, 2)`, three bytes
/// in postcard instead of rust_decimal's sixteen. Decoding rejects a scale
/// above 28 or a mantissa out of range instead of panicking.
pub mod compact_decimal {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        (d.mantissa(), d.scale()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let (mantissa, scale) = <(i128, u32)>::deserialize(d)?;
        Decimal::try_from_i128_with_scale(mantissa, scale)
            .map_err(|e| serde::de::Error::custom(format!("bad decimal: {e}")))
    }
}

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Currency([u8; 3]);

impl Currency {
    /// `Some` when `code` is exactly three ASCII upper-case letters.
    pub fn new(code: &str) -> Option<Currency> {
        match code.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => {
                Some(Currency([*a, *b, *c]))
            }
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII upper-case letters; a decoded value is
        // checked by `is_valid` in the verifier paths that care. Fall back to
        // "???" rather than panic on a hand-made invalid value.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    pub fn is_valid(&self) -> bool {
        self.0.iter().all(|x| x.is_ascii_uppercase())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of one currency: `9.99 EUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "compact_decimal")]
    pub amount: Decimal,
    pub currency: Currency,
}

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// `Some` for a real calendar date.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Days since 1970-01-01 (negative before). Howard Hinnant's
    /// `days_from_civil`.
    pub fn days_since_epoch(&self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01 (`civil_from_days`). `None`
    /// when the year does not fit an `i32`.
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        let z = days.checked_add(719_468)?;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Some(Date {
            year: i32::try_from(year).ok()?,
            month,
            day,
        })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// A time of day, seconds after midnight (0..86_400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimeOfDay(pub u32);

impl TimeOfDay {
    pub fn new(hour: u8, minute: u8) -> Option<TimeOfDay> {
        (hour < 24 && minute < 60)
            .then(|| TimeOfDay(u32::from(hour) * 3600 + u32::from(minute) * 60))
    }
    pub fn hour(&self) -> u8 {
        (self.0 / 3600 % 24) as u8
    }
    pub fn minute(&self) -> u8 {
        (self.0 / 60 % 60) as u8
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

/// A record: fields sorted by name, no duplicates.
///
/// The fields are shared (`Arc`): a record is copied far more often than it
/// is changed — onto the VM's stack from a local or a field, into a
/// journey's locals, into a trace — and each copy used to duplicate every
/// name and value (a fifth of a `nudge simulate` run went to such copies
/// and their frees). Changing a shared record copies it first
/// (`Arc::make_mut`). Encoded exactly as a plain field vector.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Record {
    #[serde(with = "shared_fields")]
    fields: Arc<[(SmolStr, Value)]>,
}

/// `Arc<[..]>` encoded as a plain vector (no `rc` feature of serde, and
/// the bytes stay those of the unshared layout).
mod shared_fields {
    use super::{SmolStr, Value};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(
        fields: &Arc<[(SmolStr, Value)]>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        fields.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Arc<[(SmolStr, Value)]>, D::Error> {
        Vec::deserialize(d).map(Arc::from)
    }
}

impl Record {
    pub fn new() -> Record {
        Record::default()
    }

    /// Builds a record from fields in any order; a later duplicate name
    /// replaces an earlier one.
    ///
    /// One stable sort instead of an insert (a search and a shift) per field:
    /// decoded events build a record per input. Stable, so equal names keep
    /// their input order and the last of each run is the one kept.
    pub fn from_fields<N: Into<SmolStr>>(fields: impl IntoIterator<Item = (N, Value)>) -> Record {
        // Collected straight into the shared block (one allocation when the
        // iterator knows its length, e.g. a `Vec` the caller built), then
        // sorted in place. Fields that come in name order (projections,
        // records read back) need neither the sort nor the de-duplication.
        let mut fields: Arc<[(SmolStr, Value)]> =
            fields.into_iter().map(|(n, v)| (n.into(), v)).collect();
        let in_order = |f: &[(SmolStr, Value)]| f.is_sorted_by(|a, b| cmp_name(&a.0, &b.0).is_lt());
        if in_order(&fields) {
            return Record { fields };
        }
        if let Some(f) = Arc::get_mut(&mut fields) {
            // Stable: equal names keep their input order.
            f.sort_by(|a, b| cmp_name(&a.0, &b.0));
        }
        if !in_order(&fields) {
            // Repeated names: `later` is removed when it names the same
            // field as the kept `earlier`; its value moves into the kept
            // slot first, so the last of each run wins.
            let mut deduped = fields.to_vec();
            // Already sorted (the block was ours alone); sorting again is
            // a single pass and keeps this right whatever happened above.
            deduped.sort_by(|a, b| cmp_name(&a.0, &b.0));
            deduped.dedup_by(|later, earlier| {
                let same = later.0 == earlier.0;
                if same {
                    std::mem::swap(&mut later.1, &mut earlier.1);
                }
                same
            });
            fields = deduped.into();
        }
        Record { fields }
    }

    /// Small records (events, profile traits) are scanned comparing lengths
    /// first: the lengths sit in the field vector itself, while each probe of
    /// a binary search reads a name from its own heap block, a cache miss per
    /// probe on a cold profile. Large records keep the binary search.
    pub fn get(&self, name: &str) -> Option<&Value> {
        if self.fields.len() <= SCAN_LIMIT {
            return self
                .fields
                .iter()
                .find(|(n, _)| same_name(n, name))
                .map(|(_, v)| v);
        }
        self.fields
            .binary_search_by(|(n, _)| cmp_name(n, name))
            .ok()
            .and_then(|i| self.fields.get(i))
            .map(|(_, v)| v)
    }

    /// Sets a field, keeping the order (copying the fields first if they
    /// are shared). Setting several at once: `merge`.
    pub fn insert(&mut self, name: impl Into<SmolStr>, value: Value) {
        let name = name.into();
        match self.fields.binary_search_by(|(n, _)| cmp_name(n, &name)) {
            Ok(i) => {
                if let Some(slot) = Arc::make_mut(&mut self.fields).get_mut(i) {
                    slot.1 = value;
                }
            }
            Err(i) => {
                let mut fields = self.fields.to_vec();
                fields.insert(i, (name, value));
                self.fields = fields.into();
            }
        }
    }

    /// Sets every field of `other`, replacing fields of the same name, in
    /// one pass over both (sorted) field lists.
    pub fn merge(&mut self, other: Record) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = other;
            return;
        }
        let mut out = Vec::with_capacity(self.len() + other.len());
        let mut mine = self.fields.iter().peekable();
        let mut theirs = other.fields.iter().peekable();
        loop {
            let step = match (mine.peek(), theirs.peek()) {
                (Some(a), Some(b)) => cmp_name(&a.0, &b.0),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => break,
            };
            match step {
                std::cmp::Ordering::Less => out.extend(mine.next().cloned()),
                std::cmp::Ordering::Greater => out.extend(theirs.next().cloned()),
                std::cmp::Ordering::Equal => {
                    mine.next();
                    out.extend(theirs.next().cloned());
                }
            }
        }
        self.fields = out.into();
    }

    /// Only the fields `keep` names, each projected in turn by its `sub`
    /// (what a journey keeps of the event that started it). When that keeps
    /// the whole record, the record itself is returned, shared rather than
    /// copied: an event's nested records (an order's products) usually hold
    /// only what the flow reads already.
    pub fn project(&self, keep: &[KeepField]) -> Record {
        if !keep.is_sorted_by(|a, b| cmp_name(&a.name, &b.name).is_lt()) {
            // Not in name order (not from the compiler): field by field.
            return Record::from_fields(keep.iter().filter_map(|k| {
                let v = self.get(&k.name)?;
                Some((SmolStr::new(&k.name), project_kept(v, k)))
            }));
        }
        let mut out = Vec::with_capacity(keep.len().min(self.len()));
        let mut whole = true;
        let mut wanted = keep.iter().peekable();
        for (name, value) in self.fields.iter() {
            while wanted
                .peek()
                .is_some_and(|k| cmp_name(&k.name, name).is_lt())
            {
                wanted.next();
            }
            match wanted.next_if(|k| same_name(&k.name, name)) {
                Some(k) => {
                    let v = project_kept(value, k);
                    whole &= same_shared(&v, value);
                    out.push((name.clone(), v));
                }
                None => whole = false,
            }
        }
        if whole {
            return self.clone();
        }
        // In name order already, one of each: no sort, no check needed.
        Record { fields: out.into() }
    }

    /// Keeps only the named fields (used to project events kept in journeys).
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        if self.fields.iter().all(|(n, _)| keep(n)) {
            return;
        }
        let kept: Vec<_> = self
            .fields
            .iter()
            .filter(|(n, _)| keep(n))
            .cloned()
            .collect();
        self.fields = kept.into();
    }

    /// The first field, name and value (for a prefetch of the block).
    pub fn first_field(&self) -> Option<&(SmolStr, Value)> {
        self.fields.first()
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// The fields, in name order (copies: names and records are shared,
    /// so a copy is cheap).
    pub fn into_fields(self) -> impl Iterator<Item = (SmolStr, Value)> {
        Vec::from(&*self.fields).into_iter()
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// True when the names are strictly sorted (a decoded record may not be).
    pub fn is_well_formed(&self) -> bool {
        self.fields.windows(2).all(|w| match w {
            [a, b] => a.0 < b.0,
            _ => true,
        })
    }
}

/// Up to this many fields, `Record::get` scans instead of bisecting.
const SCAN_LIMIT: usize = 16;

/// The same order as `str::cmp` (bytewise, then shorter first), written as
/// an inlined loop: field names are short and usually differ in their first
/// byte, so a call into `memcmp` per probe cost more than the comparison
/// itself (lookups by name were ~13% of a simulate run).
#[inline]
/// A kept field's value, projected by the field's `sub`.
fn project_kept(value: &Value, k: &KeepField) -> Value {
    match &k.sub {
        None => value.clone(),
        Some(sub) => value.project(sub),
    }
}

/// Whether `projected` is `original` itself: a value with no record in it
/// projects to itself; a record projected whole shares its fields.
fn same_shared(projected: &Value, original: &Value) -> bool {
    match (projected, original) {
        (Value::Record(a), Value::Record(b)) => Arc::ptr_eq(&a.fields, &b.fields),
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_shared(x, y))
        }
        (Value::List(_), _)
        | (_, Value::List(_))
        | (Value::Record(_), _)
        | (_, Value::Record(_)) => false,
        _ => true,
    }
}

/// The first and last eight bytes of `b` (overlapping when shorter than
/// 16; four when shorter than 8, bytes when shorter than 4), as words: two
/// loads where a loop went byte by byte. With the length, they tell a name
/// of up to 16 bytes whole (`same_name`); they also hash one well.
#[inline]
pub fn name_ends(b: &[u8]) -> (u64, u64) {
    let word = |i: usize| {
        b.get(i..i + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let half = |i: usize| {
        b.get(i..i + 4)
            .and_then(|w| <[u8; 4]>::try_from(w).ok())
            .map_or(0, |w| u64::from(u32::from_le_bytes(w)))
    };
    let n = b.len();
    if n >= 8 {
        (word(0), word(n - 8))
    } else if n >= 4 {
        (half(0), half(n - 4))
    } else {
        (b.iter().fold(0, |w, x| (w << 8) | u64::from(*x)), 0)
    }
}

/// `a == b`, a word at a time (no call into `memcmp` for a short name).
#[inline]
pub fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 16 {
        return name_ends(a) == name_ends(b);
    }
    a == b
}

fn cmp_name(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// The runtime kind of a value, for error messages and dynamic checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    None,
    Bool,
    Int,
    Decimal,
    Str,
    Money,
    Percent,
    Duration,
    Timestamp,
    Date,
    Time,
    List,
    Record,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::None => "none",
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::Decimal => "decimal",
            Kind::Str => "string",
            Kind::Money => "money",
            Kind::Percent => "percent",
            Kind::Duration => "duration",
            Kind::Timestamp => "timestamp",
            Kind::Date => "date",
            Kind::Time => "time",
            Kind::List => "list",
            Kind::Record => "record",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Value {
    /// Keeps only the `keep` fields of a record (element-wise for a list),
    /// recursively; other values pass through (see `Record::project`).
    pub fn project(&self, keep: &[KeepField]) -> Value {
        match self {
            Value::Record(r) => Value::Record(r.project(keep)),
            Value::List(items) => Value::List(items.iter().map(|v| v.project(keep)).collect()),
            other => other.clone(),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Value::None => Kind::None,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::Decimal(_) => Kind::Decimal,
            Value::Str(_) => Kind::Str,
            Value::Money(_) => Kind::Money,
            Value::Percent(_) => Kind::Percent,
            Value::Duration(_) => Kind::Duration,
            Value::Timestamp(_) => Kind::Timestamp,
            Value::Date(_) => Kind::Date,
            Value::Time(_) => Kind::Time,
            Value::List(_) => Kind::List,
            Value::Record(_) => Kind::Record,
        }
    }

    pub fn str(s: impl Into<SmolStr>) -> Value {
        Value::Str(s.into())
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_record(&self) -> Option<&Record> {
        match self {
            Value::Record(r) => Some(r),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
}

/// Parses `30s`, `30m`, `1h`, `7d`, `2w` and compounds like `1h30m` into
/// seconds. A leading `-` gives a negative duration (the compiler's policy
/// rules report it as non-positive). Reads what the runtime writes a
/// duration as, too (`1d12h`), so trace texts that name one read back.
pub fn parse_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let (number, after) = rest.split_at(digits);
        let number: i64 = number.parse().ok()?;
        let mut chars = after.chars();
        let unit = match chars.next()? {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(number.checked_mul(unit)?)?;
        rest = chars.as_str();
    }
    Some(if negative { -total } else { total })
}

#[cfg(test)]
#[allow(clippy::panic, reason = "a failing test may panic")]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_epoch_days() {
        for days in [-800_000, -1, 0, 1, 59, 365, 10_957, 20_000, 2_000_000] {
            let d = Date::from_days_since_epoch(days);
            assert_eq!(d.map(|d| d.days_since_epoch()), Some(days), "{days}");
        }
        assert_eq!(
            Date::new(2024, 2, 29).map(|d| d.to_string()),
            Some("2024-02-29".into())
        );
        assert_eq!(Date::new(2023, 2, 29), None);
        assert_eq!(Date::new(1970, 1, 1).map(|d| d.days_since_epoch()), Some(0));
    }

    #[test]
    fn from_fields_matches_inserting_one_by_one() {
        let input = [
            ("b", 1),
            ("a", 2),
            ("b", 3),
            ("c", 4),
            ("a", 5),
            ("b", 6),
            ("", 7),
        ];
        let fields = || input.iter().map(|&(n, v)| (n.to_string(), Value::Int(v)));
        let mut one_by_one = Record::new();
        for (n, v) in fields() {
            one_by_one.insert(n, v);
        }
        let built = Record::from_fields(fields());
        assert_eq!(built, one_by_one);
        assert!(built.is_well_formed());
        assert_eq!(built.get("b"), Some(&Value::Int(6)));
        assert_eq!(built.get("a"), Some(&Value::Int(5)));
        assert_eq!(built.len(), 4);
    }

    #[test]
    fn merge_matches_inserting_one_by_one_and_leaves_copies_alone() {
        let rec =
            |fs: &[(&str, i64)]| Record::from_fields(fs.iter().map(|&(n, v)| (n, Value::Int(v))));
        type Fields<'a> = &'a [(&'a str, i64)];
        let cases: [(Fields, Fields); 5] = [
            (&[], &[("a", 1)]),
            (&[("a", 1)], &[]),
            (
                &[("a", 1), ("c", 3), ("e", 5)],
                &[("b", 20), ("c", 30), ("f", 60)],
            ),
            (&[("b", 2)], &[("a", 10), ("b", 20), ("c", 30)]),
            (&[("a", 1), ("b", 2), ("c", 3)], &[("b", 20)]),
        ];
        for (base, update) in cases {
            let before = rec(base);
            let mut merged = before.clone();
            merged.merge(rec(update));
            let mut one_by_one = rec(base);
            for (n, v) in rec(update).into_fields() {
                one_by_one.insert(n, v);
            }
            assert_eq!(merged, one_by_one, "{base:?} + {update:?}");
            assert!(merged.is_well_formed());
            // The copy taken before is unchanged (copy on write).
            assert_eq!(before, rec(base));
        }
    }

    /// `Record::project` as it was: field by field, always a new record.
    fn project_by_lookup(v: &Value, keep: &[KeepField]) -> Value {
        match v {
            Value::Record(r) => Value::Record(Record::from_fields(keep.iter().filter_map(|k| {
                let v = r.get(&k.name)?;
                let v = match &k.sub {
                    None => v.clone(),
                    Some(sub) => project_by_lookup(v, sub),
                };
                Some((SmolStr::new(&k.name), v))
            }))),
            Value::List(items) => {
                Value::List(items.iter().map(|v| project_by_lookup(v, keep)).collect())
            }
            other => other.clone(),
        }
    }

    #[test]
    fn projecting_keeps_the_named_fields_and_shares_what_it_keeps_whole() {
        let whole = |n: &str| KeepField::whole(n);
        let sub = |n: &str, sub: Vec<KeepField>| KeepField {
            name: n.to_string(),
            sub: Some(sub),
        };
        let product = |sku: &str| {
            Value::Record(Record::from_fields([
                ("price", Value::Int(3)),
                ("sku", Value::str(sku)),
            ]))
        };
        let order = Value::Record(Record::from_fields([
            ("id", Value::str("o1")),
            ("products", Value::List(vec![product("a"), product("b")])),
            ("total", Value::Int(6)),
        ]));
        let cases: Vec<(Vec<KeepField>, bool)> = vec![
            // (keep, whole order shared)
            (vec![whole("id"), whole("products"), whole("total")], true),
            (
                vec![
                    whole("id"),
                    sub("products", vec![whole("price"), whole("sku")]),
                    whole("total"),
                ],
                true,
            ),
            (vec![whole("id"), whole("total")], false),
            (
                vec![
                    whole("id"),
                    sub("products", vec![whole("sku")]),
                    whole("total"),
                ],
                false,
            ),
            (
                vec![
                    whole("absent"),
                    whole("id"),
                    whole("products"),
                    whole("total"),
                    whole("zzz"),
                ],
                true,
            ),
            (vec![], false),
            // Not in name order (a hand-made bundle): still right.
            (vec![whole("total"), whole("id")], false),
            (vec![whole("total"), whole("id"), whole("products")], false),
        ];
        for (keep, shared) in cases {
            let got = order.project(&keep);
            assert_eq!(got, project_by_lookup(&order, &keep), "{keep:?}");
            let (Value::Record(got), Value::Record(orig)) = (&got, &order) else {
                panic!("a record projects to a record");
            };
            assert!(got.is_well_formed());
            assert_eq!(Arc::ptr_eq(&got.fields, &orig.fields), shared, "{keep:?}");
        }
        // Products kept whole inside a projected order are shared.
        let keep = vec![
            whole("id"),
            sub("products", vec![whole("price"), whole("sku")]),
        ];
        let (Value::Record(got), Value::Record(orig)) = (order.project(&keep), &order) else {
            panic!("a record projects to a record");
        };
        let products = |r: &Record| match r.get("products") {
            Some(Value::List(items)) => items.clone(),
            _ => Vec::new(),
        };
        for (a, b) in products(&got).iter().zip(products(orig).iter()) {
            let (Value::Record(a), Value::Record(b)) = (a, b) else {
                panic!("products are records");
            };
            assert!(Arc::ptr_eq(&a.fields, &b.fields));
        }
    }

    #[test]
    fn records_encode_as_before_they_were_shared() {
        // The unshared layout: a struct holding a `Vec<(String, Value)>`.
        #[derive(Serialize)]
        struct Plain {
            fields: Vec<(String, Value)>,
        }
        let plain = Plain {
            fields: vec![("a".into(), Value::Int(1)), ("b".into(), Value::str("x"))],
        };
        let shared = Record::from_fields([("b", Value::str("x")), ("a", Value::Int(1))]);
        let bytes = postcard::to_allocvec(&shared).unwrap_or_default();
        assert_eq!(bytes, postcard::to_allocvec(&plain).unwrap_or_default());
        assert_eq!(postcard::from_bytes::<Record>(&bytes).ok(), Some(shared));
    }

    #[test]
    fn name_order_is_str_order() {
        let names = [
            "",
            "a",
            "ab",
            "abc",
            "b",
            "ba",
            "B",
            "created_at",
            "créé",
            "é",
            "z",
        ];
        for a in names {
            for b in names {
                assert_eq!(cmp_name(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn records_are_sorted_and_lookups_work() {
        let r = Record::from_fields([
            ("b".to_string(), Value::Int(2)),
            ("a".to_string(), Value::Int(1)),
            ("b".to_string(), Value::Int(3)),
        ]);
        assert!(r.is_well_formed());
        assert_eq!(r.get("a"), Some(&Value::Int(1)));
        assert_eq!(r.get("b"), Some(&Value::Int(3)));
        assert_eq!(r.get("c"), None);
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert!(Currency::new("USD").is_some());
        assert!(Currency::new("usd").is_none());
        assert!(Currency::new("US").is_none());
        assert_eq!(
            Currency::new("EUR").map(|c| c.to_string()),
            Some("EUR".into())
        );
    }

    #[test]
    fn encoding_is_deterministic_and_round_trips() {
        let v = Value::Record(Record::from_fields([
            (
                "z".to_string(),
                Value::List(vec![Value::Timestamp(1_700_000_000_000)]),
            ),
            (
                "m".to_string(),
                Value::Money(Money {
                    amount: Decimal::new(999, 2),
                    currency: Currency::new("USD").unwrap_or(Currency([b'X'; 3])),
                }),
            ),
        ]));
        let a = postcard::to_allocvec(&v).map_err(|e| e.to_string());
        let b = postcard::to_allocvec(&v.clone()).map_err(|e| e.to_string());
        assert_eq!(a, b);
        let back: Result<Value, _> = postcard::from_bytes(a.as_deref().unwrap_or(&[]));
        assert_eq!(back.ok(), Some(v));
    }
}
