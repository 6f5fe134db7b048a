//! The data shapes a project declares — events (with `extend event` merged),
//! record types, profile traits — carried in the bundle so the runtime can
//! type what arrives from outside (a Segment event's JSON `"19"` for an
//! `int` field, `19.5` for `money`) without reading `.flow` text.
//!
//! Everything is sorted by name so the encoding is deterministic.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub events: Vec<RecordSchema>,
    /// `type Name { ... }` record types.
    pub records: Vec<RecordSchema>,
    pub traits: Vec<FieldSchema>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSchema {
    pub name: String,
    pub fields: Vec<FieldSchema>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSchema {
    pub name: String,
    pub ty: FieldType,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldType {
    Scalar(Scalar),
    List(Box<FieldType>),
    Optional(Box<FieldType>),
    /// A string-literal union: the members.
    Union(Vec<String>),
    /// A declared record type, by name (`Schema::records`).
    Record(String),
    /// An event's properties record, by event name.
    Event(String),
    /// A type lowering could not name (a broken declaration).
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scalar {
    Bool,
    Int,
    Decimal,
    String,
    Money,
    Currency,
    Percent,
    Timestamp,
    Date,
    Duration,
    Time,
    Timezone,
    Email,
    Phone,
    Url,
}

impl Scalar {
    pub fn from_name(name: &str) -> Option<Scalar> {
        Some(match name {
            "bool" => Scalar::Bool,
            "int" => Scalar::Int,
            "decimal" => Scalar::Decimal,
            "string" => Scalar::String,
            "money" => Scalar::Money,
            "currency" => Scalar::Currency,
            "percent" => Scalar::Percent,
            "timestamp" => Scalar::Timestamp,
            "date" => Scalar::Date,
            "duration" => Scalar::Duration,
            "time" => Scalar::Time,
            "timezone" => Scalar::Timezone,
            "email" => Scalar::Email,
            "phone" => Scalar::Phone,
            "url" => Scalar::Url,
            _ => return None,
        })
    }
}

impl Schema {
    pub fn event(&self, name: &str) -> Option<&RecordSchema> {
        self.events
            .binary_search_by(|e| e.name.as_str().cmp(name))
            .ok()
            .and_then(|i| self.events.get(i))
    }

    pub fn record(&self, name: &str) -> Option<&RecordSchema> {
        self.records
            .binary_search_by(|e| e.name.as_str().cmp(name))
            .ok()
            .and_then(|i| self.records.get(i))
    }

    pub fn trait_type(&self, name: &str) -> Option<&FieldType> {
        self.traits
            .binary_search_by(|f| f.name.as_str().cmp(name))
            .ok()
            .and_then(|i| self.traits.get(i))
            .map(|f| &f.ty)
    }
}

impl RecordSchema {
    pub fn field(&self, name: &str) -> Option<&FieldType> {
        self.fields
            .binary_search_by(|f| f.name.as_str().cmp(name))
            .ok()
            .and_then(|i| self.fields.get(i))
            .map(|f| &f.ty)
    }
}
