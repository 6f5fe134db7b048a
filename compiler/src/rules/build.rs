//! Test-only helpers that build syntax trees by hand, so the rules and lints
//! are tested independently of the parser (the `.flow` cases in
//! `tests/cases/` test them through it).

use crate::ast::*;
use crate::span::Span;

pub fn sp(at: u32) -> Span {
    Span::new(at, at + 1)
}

pub fn ident(name: &str, at: u32) -> Ident {
    Ident {
        name: name.into(),
        span: sp(at),
    }
}

pub fn name(value: &str, at: u32) -> Name {
    Name {
        value: value.into(),
        span: sp(at),
    }
}

pub fn expr(kind: ExprKind, at: u32) -> Expr {
    Expr { kind, span: sp(at) }
}

pub fn lit(l: Lit, at: u32) -> Expr {
    expr(ExprKind::Lit(l), at)
}

pub fn dur(secs: i64, at: u32) -> Expr {
    lit(Lit::Duration(secs), at)
}

pub fn pct(p: i64, at: u32) -> Expr {
    lit(Lit::Percent(p.into()), at)
}

pub fn var(n: &str, at: u32) -> Expr {
    expr(ExprKind::Name(ident(n, at)), at)
}

pub fn field(base: Expr, f: &str, at: u32) -> Expr {
    expr(
        ExprKind::Field {
            base: Box::new(base),
            field: ident(f, at),
        },
        at,
    )
}

pub fn bin(op: BinaryOp, lhs: Expr, rhs: Expr, at: u32) -> Expr {
    expr(
        ExprKind::Binary {
            op,
            op_span: sp(at),
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        at,
    )
}

pub fn not(e: Expr, at: u32) -> Expr {
    expr(
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand: Box::new(e),
        },
        at,
    )
}

pub fn string(s: &str, at: u32) -> Expr {
    expr(ExprKind::Str(text(&[lit_node(s)])), at)
}

pub fn lit_node(s: &str) -> TextNode {
    TextNode::Literal(s.into(), Span::default())
}

pub fn hole(e: Expr, filters: &[(&str, Vec<Expr>)]) -> TextNode {
    TextNode::Hole(Hole {
        expr: e,
        filters: filters
            .iter()
            .map(|(n, args)| FilterCall {
                name: ident(n, 0),
                args: args.clone(),
                span: Span::default(),
            })
            .collect(),
        span: Span::default(),
    })
}

pub fn text(nodes: &[TextNode]) -> Text {
    Text {
        nodes: nodes.to_vec(),
        span: Span::default(),
    }
}

pub fn step(kind: StepKind, at: u32) -> Step {
    Step { kind, span: sp(at) }
}

pub fn send(channel: Channel, template: &str, at: u32) -> Step {
    step(
        StepKind::Send {
            channel,
            template: ident(template, at),
            args: Vec::new(),
        },
        at,
    )
}

pub fn block(steps: Vec<Step>) -> Block {
    Block {
        steps,
        span: Span::default(),
    }
}

pub fn if_step(cond: Expr, then: Vec<Step>, otherwise: Option<Vec<Step>>, at: u32) -> Step {
    step(
        StepKind::If {
            branches: vec![(cond, block(then))],
            else_block: otherwise.map(block),
        },
        at,
    )
}

pub fn setting(kind: FlowSettingKind, at: u32) -> FlowSetting {
    FlowSetting { kind, span: sp(at) }
}

pub fn event_match(event: &str, binding: Option<&str>, cond: Option<Expr>) -> EventMatch {
    EventMatch {
        event: name(event, 0),
        binding: binding.map(|b| ident(b, 0)),
        condition: cond,
        span: Span::default(),
    }
}

pub fn trigger(event: &str, binding: Option<&str>, at: u32) -> FlowSetting {
    setting(
        FlowSettingKind::Trigger(Trigger {
            kind: TriggerKind::Event(event_match(event, binding, None)),
            span: sp(at),
        }),
        at,
    )
}

pub fn flow(n: &str, settings: Vec<FlowSetting>, steps: Vec<Step>) -> FlowDecl {
    FlowDecl {
        name: ident(n, 0),
        settings,
        body: block(steps),
        span: Span::default(),
    }
}

pub fn template(channel: Channel, n: &str, parts: Vec<(&str, Text)>, at: u32) -> TemplateDecl {
    TemplateDecl {
        channel,
        channel_span: Span::default(),
        name: ident(n, at),
        params: Vec::new(),
        parts: parts
            .into_iter()
            .enumerate()
            .map(|(i, (k, t))| TemplatePart {
                key: ident(k, at + 1 + i as u32),
                value: TemplateSource::Inline(t),
                span: Span::default(),
            })
            .collect(),
        span: Span::default(),
    }
}

pub fn segment(n: &str, condition: Expr, at: u32) -> SegmentDecl {
    SegmentDecl {
        name: ident(n, at),
        doc: None,
        condition,
        span: sp(at),
    }
}

pub fn file(items: Vec<Item>) -> File {
    File { items }
}
