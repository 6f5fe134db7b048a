//! Type checking: every use of a name (E0101–E0108) and every type error
//! (E0201–E0207) in one file, against the project's [`ProjectIndex`].
//!
//! | file | checks |
//! |---|---|
//! | `ty.rs` | the `Ty` type, what fits where |
//! | `builtins.rs` | built-in types, names, functions, methods, filters, template parts |
//! | `expr.rs` | expressions: names, fields, literals, narrowing |
//! | `ops.rs` | operators: logic, comparisons, `in`, `??`, arithmetic |
//! | `fit.rs` | what a value must be where it is used (present, `bool`, a declared type) |
//! | `call.rs` | aggregates, `days_since` / `age`, list methods with lambdas |
//! | `flow.rs` | flows (trigger, settings, steps), segments, policies |
//! | `template.rs` | templates: parts, holes, filters, `{% if %}` / `{% for %}` |
//! | `test_block.rs` | `test` blocks: statements, values, expectations (E04xx) |
//!
//! An expression whose type is unknown because of an earlier error has the
//! type `Ty::Error`, which fits everywhere: one mistake gives one
//! diagnostic.
//!
//! Decisions (where `LANGUAGE.md` leaves room):
//! - Text-like types (`email`, `phone`, `url`, `timezone`, `currency`,
//!   string unions) are strings at run time and are accepted where a
//!   `string` is expected; a `string` is accepted where an `email`, `phone`,
//!   `url`, `timezone` or `currency` is expected (the format is checked when
//!   the value is used), but never where a string union is: only a literal of
//!   the union fits there.
//! - `int` is accepted where a `decimal` is expected; ints and decimals mix
//!   in arithmetic and comparisons (the result is `decimal`; `int / int` is a
//!   `decimal`).
//! - Money whose currency is unknown at compile time (a declared `money`
//!   field or trait, an aggregate `sum` of one) is compatible with money of
//!   any currency; two known, different currencies are E0204 in `+`, `-`,
//!   `/`, comparisons, `??`, list literals and anywhere a value must fit a
//!   declared type.
//!   Money of an unknown currency combined with a known one takes the
//!   known one (`order.total + 5 EUR` is EUR money).
//! - Arithmetic: `money ± money`, `money * number`, `number * money`,
//!   `money / number` (money), `money / money` (decimal), `money * percent`
//!   and `percent * money` (a share of the amount), `number * percent`
//!   (decimal), `percent ± percent`, `duration ± duration`, `duration * int`,
//!   `int * duration`, `duration / int` (duration), `duration / duration`
//!   (decimal), `timestamp ± duration`, `date ± duration`, `timestamp -
//!   timestamp` and `date - date` (duration), `string + string`. Anything else
//!   is E0201. Unary `-` works on numbers, money, percent and durations.
//! - Comparisons `< <= > >=` need two values of one ordered type (numbers,
//!   money, percent, duration, timestamp, date, time, text). `==` and `!=`
//!   need compatible types; comparing a string union with a string literal
//!   that is not one of its members is E0201.
//! - E0203 (an optional used without a default) is reported where a present
//!   value is needed: holes, filters other than `default` and `count`,
//!   operands of arithmetic, `<`-style comparisons, `==`/`!=` between two
//!   optionals (an optional against a present value is fine: a missing
//!   value equals no present one), `and`/`or`/`not`/`if` conditions, `.field` access (use
//!   `?.`), list methods, `match` scrutinees, `send` arguments to non-optional
//!   parameters, `set` values for non-optional traits, `track` fields and
//!   function arguments. `days_since` and `age` need a present argument.
//!   The `none` literal where a value is needed is E0203 too.
//! - `a ?? b`: `b` must fit the present type of `a`; the result is that type
//!   (optional only if `b` is). `??` on a value that is not optional is
//!   allowed (it does nothing). `a?.b` on a value that is not optional acts
//!   like `a.b`; on an optional it yields an optional.
//! - Narrowing is by path: a name or a chain of fields (`x`,
//!   `profile.first_name`, `c.checkout_url`). `p != none` narrows `p` in the
//!   `if` branch (and `{% if %}` block), in the right side of `and`, and
//!   `p == none` narrows `p` in the `else` branch, in later `else if`
//!   conditions and branches, and in the right side of `or`. `not` swaps the
//!   two. Narrowing stops at a new binding of the same name (a lambda or loop
//!   variable). After an `if` whose branches all end in `exit` (and that
//!   has no `else`), the rest of the block is narrowed as its `else` would
//!   be (`if x == none { exit }` narrows `x` below it); likewise after
//!   `if c { ... } else { exit }` by `c`. A narrowing of a profile trait
//!   (`profile.x`) ends at the next `wait`, `wait until` or `wait for`:
//!   traits may change while a journey waits. Event bindings never change.
//! - `when date` accepts an optional `date` or `timestamp` (profiles without
//!   the value never fire); the trigger expression sees `profile`, `shop` and
//!   `now` only.
//! - Scopes: the trigger's `as x` name (or `it` without `as`) is visible in
//!   the whole flow body and in `exit when` / `goal` conditions; inside any
//!   `where` the arriving event is `it`, and also its `as` name; the `as`
//!   name of `wait for` (or `it`) is visible in its arrival block only;
//!   `unsubscribe_url`, `preferences_url` and `view_in_browser_url` exist in
//!   templates only; segment names only after `profile in`.
//! - Aggregates take the event as a string literal (`count("E")`) or an
//!   event field path (`sum("E".field)`); `sum` needs a field of a numeric,
//!   money, percent or duration type (optional fields are summed over the
//!   events that have them) and returns that type; `last`/`first` return an
//!   optional event (or an optional field value, with a field path);
//!   `count` returns `int`, `exists` returns `bool`. `within:` must be a
//!   duration literal (the runtime sizes its history by it; E0206).
//! - List methods: `any`/`all` take a `bool` lambda; `count()` or
//!   `count(p => bool)`; `sum()` over a list of summable values or
//!   `sum(p => value)`; `map(p => value)` gives a list; `first()` or
//!   `first(p => bool)` gives an optional element.
//! - Filters: `money` takes money or a number, `date` a date or timestamp,
//!   `upper`/`lower`/`title`/`truncate(int)` text, `count` a list or text
//!   (an optional counts as 0), `short_link` text, `default(x)` an optional
//!   (or text, whose empty value is replaced) and `x` must fit its present
//!   type. Filters give `string` except `count` (`int`) and `default`.
//!   Filters exist in templates only: in a string elsewhere (`track`,
//!   `webhook`, a condition) a filter is E0108.
//!   `{% if %}` / `{% for %}` tags outside templates are E0201.
//! - `profile` is read trait by trait (`profile.x`, `profile in segment`);
//!   `profile` alone as a value is E0201. `shop` is a record value.
//! - Template part keys are checked per channel (email: `subject`,
//!   `preheader`, `from`, `reply_to`, `html`, `text`; sms: `body`; push:
//!   `title`, `body`, `url`); another key is E0106 with "did you mean".
//! - `shop.name`, `url`, `address`, `from_email`, `from_name` and
//!   `reply_to` are typed as present (`string`, `url`, `string`, `email`,
//!   `string`, `email`): they are project settings, not customer data; a
//!   setting missing from `nudge.toml` renders as empty text.
//! - A hole must print a present scalar: lists, records, `profile` and
//!   `shop` are E0201 (help: use a field or `| count`).
//! - `track "E" { ... }` of a declared event checks each field (unknown →
//!   E0102, wrong type → E0201) and reports missing non-optional fields
//!   (E0201); an undeclared event may be tracked with any fields.
//! - A record literal `{ ... }` where a record or event type is expected is
//!   checked field by field the same way.
//! - `send` of a template declared for another channel is E0104 (the message
//!   names the channel it has); argument count and types are E0202; an
//!   optional argument for a non-optional parameter is E0203.
//! - `webhook` methods are `post`, `put`, `patch`, `get` and `delete`
//!   (another name is E0106); holes in its URL are checked like any string.
//! - `wait until <expr>` needs a `timestamp`; durations (`wait`, `within`,
//!   `once per`, frequency windows, `keep history`) need a `duration`;
//!   `holdout` and split weights need a `percent`. `reentry once per`,
//!   `goal ... within`, `when inactive ... for`, `holdout` and split weights
//!   must be known at compile time: a literal such as `7d` or `10%` (a
//!   compound duration like `1h30m` is one literal; `1d + 2h` is not), else
//!   E0201. An aggregate's `within:` must be such a literal too, else E0206
//!   (it is a function argument).
//! - A `match` over a string union must cover every literal unless it has
//!   `_` (E0205, listing the missing ones); a match over a plain `string`
//!   needs `_`; an arm literal outside the union is E0201.
//! - A union compared with `==` or `in` against a literal outside it is
//!   E0201, except inside `exit when` / `goal` conditions, where lint W0005
//!   reports it as a clause that can never match (one diagnostic per
//!   mistake). `!=` against a non-member and `match` arms are always E0201.
//! - Declarations (reported by `ProjectIndex::build`): a name declared twice
//!   is E0109 at the second, pointing at the first (events by wire name,
//!   types, traits across all `profile` blocks, segments, templates across
//!   channels, flows, fields within one event or type including its
//!   `extend`s, template parameters — a duplicate parameter still counts
//!   for the arity of `send`); a `type` named like a built-in type is E0109;
//!   `extend event` of an unknown event is E0101, `extend type` of an
//!   unknown type and unknown type names are E0107; a single string in type
//!   position naming an unknown event is E0101.
//! - E0106 for a binding used outside the part of the flow where it is
//!   visible says where it is visible (`wait for ... as`, `{% for %}`,
//!   lambda parameters).
//! - Template parts of `html file "..."`: the file's holes are checked like
//!   inline text. With `check_file` (whose lookup gives the text without its
//!   file) a problem inside the file is reported at the `file "..."` path,
//!   the message naming the file; `check_file_with_template_files` reports
//!   it inside the template file.

pub mod builtins;
mod call;
mod expr;
mod fit;
mod flow;
mod ops;
mod template;
pub mod test_block;
pub mod ty;

#[cfg(test)]
mod tests;

use crate::ast::{self, Item};
use crate::diagnostic::Diagnostic;
use crate::resolve::ProjectIndex;
use crate::rules::TemplateTextLookup;
use crate::span::FileId;
pub use test_block::{FlowFacts, TestNames, check_tests};
use ty::Ty;

/// Every name (E01xx) and type (E02xx) error in one file. Declarations
/// themselves (duplicates, unknown types in fields) are reported by
/// [`ProjectIndex::build`]. Problems inside `html file "..."` templates are
/// reported at the path in this file (the lookup does not say which file
/// the text came from); [`check_file_with_template_files`] reports them in
/// the template file itself.
pub fn check_file(
    index: &ProjectIndex,
    file: FileId,
    ast: &ast::File,
    template_text: &TemplateTextLookup<'_>,
) -> Vec<Diagnostic> {
    check(index, file, ast, TemplateFiles::AtPath(template_text))
}

/// Looks up a template file by the path as written: its file id and its
/// parsed text (parsed with that file id, so spans point into it).
pub type TemplateFileLookup<'l> = dyn Fn(&str) -> Option<(FileId, &'l ast::Text)> + 'l;

/// Like [`check_file`], but problems inside a template file are reported in
/// that file, at the offending hole or tag.
pub fn check_file_with_template_files(
    index: &ProjectIndex,
    file: FileId,
    ast: &ast::File,
    template_files: &TemplateFileLookup<'_>,
) -> Vec<Diagnostic> {
    check(index, file, ast, TemplateFiles::InFile(template_files))
}

/// How template files are found and where their problems are reported.
#[derive(Clone, Copy)]
enum TemplateFiles<'a, 'l> {
    AtPath(&'a TemplateTextLookup<'l>),
    InFile(&'a TemplateFileLookup<'l>),
}

fn check(
    index: &ProjectIndex,
    file: FileId,
    ast: &ast::File,
    files: TemplateFiles<'_, '_>,
) -> Vec<Diagnostic> {
    let mut cx = Checker::new(index, file);
    for item in &ast.items {
        match item {
            Item::Segment(s) => cx.segment(s),
            Item::Flow(f) => cx.flow(f),
            Item::Template(t) => cx.template(t, files),
            Item::Policy(p) => cx.policy(p),
            Item::Event(_) | Item::Type(_) | Item::Profile(_) | Item::Test(_) | Item::Error(_) => {}
        }
    }
    cx.diagnostics
}

/// A path that a `!= none` test has narrowed to its present type, and how
/// many bindings were in scope when it was narrowed (a later binding of the
/// path's first name hides the narrowing).
#[derive(Debug, Clone)]
struct Narrowed {
    path: Vec<String>,
    scope_len: usize,
    /// The suspension count when it was narrowed (see `Checker::suspensions`).
    suspensions: u32,
}

/// The state of checking one file.
pub(crate) struct Checker<'a> {
    index: &'a ProjectIndex,
    file: FileId,
    diagnostics: Vec<Diagnostic>,
    /// Bindings in scope, innermost last.
    scope: Vec<(String, Ty)>,
    narrowed: Vec<Narrowed>,
    /// Inside a template (per-message links and filters are available).
    in_template: bool,
    /// How many suspensions (`wait`, `wait until`, `wait for`) lie on the
    /// path to the step being checked. Profile traits may change while a
    /// journey waits, so a narrowing of `profile.x` ends at the next wait;
    /// event bindings never change.
    suspensions: u32,
    /// Names bound somewhere in the current flow or template but visible
    /// only in part of it, with where they are visible (for the help line
    /// of E0106).
    hints: Vec<(String, &'static str)>,
    /// Inside an `exit when` / `goal` condition, where a union compared
    /// with a literal outside it is lint W0005's ("can never match").
    never_match_is_lint: bool,
}

impl<'a> Checker<'a> {
    fn new(index: &'a ProjectIndex, file: FileId) -> Self {
        Checker {
            index,
            file,
            diagnostics: Vec::new(),
            scope: Vec::new(),
            narrowed: Vec::new(),
            in_template: false,
            suspensions: 0,
            hints: Vec::new(),
            never_match_is_lint: false,
        }
    }

    fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Runs `f` with extra bindings, removing them afterwards.
    fn scoped<R>(&mut self, bindings: Vec<(String, Ty)>, f: impl FnOnce(&mut Self) -> R) -> R {
        let len = self.scope.len();
        self.scope.extend(bindings);
        let r = f(self);
        self.scope.truncate(len);
        r
    }

    /// Runs `f` with `paths` narrowed to their present types.
    fn narrowing<R>(&mut self, paths: Vec<Vec<String>>, f: impl FnOnce(&mut Self) -> R) -> R {
        let len = self.narrowed.len();
        self.narrow_paths(paths);
        let r = f(self);
        self.narrowed.truncate(len);
        r
    }

    /// Narrows `paths` from here on (until the caller truncates).
    fn narrow_paths(&mut self, paths: Vec<Vec<String>>) {
        let scope_len = self.scope.len();
        let suspensions = self.suspensions;
        self.narrowed.extend(paths.into_iter().map(|path| Narrowed {
            path,
            scope_len,
            suspensions,
        }));
    }

    fn lookup(&self, name: &str) -> Option<(usize, &Ty)> {
        self.scope
            .iter()
            .enumerate()
            .rev()
            .find(|(_, (n, _))| n == name)
            .map(|(i, (_, t))| (i, t))
    }

    /// Whether a profile path was narrowed but a wait since has ended it.
    fn narrowed_before_wait(&self, path: &[String]) -> bool {
        path.first().is_some_and(|r| r == "profile")
            && self.lookup("profile").is_none()
            && self
                .narrowed
                .iter()
                .any(|n| n.path == path && n.suspensions != self.suspensions)
    }

    /// Whether a path is narrowed here.
    fn is_narrowed(&self, path: &[String]) -> bool {
        let Some(root) = path.first() else {
            return false;
        };
        let binding = self.lookup(root).map(|(i, _)| i);
        let is_profile = root == "profile" && binding.is_none();
        self.narrowed.iter().any(|n| {
            n.path == path
                && binding.is_none_or(|i| i < n.scope_len)
                && (!is_profile || n.suspensions == self.suspensions)
                // A binding made after the narrowing hides it.
                && !self
                    .scope
                    .iter()
                    .skip(n.scope_len)
                    .any(|(name, _)| name == root)
        })
    }
}
