//! `nudge.toml`, the project manifest: project name and default timezone,
//! the shop's identity (the built-in `shop` record), delivery providers and
//! project policies.
//!
//! Parsing never fails: [`Manifest::parse`] returns the manifest it could
//! read (defaults where a part is missing or broken) and diagnostics
//! (E0008 for malformed TOML, unknown keys with a "did you mean", bad
//! values; E0110 for unknown timezone names; E0303 for durations that are
//! not positive), each pointing into the TOML.
//! A lone `.flow` file is checked with [`Manifest::default`].
//!
//! # The shape of `nudge.toml`
//!
//! ```toml
//! [project]
//! name = "acme-shop"                   # required
//! timezone = "America/New_York"        # default timezone of profiles without one
//!
//! [shop]                               # the `shop` record in templates
//! name = "Acme"
//! url = "https://acme.example"
//! address = "1 Main St, Springfield, IL 62701, USA"   # postal address (CAN-SPAM)
//! from_email = "hello@acme.example"
//! from_name = "Acme"
//! reply_to = "support@acme.example"    # optional
//!
//! [delivery.email]
//! provider = "smtp"                    # "log" (default: print, send nothing) or "smtp"
//! host = "smtp.example.com"            # smtp: required
//! port = 587                           # smtp: default 587
//! username_env = "SMTP_USERNAME"       # names of environment variables,
//! password_env = "SMTP_PASSWORD"       # never the secrets themselves
//!
//! [delivery.sms]
//! provider = "twilio"                  # "log" (default) or "twilio" (Twilio-shaped HTTP API)
//! url = "https://api.twilio.com"       # twilio: default as shown
//! account_env = "TWILIO_ACCOUNT_SID"   # twilio: required
//! token_env = "TWILIO_AUTH_TOKEN"      # twilio: required
//! from = "+15550100"                   # twilio: required, the sending number
//!
//! [delivery.push]
//! provider = "webhook"                 # "log" (default) or "webhook" (JSON POST per push)
//! url = "https://push.example/send"    # webhook: required
//! token_env = "PUSH_TOKEN"             # webhook: optional bearer token
//!
//! [policy]                             # the same rules as a `policy { }` block
//! when_capped = "skip"                 # "skip" or "defer"
//! default_timezone = "Europe/Istanbul" # alternative to [project] timezone (not both)
//! keep_history = "400d"                # event history kept for aggregates
//! frequency.email = ["1 per 1d", "4 per 7d"]
//! frequency.sms = ["1 per 1d", "3 per 30d"]
//! quiet_hours.sms = "21:00 to 09:00"   # keys: all, email, sms, push
//! ```
//!
//! `shop.url` must be an http(s) URL and `from_email` / `reply_to` email
//! addresses; the SMTP provider needs `shop.from_email`.
//!
//! Durations are written as in `.flow` files (`30m`, `1d`, `1h30m`, `2w`);
//! times of day as `HH:MM` (always in the profile's local time).
//!
//! `[policy]` is turned into the same [`ast::PolicyRule`]s a `policy { }`
//! block parses to (spans point into the TOML), so `policy::Policy::collect`
//! merges both sources the same way.

use crate::ast::{self, Channel, Expr, ExprKind, Lit, PolicyRule, PolicyRuleKind};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::{FileId, Span};
use serde::Deserialize;
use toml::Spanned as TomlSpanned;

/// Everything `nudge.toml` says, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Manifest {
    /// The manifest's file, or `None` for the defaults of a lone `.flow` file.
    pub file: Option<FileId>,
    pub project: ProjectSettings,
    pub shop: ShopSettings,
    pub delivery: DeliverySettings,
    /// `[policy]` as policy rules; spans point into the manifest.
    pub policy: Vec<PolicyRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectSettings {
    pub name: String,
    /// `[project] timezone`, validated; with its span in the manifest.
    pub timezone: Option<ast::Name>,
}

/// The built-in `shop` record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ShopSettings {
    pub name: Option<String>,
    pub url: Option<String>,
    pub address: Option<String>,
    pub from_email: Option<String>,
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DeliverySettings {
    pub email: EmailProvider,
    pub sms: SmsProvider,
    pub push: PushProvider,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum EmailProvider {
    /// Print what would be sent; send nothing.
    #[default]
    Log,
    Smtp {
        host: String,
        port: u16,
        username_env: Option<String>,
        password_env: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum SmsProvider {
    #[default]
    Log,
    /// A Twilio-shaped HTTP API (`POST {url}/2010-04-01/Accounts/{sid}/Messages.json`).
    Twilio {
        url: String,
        account_env: String,
        token_env: String,
        from: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum PushProvider {
    #[default]
    Log,
    /// A JSON POST per push notification.
    Webhook {
        url: String,
        token_env: Option<String>,
    },
}

impl Default for Manifest {
    /// The settings of a lone `.flow` file: log-only delivery, no policies
    /// beyond the built-in defaults.
    fn default() -> Self {
        Manifest {
            file: None,
            project: ProjectSettings {
                name: "untitled".to_string(),
                timezone: None,
            },
            shop: ShopSettings::default(),
            delivery: DeliverySettings::default(),
            policy: Vec::new(),
        }
    }
}

pub const DEFAULT_SMTP_PORT: u16 = 587;
pub const DEFAULT_TWILIO_URL: &str = "https://api.twilio.com";

// ---- the raw TOML shape (serde) -------------------------------------------

type S<T> = TomlSpanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    project: Option<S<RawProject>>,
    shop: Option<RawShop>,
    delivery: Option<RawDelivery>,
    policy: Option<RawPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    name: Option<String>,
    timezone: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShop {
    name: Option<String>,
    url: Option<S<String>>,
    address: Option<String>,
    from_email: Option<S<String>>,
    from_name: Option<String>,
    reply_to: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    email: Option<S<RawEmail>>,
    sms: Option<S<RawSms>>,
    push: Option<S<RawPush>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    provider: S<String>,
    host: Option<S<String>>,
    port: Option<S<u16>>,
    username_env: Option<S<String>>,
    password_env: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSms {
    provider: S<String>,
    url: Option<S<String>>,
    account_env: Option<S<String>>,
    token_env: Option<S<String>>,
    from: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPush {
    provider: S<String>,
    url: Option<S<String>>,
    token_env: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    when_capped: Option<S<String>>,
    default_timezone: Option<S<String>>,
    keep_history: Option<S<String>>,
    frequency: Option<RawFrequency>,
    quiet_hours: Option<RawQuietHours>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrequency {
    email: Option<S<Vec<S<String>>>>,
    sms: Option<S<Vec<S<String>>>>,
    push: Option<S<Vec<S<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuietHours {
    all: Option<S<String>>,
    email: Option<S<String>>,
    sms: Option<S<String>>,
    push: Option<S<String>>,
}

// ---- parsing ----------------------------------------------------------------

impl Manifest {
    /// Parses and validates `nudge.toml`. Never fails: problems are
    /// diagnostics, and the returned manifest holds what could be read.
    pub fn parse(text: &str, file: FileId) -> (Manifest, Vec<Diagnostic>) {
        let mut cx = Cx {
            file,
            diagnostics: Vec::new(),
        };
        let mut manifest = Manifest {
            file: Some(file),
            ..Manifest::default()
        };
        let raw: RawManifest = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(err) => {
                cx.diagnostics.push(toml_error(&err, file, text));
                return (manifest, cx.diagnostics);
            }
        };

        match raw.project {
            Some(project) => {
                let span = span_of(&project);
                let project = project.into_inner();
                match project.name {
                    Some(name) if !name.trim().is_empty() => manifest.project.name = name,
                    _ => cx.error(
                        span,
                        "the [project] table has no `name`",
                        "add `name = \"my-shop\"` under [project]",
                    ),
                }
                manifest.project.timezone = project.timezone.and_then(|tz| cx.timezone(tz));
            }
            None => cx.error(
                Span::new(0, 0),
                "nudge.toml has no [project] table",
                "add a [project] table with `name = \"my-shop\"`",
            ),
        }

        let mut from_email_span = None;
        if let Some(shop) = raw.shop {
            from_email_span = shop.from_email.as_ref().map(span_of);
            manifest.shop = ShopSettings {
                name: shop.name,
                url: shop.url.and_then(|u| cx.url("url", u)),
                address: shop.address,
                from_email: shop.from_email.and_then(|e| cx.email("from_email", e)),
                from_name: shop.from_name,
                reply_to: shop.reply_to.and_then(|e| cx.email("reply_to", e)),
            };
        }

        let mut email_provider_span = None;
        if let Some(delivery) = raw.delivery {
            email_provider_span = delivery
                .email
                .as_ref()
                .map(|e| span_of(&e.get_ref().provider));
            if let Some(email) = delivery.email {
                manifest.delivery.email = cx.email_provider(email);
            }
            if let Some(sms) = delivery.sms {
                manifest.delivery.sms = cx.sms_provider(sms);
            }
            if let Some(push) = delivery.push {
                manifest.delivery.push = cx.push_provider(push);
            }
        }

        // An SMTP provider cannot send without a sender address.
        if let (EmailProvider::Smtp { .. }, None) =
            (&manifest.delivery.email, &manifest.shop.from_email)
            && from_email_span.is_none()
        {
            cx.error(
                email_provider_span.unwrap_or_default(),
                "email is delivered by SMTP but [shop] has no `from_email`",
                "add `from_email = \"hello@your-shop.example\"` under [shop]",
            );
        }

        if let Some(policy) = raw.policy {
            manifest.policy = cx.policy(policy);
        }

        (manifest, cx.diagnostics)
    }

    /// The default timezone named in the manifest (`[project] timezone`,
    /// else `[policy] default_timezone`), if any.
    pub fn default_timezone(&self) -> Option<&str> {
        let from_policy = self.policy.iter().find_map(|r| match &r.kind {
            PolicyRuleKind::DefaultTimezone(name) => Some(name.value.as_str()),
            _ => None,
        });
        self.project
            .timezone
            .as_ref()
            .map(|n| n.value.as_str())
            .or(from_policy)
    }
}

struct Cx {
    file: FileId,
    diagnostics: Vec<Diagnostic>,
}

fn span_of<T>(s: &TomlSpanned<T>) -> Span {
    Span::from(s.span())
}

impl Cx {
    fn error(&mut self, span: Span, message: impl Into<String>, help: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::new(Code::InvalidManifest, self.file, span, message).with_help(help));
    }

    fn name(s: S<String>) -> ast::Name {
        let span = span_of(&s);
        ast::Name {
            value: s.into_inner(),
            span,
        }
    }

    fn timezone(&mut self, tz: S<String>) -> Option<ast::Name> {
        let name = Cx::name(tz);
        match check_timezone(&name, self.file) {
            Some(d) => {
                self.diagnostics.push(d);
                None
            }
            None => Some(name),
        }
    }

    /// Keeps `value` if it looks like an http(s) URL with a host.
    fn url(&mut self, key: &str, value: S<String>) -> Option<String> {
        let text = value.get_ref();
        let host = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
        if host.is_some_and(|h| !h.is_empty() && !h.contains(char::is_whitespace)) {
            return Some(value.into_inner());
        }
        self.error(
            span_of(&value),
            format!("`{key}` must be an http(s) URL, not \"{text}\""),
            "write the full address, e.g. \"https://acme.example\"",
        );
        None
    }

    /// Keeps `value` if it looks like an email address (`local@domain.tld`).
    fn email(&mut self, key: &str, value: S<String>) -> Option<String> {
        let text = value.get_ref();
        let valid = text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.contains(char::is_whitespace)
                && !domain.contains('@')
        });
        if valid {
            return Some(value.into_inner());
        }
        self.error(
            span_of(&value),
            format!("`{key}` must be an email address, not \"{text}\""),
            "write an address such as \"hello@acme.example\"",
        );
        None
    }

    fn provider_kind(&mut self, provider: &S<String>, table: &str, allowed: &[&str]) -> bool {
        if allowed.contains(&provider.get_ref().as_str()) {
            return true;
        }
        let list = allowed
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(" or ");
        let help = match did_you_mean(provider.get_ref(), allowed.iter().copied()) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None => format!("use {list}"),
        };
        self.error(
            span_of(provider),
            format!(
                "unknown {table} provider \"{}\"; expected {list}",
                provider.get_ref()
            ),
            help,
        );
        false
    }

    /// Reports keys that only apply to another provider.
    fn not_for(&mut self, provider: &str, key: &str, value: Option<Span>) {
        if let Some(span) = value {
            self.error(
                span,
                format!("`{key}` does not apply to provider \"{provider}\""),
                format!("remove `{key}` or change the provider"),
            );
        }
    }

    fn required(&mut self, table: &str, key: &str, value: Option<S<String>>, at: Span) -> String {
        match value {
            Some(v) if !v.get_ref().trim().is_empty() => v.into_inner(),
            Some(v) => {
                self.error(
                    span_of(&v),
                    format!("`{key}` in [{table}] is empty"),
                    format!("give `{key}` a value"),
                );
                String::new()
            }
            None => {
                self.error(
                    at,
                    format!("[{table}] needs `{key}` for this provider"),
                    format!("add `{key} = \"...\"` to [{table}]"),
                );
                String::new()
            }
        }
    }

    fn email_provider(&mut self, raw: S<RawEmail>) -> EmailProvider {
        let table_span = span_of(&raw);
        let raw = raw.into_inner();
        if !self.provider_kind(&raw.provider, "email", &["log", "smtp"]) {
            return EmailProvider::Log;
        }
        if raw.provider.get_ref() == "log" {
            self.not_for("log", "host", raw.host.as_ref().map(span_of));
            self.not_for("log", "port", raw.port.as_ref().map(span_of));
            self.not_for(
                "log",
                "username_env",
                raw.username_env.as_ref().map(span_of),
            );
            self.not_for(
                "log",
                "password_env",
                raw.password_env.as_ref().map(span_of),
            );
            return EmailProvider::Log;
        }
        let host = self.required("delivery.email", "host", raw.host, table_span);
        EmailProvider::Smtp {
            host,
            port: raw.port.map_or(DEFAULT_SMTP_PORT, |p| p.into_inner()),
            username_env: raw.username_env.map(|v| v.into_inner()),
            password_env: raw.password_env.map(|v| v.into_inner()),
        }
    }

    fn sms_provider(&mut self, raw: S<RawSms>) -> SmsProvider {
        let table_span = span_of(&raw);
        let raw = raw.into_inner();
        if !self.provider_kind(&raw.provider, "sms", &["log", "twilio"]) {
            return SmsProvider::Log;
        }
        if raw.provider.get_ref() == "log" {
            self.not_for("log", "url", raw.url.as_ref().map(span_of));
            self.not_for("log", "account_env", raw.account_env.as_ref().map(span_of));
            self.not_for("log", "token_env", raw.token_env.as_ref().map(span_of));
            self.not_for("log", "from", raw.from.as_ref().map(span_of));
            return SmsProvider::Log;
        }
        let table = "delivery.sms";
        SmsProvider::Twilio {
            url: raw
                .url
                .map_or_else(|| DEFAULT_TWILIO_URL.to_string(), |u| u.into_inner()),
            account_env: self.required(table, "account_env", raw.account_env, table_span),
            token_env: self.required(table, "token_env", raw.token_env, table_span),
            from: self.required(table, "from", raw.from, table_span),
        }
    }

    fn push_provider(&mut self, raw: S<RawPush>) -> PushProvider {
        let table_span = span_of(&raw);
        let raw = raw.into_inner();
        if !self.provider_kind(&raw.provider, "push", &["log", "webhook"]) {
            return PushProvider::Log;
        }
        if raw.provider.get_ref() == "log" {
            self.not_for("log", "url", raw.url.as_ref().map(span_of));
            self.not_for("log", "token_env", raw.token_env.as_ref().map(span_of));
            return PushProvider::Log;
        }
        PushProvider::Webhook {
            url: self.required("delivery.push", "url", raw.url, table_span),
            token_env: raw.token_env.map(|v| v.into_inner()),
        }
    }

    fn policy(&mut self, raw: RawPolicy) -> Vec<PolicyRule> {
        let mut rules = Vec::new();
        if let Some(when) = raw.when_capped {
            let span = span_of(&when);
            let action = match when.get_ref().as_str() {
                "skip" => Some(ast::CappedAction::Skip),
                "defer" => Some(ast::CappedAction::Defer),
                other => {
                    let help = match did_you_mean(other, ["skip", "defer"]) {
                        Some(s) => format!("did you mean \"{s}\"?"),
                        None => "use \"skip\" or \"defer\"".to_string(),
                    };
                    self.error(
                        span,
                        format!("`when_capped` must be \"skip\" or \"defer\", not \"{other}\""),
                        help,
                    );
                    None
                }
            };
            if let Some(action) = action {
                rules.push(PolicyRule {
                    kind: PolicyRuleKind::WhenCapped(action, span),
                    span,
                });
            }
        }
        if let Some(tz) = raw.default_timezone {
            let span = span_of(&tz);
            if let Some(name) = self.timezone(tz) {
                rules.push(PolicyRule {
                    kind: PolicyRuleKind::DefaultTimezone(name),
                    span,
                });
            }
        }
        if let Some(keep) = raw.keep_history {
            let span = span_of(&keep);
            if let Some(secs) = self.duration(keep.get_ref(), span) {
                rules.push(PolicyRule {
                    kind: PolicyRuleKind::KeepHistory(duration_expr(secs, span)),
                    span,
                });
            }
        }
        if let Some(freq) = raw.frequency {
            for (channel, caps) in [
                (Channel::Email, freq.email),
                (Channel::Sms, freq.sms),
                (Channel::Push, freq.push),
            ] {
                let Some(caps) = caps else { continue };
                let span = span_of(&caps);
                let caps = caps
                    .into_inner()
                    .into_iter()
                    .filter_map(|cap| self.frequency_cap(cap))
                    .collect();
                rules.push(PolicyRule {
                    kind: PolicyRuleKind::Frequency { channel, caps },
                    span,
                });
            }
        }
        if let Some(quiet) = raw.quiet_hours {
            for (channel, window) in [
                (None, quiet.all),
                (Some(Channel::Email), quiet.email),
                (Some(Channel::Sms), quiet.sms),
                (Some(Channel::Push), quiet.push),
            ] {
                let Some(window) = window else { continue };
                let span = span_of(&window);
                if let Some((from, to)) = self.quiet_window(window.get_ref(), span) {
                    rules.push(PolicyRule {
                        kind: PolicyRuleKind::QuietHours { channel, from, to },
                        span,
                    });
                }
            }
        }
        rules
    }

    fn duration(&mut self, text: &str, span: Span) -> Option<i64> {
        match parse_duration(text) {
            Some(secs) if secs <= 0 => {
                self.non_positive(text, span);
                None
            }
            Some(secs) => Some(secs),
            None => {
                self.error(
                    span,
                    format!("\"{text}\" is not a duration"),
                    "write a duration like \"30m\", \"1d\", \"1h30m\" or \"2w\"",
                );
                None
            }
        }
    }

    fn non_positive(&mut self, text: &str, span: Span) {
        self.diagnostics.push(
            Diagnostic::new(
                Code::NonPositiveDuration,
                self.file,
                span,
                format!("the duration in \"{text}\" is not positive"),
            )
            .with_help("use a duration greater than zero"),
        );
    }

    /// `"1 per 1d"`
    fn frequency_cap(&mut self, cap: S<String>) -> Option<ast::FrequencyCap> {
        let span = span_of(&cap);
        let text = cap.get_ref().trim();
        let parsed = text.split_once(" per ").and_then(|(count, window)| {
            let count: i64 = count.trim().parse().ok()?;
            let window = parse_duration(window.trim())?;
            Some((count, window))
        });
        match parsed {
            Some((_, window)) if window <= 0 => {
                self.non_positive(text, span);
                None
            }
            Some((count, window)) => Some(ast::FrequencyCap {
                count: ast::Spanned::new(count, span),
                window: duration_expr(window, span),
                span,
            }),
            None => {
                self.error(
                    span,
                    format!("\"{text}\" is not a frequency cap"),
                    "write a cap as \"COUNT per DURATION\", e.g. \"1 per 1d\"",
                );
                None
            }
        }
    }

    /// `"21:00 to 09:00"` (an optional trailing `local` is accepted).
    fn quiet_window(&mut self, text: &str, span: Span) -> Option<(ast::TimeOfDay, ast::TimeOfDay)> {
        let parsed = text.split_once(" to ").and_then(|(from, to)| {
            let to = to.trim();
            let to = to.strip_suffix("local").map_or(to, str::trim_end);
            let time = |s: &str, local: bool| {
                parse_time_of_day(s.trim()).map(|(hour, minute)| ast::TimeOfDay {
                    hour,
                    minute,
                    local,
                    span,
                })
            };
            Some((time(from, false)?, time(to, true)?))
        });
        if parsed.is_none() {
            self.error(
                span,
                format!("\"{text}\" is not a quiet-hours window"),
                "write quiet hours as \"HH:MM to HH:MM\", e.g. \"21:00 to 09:00\"",
            );
        }
        parsed
    }
}

fn duration_expr(secs: i64, span: Span) -> Expr {
    Expr {
        kind: ExprKind::Lit(Lit::Duration(secs)),
        span,
    }
}

/// `30s`, `1h30m`, `2w`: see `nudge_bytecode::parse_duration`.
pub use nudge_bytecode::parse_duration;

/// Parses `HH:MM` (24-hour clock).
pub fn parse_time_of_day(text: &str) -> Option<(u8, u8)> {
    let (h, m) = text.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let hour: u8 = h.parse().ok()?;
    let minute: u8 = m.parse().ok()?;
    (hour < 24 && minute < 60).then_some((hour, minute))
}

/// E0110 unless `name` is a timezone of the IANA database (as bundled with
/// jiff), with a "did you mean" over the known names. Used for the
/// manifest and for `default timezone "..."` in `policy { }` blocks.
pub fn check_timezone(name: &ast::Name, file: FileId) -> Option<Diagnostic> {
    if jiff::tz::TimeZone::get(&name.value).is_ok() {
        return None;
    }
    let known: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_string())
        .collect();
    let suggestion = did_you_mean(&name.value, known.iter().map(String::as_str));
    let help = match suggestion {
        Some(s) => format!("did you mean \"{s}\"?"),
        None => "use an IANA timezone name such as \"Europe/Istanbul\" or \"America/New_York\""
            .to_string(),
    };
    Some(
        Diagnostic::new(
            Code::UnknownTimezone,
            file,
            name.span,
            format!("unknown timezone \"{}\"", name.value),
        )
        .with_help(help),
    )
}

/// Turns a TOML syntax or shape error into E0008, adding "did you mean" for
/// unknown keys.
fn toml_error(err: &toml::de::Error, file: FileId, text: &str) -> Diagnostic {
    let span = err
        .span()
        .map(Span::from)
        .unwrap_or_else(|| Span::from(0..text.len().min(1)));
    let message = err.message().trim().replace('\n', " ");
    let help = unknown_field_help(&message)
        .unwrap_or_else(|| "fix the TOML here; the manifest's keys are listed in docs".to_string());
    Diagnostic::new(Code::InvalidManifest, file, span, message).with_help(help)
}

/// serde reports unknown keys as "unknown field `nmae`, expected one of
/// `name`, `timezone`" (or "expected `name`"): suggest the closest.
fn unknown_field_help(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (unknown, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match did_you_mean(unknown, candidates.iter().copied()) {
        Some(s) => Some(format!("did you mean `{s}`?")),
        None if !candidates.is_empty() => Some(format!(
            "allowed keys here: {}",
            candidates
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[project]
name = "acme"
timezone = "America/New_York"

[shop]
name = "Acme"
url = "https://acme.example"
address = "1 Main St, Springfield"
from_email = "hello@acme.example"
from_name = "Acme"

[delivery.email]
provider = "smtp"
host = "smtp.example.com"
username_env = "SMTP_USER"
password_env = "SMTP_PASS"

[delivery.sms]
provider = "twilio"
account_env = "TW_SID"
token_env = "TW_TOKEN"
from = "+15550100"

[delivery.push]
provider = "webhook"
url = "https://push.example/send"

[policy]
when_capped = "defer"
keep_history = "400d"
frequency.email = ["1 per 1d", "4 per 7d"]
quiet_hours.sms = "21:00 to 09:00"
"#;

    fn parse(text: &str) -> (Manifest, Vec<Diagnostic>) {
        Manifest::parse(text, FileId(7))
    }

    fn codes(diags: &[Diagnostic]) -> Vec<&'static str> {
        diags.iter().map(|d| d.code.as_str()).collect()
    }

    #[test]
    fn full_manifest_parses_clean() {
        let (m, diags) = parse(FULL);
        assert!(diags.is_empty(), "{diags:#?}");
        assert_eq!(m.project.name, "acme");
        assert_eq!(m.default_timezone(), Some("America/New_York"));
        assert_eq!(m.shop.address.as_deref(), Some("1 Main St, Springfield"));
        assert_eq!(
            m.delivery.email,
            EmailProvider::Smtp {
                host: "smtp.example.com".into(),
                port: 587,
                username_env: Some("SMTP_USER".into()),
                password_env: Some("SMTP_PASS".into()),
            }
        );
        assert!(
            matches!(m.delivery.sms, SmsProvider::Twilio { ref url, .. } if url == DEFAULT_TWILIO_URL)
        );
        assert!(matches!(m.delivery.push, PushProvider::Webhook { .. }));
        assert_eq!(m.policy.len(), 4);
        let caps = m.policy.iter().find_map(|r| match &r.kind {
            PolicyRuleKind::Frequency { channel, caps } => Some((*channel, caps.len())),
            _ => None,
        });
        assert_eq!(caps, Some((Channel::Email, 2)));
    }

    #[test]
    fn default_manifest_is_log_only() {
        let m = Manifest::default();
        assert_eq!(m.file, None);
        assert_eq!(m.delivery.email, EmailProvider::Log);
        assert!(m.policy.is_empty());
    }

    #[test]
    fn syntax_error_points_into_the_toml() {
        let text = "[project]\nname = \"a\"\ntimezone = \n";
        let (_, diags) = parse(text);
        assert_eq!(codes(&diags), ["E0008"]);
        let span = diags[0].primary.span;
        assert!(span.start as usize >= text.find("timezone").unwrap_or(0));
    }

    #[test]
    fn unknown_key_gets_did_you_mean() {
        let text = "[project]\nname = \"a\"\ntimezon = \"UTC\"\n";
        let (_, diags) = parse(text);
        assert_eq!(codes(&diags), ["E0008"]);
        assert!(diags[0].message.contains("timezon"), "{}", diags[0].message);
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `timezone`?"));
        let span = diags[0].primary.span.range();
        assert_eq!(text.get(span), Some("timezon"));
    }

    #[test]
    fn unknown_table_gets_did_you_mean() {
        let (_, diags) = parse("[project]\nname = \"a\"\n[polcy]\n");
        assert_eq!(codes(&diags), ["E0008"]);
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `policy`?"));
    }

    #[test]
    fn unknown_timezone_is_e0110_with_suggestion() {
        let text = "[project]\nname = \"a\"\ntimezone = \"Europe/Istambul\"\n";
        let (m, diags) = parse(text);
        assert_eq!(codes(&diags), ["E0110"]);
        assert_eq!(
            diags[0].help.as_deref(),
            Some("did you mean \"Europe/Istanbul\"?")
        );
        assert_eq!(
            text.get(diags[0].primary.span.range()),
            Some("\"Europe/Istambul\"")
        );
        assert_eq!(m.project.timezone, None);
    }

    #[test]
    fn missing_project_name_and_provider_fields() {
        let text = "[project]\n[delivery.sms]\nprovider = \"twilio\"\nfrom = \"+1\"\n";
        let (_, diags) = parse(text);
        let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(codes(&diags), ["E0008", "E0008", "E0008"], "{messages:?}");
        assert!(messages[0].contains("no `name`"));
        assert!(messages[1].contains("account_env"));
        assert!(messages[2].contains("token_env"));
    }

    #[test]
    fn bad_provider_and_policy_values() {
        let text = r#"
[project]
name = "a"
[delivery.email]
provider = "smpt"
[policy]
when_capped = "skp"
keep_history = "forever"
frequency.sms = ["1 per 1d", "lots"]
quiet_hours.all = "9pm to 9am"
"#;
        let (m, diags) = parse(text);
        assert_eq!(codes(&diags), ["E0008"; 5]);
        assert_eq!(diags[0].help.as_deref(), Some("did you mean \"smtp\"?"));
        assert_eq!(diags[1].help.as_deref(), Some("did you mean \"skip\"?"));
        assert!(diags[3].message.contains("\"lots\""));
        // the good cap survives
        let caps = m.policy.iter().find_map(|r| match &r.kind {
            PolicyRuleKind::Frequency { caps, .. } => Some(caps.len()),
            _ => None,
        });
        assert_eq!(caps, Some(1));
    }

    #[test]
    fn shop_addresses_are_validated() {
        let text = "[project]\nname = \"a\"\n[shop]\nurl = \"acme.example\"\nfrom_email = \"hello at acme\"\nreply_to = \"help@acme.example\"\n";
        let (m, diags) = parse(text);
        assert_eq!(codes(&diags), ["E0008", "E0008"]);
        assert_eq!(
            text.get(diags[0].primary.span.range()),
            Some("\"acme.example\"")
        );
        assert!(diags[1].message.contains("email address"));
        assert_eq!(m.shop.reply_to.as_deref(), Some("help@acme.example"));
        assert_eq!(m.shop.url, None);
        // SMTP needs a sender
        let text = "[project]\nname = \"a\"\n[delivery.email]\nprovider = \"smtp\"\nhost = \"h\"\n";
        let (_, diags) = parse(text);
        assert_eq!(codes(&diags), ["E0008"]);
        assert!(diags[0].message.contains("from_email"));
        assert_eq!(text.get(diags[0].primary.span.range()), Some("\"smtp\""));
    }

    #[test]
    fn log_provider_rejects_foreign_keys() {
        let text = "[project]\nname = \"a\"\n[delivery.email]\nprovider = \"log\"\nhost = \"x\"\n";
        let (_, diags) = parse(text);
        assert_eq!(codes(&diags), ["E0008"]);
        assert!(diags[0].message.contains("`host`"));
    }

    #[test]
    fn durations_and_times() {
        let (_, diags) = parse(
            "[project]\nname = \"a\"\n[policy]\nkeep_history = \"0d\"\nfrequency.sms = [\"1 per -1d\"]\n",
        );
        assert_eq!(codes(&diags), ["E0303", "E0303"]);
        assert_eq!(parse_duration("30s"), Some(30));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("2w"), Some(1_209_600));
        assert_eq!(parse_duration("-1d"), Some(-86_400));
        assert_eq!(parse_duration("1"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("99999999999999999999d"), None);
        assert_eq!(parse_time_of_day("09:00"), Some((9, 0)));
        assert_eq!(parse_time_of_day("24:00"), None);
        assert_eq!(parse_time_of_day("9:5"), None);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any text, and any damage to a valid manifest, gives a
            /// manifest and diagnostics, never a panic; every span lies
            /// inside the text.
            #[test]
            fn parse_never_panics(text in "\\PC{0,200}") {
                let (_, diags) = Manifest::parse(&text, FileId(0));
                for d in diags {
                    prop_assert!(d.primary.span.end as usize <= text.len());
                }
            }

            #[test]
            fn damaged_manifest_never_panics(cut in 0usize..900, insert in "[\\[\\]=\"a-z0-9 .\n]{0,8}") {
                let mut text = FULL.to_string();
                let at = (0..=cut.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                text.insert_str(at, &insert);
                let (_, diags) = Manifest::parse(&text, FileId(0));
                for d in diags {
                    prop_assert!(d.primary.span.end as usize <= text.len());
                }
            }
        }
    }
}
