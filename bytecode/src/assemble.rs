//! A small assembler for `Code`: interned constants, forward labels, jump
//! fix-ups. Lowering uses it, and so do tests that hand-assemble bytecode.

use crate::op::{Code, ConstIdx, Lambda, LambdaIdx, Local, Op, Target};
use crate::value::Value;

/// A position in the op list, placed later with `place`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(usize);

/// Builds one `Code`.
#[derive(Debug, Default)]
pub struct CodeBuilder {
    code: Code,
    labels: Vec<Option<Target>>,
    fixups: Vec<(usize, Label)>,
}

/// The enclosing unit's state while a lambda body is being emitted.
#[derive(Debug)]
pub struct LambdaScope {
    outer_ops: Vec<Op>,
    outer_fixups: Vec<(usize, Label)>,
}

/// Why assembling failed (a lowering bug, reported instead of panicking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssembleError {
    UnplacedLabel(usize),
    TooManyConstants,
    TooManyLambdas,
    TooManyOps,
}

impl std::fmt::Display for AssembleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AssembleError::UnplacedLabel(l) => write!(f, "label {l} was never placed"),
            AssembleError::TooManyConstants => write!(f, "more than 65535 constants in one unit"),
            AssembleError::TooManyLambdas => write!(f, "more than 65535 lambdas in one unit"),
            AssembleError::TooManyOps => write!(f, "more than 2^32 instructions in one unit"),
        }
    }
}

impl std::error::Error for AssembleError {}

impl CodeBuilder {
    pub fn new() -> CodeBuilder {
        CodeBuilder::default()
    }

    /// Reserves a new local slot.
    pub fn local(&mut self) -> Local {
        let l = self.code.locals;
        self.code.locals = self.code.locals.saturating_add(1);
        l
    }

    /// Makes sure the frame has at least `n` locals.
    pub fn reserve_locals(&mut self, n: u16) {
        self.code.locals = self.code.locals.max(n);
    }

    /// Interns a constant.
    pub fn constant(&mut self, value: Value) -> Result<ConstIdx, AssembleError> {
        if let Some(i) = self.code.consts.iter().position(|c| *c == value) {
            return ConstIdx::try_from(i).map_err(|_| AssembleError::TooManyConstants);
        }
        let i = ConstIdx::try_from(self.code.consts.len())
            .map_err(|_| AssembleError::TooManyConstants)?;
        self.code.consts.push(value);
        Ok(i)
    }

    /// Interns a name (a string constant).
    pub fn name(&mut self, name: &str) -> Result<ConstIdx, AssembleError> {
        self.constant(Value::str(name))
    }

    pub fn emit(&mut self, op: Op) -> usize {
        self.code.ops.push(op);
        self.code.ops.len() - 1
    }

    /// Current position (the index the next op gets).
    pub fn pc(&self) -> usize {
        self.code.ops.len()
    }

    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Places `label` at the next op.
    pub fn place(&mut self, label: Label) -> Result<(), AssembleError> {
        let pc = Target::try_from(self.code.ops.len()).map_err(|_| AssembleError::TooManyOps)?;
        if let Some(slot) = self.labels.get_mut(label.0) {
            *slot = Some(pc);
        }
        Ok(())
    }

    /// Emits an op whose target (`Jump*`, `WaitFor` timeout) is `label`;
    /// `op` is built with a dummy target that `finish` replaces.
    pub fn emit_to(&mut self, op: Op, label: Label) -> usize {
        let pc = self.emit(op);
        self.fixups.push((pc, label));
        pc
    }

    /// Adds a lambda (ops with absolute targets into its own op list; it
    /// shares this unit's constants and locals) and returns its index.
    pub fn lambda(&mut self, param: Local, ops: Vec<Op>) -> Result<LambdaIdx, AssembleError> {
        let i = LambdaIdx::try_from(self.code.lambdas.len())
            .map_err(|_| AssembleError::TooManyLambdas)?;
        self.code.lambdas.push(Lambda { param, ops });
        Ok(i)
    }

    /// Starts a lambda: ops emitted until `end_lambda` form its body (with
    /// targets relative to it); constants and locals stay shared.
    pub fn begin_lambda(&mut self) -> LambdaScope {
        LambdaScope {
            outer_ops: std::mem::take(&mut self.code.ops),
            outer_fixups: std::mem::take(&mut self.fixups),
        }
    }

    /// Ends the lambda begun with `scope` and returns its index. Lambdas
    /// nested inside were finished first, so they get smaller indices.
    pub fn end_lambda(
        &mut self,
        scope: LambdaScope,
        param: Local,
    ) -> Result<LambdaIdx, AssembleError> {
        let mut ops = std::mem::replace(&mut self.code.ops, scope.outer_ops);
        for (pc, label) in std::mem::replace(&mut self.fixups, scope.outer_fixups) {
            let target = self.label_target(label)?;
            if let Some(op) = ops.get_mut(pc) {
                set_target(op, target);
            }
        }
        let i = LambdaIdx::try_from(self.code.lambdas.len())
            .map_err(|_| AssembleError::TooManyLambdas)?;
        self.code.lambdas.push(Lambda {
            param,
            ops: std::mem::take(&mut ops),
        });
        Ok(i)
    }

    /// Position a label was placed at.
    pub fn label_target(&self, label: Label) -> Result<Target, AssembleError> {
        self.labels
            .get(label.0)
            .copied()
            .flatten()
            .ok_or(AssembleError::UnplacedLabel(label.0))
    }

    /// Resolves jumps and returns the finished unit.
    pub fn finish(mut self) -> Result<Code, AssembleError> {
        for (pc, label) in std::mem::take(&mut self.fixups) {
            let target = self.label_target(label)?;
            if let Some(op) = self.code.ops.get_mut(pc) {
                set_target(op, target);
            }
        }
        Ok(self.code)
    }
}

fn set_target(op: &mut Op, target: Target) {
    match op {
        Op::Jump(t) | Op::JumpIfFalse(t) | Op::JumpIfTrue(t) | Op::JumpIfSome(t) => *t = target,
        Op::WaitFor { timeout, .. } => *timeout = target,
        _ => {}
    }
}
