//! Names across the project: [`ProjectIndex`] collects every declaration of
//! every file (stdlib first) — events with their fields (merged with
//! `extend event`), record types (merged with `extend type`), profile traits
//! (merged `profile {}` blocks), segments, templates and flows — with the
//! place each was declared. It is owned data, so the project database can
//! cache it and tell when an edit left it unchanged.
//!
//! Building it reports what is wrong with the declarations themselves:
//! duplicates (E0109, naming both places), `extend event` of an unknown
//! event (E0101), `extend type` of an unknown type and unknown type names
//! (E0107), each with a "did you mean" where one is close. Uses of the
//! names (in flows, segments and templates) are checked by `types`.

use crate::ast::{self, Channel, Item, TypeExpr, TypeExprKind};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::{FileId, Span};
use crate::types::builtins;
use crate::types::ty::Ty;
use std::collections::BTreeMap;

/// Where something was declared: the file and the span of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Declared {
    pub file: FileId,
    pub span: Span,
}

/// A field of an event or record type, or a profile trait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    pub name: String,
    pub ty: Ty,
    pub doc: Option<String>,
    pub at: Declared,
}

/// An event (`event "Order Completed" { ... }`) with the fields of its
/// declaration and of every `extend event`, in declaration order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInfo {
    pub name: String,
    pub doc: Option<String>,
    pub at: Declared,
    pub fields: Vec<FieldInfo>,
}

/// A record type (`type Product { ... }`) merged with its `extend type`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInfo {
    pub name: String,
    pub doc: Option<String>,
    pub at: Declared,
    pub fields: Vec<FieldInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    pub name: String,
    pub doc: Option<String>,
    pub at: Declared,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamInfo {
    pub name: String,
    pub ty: Ty,
    pub at: Declared,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateInfo {
    pub name: String,
    pub channel: Channel,
    pub params: Vec<ParamInfo>,
    pub at: Declared,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowInfo {
    pub name: String,
    pub at: Declared,
}

/// Every declaration of the project, by name. Where a name is declared
/// twice, the first declaration (stdlib first, then files in order) is the
/// one kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProjectIndex {
    events: BTreeMap<String, EventInfo>,
    types: BTreeMap<String, RecordInfo>,
    traits: BTreeMap<String, FieldInfo>,
    segments: BTreeMap<String, SegmentInfo>,
    templates: BTreeMap<String, TemplateInfo>,
    flows: BTreeMap<String, FlowInfo>,
}

impl ProjectIndex {
    /// Indexes the declarations of `files` (stdlib files first) and reports
    /// what is wrong with them. Each diagnostic carries its own file.
    pub fn build(files: &[(FileId, &ast::File)]) -> (ProjectIndex, Vec<Diagnostic>) {
        let mut index = ProjectIndex::default();
        let mut out = Vec::new();
        // First the names, so types and events may be used before (or in a
        // file before) their declaration.
        for (file, ast) in files {
            for item in &ast.items {
                index.declare(*file, item, &mut out);
            }
        }
        for (file, ast) in files {
            for item in &ast.items {
                index.fill(*file, item, &mut out);
            }
        }
        (index, out)
    }

    fn declare(&mut self, file: FileId, item: &Item, out: &mut Vec<Diagnostic>) {
        let at = |span| Declared { file, span };
        match item {
            Item::Event(e) if !e.extend => {
                let key = e.name.value.clone();
                if let Some(first) = self.events.get(&key) {
                    out.push(
                        duplicate(&format!("event \"{key}\""), at(e.name.span), first.at)
                            .with_help(format!(
                                "to add fields to it, write `extend event \"{key}\" {{ ... }}`"
                            )),
                    );
                } else {
                    self.events.insert(
                        key.clone(),
                        EventInfo {
                            name: key,
                            doc: e.doc.clone(),
                            at: at(e.name.span),
                            fields: Vec::new(),
                        },
                    );
                }
            }
            Item::Type(t) if !t.extend => {
                let key = t.name.name.clone();
                if builtins::type_named(&key).is_some() {
                    out.push(
                        Diagnostic::new(
                            Code::DuplicateDeclaration,
                            file,
                            t.name.span,
                            format!("type `{key}` is a built-in type"),
                        )
                        .with_label("already a built-in type")
                        .with_help("give the record type another name"),
                    );
                } else if let Some(first) = self.types.get(&key) {
                    out.push(
                        duplicate(&format!("type `{key}`"), at(t.name.span), first.at).with_help(
                            format!("to add fields to it, write `extend type {key} {{ ... }}`"),
                        ),
                    );
                } else {
                    self.types.insert(
                        key.clone(),
                        RecordInfo {
                            name: key,
                            doc: t.doc.clone(),
                            at: at(t.name.span),
                            fields: Vec::new(),
                        },
                    );
                }
            }
            Item::Segment(s) => {
                let key = s.name.name.clone();
                if let Some(first) = self.segments.get(&key) {
                    out.push(duplicate(
                        &format!("segment `{key}`"),
                        at(s.name.span),
                        first.at,
                    ));
                } else {
                    self.segments.insert(
                        key.clone(),
                        SegmentInfo {
                            name: key,
                            doc: s.doc.as_ref().map(|d| d.value.clone()),
                            at: at(s.name.span),
                        },
                    );
                }
            }
            Item::Template(t) => {
                let key = t.name.name.clone();
                if let Some(first) = self.templates.get(&key) {
                    out.push(duplicate(
                        &format!("template `{key}`"),
                        at(t.name.span),
                        first.at,
                    ));
                } else {
                    self.templates.insert(
                        key.clone(),
                        TemplateInfo {
                            name: key,
                            channel: t.channel,
                            params: Vec::new(),
                            at: at(t.name.span),
                        },
                    );
                }
            }
            Item::Flow(f) => {
                let key = f.name.name.clone();
                if let Some(first) = self.flows.get(&key) {
                    out.push(duplicate(
                        &format!("flow `{key}`"),
                        at(f.name.span),
                        first.at,
                    ));
                } else {
                    self.flows.insert(
                        key.clone(),
                        FlowInfo {
                            name: key,
                            at: at(f.name.span),
                        },
                    );
                }
            }
            _ => {}
        }
    }

    fn fill(&mut self, file: FileId, item: &Item, out: &mut Vec<Diagnostic>) {
        let here = |span| Declared { file, span };
        match item {
            Item::Event(e) => {
                let fields = self.fields(file, &e.fields, out);
                let key = &e.name.value;
                let Some(info) = self.events.get_mut(key) else {
                    // Only an `extend` can miss: declarations were added above.
                    let mut d = Diagnostic::new(
                        Code::UnknownEvent,
                        file,
                        e.name.span,
                        format!("`extend event` of an unknown event \"{key}\""),
                    )
                    .with_label("no such event");
                    d = match did_you_mean(key, self.events.keys().map(String::as_str)) {
                        Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                        None => d.with_help(format!(
                            "declare it with `event \"{key}\" {{ ... }}` instead"
                        )),
                    };
                    out.push(d);
                    return;
                };
                // The fields of a duplicate declaration are not merged.
                if !e.extend && info.at != here(e.name.span) {
                    return;
                }
                merge_fields(&format!("event \"{key}\""), &mut info.fields, fields, out);
            }
            Item::Type(t) => {
                let fields = self.fields(file, &t.fields, out);
                let key = &t.name.name;
                let Some(info) = self.types.get_mut(key) else {
                    if t.extend {
                        let known = self.types.keys().map(String::as_str);
                        let suggestion = did_you_mean(key, known);
                        let d = Diagnostic::new(
                            Code::UnknownType,
                            file,
                            t.name.span,
                            format!("`extend type` of an unknown type `{key}`"),
                        )
                        .with_label("no such type");
                        out.push(match suggestion {
                            Some(s) => d.with_help(format!("did you mean `{s}`?")),
                            None => d.with_help(format!(
                                "declare it with `type {key} {{ ... }}` instead"
                            )),
                        });
                    }
                    return;
                };
                if !t.extend && info.at != here(t.name.span) {
                    return;
                }
                merge_fields(&format!("type `{key}`"), &mut info.fields, fields, out);
            }
            Item::Profile(p) => {
                for field in self.fields(file, &p.fields, out) {
                    if let Some(first) = self.traits.get(&field.name) {
                        out.push(duplicate(
                            &format!("profile trait `{}`", field.name),
                            field.at,
                            first.at,
                        ));
                    } else {
                        self.traits.insert(field.name.clone(), field);
                    }
                }
            }
            Item::Template(t) => {
                let mut params: Vec<ParamInfo> = Vec::new();
                for p in &t.params {
                    let ty = self.resolve(file, &p.ty, Some(out));
                    let at = here(p.name.span);
                    // A duplicate is reported but kept, so `send` still
                    // counts the arguments as written.
                    if let Some(first) = params.iter().find(|q| q.name == p.name.name) {
                        out.push(duplicate(
                            &format!("parameter `{}`", p.name.name),
                            at,
                            first.at,
                        ));
                    }
                    params.push(ParamInfo {
                        name: p.name.name.clone(),
                        ty,
                        at,
                    });
                }
                if let Some(info) = self.templates.get_mut(&t.name.name)
                    && info.at == here(t.name.span)
                {
                    info.params = params;
                }
            }
            _ => {}
        }
    }

    /// Resolves the types of declared fields, reporting unknown ones.
    fn fields(
        &self,
        file: FileId,
        fields: &[ast::FieldDecl],
        out: &mut Vec<Diagnostic>,
    ) -> Vec<FieldInfo> {
        fields
            .iter()
            .map(|f| FieldInfo {
                name: f.name.name.clone(),
                ty: self.resolve(file, &f.ty, Some(out)),
                doc: f.doc.clone(),
                at: Declared {
                    file,
                    span: f.name.span,
                },
            })
            .collect()
    }

    /// The type a type expression names; unknown names become `Ty::Error`
    /// (reported when `out` is given).
    fn resolve(&self, file: FileId, te: &TypeExpr, out: Option<&mut Vec<Diagnostic>>) -> Ty {
        match &te.kind {
            TypeExprKind::Named(id) => {
                if let Some(ty) = builtins::type_named(&id.name) {
                    return ty;
                }
                if self.types.contains_key(&id.name) {
                    return Ty::Record(id.name.clone());
                }
                if let Some(out) = out {
                    let candidates = builtins::TYPE_NAMES
                        .iter()
                        .copied()
                        .chain(self.types.keys().map(String::as_str));
                    let d = Diagnostic::new(
                        Code::UnknownType,
                        file,
                        id.span,
                        format!("unknown type `{}`", id.name),
                    )
                    .with_label("no such type");
                    out.push(match did_you_mean(&id.name, candidates) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(
                            "use a built-in type (`string`, `int`, `money`, ...) or declare it with `type Name { ... }`",
                        ),
                    });
                }
                Ty::Error
            }
            TypeExprKind::List(inner) => Ty::list(self.resolve(file, inner, out)),
            TypeExprKind::Optional(inner) => Ty::optional(self.resolve(file, inner, out)),
            TypeExprKind::Union(names) => {
                let mut items: Vec<String> = Vec::new();
                for n in names {
                    if !items.contains(&n.value) {
                        items.push(n.value.clone());
                    }
                }
                Ty::Union(items)
            }
            TypeExprKind::Event(name) => {
                if self.events.contains_key(&name.value) {
                    return Ty::Event(name.value.clone());
                }
                if let Some(out) = out {
                    out.push(self.unknown_event(file, name));
                }
                Ty::Error
            }
            TypeExprKind::Error => Ty::Error,
        }
    }

    /// The type a type expression names, without reporting (the index
    /// build has reported unknown names already).
    pub fn type_of(&self, te: &TypeExpr) -> Ty {
        self.resolve(FileId::default(), te, None)
    }

    /// E0101 for a use of an undeclared event, with "did you mean".
    pub fn unknown_event(&self, file: FileId, name: &ast::Name) -> Diagnostic {
        let d = Diagnostic::new(
            Code::UnknownEvent,
            file,
            name.span,
            format!("unknown event \"{}\"", name.value),
        )
        .with_label("no such event");
        match did_you_mean(&name.value, self.events.keys().map(String::as_str)) {
            Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
            None => d.with_help(format!(
                "declare it with `event \"{}\" {{ ... }}`",
                name.value
            )),
        }
    }

    pub fn event(&self, name: &str) -> Option<&EventInfo> {
        self.events.get(name)
    }

    pub fn events(&self) -> impl Iterator<Item = &EventInfo> {
        self.events.values()
    }

    pub fn record(&self, name: &str) -> Option<&RecordInfo> {
        self.types.get(name)
    }

    pub fn records(&self) -> impl Iterator<Item = &RecordInfo> {
        self.types.values()
    }

    pub fn profile_trait(&self, name: &str) -> Option<&FieldInfo> {
        self.traits.get(name)
    }

    pub fn profile_traits(&self) -> impl Iterator<Item = &FieldInfo> {
        self.traits.values()
    }

    pub fn segment(&self, name: &str) -> Option<&SegmentInfo> {
        self.segments.get(name)
    }

    pub fn segments(&self) -> impl Iterator<Item = &SegmentInfo> {
        self.segments.values()
    }

    pub fn template(&self, name: &str) -> Option<&TemplateInfo> {
        self.templates.get(name)
    }

    pub fn templates(&self) -> impl Iterator<Item = &TemplateInfo> {
        self.templates.values()
    }

    pub fn flow(&self, name: &str) -> Option<&FlowInfo> {
        self.flows.get(name)
    }

    pub fn flows(&self) -> impl Iterator<Item = &FlowInfo> {
        self.flows.values()
    }

    /// The fields of an event or record type (`None` for other types).
    pub fn fields_of(&self, ty: &Ty) -> Option<&[FieldInfo]> {
        match ty {
            Ty::Event(name) => self.events.get(name).map(|e| e.fields.as_slice()),
            Ty::Record(name) => self.types.get(name).map(|r| r.fields.as_slice()),
            _ => None,
        }
    }
}

/// Adds `new` fields to `fields`, reporting names declared twice.
fn merge_fields(
    owner: &str,
    fields: &mut Vec<FieldInfo>,
    new: Vec<FieldInfo>,
    out: &mut Vec<Diagnostic>,
) {
    for field in new {
        if let Some(first) = fields.iter().find(|f| f.name == field.name) {
            out.push(duplicate(
                &format!("field `{}` of {owner}", field.name),
                field.at,
                first.at,
            ));
        } else {
            fields.push(field);
        }
    }
}

/// E0109 at the second declaration, pointing back at the first.
fn duplicate(what: &str, again: Declared, first: Declared) -> Diagnostic {
    let first_label = if first.file == again.file {
        "first declared here".to_string()
    } else {
        "first declared here, in another file".to_string()
    };
    Diagnostic::new(
        Code::DuplicateDeclaration,
        again.file,
        again.span,
        format!("{what} is declared twice"),
    )
    .with_label("declared again here")
    .with_secondary(first.file, first.span, first_label)
    .with_help("rename one of them or remove the second")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::build::*;

    fn field_decl(n: &str, ty: TypeExprKind, at: u32) -> ast::FieldDecl {
        ast::FieldDecl {
            name: ident(n, at),
            ty: TypeExpr {
                kind: ty,
                span: sp(at),
            },
            doc: None,
            span: sp(at),
        }
    }

    fn named(n: &str, at: u32) -> TypeExprKind {
        TypeExprKind::Named(ident(n, at))
    }

    fn event(n: &str, extend: bool, fields: Vec<ast::FieldDecl>, at: u32) -> Item {
        Item::Event(ast::EventDecl {
            extend,
            name: name(n, at),
            fields,
            doc: None,
            span: sp(at),
        })
    }

    fn codes(d: &[Diagnostic]) -> Vec<&'static str> {
        d.iter().map(|d| d.code.as_str()).collect()
    }

    #[test]
    fn extend_event_merges_fields() {
        let std = file(vec![event(
            "Order Completed",
            false,
            vec![field_decl("order_id", named("string", 2), 2)],
            1,
        )]);
        let project = file(vec![event(
            "Order Completed",
            true,
            vec![field_decl("gift_wrap", named("bool", 11), 11)],
            10,
        )]);
        let (index, d) = ProjectIndex::build(&[(FileId(0), &std), (FileId(1), &project)]);
        assert!(d.is_empty(), "{d:?}");
        let e = index.event("Order Completed").map(|e| e.fields.len());
        assert_eq!(e, Some(2));
    }

    #[test]
    fn duplicates_name_both_places() {
        let a = file(vec![event("Signed Up", false, vec![], 1)]);
        let b = file(vec![
            event("Signed Up", false, vec![], 5),
            event("Order Complete", true, vec![], 7),
        ]);
        let (_, d) = ProjectIndex::build(&[(FileId(0), &a), (FileId(1), &b)]);
        assert_eq!(codes(&d), ["E0109", "E0101"]);
        assert_eq!(d[0].primary.file, FileId(1));
        assert_eq!(d[0].secondary[0].file, FileId(0));
        assert!(d[0].secondary[0].message.contains("another file"));
    }

    #[test]
    fn unknown_types_suggest() {
        let f = file(vec![event(
            "X",
            false,
            vec![
                field_decl("a", named("strng", 2), 2),
                field_decl("b", TypeExprKind::Event(name("Y", 3)), 3),
                field_decl("a", named("int", 4), 4),
            ],
            1,
        )]);
        let (index, d) = ProjectIndex::build(&[(FileId(0), &f)]);
        assert_eq!(codes(&d), ["E0107", "E0101", "E0109"]);
        assert_eq!(d[0].help.as_deref(), Some("did you mean `string`?"));
        assert_eq!(
            index.event("X").map(|e| e.fields[0].ty.clone()),
            Some(Ty::Error)
        );
    }
}
