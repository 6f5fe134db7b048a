//! Compiled templates: literal runs, holes (expression code plus filters),
//! `{% if %}` and `{% for %}`, kept apart from flow code because the renderer
//! (`nudge_runtime::template`) walks them as a tree.
//!
//! A template's frame holds its parameters in locals `0..params`, then one
//! local per `{% for %}` variable; every hole's code reads that frame.

use crate::op::{Channel, Code, Local};
use serde::{Deserialize, Serialize};

/// One `template email|sms|push name(params) { parts }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub channel: Channel,
    /// Parameters are locals `0..params`.
    pub params: u16,
    /// Frame size: parameters plus loop variables.
    pub locals: u16,
    /// Parts in a fixed order (the order of `PartKind`), each at most once.
    pub parts: Vec<(PartKind, Text)>,
}

impl Template {
    pub fn part(&self, kind: PartKind) -> Option<&Text> {
        self.parts.iter().find(|(k, _)| *k == kind).map(|(_, t)| t)
    }
}

/// Which part of a message a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PartKind {
    Subject,
    Preheader,
    From,
    ReplyTo,
    Html,
    /// Email plain-text part.
    Text,
    /// SMS or push body.
    Body,
    /// Push title.
    Title,
    /// Push url.
    Url,
}

/// Template text: a sequence of nodes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Text(pub Vec<TextNode>);

impl Text {
    /// Calls `f` with every code of the text, nested texts' too: holes,
    /// their `default` filters, conditions and loop lists.
    pub fn each_code(&self, f: &mut impl FnMut(&Code)) {
        for node in &self.0 {
            match node {
                TextNode::Lit(_) | TextNode::Placeholder(_) => {}
                TextNode::Hole { expr, filters } => {
                    f(expr);
                    for filter in filters {
                        if let Filter::Default(code) = filter {
                            f(code);
                        }
                    }
                }
                TextNode::If {
                    branches,
                    otherwise,
                } => {
                    for (cond, body) in branches {
                        f(cond);
                        body.each_code(f);
                    }
                    if let Some(body) = otherwise {
                        body.each_code(f);
                    }
                }
                TextNode::For { list, body, .. } => {
                    f(list);
                    body.each_code(f);
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextNode {
    /// Literal text, copied as is.
    Lit(String),
    /// `{{ expr | filter | ... }}`
    Hole { expr: Code, filters: Vec<Filter> },
    /// A URL the delivery shell fills per message (`{{ unsubscribe_url }}`).
    Placeholder(Placeholder),
    /// `{% if c %}..{% else if c %}..{% else %}..{% endif %}`
    If {
        branches: Vec<(Code, Text)>,
        otherwise: Option<Text>,
    },
    /// `{% for var in list %}..{% endfor %}`
    For { var: Local, list: Code, body: Text },
}

/// Per-message URLs only the delivery shell knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Placeholder {
    UnsubscribeUrl,
    PreferencesUrl,
    ViewInBrowserUrl,
}

impl Placeholder {
    /// The marker written into rendered output; the shell replaces it.
    pub fn marker(self) -> &'static str {
        match self {
            Placeholder::UnsubscribeUrl => "{{nudge:unsubscribe_url}}",
            Placeholder::PreferencesUrl => "{{nudge:preferences_url}}",
            Placeholder::ViewInBrowserUrl => "{{nudge:view_in_browser_url}}",
        }
    }
}

/// Template filters, applied left to right after the hole's expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Filter {
    Money,
    Date,
    Upper,
    Lower,
    Title,
    Truncate(u32),
    Count,
    ShortLink,
    /// `default(x)`: the code computes x (same frame as the hole).
    Default(Code),
}
