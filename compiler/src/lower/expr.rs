//! Lowering expressions to stack code. A `Unit` is one `Code` being built
//! with the names in scope; flows and templates build on it.

use super::{Decls, LowerError, Tables, err};
use crate::ast::{self, BinaryOp, Expr, ExprKind, Lit, TextNode, UnaryOp};
use nudge_bytecode::assemble::CodeBuilder;
use nudge_bytecode::format::{Aggregate, AggregateKind, Segment};
use nudge_bytecode::op::{Builtin, Code, Local, Op};
use nudge_bytecode::{Currency, Date, Money, TimeOfDay, Value};
use std::collections::BTreeSet;

/// What a name in scope stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    Local(Local),
    /// The event being judged (`it`, or an `as` name in a filter).
    Event,
}

/// What a unit reads from the profile (segments re-evaluate when these
/// change).
#[derive(Debug, Default)]
pub(crate) struct Reads {
    pub aggregates: BTreeSet<u16>,
    pub traits: BTreeSet<String>,
    pub segments: BTreeSet<u16>,
}

pub(crate) struct Unit<'d, 'a> {
    pub decls: &'d Decls<'a>,
    pub tables: &'d mut Tables,
    pub b: CodeBuilder,
    scope: Vec<(String, Binding)>,
    pub reads: Reads,
}

impl<'d, 'a> Unit<'d, 'a> {
    pub fn new(decls: &'d Decls<'a>, tables: &'d mut Tables) -> Self {
        Unit {
            decls,
            tables,
            b: CodeBuilder::new(),
            scope: Vec::new(),
            reads: Reads::default(),
        }
    }

    pub fn bind(&mut self, name: &str, binding: Binding) {
        self.scope.push((name.to_string(), binding));
    }

    pub fn unbind(&mut self) {
        self.scope.pop();
    }

    fn lookup(&self, name: &str) -> Option<Binding> {
        self.scope
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, b)| *b)
    }

    fn push_const(&mut self, v: Value) -> Result<(), LowerError> {
        let i = self.b.constant(v)?;
        self.b.emit(Op::Const(i));
        Ok(())
    }

    /// Emits code that pushes the value of `e`.
    pub fn expr(&mut self, e: &Expr) -> Result<(), LowerError> {
        match &e.kind {
            ExprKind::Lit(lit) => self.push_const(literal(lit, e.span)?),
            ExprKind::Str(text) => self.string(text),
            ExprKind::Paren(inner) => self.expr(inner),
            ExprKind::Name(id) => match (self.lookup(&id.name), id.name.as_str()) {
                (Some(Binding::Local(l)), _) => {
                    self.b.emit(Op::LoadLocal(l));
                    Ok(())
                }
                (Some(Binding::Event), _) => {
                    self.b.emit(Op::LoadEvent);
                    Ok(())
                }
                (None, "now") => {
                    self.b.emit(Op::LoadNow);
                    Ok(())
                }
                (None, name @ ("unsubscribe_url" | "preferences_url" | "view_in_browser_url")) => {
                    // Inside a larger template expression the per-message URL
                    // is its marker text; the shell replaces it after rendering.
                    self.push_const(Value::str(format!("{{{{nudge:{name}}}}}")))
                }
                (None, "shop") => {
                    self.b.emit(Op::LoadShop);
                    Ok(())
                }
                (None, name) => err(id.span, format!("`{name}` cannot be used as a value here")),
            },
            ExprKind::Field { base, field } | ExprKind::OptionalField { base, field } => {
                let optional = matches!(e.kind, ExprKind::OptionalField { .. });
                if self.is_profile(base) {
                    let n = self.b.name(&field.name)?;
                    self.reads.traits.insert(field.name.clone());
                    self.b.emit(Op::LoadTrait(n));
                    return Ok(());
                }
                self.expr(base)?;
                let name = self.b.name(&field.name)?;
                self.b.emit(Op::GetField { name, optional });
                Ok(())
            }
            ExprKind::Call { callee, args } => self.call(callee, args, e),
            ExprKind::Method {
                receiver,
                method,
                args,
            } => self.method(receiver, method, args),
            ExprKind::Lambda { .. } => {
                err(e.span, "a lambda is only allowed as a list method argument")
            }
            ExprKind::Unary { op, operand } => {
                self.expr(operand)?;
                self.b.emit(match op {
                    UnaryOp::Not => Op::Not,
                    UnaryOp::Neg => Op::Neg,
                });
                Ok(())
            }
            ExprKind::Binary { op, lhs, rhs, .. } => self.binary(*op, lhs, rhs),
            ExprKind::List(items) => {
                for item in items {
                    self.expr(item)?;
                }
                let n =
                    u16::try_from(items.len()).or_else(|_| err(e.span, "list literal too long"))?;
                self.b.emit(Op::MakeList(n));
                Ok(())
            }
            ExprKind::Record(fields) => {
                let mut names = Vec::new();
                for f in fields {
                    self.expr(&f.value)?;
                    names.push(Value::str(f.name.value.as_str()));
                }
                let names = self.b.constant(Value::List(names))?;
                self.b.emit(Op::MakeRecord { names });
                Ok(())
            }
            ExprKind::EventField { .. } => err(
                e.span,
                "an event field path is only allowed as an aggregate argument",
            ),
            ExprKind::Error => err(e.span, "cannot lower an erroneous expression"),
        }
    }

    fn is_profile(&self, e: &Expr) -> bool {
        matches!(&e.kind, ExprKind::Name(id) if id.name == "profile" && self.lookup("profile").is_none())
    }

    /// A string with holes: literal runs and plain-text holes joined.
    pub fn string(&mut self, text: &ast::Text) -> Result<(), LowerError> {
        let mut parts = 0u16;
        for node in &text.nodes {
            match node {
                TextNode::Literal(s, _) => self.push_const(Value::str(s.as_str()))?,
                TextNode::Hole(h) if h.filters.is_empty() => self.expr(&h.expr)?,
                TextNode::Hole(h) => return err(h.span, "filters are only allowed in templates"),
                TextNode::If { span, .. } | TextNode::For { span, .. } => {
                    return err(*span, "`{% %}` tags are only allowed in templates");
                }
                TextNode::Error(span) => return err(*span, "cannot lower a broken hole"),
            }
            parts = parts.saturating_add(1);
        }
        if parts == 1 && matches!(text.nodes.first(), Some(TextNode::Literal(..))) {
            return Ok(());
        }
        self.b.emit(Op::Concat(parts));
        Ok(())
    }

    fn binary(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr) -> Result<(), LowerError> {
        match op {
            BinaryOp::And | BinaryOp::Or => {
                // a and b: if !a { false } else { b }
                let short = self.b.label();
                let end = self.b.label();
                self.expr(lhs)?;
                self.b.emit_to(
                    if op == BinaryOp::And {
                        Op::JumpIfFalse(0)
                    } else {
                        Op::JumpIfTrue(0)
                    },
                    short,
                );
                self.expr(rhs)?;
                self.b.emit_to(Op::Jump(0), end);
                self.b.place(short)?;
                self.push_const(Value::Bool(op == BinaryOp::Or))?;
                self.b.place(end)?;
                Ok(())
            }
            BinaryOp::Default => {
                let end = self.b.label();
                self.expr(lhs)?;
                self.b.emit_to(Op::JumpIfSome(0), end);
                self.expr(rhs)?;
                self.b.place(end)?;
                Ok(())
            }
            BinaryOp::In if self.is_profile(lhs) => {
                let ExprKind::Name(seg) = &rhs.kind else {
                    return err(rhs.span, "`profile in` needs a segment name");
                };
                let Some(i) = self.decls.segment(&seg.name) else {
                    return err(seg.span, format!("unknown segment `{}`", seg.name));
                };
                self.reads.segments.insert(i);
                self.b.emit(Op::InSegment(i));
                Ok(())
            }
            _ => {
                self.expr(lhs)?;
                self.expr(rhs)?;
                self.b.emit(match op {
                    BinaryOp::Eq => Op::Eq,
                    BinaryOp::Ne => Op::Ne,
                    BinaryOp::Lt => Op::Lt,
                    BinaryOp::Le => Op::Le,
                    BinaryOp::Gt => Op::Gt,
                    BinaryOp::Ge => Op::Ge,
                    BinaryOp::In => Op::In,
                    BinaryOp::Add => Op::Add,
                    BinaryOp::Sub => Op::Sub,
                    BinaryOp::Mul => Op::Mul,
                    _ => Op::Div,
                });
                Ok(())
            }
        }
    }

    fn call(&mut self, callee: &ast::Ident, args: &[ast::Arg], e: &Expr) -> Result<(), LowerError> {
        let builtin = match callee.name.as_str() {
            "days_since" => Some(Builtin::DaysSince),
            "age" => Some(Builtin::Age),
            _ => None,
        };
        if let Some(builtin) = builtin {
            let [arg] = args else {
                return err(e.span, format!("`{}` takes one argument", callee.name));
            };
            self.expr(&arg.value)?;
            self.b.emit(Op::Call(builtin));
            return Ok(());
        }
        let kind = match callee.name.as_str() {
            "count" => AggregateKind::Count,
            "sum" => AggregateKind::Sum,
            "last" => AggregateKind::Last,
            "first" => AggregateKind::First,
            "exists" => AggregateKind::Exists,
            other => return err(callee.span, format!("unknown function `{other}`")),
        };
        let mut event = None;
        let mut field = Vec::new();
        let mut window_secs = None;
        for arg in args {
            match (&arg.name, &arg.value.kind) {
                (Some(n), _) if n.name == "within" => {
                    window_secs = Some(const_duration(&arg.value)?)
                }
                (Some(n), _) => return err(n.span, format!("unknown argument `{}`", n.name)),
                (None, ExprKind::Str(text)) => event = text.as_plain(),
                (
                    None,
                    ExprKind::EventField {
                        event: ev,
                        field: f,
                    },
                ) => {
                    event = Some(ev.value.clone());
                    field = vec![f.name.clone()];
                }
                (None, _) => {
                    return err(
                        arg.value.span,
                        "an aggregate needs an event name or an event field",
                    );
                }
            }
        }
        let Some(event) = event else {
            return err(e.span, "an aggregate needs an event name");
        };
        let i = self.tables.aggregate(Aggregate {
            kind,
            event,
            field,
            window_secs,
        })?;
        self.reads.aggregates.insert(i);
        self.b.emit(Op::LoadAggregate(i));
        Ok(())
    }

    fn method(
        &mut self,
        receiver: &Expr,
        method: &ast::Ident,
        args: &[ast::Arg],
    ) -> Result<(), LowerError> {
        self.expr(receiver)?;
        let lambda = match args {
            [] => None,
            [arg] => match &arg.value.kind {
                ExprKind::Lambda { param, body } => Some(self.lambda(&param.name, body)?),
                _ => return err(arg.value.span, "a list method takes a lambda (`p => ...`)"),
            },
            _ => {
                return err(
                    method.span,
                    format!("`{}` takes at most one argument", method.name),
                );
            }
        };
        let op = match (method.name.as_str(), lambda) {
            ("any", Some(l)) => Op::ListAny(l),
            ("all", Some(l)) => Op::ListAll(l),
            ("map", Some(l)) => Op::ListMap(l),
            ("count", l) => Op::ListCount(l),
            ("sum", l) => Op::ListSum(l),
            ("first", l) => Op::ListFirst(l),
            (name, _) => {
                return err(
                    method.span,
                    format!("unknown or incomplete list method `{name}`"),
                );
            }
        };
        self.b.emit(op);
        Ok(())
    }

    /// Lowers `param => body` as a lambda of this unit.
    fn lambda(&mut self, param: &str, body: &Expr) -> Result<u16, LowerError> {
        let local = self.b.local();
        let scope = self.b.begin_lambda();
        self.bind(param, Binding::Local(local));
        let lowered = self.expr(body);
        self.unbind();
        self.b.emit(Op::Return);
        let idx = self.b.end_lambda(scope, local)?;
        lowered?;
        Ok(idx)
    }

    /// Finishes the unit as expression code: `e` then `Return`.
    pub fn finish_expr(mut self, e: &Expr) -> Result<(Code, Reads), LowerError> {
        self.expr(e)?;
        self.b.emit(Op::Return);
        Ok((self.b.finish()?, self.reads))
    }
}

/// A literal's value.
pub(crate) fn literal(lit: &Lit, span: crate::span::Span) -> Result<Value, LowerError> {
    Ok(match lit {
        Lit::Bool(b) => Value::Bool(*b),
        Lit::Int(i) => Value::Int(*i),
        Lit::Decimal(d) => Value::Decimal(*d),
        Lit::Money { amount, currency } => match Currency::new(currency) {
            Some(currency) => Value::Money(Money {
                amount: *amount,
                currency,
            }),
            None => return err(span, format!("`{currency}` is not a currency code")),
        },
        Lit::Percent(p) => Value::Percent(*p),
        Lit::Duration(s) => Value::Duration(*s),
        Lit::Time { hour, minute } => match TimeOfDay::new(*hour, *minute) {
            Some(t) => Value::Time(t),
            None => return err(span, "not a time of day"),
        },
        Lit::Date { year, month, day } => match Date::new(*year, *month, *day) {
            Some(d) => Value::Date(d),
            None => return err(span, "not a calendar date"),
        },
        Lit::None => Value::None,
    })
}

/// A duration known at compile time (`7d`, `(1h)`).
pub(crate) fn const_duration(e: &Expr) -> Result<i64, LowerError> {
    match &e.kind {
        ExprKind::Lit(Lit::Duration(s)) => Ok(*s),
        ExprKind::Paren(inner) => const_duration(inner),
        _ => err(e.span, "expected a duration literal"),
    }
}

/// A percentage known at compile time, in basis points.
pub(crate) fn const_percent_bp(e: &Expr) -> Result<u16, LowerError> {
    match &e.kind {
        ExprKind::Lit(Lit::Percent(p)) => {
            let bp = (*p * rust_decimal::Decimal::ONE_HUNDRED).round();
            u16::try_from(bp.mantissa()).or_else(|_| err(e.span, "percentage out of range"))
        }
        ExprKind::Paren(inner) => const_percent_bp(inner),
        _ => err(e.span, "expected a percentage literal"),
    }
}

pub(crate) fn lower_segment(
    decls: &Decls,
    tables: &mut Tables,
    s: &ast::SegmentDecl,
) -> Result<Segment, LowerError> {
    let unit = Unit::new(decls, tables);
    let (condition, reads) = unit.finish_expr(&s.condition)?;
    Ok(Segment {
        name: s.name.name.clone(),
        condition,
        aggregates: reads.aggregates.into_iter().collect(),
        traits: reads.traits.into_iter().collect(),
        segments: reads.segments.into_iter().collect(),
    })
}
