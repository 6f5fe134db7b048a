//! A serde `Deserializer` for *plain* lines — JSON text with no `\` and no
//! byte below 0x20 anywhere (`is_plain`), which is nearly every line a
//! Segment export holds — making exactly the visitor calls serde_json
//! makes for the same text, for less work. The fast path (`fast.rs`) reads
//! plain lines through it, and other lines through serde_json.
//!
//! Why by hand: on the 1M-event bench log serde_json spends most of its
//! share of the fast path finding where each of a line's ~40 strings ends,
//! a byte class test at a time (`parse_str`, `skip_to_escape`: ~3.3k
//! instructions a line), and routing every value through its general
//! number and escape handling. In a plain line a string ends at the next
//! `"` and holds no escape, so it is found by one search and handed out
//! borrowed. Swapping serde_json for sonic-rs or simd-json (both measured)
//! gained 4-5%: the cost is in the per-token work, not the scanning.
//!
//! The contract is narrow, and tested against serde_json on many shapes and
//! on random text (`tests`): whatever this accepts, serde_json accepts,
//! with the same calls (`visit_borrowed_str` for every string, `visit_u64`
//! for non-negative integers, `visit_i64` for negative ones, `visit_f64`
//! for decimals and `-0`, computed as serde_json computes them). What it
//! does not handle — an exponent, a number past `u64` or past 22 decimal
//! places, nesting deeper than `DEPTH` — is an error marked `lexical`: the
//! caller then reads the line with serde_json. Any other error comes from
//! a visitor (a type the caller did not expect, the fast path giving up),
//! which serde_json's calls, being the same, would meet too.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// True when `line` has no `\` and no byte below 0x20 (so no escape, and
/// no whitespace but spaces): its strings end at their next `"`.
pub(super) fn is_plain(line: &str) -> bool {
    // Whole chunks, no early exit: the compiler makes vector compares of it.
    let mut bad = false;
    let mut chunks = line.as_bytes().chunks_exact(32);
    for chunk in &mut chunks {
        bad |= chunk
            .iter()
            .fold(false, |acc, &b| acc | (b < 0x20) | (b == b'\\'));
        if bad {
            return false;
        }
    }
    !chunks.remainder().iter().any(|&b| b < 0x20 || b == b'\\')
}

/// Nesting this deep is left to serde_json (whose limit is 128).
const DEPTH: u32 = 100;

/// Powers of ten that `f64` holds exactly: serde_json divides by these.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Why a plain read stopped. Its text is never shown: the caller reads the
/// line again another way.
#[derive(Debug)]
pub(super) struct Error {
    /// The text went beyond what this reads (or is not JSON): serde_json
    /// should read it. Otherwise a visitor refused what it was given.
    pub(super) lexical: bool,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(if self.lexical {
            "not a plain line"
        } else {
            "refused by the reader"
        })
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(_: T) -> Error {
        Error { lexical: false }
    }
}

const LEXICAL: Error = Error { lexical: true };
/// A value of another kind than a `deserialize_map`/`_seq`/`_str` asked
/// for: serde_json refuses it too.
const REFUSED: Error = Error { lexical: false };

/// A cursor over a plain line (see `is_plain`).
pub(super) struct Plain<'a> {
    text: &'a str,
    i: usize,
    depth: u32,
}

impl<'a> Plain<'a> {
    /// A reader of `line`, which must be plain (`is_plain`).
    pub(super) fn new(line: &'a str) -> Plain<'a> {
        debug_assert!(is_plain(line));
        Plain {
            text: line,
            i: 0,
            depth: 0,
        }
    }

    /// Succeeds when nothing but spaces is left, as `serde_json`'s `end`.
    pub(super) fn end(&mut self) -> Result<(), Error> {
        self.ws();
        if self.i == self.text.len() {
            Ok(())
        } else {
            Err(LEXICAL)
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    /// Past spaces (the only whitespace a plain line has).
    fn ws(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), Error> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(LEXICAL)
        }
    }

    /// A string's contents, the cursor on its opening quote.
    fn string(&mut self) -> Result<&'a str, Error> {
        let start = self.i + 1;
        let rest = self.bytes().get(start..).ok_or(LEXICAL)?;
        let n = memchr::memchr(b'"', rest).ok_or(LEXICAL)?;
        self.i = start + n + 1;
        // Both ends are at ASCII quotes: a `str` boundary.
        self.text.get(start..start + n).ok_or(LEXICAL)
    }

    /// `word` (`null`, `true`, `false`) in full.
    fn word(&mut self, word: &[u8]) -> Result<(), Error> {
        if self
            .bytes()
            .get(self.i..)
            .is_some_and(|r| r.starts_with(word))
        {
            self.i += word.len();
            Ok(())
        } else {
            Err(LEXICAL)
        }
    }

    /// Digits from the cursor into `acc` (none: `LEXICAL`); false when
    /// `acc` would pass `u64`. Returns how many were read.
    fn digits(&mut self, acc: &mut u64) -> Result<i32, Error> {
        let mut n = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            *acc = acc
                .checked_mul(10)
                .and_then(|a| a.checked_add(u64::from(c - b'0')))
                .ok_or(LEXICAL)?;
            self.i += 1;
            n += 1;
        }
        if n == 0 { Err(LEXICAL) } else { Ok(n) }
    }

    /// A number, the cursor on its first byte, visited as serde_json
    /// visits it.
    fn number<V: Visitor<'a>>(&mut self, v: V) -> Result<V::Value, Error> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let first = self.peek();
        let mut significand = 0u64;
        let int_digits = self.digits(&mut significand)?;
        // One leading zero at most.
        if first == Some(b'0') && int_digits > 1 {
            return Err(LEXICAL);
        }
        let mut exponent = 0;
        if self.peek() == Some(b'.') {
            self.i += 1;
            exponent = -self.digits(&mut significand)?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            return Err(LEXICAL);
        }
        if exponent < 0 {
            // serde_json's `f64_from_parts` (without `float_roundtrip`).
            let pow = POW10.get(exponent.unsigned_abs() as usize).ok_or(LEXICAL)?;
            let f = significand as f64 / pow;
            return v.visit_f64(if negative { -f } else { f });
        }
        if !negative {
            return v.visit_u64(significand);
        }
        // serde_json's `parse_number`: `-0` and what `i64` cannot hold
        // become floats.
        let n = (significand as i64).wrapping_neg();
        if n >= 0 {
            v.visit_f64(-(significand as f64))
        } else {
            v.visit_i64(n)
        }
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > DEPTH {
            return Err(LEXICAL);
        }
        self.i += 1;
        Ok(())
    }

    fn map<V: Visitor<'a>>(&mut self, v: V) -> Result<V::Value, Error> {
        self.enter()?;
        let value = v.visit_map(Access {
            de: &mut *self,
            first: true,
        })?;
        self.depth -= 1;
        self.ws();
        self.eat(b'}')?;
        Ok(value)
    }

    fn seq<V: Visitor<'a>>(&mut self, v: V) -> Result<V::Value, Error> {
        self.enter()?;
        let value = v.visit_seq(Access {
            de: &mut *self,
            first: true,
        })?;
        self.depth -= 1;
        self.ws();
        self.eat(b']')?;
        Ok(value)
    }

    /// Past a value, checked as reading it would check it.
    fn skip(&mut self) -> Result<(), Error> {
        self.ws();
        match self.peek().ok_or(LEXICAL)? {
            b'"' => self.string().map(drop),
            b'n' => self.word(b"null"),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'-' | b'0'..=b'9' => self.number(de::IgnoredAny).map(drop),
            b'{' => {
                self.enter()?;
                let mut access = Access {
                    de: &mut *self,
                    first: true,
                };
                while access.has_next_key()? {
                    access.de.string()?;
                    access.colon()?;
                    access.de.skip()?;
                }
                self.depth -= 1;
                self.ws();
                self.eat(b'}')
            }
            b'[' => {
                self.enter()?;
                let mut access = Access {
                    de: &mut *self,
                    first: true,
                };
                while access.has_next_element()? {
                    access.de.skip()?;
                }
                self.depth -= 1;
                self.ws();
                self.eat(b']')
            }
            _ => Err(LEXICAL),
        }
    }
}

impl<'de> Deserializer<'de> for &mut Plain<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.ws();
        match self.peek().ok_or(LEXICAL)? {
            b'"' => {
                let s = self.string()?;
                v.visit_borrowed_str(s)
            }
            b'n' => {
                self.word(b"null")?;
                v.visit_unit()
            }
            b't' => {
                self.word(b"true")?;
                v.visit_bool(true)
            }
            b'f' => {
                self.word(b"false")?;
                v.visit_bool(false)
            }
            b'-' | b'0'..=b'9' => self.number(v),
            b'{' => self.map(v),
            b'[' => self.seq(v),
            _ => Err(LEXICAL),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.ws();
        match self.peek() {
            Some(b'{') => self.map(v),
            _ => Err(REFUSED),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.ws();
        match self.peek() {
            Some(b'[') => self.seq(v),
            _ => Err(REFUSED),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.ws();
        match self.peek() {
            Some(b'"') => {
                let s = self.string()?;
                v.visit_borrowed_str(s)
            }
            _ => Err(REFUSED),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.ws();
        if self.peek() == Some(b'n') {
            self.word(b"null")?;
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.skip()?;
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct newtype_struct tuple tuple_struct struct enum identifier
    }
}

/// The members of an object or the elements of an array being read.
struct Access<'p, 'a> {
    de: &'p mut Plain<'a>,
    first: bool,
}

impl Access<'_, '_> {
    /// serde_json's `has_next_key`: another member follows (the cursor on
    /// its key), or the object ends here.
    fn has_next_key(&mut self) -> Result<bool, Error> {
        self.de.ws();
        match self.de.peek().ok_or(LEXICAL)? {
            b'}' => Ok(false),
            b'"' if self.first => {
                self.first = false;
                Ok(true)
            }
            b',' if !self.first => {
                self.de.i += 1;
                self.de.ws();
                match self.de.peek() {
                    Some(b'"') => Ok(true),
                    _ => Err(LEXICAL),
                }
            }
            _ => Err(LEXICAL),
        }
    }

    /// serde_json's `has_next_element`.
    fn has_next_element(&mut self) -> Result<bool, Error> {
        self.de.ws();
        match self.de.peek().ok_or(LEXICAL)? {
            b']' => Ok(false),
            _ if self.first => {
                self.first = false;
                Ok(true)
            }
            b',' => {
                self.de.i += 1;
                self.de.ws();
                match self.de.peek() {
                    Some(b']') | None => Err(LEXICAL),
                    Some(_) => Ok(true),
                }
            }
            _ => Err(LEXICAL),
        }
    }

    fn colon(&mut self) -> Result<(), Error> {
        self.de.ws();
        self.de.eat(b':')
    }
}

impl<'de> MapAccess<'de> for Access<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if !self.has_next_key()? {
            return Ok(None);
        }
        let key = self.de.string()?;
        seed.deserialize(KeyStr(key)).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        self.colon()?;
        seed.deserialize(&mut *self.de)
    }
}

impl<'de> SeqAccess<'de> for Access<'_, 'de> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        if !self.has_next_element()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
}

/// An object's key, read: serde_json hands a key to any request as a
/// borrowed string (its number and bool parsing of keys is not used here).
struct KeyStr<'a>(&'a str);

impl<'de> Deserializer<'de> for KeyStr<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_borrowed_str(self.0)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

#[cfg(test)]
#[allow(clippy::panic, reason = "a failing test may panic")]
mod tests;
