//! Reading Segment-shaped JSON (the `/v1/batch` element shape: `type`,
//! `userId`/`anonymousId`, `event`, `properties`, `traits`, `timestamp`,
//! `messageId`) into engine inputs, typed by the bundle's `Schema`.
//!
//! A line is read in one pass straight from its text into typed values,
//! driven by the schema (`fast.rs`): members nothing reads (`context`, a
//! field the event does not declare) are skipped unread, strings are
//! borrowed from the line until a value needs its own copy. A plain line
//! (no `\`, no control byte: nearly all) is lexed by `plain.rs`, a small
//! serde `Deserializer` making serde_json's visitor calls for less work;
//! other lines by serde_json. That pass gives
//! up at the first thing it does not take cleanly — any problem, a batch, a shape
//! it does not handle — and then the line is read again by the general
//! path below, which reports every problem: the top level by a visitor that
//! keeps only the element fields above, the values into a small JSON tree
//! (`J`) that borrows its strings from the line, then typed against the
//! schema. Both give the same input for any line the general path reads
//! without a problem (tested on many shapes and on random lines).
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
//! - **a declared event without a field its declaration requires** (a field
//!   typed without `?`, e.g. `order_id` of "Order Completed"; lists are
//!   never required, absent they are empty), or with `null` there: an error
//!   naming the event, the field and its declared type; the event is
//!   skipped. A flow reading the field could not run on it.
//! - **a field of a declared event holding the wrong kind of value** (text
//!   that is not a number where a number or money is declared, an unknown
//!   union member, an object where text is declared, ...): an error naming
//!   the field, what was expected and what came; the event is skipped.
//!   Traits of an `identify` are gentler: a wrong trait is a warning and the
//!   trait is left unchanged (the rest of the call still applies).
//! - **numbers sent as strings** (`"19"`) for `int`, `decimal`, `money`,
//!   `percent` fields: coerced, with a warning. Numbers for string-typed
//!   fields (`order_id: 123`) become text silently (ids are often numeric).
//! - **money**: a number, numeric string or `{amount, currency}`; the
//!   currency is the event's own `currency` property, else USD.
//! - **string unions**: a member matched ignoring case is coerced with a
//!   warning.
//! - **timestamps**: RFC 3339 text, or a number (seconds, or milliseconds
//!   when above 10^11). **Dates**: `YYYY-MM-DD` (a full timestamp's date
//!   part is accepted).
//! - **missing optional fields** are absent (`none`); **extra fields** of a
//!   declared event are dropped (no flow can read them); fields and events
//!   the schema does not declare are kept as plain JSON values.

use crate::engine::Input;
// Events the engine itself reacts to, normalized even if undeclared.
use crate::engine::reads::{ENGINE_EVENTS, EventReads};
use nudge_bytecode::Bundle;
use nudge_bytecode::schema::{FieldType, RecordSchema, Scalar, Schema};
use nudge_bytecode::value::{name_ends as ends, same_name as same};
use nudge_bytecode::{Currency, Date, Money, Record, SmolStr, TimeOfDay, Value};
use rust_decimal::Decimal;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

mod fast;
mod plain;

/// Segment calls flows do not use: their lines are skipped with a note.
const SKIPPED_KINDS: [&str; 4] = ["page", "screen", "group", "alias"];

/// The note on a skipped call.
fn skipped_call(kind: &str) -> String {
    format!("`{kind}` calls are not used by flows; skipped")
}

/// The note on line `line`, a call the fast path skipped, as the general
/// path makes it.
fn note_skipped(line: usize, kind: &str, out: &mut Vec<LineProblem>) {
    Problems {
        line,
        out,
        rejected: false,
    }
    .warn(skipped_call(kind));
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineProblem {
    /// 1-based line number in the log.
    pub line: usize,
    pub severity: Severity,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// The line (or batch element) was skipped.
    Error,
    /// Read, with a coercion or a dropped field.
    Warning,
}

/// A name compared ignoring case, spaces, `_` and `-` (and any other
/// punctuation), as the characters it is compared by.
fn norm(name: &str) -> impl Iterator<Item = char> + '_ {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
}

/// `str::trim`, skipped when both ends are visible ASCII (the usual case):
/// no whitespace, Unicode or not, can be there then.
#[inline]
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// `str::cmp`, inlined: names are short and usually differ early, where a
/// call into `memcmp` per probe costs more than the comparison.
#[inline]
fn cmp_str(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

// ---- The parsed shape of a line ---------------------------------------------

/// A JSON value whose strings borrow from the line when they hold no
/// escapes. Objects keep their members in document order (lookups take the
/// last of duplicate keys, as a JSON map would).
#[derive(Debug, Clone, PartialEq)]
enum J<'a> {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(Cow<'a, str>),
    Arr(Vec<J<'a>>),
    Obj(Vec<(Cow<'a, str>, J<'a>)>),
}

impl<'a> J<'a> {
    fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            J::Num(n) => n.as_i64(),
            _ => None,
        }
    }

    fn as_obj(&self) -> Option<&[(Cow<'a, str>, J<'a>)]> {
        match self {
            J::Obj(o) => Some(o),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, J::Null)
    }

    /// Compact JSON text, for messages.
    fn write_json(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(&n.to_string()),
            J::Str(s) => out.push_str(&Json::String(s.to_string()).to_string()),
            J::Arr(items) => {
                out.push('[');
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write_json(out);
                }
                out.push(']');
            }
            J::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Json::String(k.to_string()).to_string());
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

/// The last member named `key`.
fn get<'j, 'a>(obj: &'j [(Cow<'a, str>, J<'a>)], key: &str) -> Option<&'j J<'a>> {
    obj.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
}

impl<'de> Deserialize<'de> for J<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JVisitor)
    }
}

struct JVisitor;

impl<'de> Visitor<'de> for JVisitor {
    type Value = J<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<J<'de>, E> {
        Ok(J::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<J<'de>, E> {
        Ok(J::Num(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<J<'de>, E> {
        Ok(J::Num(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<J<'de>, E> {
        Ok(serde_json::Number::from_f64(n).map_or(J::Null, J::Num))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<J<'de>, E> {
        Ok(J::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<J<'de>, E> {
        Ok(J::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<J<'de>, E> {
        Ok(J::Str(Cow::Owned(s)))
    }
    fn visit_unit<E>(self) -> Result<J<'de>, E> {
        Ok(J::Null)
    }
    fn visit_none<E>(self) -> Result<J<'de>, E> {
        Ok(J::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<J<'de>, D::Error> {
        J::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<J<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(x) = seq.next_element::<J<'de>>()? {
            items.push(x);
        }
        Ok(J::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<J<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            members.push((k, map.next_value::<J<'de>>()?));
        }
        Ok(J::Obj(members))
    }
}

/// An object key, borrowed from the line when it can be.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The members of a `/v1/batch` element the reader uses.
#[derive(Default)]
struct Element<'a> {
    kind: Option<J<'a>>,
    user_id: Option<J<'a>>,
    anonymous_id: Option<J<'a>>,
    timestamp: Option<J<'a>>,
    message_id: Option<J<'a>>,
    event: Option<J<'a>>,
    properties: Option<J<'a>>,
    traits: Option<J<'a>>,
}

impl<'a> Element<'a> {
    /// Stores a member; false when the element does not use it.
    fn set(&mut self, key: &str, value: J<'a>) -> bool {
        let slot = match key {
            "type" => &mut self.kind,
            "userId" => &mut self.user_id,
            "anonymousId" => &mut self.anonymous_id,
            "timestamp" => &mut self.timestamp,
            "messageId" => &mut self.message_id,
            "event" => &mut self.event,
            "properties" => &mut self.properties,
            "traits" => &mut self.traits,
            _ => return false,
        };
        *slot = Some(value);
        true
    }

    fn wanted(key: &str) -> bool {
        matches!(
            key,
            "type"
                | "userId"
                | "anonymousId"
                | "timestamp"
                | "messageId"
                | "event"
                | "properties"
                | "traits"
        )
    }

    fn from_members(members: Vec<(Cow<'a, str>, J<'a>)>) -> Element<'a> {
        let mut e = Element::default();
        for (k, v) in members {
            e.set(&k, v);
        }
        e
    }
}

/// One line: an element, possibly with a `batch` of them, or not an object.
// Built once per line on the stack and taken apart at once: boxing the big
// variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Line<'a> {
    Object {
        element: Element<'a>,
        batch: Option<J<'a>>,
    },
    NotObject,
}

impl<'de> Deserialize<'de> for Line<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LineVisitor)
    }
}

struct LineVisitor;

impl<'de> Visitor<'de> for LineVisitor {
    type Value = Line<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Line<'de>, E> {
        Ok(Line::NotObject)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Line<'de>, E> {
        Ok(Line::NotObject)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Line<'de>, E> {
        Ok(Line::NotObject)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Line<'de>, E> {
        Ok(Line::NotObject)
    }
    fn visit_str<E>(self, _: &str) -> Result<Line<'de>, E> {
        Ok(Line::NotObject)
    }
    fn visit_unit<E>(self) -> Result<Line<'de>, E> {
        Ok(Line::NotObject)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Line<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Line::NotObject)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Line<'de>, A::Error> {
        let mut element = Element::default();
        let mut batch = None;
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            if k == "batch" {
                batch = Some(map.next_value::<J<'de>>()?);
            } else if Element::wanted(&k) {
                let v = map.next_value::<J<'de>>()?;
                element.set(&k, v);
            } else {
                // `context`, `integrations`, `sentAt`, ...: skipped unread.
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Line::Object { element, batch })
    }
}

// ---- Typing -----------------------------------------------------------------

/// Where a value sits (`Order Completed.products.price`), built into text
/// only when a problem is reported.
#[derive(Clone, Copy)]
struct Path<'p> {
    parent: Option<&'p Path<'p>>,
    name: &'p str,
}

impl<'p> Path<'p> {
    fn root(name: &'p str) -> Path<'p> {
        Path { parent: None, name }
    }
    fn child(&'p self, name: &'p str) -> Path<'p> {
        Path {
            parent: Some(self),
            name,
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if let Some(p) = self.parent {
            write!(f, "{p}.")?;
        }
        f.write_str(self.name)
    }
}

/// A declared type as the language writes it (`money?`, `list<Product>`).
pub fn type_text(ty: &FieldType) -> String {
    match ty {
        FieldType::Scalar(s) => scalar_name(*s).to_string(),
        FieldType::List(inner) => format!("list<{}>", type_text(inner)),
        FieldType::Optional(inner) => format!("{}?", type_text(inner)),
        FieldType::Union(members) => members
            .iter()
            .map(|m| format!("{m:?}"))
            .collect::<Vec<_>>()
            .join(" | "),
        FieldType::Record(name) => name.clone(),
        FieldType::Event(name) => format!("{name:?}"),
        FieldType::Unknown => "unknown".into(),
    }
}

fn scalar_name(s: Scalar) -> &'static str {
    match s {
        Scalar::Bool => "bool",
        Scalar::Int => "int",
        Scalar::Decimal => "decimal",
        Scalar::String => "string",
        Scalar::Money => "money",
        Scalar::Currency => "currency",
        Scalar::Percent => "percent",
        Scalar::Timestamp => "timestamp",
        Scalar::Date => "date",
        Scalar::Duration => "duration",
        Scalar::Time => "time",
        Scalar::Timezone => "timezone",
        Scalar::Email => "email",
        Scalar::Phone => "phone",
        Scalar::Url => "url",
    }
}

/// Whether an event is meaningless without the field: declared without `?`
/// (lists excepted: absent, they are empty).
fn required(ty: &FieldType) -> bool {
    !matches!(
        ty,
        FieldType::Optional(_) | FieldType::List(_) | FieldType::Unknown
    )
}

/// Names → their position in a list, by a small open-addressing hash table:
/// a lookup hashes the key once and usually compares one name, where a
/// binary search compared the key with several names, each in its own heap
/// block (those lookups were about a tenth of reading a line).
struct NameIndex<'s> {
    names: Vec<&'s str>,
    /// The names as records hold them, made once (a copy of a short one is
    /// a copy of its 24 bytes; making one per field per line was about a
    /// twentieth of reading a log).
    keys: Vec<SmolStr>,
    /// Position + 1 in `names`, 0 for an empty slot; a power of two long.
    /// Empty unless the names are strictly sorted: then a binary search
    /// over `names` decides, as it always did.
    slots: Vec<u32>,
}

impl<'s> NameIndex<'s> {
    fn new(names: Vec<&'s str>) -> NameIndex<'s> {
        // Schemas are sorted by name: there the table finds exactly what a
        // binary search finds. Anything else keeps the binary search.
        let sorted = names
            .windows(2)
            .all(|w| matches!(w, [a, b] if cmp_str(a, b) == Ordering::Less));
        let mut slots = Vec::new();
        if sorted && names.len() < (u32::MAX / 4) as usize {
            slots = vec![0u32; (names.len() * 2).next_power_of_two().max(8)];
            let mask = slots.len() - 1;
            for (i, n) in (1u32..).zip(&names) {
                let mut h = name_hash(n) & mask;
                while slots.get(h).is_some_and(|s| *s != 0) {
                    h = (h + 1) & mask;
                }
                if let Some(slot) = slots.get_mut(h) {
                    *slot = i;
                }
            }
        }
        let keys = names.iter().map(SmolStr::new).collect();
        NameIndex { names, keys, slots }
    }

    /// Name `i` as records hold it.
    fn key(&self, i: usize) -> SmolStr {
        match self.keys.get(i) {
            Some(k) => k.clone(),
            None => SmolStr::new(self.names.get(i).copied().unwrap_or_default()),
        }
    }

    fn get(&self, key: &str) -> Option<usize> {
        if self.slots.is_empty() {
            return self.names.binary_search_by(|n| cmp_str(n, key)).ok();
        }
        let mask = self.slots.len() - 1;
        let mut h = name_hash(key) & mask;
        loop {
            let i = usize::try_from(*self.slots.get(h)?).ok()?.checked_sub(1)?;
            if self.names.get(i).is_some_and(|n| same(n, key)) {
                return Some(i);
            }
            h = (h + 1) & mask;
        }
    }
}

/// The length and both ends, mixed: names are short, and differ at one end
/// or the other.
#[inline]
fn name_hash(s: &str) -> usize {
    let (head, tail) = ends(s.as_bytes());
    let h = (head ^ tail.rotate_left(31) ^ s.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 32) as usize
}

pub struct Reader<'s> {
    schema: &'s Schema,
    /// Declared event names (and the engine's own).
    declared: NameIndex<'s>,
    /// The declared events (`schema.events`), and each one's fields.
    events: NameIndex<'s>,
    event_fields: Vec<NameIndex<'s>>,
    /// The declared record types (`schema.records`), and their fields.
    records: NameIndex<'s>,
    record_fields: Vec<NameIndex<'s>>,
    /// The declared traits (`schema.traits`).
    traits: NameIndex<'s>,
    /// (normalized, declared) event names, sorted.
    names: Vec<(String, &'s str)>,
    /// The currency of amounts that name none.
    usd: Option<Currency>,
    /// Long texts lately read, shared (`Strings`).
    strings: Strings,
    /// Room to gather a record's members in before its shared block is
    /// made (`Record::from_fields`), kept from line to line: a fresh vector
    /// per record was an allocation, a traits object's two or three.
    members: Pool<(usize, SmolStr, Value)>,
    traits_members: Pool<(SmolStr, Value)>,
    /// Per declared event, by field: members typed but not kept, as
    /// nothing in the bundle reads them (`Reader::for_bundle`); empty:
    /// all kept.
    event_unread: Vec<Vec<bool>>,
}

/// Vectors lent out and given back empty, their room kept. A record
/// nested in a record takes a second one while the first is lent.
struct Pool<T>(std::cell::RefCell<Vec<Vec<T>>>);

impl<T> Pool<T> {
    fn new() -> Pool<T> {
        Pool(std::cell::RefCell::new(Vec::new()))
    }

    fn take(&self) -> Vec<T> {
        self.0
            .try_borrow_mut()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default()
    }

    /// Keeps `v`'s room (a few vectors, none very large).
    fn give(&self, mut v: Vec<T>) {
        v.clear();
        if v.capacity() <= 256
            && let Ok(mut p) = self.0.try_borrow_mut()
            && p.len() < 8
        {
            p.push(v);
        }
    }
}

/// Texts longer than a `SmolStr` holds inline that the reader made lately,
/// one per slot by a hash of the text (a new text takes its slot). A log
/// repeats its long texts (a product's url, its image, its name), and a
/// text found here is shared, a reference count more, instead of copied
/// into a block of its own that the value's drop then frees (the bench's
/// log has 1.7 such texts a line).
struct Strings(std::cell::RefCell<Vec<SmolStr>>);

/// Slots in `Strings` (24 KiB).
const STRING_SLOTS: usize = 1 << 10;

/// The longest text a `SmolStr` holds inline (no block to share).
const INLINE: usize = 23;

impl Strings {
    fn new() -> Strings {
        Strings(std::cell::RefCell::new(vec![
            SmolStr::default();
            STRING_SLOTS
        ]))
    }

    /// `t` as a `SmolStr`: shared with the last equal text its slot held.
    fn get(&self, t: &str) -> SmolStr {
        if t.len() <= INLINE {
            return SmolStr::new(t);
        }
        // Never borrowed twice (the borrow ends here), but a text need not
        // be shared: a failed borrow only makes a copy.
        let Ok(mut slots) = self.0.try_borrow_mut() else {
            return SmolStr::new(t);
        };
        let h = std::hash::BuildHasher::hash_one(&rustc_hash::FxBuildHasher, t);
        // The high bits: Fx's low bits are poor.
        let i = (h >> (64 - STRING_SLOTS.trailing_zeros())) as usize;
        match slots.get_mut(i) {
            Some(s) if s.as_str() == t => s.clone(),
            Some(s) => {
                let new = SmolStr::new(t);
                *s = new.clone();
                new
            }
            None => SmolStr::new(t),
        }
    }
}

impl<'s> Reader<'s> {
    pub fn new(schema: &'s Schema) -> Reader<'s> {
        let mut declared: Vec<&'s str> = schema
            .events
            .iter()
            .map(|e| e.name.as_str())
            .chain(ENGINE_EVENTS)
            .collect();
        declared.sort_unstable();
        declared.dedup();
        let mut names: Vec<(String, &'s str)> =
            declared.iter().map(|n| (norm(n).collect(), *n)).collect();
        names.sort();
        let index = |rs: &'s [RecordSchema]| {
            let names = NameIndex::new(rs.iter().map(|r| r.name.as_str()).collect());
            let fields = rs
                .iter()
                .map(|r| NameIndex::new(r.fields.iter().map(|f| f.name.as_str()).collect()))
                .collect();
            (names, fields)
        };
        let (events, event_fields) = index(&schema.events);
        let (records, record_fields) = index(&schema.records);
        Reader {
            schema,
            declared: NameIndex::new(declared),
            events,
            event_fields,
            records,
            record_fields,
            traits: NameIndex::new(schema.traits.iter().map(|f| f.name.as_str()).collect()),
            names,
            usd: Currency::new("USD"),
            strings: Strings::new(),
            members: Pool::new(),
            traits_members: Pool::new(),
            event_unread: Vec::new(),
        }
    }

    /// A reader for `bundle`'s flows: as `Reader::new`, except that of
    /// each event's properties it keeps only the members the bundle reads
    /// (`EventReads`). The others are still typed, and a bad value is
    /// reported as ever; they are not kept, as nothing would read them.
    /// (In the bench's log that is most members of most events; keeping
    /// them took about a tenth of the instructions of reading it.)
    pub fn for_bundle(bundle: &'s Bundle) -> Reader<'s> {
        let reads = EventReads::of(bundle);
        let event_unread = bundle
            .schema
            .events
            .iter()
            .map(|e| match reads.fields(&e.name) {
                None => Vec::new(),
                Some(read) => e
                    .fields
                    .iter()
                    .map(|f| !read.contains(f.name.as_str()))
                    .collect(),
            })
            .collect();
        Reader {
            event_unread,
            ..Reader::new(&bundle.schema)
        }
    }

    /// Reads a whole JSONL log: inputs with their line numbers, and every
    /// problem found.
    pub fn read_log(&self, text: &str) -> (Vec<(usize, Input)>, Vec<LineProblem>) {
        let mut inputs = Vec::new();
        let mut problems = Vec::new();
        self.for_each(text, &mut problems, |line, input| {
            inputs.push((line, input))
        });
        (inputs, problems)
    }

    /// Reads a JSONL log line by line, handing each input to `emit` as it
    /// is read (with its line number) and appending problems to `problems`.
    pub fn for_each(
        &self,
        text: &str,
        problems: &mut Vec<LineProblem>,
        mut emit: impl FnMut(usize, Input),
    ) {
        for (i, line) in text.lines().enumerate() {
            self.read_line(i + 1, line, problems, &mut emit);
        }
    }

    /// Reads one line (number `line_no`) of a log.
    pub fn read_line(
        &self,
        line_no: usize,
        line: &str,
        problems: &mut Vec<LineProblem>,
        emit: &mut impl FnMut(usize, Input),
    ) {
        if line.trim().is_empty() {
            return;
        }
        // Most lines read without a problem: typed in one pass. Anything
        // else is read again below, which says what is wrong with it.
        match self.fast_line(line) {
            Some(fast::Fast::One(input)) => {
                emit(line_no, input);
                return;
            }
            Some(fast::Fast::Batch(inputs)) => {
                for input in inputs {
                    emit(line_no, input);
                }
                return;
            }
            Some(fast::Fast::Skipped(kind)) => {
                note_skipped(line_no, kind, problems);
                return;
            }
            None => {}
        }
        self.read_line_general(line_no, line, problems, emit);
    }

    /// `read_line` without the fast path: every problem found and said.
    fn read_line_general(
        &self,
        line_no: usize,
        line: &str,
        problems: &mut Vec<LineProblem>,
        emit: &mut impl FnMut(usize, Input),
    ) {
        let mut p = Problems {
            line: line_no,
            out: problems,
            rejected: false,
        };
        match serde_json::from_str::<Line>(line) {
            Ok(Line::Object { element, batch }) => match batch {
                Some(J::Arr(items)) => {
                    for item in items {
                        let input = match item {
                            J::Obj(members) => self.element(Element::from_members(members), &mut p),
                            _ => {
                                p.error("a batch element is not a JSON object".into());
                                None
                            }
                        };
                        if let Some(input) = input {
                            emit(line_no, input);
                        }
                    }
                }
                _ => {
                    if let Some(input) = self.element(element, &mut p) {
                        emit(line_no, input);
                    }
                }
            },
            Ok(Line::NotObject) => p.error("not a JSON object".into()),
            Err(e) => p.error(format!("not valid JSON: {e}")),
        }
    }

    fn element(&self, el: Element, p: &mut Problems) -> Option<Input> {
        p.rejected = false;
        let kind = el.kind.as_ref().and_then(J::as_str).unwrap_or("");
        let profile = [&el.user_id, &el.anonymous_id]
            .into_iter()
            .find_map(|j| match j {
                Some(J::Str(s)) if !s.trim().is_empty() => Some(SmolStr::new(s.trim())),
                Some(J::Num(n)) => Some(SmolStr::new(n.to_string())),
                _ => None,
            });
        if SKIPPED_KINDS.contains(&kind) {
            p.warn(skipped_call(kind));
            return None;
        }
        if !matches!(kind, "track" | "identify") {
            p.error(format!(
                "`type` must be \"track\" or \"identify\", found {}",
                short(el.kind.as_ref())
            ));
            return None;
        }
        let Some(profile) = profile else {
            p.error("no `userId` or `anonymousId`".into());
            return None;
        };
        let at = match el.timestamp.as_ref().map(timestamp_of) {
            Some(Some(at)) => at,
            Some(None) => {
                p.error(format!(
                    "`timestamp` is not a time: {}",
                    short(el.timestamp.as_ref())
                ));
                return None;
            }
            None => {
                p.error("no `timestamp`".into());
                return None;
            }
        };
        let message_id = match el.message_id {
            Some(J::Str(s)) => Some(SmolStr::new(&*s)),
            Some(J::Num(n)) => Some(SmolStr::new(n.to_string())),
            _ => None,
        };
        if kind == "identify" {
            let mut traits = Vec::new();
            if let Some(J::Obj(t)) = &el.traits {
                for (name, j) in t {
                    let v = match self.trait_type(name) {
                        Some(ty) => {
                            let traits_path = Path::root("traits");
                            let path = traits_path.child(name);
                            self.typed(path, ty, ty, j, None, Mode::Lenient, p)
                        }
                        None => Some(untyped_j(j)),
                    };
                    if let Some(v) = v {
                        traits.push((name.to_string(), v));
                    }
                }
            }
            return Some(Input::Identify {
                profile,
                traits: Record::from_fields(traits),
                at,
                message_id,
            });
        }
        let Some(raw) = el.event.as_ref().and_then(J::as_str) else {
            p.error("a track call without `event`".into());
            return None;
        };
        let event = self.event_name(raw, p);
        let properties = self.properties(&event, el.properties.as_ref(), p)?;
        Some(Input::Track {
            profile,
            event: event.into(),
            properties,
            at,
            message_id,
        })
    }

    /// The declaration of event `name` (`Schema::event`), with an index of
    /// its fields.
    fn event_decl(&self, name: &str) -> Option<(&'s RecordSchema, &NameIndex<'s>)> {
        let i = self.events.get(name)?;
        Some((self.schema.events.get(i)?, self.event_fields.get(i)?))
    }

    fn event_schema(&self, name: &str) -> Option<&'s RecordSchema> {
        self.event_decl(name).map(|(s, _)| s)
    }

    /// `event_decl`, for an event's own properties: with the members not
    /// kept (see `event_unread`).
    fn event_root(&self, name: &str) -> Option<(&'s RecordSchema, &NameIndex<'s>, &[bool])> {
        let i = self.events.get(name)?;
        let unread = self.event_unread.get(i).map_or(&[][..], Vec::as_slice);
        Some((
            self.schema.events.get(i)?,
            self.event_fields.get(i)?,
            unread,
        ))
    }

    /// The declaration of record type `name` (`Schema::record`), with an
    /// index of its fields.
    fn record_decl(&self, name: &str) -> Option<(&'s RecordSchema, &NameIndex<'s>)> {
        let i = self.records.get(name)?;
        Some((self.schema.records.get(i)?, self.record_fields.get(i)?))
    }

    fn record_schema(&self, name: &str) -> Option<&'s RecordSchema> {
        self.record_decl(name).map(|(s, _)| s)
    }

    /// The declared type of trait `name` (`Schema::trait_type`).
    fn trait_type(&self, name: &str) -> Option<&'s FieldType> {
        let i = self.traits.get(name)?;
        self.schema.traits.get(i).map(|f| &f.ty)
    }

    /// Whether `name` is declared (or one of the engine's own events).
    fn is_declared(&self, name: &str) -> bool {
        self.declared.get(name).is_some()
    }

    /// A track call's properties for the event `event` (`None`: rejected,
    /// said so). Anything but an object counts as no properties.
    fn properties(&self, event: &str, props: Option<&J>, p: &mut Problems) -> Option<Record> {
        let props = props.and_then(J::as_obj);
        match (self.event_root(event), props) {
            (Some((schema, _, unread)), props) => {
                let r = self.record(
                    Path::root(event),
                    schema,
                    unread,
                    props.unwrap_or_default(),
                    None,
                    Mode::Strict,
                    p,
                );
                (!p.rejected).then_some(r)
            }
            (None, None) => Some(Record::new()),
            (None, Some(props)) => Some(Record::from_fields(
                props.iter().map(|(k, v)| (k.to_string(), untyped_j(v))),
            )),
        }
    }

    fn event_name(&self, raw: &str, p: &mut Problems) -> String {
        if self.is_declared(raw) {
            return raw.to_string();
        }
        match self.coerced(raw) {
            Some(one) => {
                p.warn(format!("event {raw:?} read as {one:?}"));
                one.to_string()
            }
            None => raw.to_string(),
        }
    }

    /// The one declared event `raw` names ignoring case, spaces, `_` and
    /// `-`, if exactly one does. (Compared as it is normalized: nothing is
    /// allocated for the many lines naming an undeclared event.)
    fn coerced(&self, raw: &str) -> Option<&'s str> {
        let start = self
            .names
            .partition_point(|(k, _)| k.chars().cmp(norm(raw)) == Ordering::Less);
        let mut matches = self
            .names
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|(k, _)| k.chars().eq(norm(raw)));
        match (matches.next(), matches.next()) {
            (Some((_, one)), None) => Some(one),
            _ => None,
        }
    }

    /// `inherited`: the currency of the enclosing event, for nested records
    /// (a product's `price` takes its order's `currency`). Fields are typed
    /// in the schema's (name) order; a member named twice counts once, the
    /// last time.
    /// `unread`: by field, members typed but not kept.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        path: Path,
        schema: &RecordSchema,
        unread: &[bool],
        obj: &[(Cow<str>, J)],
        inherited: Option<Currency>,
        mode: Mode,
        p: &mut Problems,
    ) -> Record {
        let currency = get(obj, "currency")
            .and_then(J::as_str)
            .and_then(currency_code)
            .or(inherited);
        // Most records declare a few dozen fields at most: no allocation.
        let mut small = [None; 48];
        let mut big = Vec::new();
        let slots: &mut [Option<&J>] = match small.get_mut(..schema.fields.len()) {
            Some(s) => s,
            None => {
                big.resize(schema.fields.len(), None);
                &mut big
            }
        };
        for (name, j) in obj {
            if let Ok(i) = schema.fields.binary_search_by(|f| cmp_str(&f.name, name))
                && let Some(slot) = slots.get_mut(i)
            {
                *slot = Some(j);
            }
        }
        let mut fields = Vec::with_capacity(obj.len().min(schema.fields.len()));
        for (i, (f, slot)) in schema.fields.iter().zip(slots.iter().copied()).enumerate() {
            let present = slot.filter(|j| !j.is_null());
            if present.is_none() && mode == Mode::Strict && required(&f.ty) {
                p.reject(format!(
                    "`{path}` without its required field `{}` (declared `{}`), found {}",
                    f.name,
                    type_text(&f.ty),
                    short(slot)
                ));
                continue;
            }
            let Some(j) = slot else { continue };
            if let Some(v) = self.typed(path.child(&f.name), &f.ty, &f.ty, j, currency, mode, p)
                && unread.get(i) != Some(&true)
            {
                fields.push((f.name.as_str(), v));
            }
        }
        Record::from_fields(fields)
    }

    /// `None`: invalid (reported) — the field is absent. `decl`: the type
    /// as declared, for messages (`ty` loses its `?` on the way in).
    #[allow(clippy::too_many_arguments)]
    fn typed(
        &self,
        path: Path,
        decl: &FieldType,
        ty: &FieldType,
        j: &J,
        currency: Option<Currency>,
        mode: Mode,
        p: &mut Problems,
    ) -> Option<Value> {
        if j.is_null() {
            return Some(Value::None);
        }
        match ty {
            FieldType::Optional(inner) => self.typed(path, decl, inner, j, currency, mode, p),
            FieldType::Unknown => Some(untyped_j(j)),
            FieldType::List(inner) => match j {
                J::Arr(items) => Some(Value::List(
                    items
                        .iter()
                        .filter_map(|x| self.typed(path, inner, inner, x, currency, mode, p))
                        .collect(),
                )),
                _ => bad(p, mode, path, decl, "a list", j),
            },
            FieldType::Record(name) | FieldType::Event(name) => {
                let schema = match ty {
                    FieldType::Record(_) => self.record_schema(name),
                    _ => self.event_schema(name),
                };
                match (j, schema) {
                    (J::Obj(obj), Some(s)) => Some(Value::Record(self.record(
                        path,
                        s,
                        &[],
                        obj,
                        currency,
                        mode,
                        p,
                    ))),
                    (J::Obj(_), None) => Some(untyped_j(j)),
                    _ => bad(p, mode, path, decl, "an object", j),
                }
            }
            FieldType::Union(members) => {
                let found = j.as_str().map(str::trim).and_then(|s| {
                    if let Some(m) = members.iter().find(|m| m.as_str() == s) {
                        return Some(m);
                    }
                    let m = members.iter().find(|m| m.eq_ignore_ascii_case(s))?;
                    p.warn(format!("`{path}`: {s:?} read as {m:?}"));
                    Some(m)
                });
                match found {
                    Some(m) => Some(Value::str(m.as_str())),
                    None => bad(
                        p,
                        mode,
                        path,
                        decl,
                        &format!("one of {}", members.join(", ")),
                        j,
                    ),
                }
            }
            FieldType::Scalar(s) => self.scalar(path, decl, *s, j, currency, mode, p),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn scalar(
        &self,
        path: Path,
        ty: &FieldType,
        s: Scalar,
        j: &J,
        currency: Option<Currency>,
        mode: Mode,
        p: &mut Problems,
    ) -> Option<Value> {
        // A number, or a number sent as a string (coerced with a warning).
        let number = |p: &mut Problems| -> Option<Decimal> {
            match j {
                J::Num(n) => number_decimal(n),
                J::Str(t) => {
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
                J::Bool(b) => Some(Value::Bool(*b)),
                J::Str(t) => match t.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" => Some(Value::Bool(true)),
                    "false" | "no" | "0" => Some(Value::Bool(false)),
                    _ => bad(p, mode, path, ty, "true or false", j),
                },
                J::Num(n) if n.as_i64() == Some(1) => Some(Value::Bool(true)),
                J::Num(n) if n.as_i64() == Some(0) => Some(Value::Bool(false)),
                _ => bad(p, mode, path, ty, "true or false", j),
            },
            Scalar::Int => match number(p) {
                Some(d) if d.fract().is_zero() => match i64::try_from(d) {
                    Ok(i) => Some(Value::Int(i)),
                    Err(_) => bad(p, mode, path, ty, "a whole number in range", j),
                },
                _ => bad(p, mode, path, ty, "a whole number", j),
            },
            Scalar::Decimal => match number(p) {
                Some(d) => Some(Value::Decimal(d)),
                None => bad(p, mode, path, ty, "a number", j),
            },
            Scalar::Percent => match number(p) {
                Some(d) => Some(Value::Percent(d)),
                None => bad(p, mode, path, ty, "a percentage", j),
            },
            Scalar::Money => {
                if let J::Obj(o) = j {
                    let amount = get(o, "amount").and_then(|a| match a {
                        J::Num(n) => number_decimal(n),
                        J::Str(t) => decimal(t.trim()),
                        _ => None,
                    });
                    let cur = get(o, "currency")
                        .and_then(J::as_str)
                        .and_then(currency_code)
                        .or(currency);
                    return match amount {
                        Some(amount) => Some(money(amount, cur)),
                        None => bad(p, mode, path, ty, "an amount", j),
                    };
                }
                match number(p) {
                    Some(d) => Some(money(d, currency)),
                    None => bad(p, mode, path, ty, "an amount of money", j),
                }
            }
            Scalar::Currency => match j.as_str().and_then(currency_code) {
                Some(c) => Some(Value::str(c.as_str())),
                None => bad(p, mode, path, ty, "a currency code", j),
            },
            Scalar::Timestamp => match timestamp_of(j) {
                Some(ms) => Some(Value::Timestamp(ms)),
                None => bad(p, mode, path, ty, "a timestamp", j),
            },
            Scalar::Date => match j.as_str().and_then(date) {
                Some(d) => Some(Value::Date(d)),
                None => bad(p, mode, path, ty, "a date (YYYY-MM-DD)", j),
            },
            Scalar::Time => match j.as_str().and_then(time) {
                Some(t) => Some(Value::Time(t)),
                None => bad(p, mode, path, ty, "a time of day (HH:MM)", j),
            },
            Scalar::Duration => match j.as_i64() {
                Some(secs) => Some(Value::Duration(secs)),
                None => bad(p, mode, path, ty, "a duration in seconds", j),
            },
            Scalar::String | Scalar::Email | Scalar::Phone | Scalar::Url | Scalar::Timezone => {
                match j {
                    J::Str(t) => Some(Value::Str(self.strings.get(t.trim()))),
                    J::Num(n) => Some(Value::str(n.to_string())),
                    _ => bad(p, mode, path, ty, "text", j),
                }
            }
        }
    }
}

/// How a wrong value is taken: event properties reject the event, traits
/// are dropped with a warning.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Strict,
    Lenient,
}

/// A value of the wrong kind: reported; `None` (the field is absent, and
/// in strict mode the event is rejected).
fn bad(
    p: &mut Problems,
    mode: Mode,
    path: Path,
    ty: &FieldType,
    what: &str,
    j: &J,
) -> Option<Value> {
    match mode {
        Mode::Strict => p.reject(format!(
            "`{path}`: expected {what} (declared `{}`), found {}",
            type_text(ty),
            short(Some(j))
        )),
        Mode::Lenient => p.warn(format!(
            "`{path}`: expected {what}, found {}; treated as absent",
            short(Some(j))
        )),
    }
    None
}

struct Problems<'a> {
    line: usize,
    out: &'a mut Vec<LineProblem>,
    /// The current element had an error: it is skipped.
    rejected: bool,
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
    /// An error that skips the element (reported once per problem; the
    /// element goes on being read so every problem is reported).
    fn reject(&mut self, message: String) {
        self.rejected = true;
        self.error(message);
    }
}

fn short(j: Option<&J>) -> String {
    match j {
        None => "nothing".into(),
        Some(j) => {
            let mut s = String::new();
            j.write_json(&mut s);
            if s.chars().count() > 40 {
                format!("{}…", s.chars().take(40).collect::<String>())
            } else {
                s
            }
        }
    }
}

fn currency_code(c: &str) -> Option<Currency> {
    let c = c.trim();
    Currency::new(c).or_else(|| Currency::new(&c.to_ascii_uppercase()))
}

fn decimal(t: &str) -> Option<Decimal> {
    Decimal::from_str(t)
        .ok()
        .or_else(|| Decimal::from_scientific(t).ok())
}

/// A JSON number as a decimal: integers exactly, others by their shortest
/// text (`129.5` is 129.5, not the nearest binary fraction).
fn number_decimal(n: &serde_json::Number) -> Option<Decimal> {
    if let Some(i) = n.as_i64() {
        return Some(Decimal::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(Decimal::from(u));
    }
    if let Some(d) = n.as_f64().and_then(whole_float) {
        return Some(d);
    }
    decimal(&n.to_string())
}

/// A whole float of moderate size (`129.0`) as the decimal its text gives
/// (`129.0`, one decimal place), without writing and parsing the text.
/// `None` for anything else (zero too: its text may carry a sign).
fn whole_float(x: f64) -> Option<Decimal> {
    if x.fract() != 0.0 || x == 0.0 || x.abs() >= 1e9 {
        return None;
    }
    // Whole and below 10^9: exact in an i64.
    Some(Decimal::new((x as i64) * 10, 1))
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
        Json::String(s) => timestamp_text(s),
        Json::Number(n) => timestamp_number(n),
        _ => None,
    }
}

/// RFC 3339 text as unix milliseconds.
pub fn timestamp_text(s: &str) -> Option<i64> {
    let s = trim(s);
    rfc3339_millis(s).or_else(|| {
        s.parse::<jiff::Timestamp>()
            .ok()
            .map(|t| t.as_millisecond())
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.f…](Z|±HH:MM)` — the shape nearly every sender
/// writes — read without jiff (whose general parser was a few percent of
/// reading a log); `None` for anything else, which jiff then reads. Only
/// years 1971 to 9998, so the instant is after the epoch and inside jiff's
/// range whatever the offset, and dropping digits past the millisecond
/// truncates as jiff's `as_millisecond` does. Agrees with jiff on every
/// text it accepts (unit test).
fn rfc3339_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digit = |i: usize| -> Option<i64> {
        let c = *b.get(i)?;
        c.is_ascii_digit().then(|| i64::from(c - b'0'))
    };
    let two = |i: usize| Some(digit(i)? * 10 + digit(i + 1)?);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let shaped = at(4, b'-') && at(7, b'-') && at(13, b':') && at(16, b':');
    if !(shaped && matches!(b.get(10), Some(b'T' | b't'))) {
        return None;
    }
    let year = two(0)? * 100 + two(2)?;
    let (month, day) = (two(5)?, two(8)?);
    let (hour, minute, second) = (two(11)?, two(14)?, two(17)?);
    if !(1971..=9998).contains(&year) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let date = Date::new(
        i32::try_from(year).ok()?,
        u8::try_from(month).ok()?,
        u8::try_from(day).ok()?,
    )?;
    let mut i = 19;
    let mut millis = 0;
    if at(i, b'.') {
        i += 1;
        let start = i;
        while let Some(d) = digit(i) {
            if i - start < 3 {
                millis = millis * 10 + d;
            }
            i += 1;
        }
        let digits = i - start;
        if !(1..=9).contains(&digits) {
            return None;
        }
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let offset = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (two(i + 1)?, two(i + 4)?);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let secs = date.days_since_epoch() * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(secs * 1000 + millis)
}

fn timestamp_number(n: &serde_json::Number) -> Option<i64> {
    let x = n.as_f64()?;
    if !x.is_finite() {
        return None;
    }
    let ms = if x.abs() > 1e11 { x } else { x * 1000.0 };
    Some(ms.round() as i64)
}

fn timestamp_of(j: &J) -> Option<i64> {
    match j {
        J::Str(s) => timestamp_text(s),
        J::Num(n) => timestamp_number(n),
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
        Json::Number(n) => untyped_number(n),
        Json::String(s) => Value::str(s.as_str()),
        Json::Array(items) => Value::List(items.iter().map(untyped).collect()),
        Json::Object(o) => Value::Record(Record::from_fields(
            o.iter().map(|(k, v)| (k.clone(), untyped(v))),
        )),
    }
}

fn untyped_number(n: &serde_json::Number) -> Value {
    match n.as_i64() {
        Some(i) => Value::Int(i),
        None => decimal(&n.to_string())
            .map(Value::Decimal)
            .unwrap_or(Value::None),
    }
}

fn untyped_j(j: &J) -> Value {
    match j {
        J::Null => Value::None,
        J::Bool(b) => Value::Bool(*b),
        J::Num(n) => untyped_number(n),
        J::Str(s) => Value::str(s.as_ref()),
        J::Arr(items) => Value::List(items.iter().map(untyped_j).collect()),
        J::Obj(o) => Value::Record(Record::from_fields(
            o.iter().map(|(k, v)| (k.to_string(), untyped_j(v))),
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
    fn long_texts_read_again_are_shared_and_every_text_reads_as_itself() {
        let strings = Strings::new();
        let url = "https://trailhead.example/products/p-404";
        let (a, b) = (strings.get(url), strings.get(url));
        assert_eq!((a.as_str(), b.as_str()), (url, url));
        assert!(a.is_heap_allocated());
        assert_eq!(
            a.as_str().as_ptr(),
            b.as_str().as_ptr(),
            "one block, shared"
        );
        let short = strings.get("p-404");
        assert_eq!(short, "p-404");
        assert!(!short.is_heap_allocated());
        // Many texts share the slots: each still reads as itself, and one
        // that lost its slot is made anew.
        let texts: Vec<String> = (0..5000)
            .map(|i| format!("https://trailhead.example/products/p-{i:05}"))
            .collect();
        for _ in 0..2 {
            for t in &texts {
                assert_eq!(strings.get(t), t.as_str());
            }
        }
        assert_eq!(strings.get(url), url);
    }

    #[test]
    fn pooled_vectors_come_back_empty_and_large_ones_are_not_kept() {
        let pool: Pool<u32> = Pool::new();
        let mut v = pool.take();
        v.extend([1, 2, 3]);
        let room = v.capacity();
        pool.give(v);
        let v = pool.take();
        assert!(v.is_empty());
        assert_eq!(v.capacity(), room);
        let mut big = Vec::with_capacity(10_000);
        big.push(1);
        pool.give(big);
        assert_eq!(pool.take().capacity(), 0);
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

    fn orders() -> Schema {
        Schema {
            events: vec![RecordSchema {
                name: "Order Completed".into(),
                fields: vec![
                    field("order_id", FieldType::Scalar(Scalar::String)),
                    field(
                        "products",
                        FieldType::List(Box::new(FieldType::Record("Product".into()))),
                    ),
                    field("revenue", money()),
                ],
            }],
            records: vec![RecordSchema {
                name: "Product".into(),
                fields: vec![
                    field("price", money()),
                    field("sku", FieldType::Scalar(Scalar::String)),
                ],
            }],
            traits: vec![field(
                "age",
                FieldType::Optional(Box::new(FieldType::Scalar(Scalar::Int))),
            )],
        }
    }

    fn read(schema: &Schema, log: &str) -> (Vec<(usize, Input)>, Vec<String>) {
        let (inputs, problems) = Reader::new(schema).read_log(log);
        let problems = problems
            .iter()
            .map(|p| format!("{} {:?}: {}", p.line, p.severity, p.message))
            .collect();
        (inputs, problems)
    }

    const HEAD: &str = r#""type":"track","userId":"u","timestamp":"2026-03-01T00:00:00Z","event":"Order Completed""#;

    #[test]
    fn an_event_without_a_required_field_is_skipped_and_said_so() {
        let log = [
            format!(r#"{{{HEAD},"properties":{{"revenue":20}}}}"#),
            format!(r#"{{{HEAD}}}"#),
            format!(r#"{{{HEAD},"properties":{{"order_id":null}}}}"#),
            // Lists are never required; a product's `sku` is.
            format!(r#"{{{HEAD},"properties":{{"order_id":"1","products":[{{"price":5}}]}}}}"#),
            format!(r#"{{{HEAD},"properties":{{"order_id":"2"}}}}"#),
        ]
        .join("\n");
        let (inputs, problems) = read(&orders(), &log);
        assert_eq!(
            problems,
            [
                "1 Error: `Order Completed` without its required field `order_id` (declared `string`), found nothing",
                "2 Error: `Order Completed` without its required field `order_id` (declared `string`), found nothing",
                "3 Error: `Order Completed` without its required field `order_id` (declared `string`), found null",
                "4 Error: `Order Completed.products` without its required field `sku` (declared `string`), found nothing",
            ]
        );
        let lines: Vec<usize> = inputs.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [5]);
    }

    #[test]
    fn an_event_field_of_the_wrong_kind_is_skipped_and_said_so() {
        let log = [
            format!(r#"{{{HEAD},"properties":{{"order_id":"1","revenue":"lots"}}}}"#),
            format!(r#"{{{HEAD},"properties":{{"order_id":{{"id":1}}}}}}"#),
            format!(
                r#"{{{HEAD},"properties":{{"order_id":"1","products":[{{"sku":"a","price":true}}]}}}}"#
            ),
            // Numbers as text are still coerced, with a warning.
            format!(r#"{{{HEAD},"properties":{{"order_id":7,"revenue":"19.5"}}}}"#),
            // Traits stay lenient: the bad one is dropped, the call applies.
            r#"{"type":"identify","userId":"u","timestamp":"2026-03-01T00:00:00Z","traits":{"age":"old"}}"#.to_string(),
        ]
        .join("\n");
        let (inputs, problems) = read(&orders(), &log);
        assert_eq!(
            problems,
            [
                "1 Error: `Order Completed.revenue`: expected an amount of money (declared `money?`), found \"lots\"",
                "2 Error: `Order Completed.order_id`: expected text (declared `string`), found {\"id\":1}",
                "3 Error: `Order Completed.products.price`: expected an amount of money (declared `money?`), found true",
                "4 Warning: `Order Completed.revenue`: number sent as text \"19.5\", coerced",
                "5 Warning: `traits.age`: expected a whole number, found \"old\"; treated as absent",
            ]
        );
        let lines: Vec<usize> = inputs.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [4, 5]);
    }

    #[test]
    fn a_bad_element_skips_only_itself_in_a_batch() {
        let log = format!(
            r#"{{"batch":[{{{HEAD}}},{{{HEAD},"properties":{{"order_id":"9"}}}}],"context":{{"ignored":[1,2]}}}}"#
        );
        let (inputs, problems) = read(&orders(), &log);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(matches!(
            inputs.as_slice(),
            [(1, Input::Track { properties, .. })]
                if properties.get("order_id") == Some(&Value::str("9"))
        ));
    }
}
