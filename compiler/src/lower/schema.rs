//! The bundle's `Schema`: declared events (with `extend event` fields
//! merged in), record types (with `extend type`), and profile traits (all
//! blocks merged), sorted by name — what the runtime types incoming JSON by.

use crate::ast::{self, FieldDecl, Item, TypeExpr, TypeExprKind};
use nudge_bytecode::schema::{FieldSchema, FieldType, RecordSchema, Scalar, Schema};
use std::collections::BTreeMap;

pub(crate) fn schema(files: &[&ast::File]) -> Schema {
    let mut events: BTreeMap<String, BTreeMap<String, FieldType>> = BTreeMap::new();
    let mut records: BTreeMap<String, BTreeMap<String, FieldType>> = BTreeMap::new();
    let mut traits: BTreeMap<String, FieldType> = BTreeMap::new();
    let add = |into: &mut BTreeMap<String, FieldType>, fields: &[FieldDecl]| {
        for f in fields {
            into.insert(f.name.name.clone(), field_type(&f.ty));
        }
    };
    for file in files {
        for item in &file.items {
            match item {
                Item::Event(e) => add(events.entry(e.name.value.clone()).or_default(), &e.fields),
                Item::Type(t) => add(records.entry(t.name.name.clone()).or_default(), &t.fields),
                Item::Profile(p) => add(&mut traits, &p.fields),
                _ => {}
            }
        }
    }
    let list = |m: BTreeMap<String, BTreeMap<String, FieldType>>| {
        m.into_iter()
            .map(|(name, fields)| RecordSchema {
                name,
                fields: fields
                    .into_iter()
                    .map(|(name, ty)| FieldSchema { name, ty })
                    .collect(),
            })
            .collect()
    };
    Schema {
        events: list(events),
        records: list(records),
        traits: traits
            .into_iter()
            .map(|(name, ty)| FieldSchema { name, ty })
            .collect(),
    }
}

fn field_type(t: &TypeExpr) -> FieldType {
    match &t.kind {
        TypeExprKind::Named(id) => match Scalar::from_name(&id.name) {
            Some(s) => FieldType::Scalar(s),
            None => FieldType::Record(id.name.clone()),
        },
        TypeExprKind::List(inner) => FieldType::List(Box::new(field_type(inner))),
        TypeExprKind::Optional(inner) => FieldType::Optional(Box::new(field_type(inner))),
        TypeExprKind::Union(names) => {
            FieldType::Union(names.iter().map(|n| n.value.clone()).collect())
        }
        TypeExprKind::Event(n) => FieldType::Event(n.value.clone()),
        TypeExprKind::Error => FieldType::Unknown,
    }
}
