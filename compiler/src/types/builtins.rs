//! What the language knows without any declaration: type names, the names
//! always in scope, the `shop` record, functions and aggregates, list
//! methods, template filters and the parts each channel's template has.
//! The checker and its "did you mean" suggestions read these tables.

use super::ty::Ty;
use crate::ast::Channel;

/// A built-in type name (`int`, `money`, ...); `list<T>` and `T?` are
/// written with their own syntax.
pub fn type_named(name: &str) -> Option<Ty> {
    Some(match name {
        "bool" => Ty::Bool,
        "int" => Ty::Int,
        "decimal" => Ty::Decimal,
        "string" => Ty::String,
        "money" => Ty::Money(None),
        "currency" => Ty::Currency,
        "percent" => Ty::Percent,
        "timestamp" => Ty::Timestamp,
        "date" => Ty::Date,
        "duration" => Ty::Duration,
        "time" => Ty::Time,
        "timezone" => Ty::Timezone,
        "email" => Ty::Email,
        "phone" => Ty::Phone,
        "url" => Ty::Url,
        _ => return None,
    })
}

pub const TYPE_NAMES: &[&str] = &[
    "bool",
    "int",
    "decimal",
    "string",
    "money",
    "currency",
    "percent",
    "timestamp",
    "date",
    "duration",
    "time",
    "timezone",
    "email",
    "phone",
    "url",
];

/// The fields of `shop` (from `nudge.toml` `[shop]`). They are typed as
/// present: they are project settings, not customer data, so asking for a
/// default in every template would only add noise. A setting missing from
/// the manifest renders as empty text.
pub fn shop_field(name: &str) -> Option<Ty> {
    Some(match name {
        "name" | "address" | "from_name" => Ty::String,
        "url" => Ty::Url,
        "from_email" | "reply_to" => Ty::Email,
        _ => return None,
    })
}

pub const SHOP_FIELDS: &[&str] = &[
    "name",
    "url",
    "address",
    "from_email",
    "from_name",
    "reply_to",
];

/// Per-message links, available in templates only.
pub const TEMPLATE_NAMES: &[&str] = &["unsubscribe_url", "preferences_url", "view_in_browser_url"];

/// Names always in scope (besides bindings).
pub const GLOBAL_NAMES: &[&str] = &["profile", "shop", "now"];

/// History aggregates: `count("E", within: 90d)` and friends.
pub const AGGREGATES: &[&str] = &["count", "sum", "last", "first", "exists"];

/// Plain functions.
pub const FUNCTIONS: &[&str] = &["days_since", "age"];

/// Methods of lists.
pub const LIST_METHODS: &[&str] = &["any", "all", "count", "sum", "map", "first"];

/// Template filters.
pub const FILTERS: &[&str] = &[
    "money",
    "date",
    "upper",
    "lower",
    "title",
    "truncate",
    "count",
    "short_link",
    "default",
];

/// HTTP methods a `webhook` step may use.
pub const WEBHOOK_METHODS: &[&str] = &["post", "put", "patch", "get", "delete"];

/// The part keys a template of this channel may have.
pub fn part_keys(channel: Channel) -> &'static [&'static str] {
    match channel {
        Channel::Email => &["subject", "preheader", "from", "reply_to", "html", "text"],
        Channel::Sms => &["body"],
        Channel::Push => &["title", "body", "url"],
    }
}
