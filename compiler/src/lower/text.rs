//! Lowering templates: each part's text becomes literal runs, holes (their
//! own expression code over the template frame), placeholders for the
//! per-message URLs, and if/for nodes. Frame: parameters in locals
//! `0..params`, then one local per `{% for %}` variable, then lambda
//! parameters of holes.

use super::expr::{Binding, Unit, literal};
use super::{Decls, LowerError, Tables, channel, err};
use crate::ast::{self, ExprKind, TemplateSource};
use nudge_bytecode::Value;
use nudge_bytecode::op::Code;
use nudge_bytecode::template::{Filter, PartKind, Placeholder, Template, Text, TextNode};

/// Names in scope while lowering a template: parameters and loop variables.
struct Frame {
    names: Vec<(String, u16)>,
    /// Next free local.
    next: u16,
    /// Largest frame any hole needed.
    max: u16,
}

pub(crate) fn lower_template(
    decls: &Decls,
    tables: &mut Tables,
    t: &ast::TemplateDecl,
) -> Result<Template, LowerError> {
    let params = u16::try_from(t.params.len()).or_else(|_| err(t.span, "too many parameters"))?;
    let mut frame = Frame {
        names: t
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.name.clone(), i as u16))
            .collect(),
        next: params,
        max: params,
    };
    let mut parts = Vec::new();
    for part in &t.parts {
        let kind = match part.key.name.as_str() {
            "subject" => PartKind::Subject,
            "preheader" => PartKind::Preheader,
            "from" => PartKind::From,
            "reply_to" => PartKind::ReplyTo,
            "html" => PartKind::Html,
            "text" => PartKind::Text,
            "body" => PartKind::Body,
            "title" => PartKind::Title,
            "url" => PartKind::Url,
            other => return err(part.key.span, format!("unknown template part `{other}`")),
        };
        let source = match &part.value {
            TemplateSource::Inline(text) => text,
            TemplateSource::File(path) => match decls.template_files.get(&path.value) {
                Some(text) => text,
                None => {
                    return err(
                        path.span,
                        format!("template file `{}` was not loaded", path.value),
                    );
                }
            },
        };
        parts.push((kind, text(decls, tables, &mut frame, source)?));
    }
    parts.sort_by_key(|(k, _)| *k);
    Ok(Template {
        name: t.name.name.clone(),
        channel: channel(t.channel),
        params,
        locals: frame.max,
        parts,
    })
}

fn text(
    decls: &Decls,
    tables: &mut Tables,
    frame: &mut Frame,
    t: &ast::Text,
) -> Result<Text, LowerError> {
    let mut nodes = Vec::new();
    for node in &t.nodes {
        match node {
            ast::TextNode::Literal(s, _) => match nodes.last_mut() {
                Some(TextNode::Lit(prev)) => prev.push_str(s),
                _ => nodes.push(TextNode::Lit(s.clone())),
            },
            ast::TextNode::Hole(h) => {
                if h.filters.is_empty()
                    && let Some(p) = placeholder(&h.expr, frame)
                {
                    nodes.push(TextNode::Placeholder(p));
                    continue;
                }
                let expr = code(decls, tables, frame, &h.expr)?;
                let mut filters = Vec::new();
                for f in &h.filters {
                    filters.push(filter(decls, tables, frame, f)?);
                }
                nodes.push(TextNode::Hole { expr, filters });
            }
            ast::TextNode::If {
                branches,
                else_branch,
                ..
            } => {
                let mut lowered = Vec::new();
                for (cond, body) in branches {
                    lowered.push((
                        code(decls, tables, frame, cond)?,
                        text(decls, tables, frame, body)?,
                    ));
                }
                let otherwise = match else_branch {
                    Some(b) => Some(text(decls, tables, frame, b)?),
                    None => None,
                };
                nodes.push(TextNode::If {
                    branches: lowered,
                    otherwise,
                });
            }
            ast::TextNode::For {
                binding,
                iterable,
                body,
                ..
            } => {
                let list = code(decls, tables, frame, iterable)?;
                let var = frame.next;
                frame.next = frame.next.saturating_add(1);
                frame.max = frame.max.max(frame.next);
                frame.names.push((binding.name.clone(), var));
                let body = text(decls, tables, frame, body);
                frame.names.pop();
                frame.next -= 1;
                nodes.push(TextNode::For {
                    var,
                    list,
                    body: body?,
                });
            }
            ast::TextNode::Error(span) => return err(*span, "cannot lower a broken hole"),
        }
    }
    Ok(Text(nodes))
}

/// `{{ unsubscribe_url }}` and friends, unless a parameter shadows them.
fn placeholder(e: &ast::Expr, frame: &Frame) -> Option<Placeholder> {
    let ExprKind::Name(id) = &e.kind else {
        return None;
    };
    if frame.names.iter().any(|(n, _)| *n == id.name) {
        return None;
    }
    match id.name.as_str() {
        "unsubscribe_url" => Some(Placeholder::UnsubscribeUrl),
        "preferences_url" => Some(Placeholder::PreferencesUrl),
        "view_in_browser_url" => Some(Placeholder::ViewInBrowserUrl),
        _ => None,
    }
}

/// A hole's expression as its own code over the template frame.
fn code(
    decls: &Decls,
    tables: &mut Tables,
    frame: &mut Frame,
    e: &ast::Expr,
) -> Result<Code, LowerError> {
    let mut u = Unit::new(decls, tables);
    u.b.reserve_locals(frame.next);
    for (name, local) in &frame.names {
        u.bind(name, Binding::Local(*local));
    }
    let (code, _) = u.finish_expr(e)?;
    frame.max = frame.max.max(code.locals);
    Ok(code)
}

fn filter(
    decls: &Decls,
    tables: &mut Tables,
    frame: &mut Frame,
    f: &ast::FilterCall,
) -> Result<Filter, LowerError> {
    Ok(match (f.name.name.as_str(), f.args.as_slice()) {
        ("money", []) => Filter::Money,
        ("date", []) => Filter::Date,
        ("upper", []) => Filter::Upper,
        ("lower", []) => Filter::Lower,
        ("title", []) => Filter::Title,
        ("count", []) => Filter::Count,
        ("short_link", []) => Filter::ShortLink,
        ("truncate", [n]) => match &n.kind {
            ExprKind::Lit(lit) => match literal(lit, n.span)? {
                Value::Int(i) => Filter::Truncate(
                    u32::try_from(i).or_else(|_| err(n.span, "bad truncate length"))?,
                ),
                _ => return err(n.span, "`truncate` takes a whole number"),
            },
            _ => return err(n.span, "`truncate` takes a whole number literal"),
        },
        ("default", [x]) => Filter::Default(code(decls, tables, frame, x)?),
        (name, _) => {
            return err(
                f.name.span,
                format!("unknown filter `{name}` or wrong arguments"),
            );
        }
    })
}
