//! Document symbols (the editor's outline) of one file's syntax tree.

use nudge_compiler::Span;
use nudge_compiler::ast::{self, Item};

/// LSP `SymbolKind` values used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    /// events
    Event,
    /// types and the profile
    Struct,
    /// fields of events, types, the profile
    Field,
    /// segments
    Constant,
    /// templates and flows
    Function,
    /// policies and tests
    Namespace,
}

impl SymbolKind {
    /// The number LSP uses for this kind.
    pub fn lsp_number(self) -> u8 {
        match self {
            SymbolKind::Namespace => 3,
            SymbolKind::Field => 8,
            SymbolKind::Function => 12,
            SymbolKind::Constant => 14,
            SymbolKind::Struct => 23,
            SymbolKind::Event => 24,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentSymbol {
    pub name: String,
    /// e.g. "extend event", "email template".
    pub detail: String,
    pub kind: SymbolKind,
    /// The whole declaration.
    pub span: Span,
    /// The name, to select when the symbol is picked.
    pub selection: Span,
    pub children: Vec<DocumentSymbol>,
}

/// The outline of a file, in source order. Unparseable stretches are left out.
pub fn document_symbols(file: &ast::File) -> Vec<DocumentSymbol> {
    file.items.iter().filter_map(item_symbol).collect()
}

fn item_symbol(item: &Item) -> Option<DocumentSymbol> {
    let symbol = |name: &str, detail: &str, kind, span, selection, children| DocumentSymbol {
        name: name.to_string(),
        detail: detail.to_string(),
        kind,
        span,
        selection,
        children,
    };
    Some(match item {
        Item::Event(e) => symbol(
            &e.name.value,
            if e.extend { "extend event" } else { "event" },
            SymbolKind::Event,
            e.span,
            e.name.span,
            fields(&e.fields),
        ),
        Item::Type(t) => symbol(
            &t.name.name,
            if t.extend { "extend type" } else { "type" },
            SymbolKind::Struct,
            t.span,
            t.name.span,
            fields(&t.fields),
        ),
        Item::Profile(p) => symbol(
            "profile",
            "profile traits",
            SymbolKind::Struct,
            p.span,
            p.span,
            fields(&p.fields),
        ),
        Item::Segment(s) => symbol(
            &s.name.name,
            "segment",
            SymbolKind::Constant,
            s.span,
            s.name.span,
            Vec::new(),
        ),
        Item::Template(t) => {
            let detail = match t.channel {
                ast::Channel::Email => "email template",
                ast::Channel::Sms => "sms template",
                ast::Channel::Push => "push template",
            };
            symbol(
                &t.name.name,
                detail,
                SymbolKind::Function,
                t.span,
                t.name.span,
                Vec::new(),
            )
        }
        Item::Flow(f) => symbol(
            &f.name.name,
            "flow",
            SymbolKind::Function,
            f.span,
            f.name.span,
            Vec::new(),
        ),
        Item::Policy(p) => symbol(
            "policy",
            "policy",
            SymbolKind::Namespace,
            p.span,
            p.span,
            Vec::new(),
        ),
        Item::Test(t) => symbol(
            &t.name.value,
            "test",
            SymbolKind::Namespace,
            t.span,
            t.name.span,
            Vec::new(),
        ),
        Item::Error(_) => return None,
    })
}

fn fields(fields: &[ast::FieldDecl]) -> Vec<DocumentSymbol> {
    fields
        .iter()
        .map(|f| DocumentSymbol {
            name: f.name.name.clone(),
            detail: f.doc.clone().unwrap_or_default(),
            kind: SymbolKind::Field,
            span: f.span,
            selection: f.name.span,
            children: Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outline_skips_error_items_and_names_extends() {
        let file = ast::File {
            items: vec![
                Item::Event(ast::EventDecl {
                    extend: true,
                    name: ast::Name {
                        value: "Order Completed".into(),
                        span: Span::new(13, 30),
                    },
                    fields: Vec::new(),
                    doc: None,
                    span: Span::new(0, 40),
                }),
                Item::Error(Span::new(41, 50)),
                Item::Profile(ast::ProfileDecl {
                    fields: Vec::new(),
                    span: Span::new(51, 62),
                }),
            ],
        };
        let symbols = document_symbols(&file);
        let names: Vec<_> = symbols
            .iter()
            .map(|s| (s.name.as_str(), s.detail.as_str(), s.kind.lsp_number()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("Order Completed", "extend event", 24),
                ("profile", "profile traits", 23)
            ]
        );
        assert_eq!(symbols[0].selection, Span::new(13, 30));
    }
}
