//! Lowering: a checked project's syntax trees → a `nudge_bytecode::Bundle`.
//!
//! Input is the AST of every file (stdlib first, then the project's files in
//! path order), already checked without errors; lowering trusts the checker
//! for types and reports only what it cannot express (`LowerError`, with the
//! span) instead of panicking.
//!
//! Determinism: flows, templates and segments are sorted by name; aggregates
//! are numbered in order of first use while lowering in that order; nothing
//! iterates a hash map. The same sources give the same bundle bytes.
//!
//! | file | lowers |
//! |---|---|
//! | `expr.rs` | expressions (scopes, aggregates, lambdas, short-circuits) |
//! | `flow.rs` | flows: trigger, settings, steps |
//! | `text.rs` | templates and their text |
//! | `schema.rs` | declared events, types and traits for the runtime's input typing |
//! | `usage.rs` | which trigger-event fields a journey must keep |

mod expr;
mod flow;
mod schema;
mod text;
mod usage;

use crate::ast::{self, Channel, Item, TypeExprKind};
use crate::manifest::ShopSettings;
use crate::policy::{self, Policy};
use crate::span::Span;
use nudge_bytecode::format::{Aggregate, Bundle, FrequencyCap, Policies, QuietHours, WhenCapped};
use nudge_bytecode::op;
use nudge_bytecode::{Record, TimeOfDay, Value};
use std::collections::BTreeMap;
use std::fmt;

/// What lowering could not express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowerError {
    pub message: String,
    pub span: Option<Span>,
}

impl fmt::Display for LowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.span {
            Some(s) => write!(f, "{} (at bytes {}..{})", self.message, s.start, s.end),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for LowerError {}

pub(crate) fn err<T>(span: Span, message: impl Into<String>) -> Result<T, LowerError> {
    Err(LowerError {
        message: message.into(),
        span: Some(span),
    })
}

impl From<nudge_bytecode::assemble::AssembleError> for LowerError {
    fn from(e: nudge_bytecode::assemble::AssembleError) -> LowerError {
        LowerError {
            message: e.to_string(),
            span: None,
        }
    }
}

/// Everything lowering reads.
pub struct LowerInput<'a> {
    /// Stdlib files first, then project files in path order.
    pub files: &'a [&'a ast::File],
    /// Parsed `html file "..."` contents, keyed by the path as written.
    pub template_files: &'a BTreeMap<String, ast::Text>,
    pub policy: &'a Policy,
    pub shop: &'a ShopSettings,
}

/// Declarations lowering looks things up in.
pub(crate) struct Decls<'a> {
    pub segments: Vec<&'a ast::SegmentDecl>,
    pub templates: Vec<&'a ast::TemplateDecl>,
    pub flows: Vec<&'a ast::FlowDecl>,
    /// Profile trait types (merged blocks).
    pub traits: BTreeMap<&'a str, &'a ast::TypeExpr>,
    /// Parsed template files by path as written.
    pub template_files: &'a BTreeMap<String, ast::Text>,
}

impl<'a> Decls<'a> {
    fn collect(
        files: &[&'a ast::File],
        template_files: &'a BTreeMap<String, ast::Text>,
    ) -> Decls<'a> {
        let mut d = Decls {
            segments: vec![],
            templates: vec![],
            flows: vec![],
            traits: BTreeMap::new(),
            template_files,
        };
        for file in files {
            for item in &file.items {
                match item {
                    Item::Segment(s) => d.segments.push(s),
                    Item::Template(t) => d.templates.push(t),
                    Item::Flow(f) => d.flows.push(f),
                    Item::Profile(p) => {
                        for field in &p.fields {
                            d.traits.insert(&field.name.name, &field.ty);
                        }
                    }
                    _ => {}
                }
            }
        }
        d.segments.sort_by(|a, b| a.name.name.cmp(&b.name.name));
        d.templates.sort_by(|a, b| a.name.name.cmp(&b.name.name));
        d.flows.sort_by(|a, b| a.name.name.cmp(&b.name.name));
        d
    }

    pub fn segment(&self, name: &str) -> Option<u16> {
        self.segments
            .iter()
            .position(|s| s.name.name == name)
            .and_then(|i| u16::try_from(i).ok())
    }

    pub fn template(&self, name: &str) -> Option<(u16, &'a ast::TemplateDecl)> {
        let i = self.templates.iter().position(|t| t.name.name == name)?;
        Some((u16::try_from(i).ok()?, self.templates.get(i)?))
    }

    /// Whether profile trait `name` is declared as a `date` (or `date?`).
    pub fn trait_is_date(&self, name: &str) -> bool {
        let mut ty = self.traits.get(name).map(|t| &t.kind);
        while let Some(TypeExprKind::Optional(inner)) = ty {
            ty = Some(&inner.kind);
        }
        matches!(ty, Some(TypeExprKind::Named(id)) if id.name == "date")
    }
}

/// Bundle-wide tables filled while lowering.
#[derive(Default)]
pub(crate) struct Tables {
    pub aggregates: Vec<Aggregate>,
}

impl Tables {
    pub fn aggregate(&mut self, a: Aggregate) -> Result<u16, LowerError> {
        let i = match self.aggregates.iter().position(|x| *x == a) {
            Some(i) => i,
            None => {
                self.aggregates.push(a);
                self.aggregates.len() - 1
            }
        };
        u16::try_from(i).map_err(|_| LowerError {
            message: "more than 65535 aggregates".into(),
            span: None,
        })
    }
}

/// Lowers a checked project to a bundle.
pub fn lower_project(input: &LowerInput) -> Result<Bundle, LowerError> {
    let decls = Decls::collect(input.files, input.template_files);
    let mut tables = Tables::default();
    let mut segments = Vec::new();
    for s in &decls.segments {
        segments.push(expr::lower_segment(&decls, &mut tables, s)?);
    }
    let mut flows = Vec::new();
    for f in &decls.flows {
        flows.push(flow::lower_flow(&decls, &mut tables, f)?);
    }
    let mut templates = Vec::new();
    for t in &decls.templates {
        templates.push(text::lower_template(&decls, &mut tables, t)?);
    }
    let bundle = Bundle {
        shop: shop_record(input.shop),
        policies: policies(input.policy),
        flows,
        templates,
        segments,
        aggregates: tables.aggregates,
        schema: schema::schema(input.files),
    };
    // The runtime verifies on load; checking here turns a lowering bug into
    // a build error instead of a bundle no runtime accepts.
    nudge_bytecode::verify::verify_bundle(&bundle).map_err(|e| LowerError {
        message: format!("internal error: lowered code failed verification: {e}"),
        span: None,
    })?;
    Ok(bundle)
}

fn shop_record(shop: &ShopSettings) -> Record {
    let fields = [
        ("name", &shop.name),
        ("url", &shop.url),
        ("address", &shop.address),
        ("from_email", &shop.from_email),
        ("from_name", &shop.from_name),
        ("reply_to", &shop.reply_to),
    ];
    Record::from_fields(fields.into_iter().map(|(k, v)| {
        (
            k.to_string(),
            v.as_ref()
                .map(|s| Value::str(s.as_str()))
                .unwrap_or(Value::None),
        )
    }))
}

fn policies(p: &Policy) -> Policies {
    let mut caps = Vec::new();
    let mut quiet_hours = Vec::new();
    for (channel, cp) in [
        (op::Channel::Email, &p.email),
        (op::Channel::Sms, &p.sms),
        (op::Channel::Push, &p.push),
    ] {
        for cap in &cp.caps {
            caps.push(FrequencyCap {
                channel: Some(channel),
                count: cap.count,
                per_secs: cap.window_secs,
            });
        }
        if let Some(q) = &cp.quiet_hours {
            quiet_hours.push(QuietHours {
                channel: Some(channel),
                start: TimeOfDay(u32::from(q.from_minute) * 60),
                end: TimeOfDay(u32::from(q.to_minute) * 60),
            });
        }
    }
    Policies {
        caps,
        quiet_hours,
        when_capped: match p.when_capped {
            policy::WhenCapped::Skip => WhenCapped::Skip,
            policy::WhenCapped::Defer => WhenCapped::Defer,
        },
        default_timezone: p.default_timezone.clone(),
        keep_history_secs: p.keep_history_secs,
    }
}

pub(crate) fn channel(c: Channel) -> op::Channel {
    match c {
        Channel::Email => op::Channel::Email,
        Channel::Sms => op::Channel::Sms,
        Channel::Push => op::Channel::Push,
    }
}
