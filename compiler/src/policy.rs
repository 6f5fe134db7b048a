//! The project's effective policy: frequency caps, quiet hours, what to do
//! when capped, the default timezone and how much event history to keep,
//! merged from `[policy]` in `nudge.toml` and every `policy { }` block.
//!
//! Each rule may be given in one place only: the same rule twice (say
//! `frequency email` in `nudge.toml` and in a `policy { }` block, or
//! `default timezone` in two blocks) is E0308 with both places shown; the
//! first one (manifest first, then files in project order) is kept.
//! `[project] timezone` and `default timezone` are the same rule.
//!
//! Quiet hours without a channel apply to every channel that has none of
//! its own. [`Policy`] is plain data (serde) so lowering can put it in the
//! bundle as is.

use crate::ast::{self, Channel, PolicyRule, PolicyRuleKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::{Manifest, check_timezone};
use crate::rules::const_duration;
use crate::span::{FileId, Span};
use serde::{Deserialize, Serialize};

/// The default for `keep history`: a little over a year, so "in the last
/// 365 days" aggregates work.
pub const DEFAULT_KEEP_HISTORY_SECS: i64 = 400 * 86_400;
pub const DEFAULT_TIMEZONE: &str = "UTC";

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Policy {
    pub email: ChannelPolicy,
    pub sms: ChannelPolicy,
    pub push: ChannelPolicy,
    pub when_capped: WhenCapped,
    /// IANA name; profiles without a `timezone` trait use it.
    pub default_timezone: String,
    /// Seconds of event history the runtime keeps for aggregates.
    pub keep_history_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct ChannelPolicy {
    /// Marketing sends allowed per window, across all flows.
    pub caps: Vec<FrequencyCap>,
    pub quiet_hours: Option<QuietHours>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FrequencyCap {
    pub count: u32,
    pub window_secs: i64,
}

/// A daily window in the profile's local time, `from` inclusive, `to`
/// exclusive, in minutes after midnight. `from > to` wraps past midnight
/// (`21:00 to 09:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QuietHours {
    pub from_minute: u16,
    pub to_minute: u16,
}

impl QuietHours {
    /// True if the local time `minute` (after midnight) is inside the window.
    pub fn contains(self, minute: u16) -> bool {
        if self.from_minute <= self.to_minute {
            (self.from_minute..self.to_minute).contains(&minute)
        } else {
            minute >= self.from_minute || minute < self.to_minute
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum WhenCapped {
    /// Drop the send (recorded with its reason).
    #[default]
    Skip,
    /// Send when the cap allows again.
    Defer,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            email: ChannelPolicy::default(),
            sms: ChannelPolicy::default(),
            push: ChannelPolicy::default(),
            when_capped: WhenCapped::Skip,
            default_timezone: DEFAULT_TIMEZONE.to_string(),
            keep_history_secs: DEFAULT_KEEP_HISTORY_SECS,
        }
    }
}

impl Policy {
    pub fn channel(&self, channel: Channel) -> &ChannelPolicy {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
            Channel::Push => &self.push,
        }
    }

    fn channel_mut(&mut self, channel: Channel) -> &mut ChannelPolicy {
        match channel {
            Channel::Email => &mut self.email,
            Channel::Sms => &mut self.sms,
            Channel::Push => &mut self.push,
        }
    }

    /// Merges the manifest's `[policy]` with the `policy { }` blocks of the
    /// given files (in this order).
    pub fn collect_files(
        manifest: &Manifest,
        files: &[(FileId, &ast::File)],
    ) -> (Policy, Vec<Diagnostic>) {
        let blocks = files.iter().flat_map(|(file, ast)| {
            ast.items.iter().filter_map(move |item| match item {
                ast::Item::Policy(p) => Some((*file, p)),
                _ => None,
            })
        });
        Policy::collect_blocks(manifest, blocks)
    }

    /// Merges the manifest's `[policy]` with `policy { }` blocks.
    pub fn collect_blocks<'a>(
        manifest: &Manifest,
        blocks: impl IntoIterator<Item = (FileId, &'a ast::PolicyDecl)>,
    ) -> (Policy, Vec<Diagnostic>) {
        let mut merger = Merger::default();
        let manifest_file = manifest.file.unwrap_or_default();
        if let Some(tz) = &manifest.project.timezone {
            merger.claim(RuleKey::DefaultTimezone, manifest_file, tz.span);
            merger.policy.default_timezone = tz.value.clone();
        }
        for rule in &manifest.policy {
            // The manifest already validated its own values.
            merger.rule(manifest_file, rule, false);
        }
        for (file, block) in blocks {
            for rule in &block.rules {
                merger.rule(file, rule, true);
            }
        }
        merger.finish()
    }
}

/// Which rule a policy line sets, for duplicate detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleKey {
    Frequency(Channel),
    QuietHours(Option<Channel>),
    WhenCapped,
    DefaultTimezone,
    KeepHistory,
}

impl RuleKey {
    fn describe(self) -> String {
        match self {
            RuleKey::Frequency(c) => format!("frequency {}", c.as_str()),
            RuleKey::QuietHours(Some(c)) => format!("quiet hours {}", c.as_str()),
            RuleKey::QuietHours(None) => "quiet hours".to_string(),
            RuleKey::WhenCapped => "when capped".to_string(),
            RuleKey::DefaultTimezone => "default timezone".to_string(),
            RuleKey::KeepHistory => "keep history".to_string(),
        }
    }
}

#[derive(Default)]
struct Merger {
    policy: Policy,
    seen: Vec<(RuleKey, FileId, Span)>,
    /// Quiet hours for all channels, applied at the end to channels without their own.
    quiet_all: Option<QuietHours>,
    diagnostics: Vec<Diagnostic>,
}

impl Merger {
    /// Records that `key` is set at `span`; false (and E0308) if it was already.
    fn claim(&mut self, key: RuleKey, file: FileId, span: Span) -> bool {
        if let Some(&(_, first_file, first_span)) = self.seen.iter().find(|(k, _, _)| *k == key) {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::DuplicateSetting,
                    file,
                    span,
                    format!("the policy `{}` is set twice", key.describe()),
                )
                .with_label("set again here")
                .with_secondary(first_file, first_span, "first set here")
                .with_help("keep one of them; each policy rule may be given in one place only"),
            );
            return false;
        }
        self.seen.push((key, file, span));
        true
    }

    fn rule(&mut self, file: FileId, rule: &PolicyRule, from_flow: bool) {
        match &rule.kind {
            PolicyRuleKind::Frequency { channel, caps } => {
                if !self.claim(RuleKey::Frequency(*channel), file, rule.span) {
                    return;
                }
                let caps = caps
                    .iter()
                    .filter_map(|cap| {
                        // Non-positive windows are E0303 (rules); skip them here.
                        let window_secs = const_duration(&cap.window).filter(|w| *w > 0)?;
                        let count = u32::try_from(cap.count.node.max(0)).unwrap_or(u32::MAX);
                        Some(FrequencyCap { count, window_secs })
                    })
                    .collect();
                self.policy.channel_mut(*channel).caps = caps;
            }
            PolicyRuleKind::QuietHours { channel, from, to } => {
                if !self.claim(RuleKey::QuietHours(*channel), file, rule.span) {
                    return;
                }
                let window = QuietHours {
                    from_minute: u16::from(from.hour) * 60 + u16::from(from.minute),
                    to_minute: u16::from(to.hour) * 60 + u16::from(to.minute),
                };
                match channel {
                    Some(c) => self.policy.channel_mut(*c).quiet_hours = Some(window),
                    None => self.quiet_all = Some(window),
                }
            }
            PolicyRuleKind::WhenCapped(action, _) => {
                if self.claim(RuleKey::WhenCapped, file, rule.span) {
                    self.policy.when_capped = match action {
                        ast::CappedAction::Skip => WhenCapped::Skip,
                        ast::CappedAction::Defer => WhenCapped::Defer,
                    };
                }
            }
            PolicyRuleKind::DefaultTimezone(name) => {
                if from_flow && let Some(d) = check_timezone(name, file) {
                    self.diagnostics.push(d);
                    return;
                }
                if self.claim(RuleKey::DefaultTimezone, file, rule.span) {
                    self.policy.default_timezone = name.value.clone();
                }
            }
            PolicyRuleKind::KeepHistory(expr) => {
                if self.claim(RuleKey::KeepHistory, file, rule.span)
                    && let Some(secs) = const_duration(expr).filter(|s| *s > 0)
                {
                    self.policy.keep_history_secs = secs;
                }
            }
            PolicyRuleKind::Error => {}
        }
    }

    fn finish(mut self) -> (Policy, Vec<Diagnostic>) {
        if let Some(all) = self.quiet_all {
            for c in [Channel::Email, Channel::Sms, Channel::Push] {
                let channel = self.policy.channel_mut(c);
                channel.quiet_hours.get_or_insert(all);
            }
        }
        (self.policy, self.diagnostics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{Expr, ExprKind, FrequencyCap as AstCap, Lit, Spanned, TimeOfDay};

    fn dur(secs: i64, at: u32) -> Expr {
        Expr {
            kind: ExprKind::Lit(Lit::Duration(secs)),
            span: Span::new(at, at + 2),
        }
    }

    fn rule(kind: PolicyRuleKind, at: u32) -> PolicyRule {
        PolicyRule {
            kind,
            span: Span::new(at, at + 10),
        }
    }

    fn freq(channel: Channel, caps: &[(i64, i64)], at: u32) -> PolicyRule {
        let caps = caps
            .iter()
            .map(|&(count, secs)| AstCap {
                count: Spanned::new(count, Span::new(at, at + 1)),
                window: dur(secs, at),
                span: Span::new(at, at + 5),
            })
            .collect();
        rule(PolicyRuleKind::Frequency { channel, caps }, at)
    }

    fn time(hour: u8, minute: u8) -> TimeOfDay {
        TimeOfDay {
            hour,
            minute,
            local: true,
            span: Span::default(),
        }
    }

    fn block(rules: Vec<PolicyRule>) -> ast::File {
        ast::File {
            items: vec![ast::Item::Policy(ast::PolicyDecl {
                rules,
                span: Span::default(),
            })],
        }
    }

    #[test]
    fn defaults_without_rules() {
        let (p, d) = Policy::collect_files(&Manifest::default(), &[]);
        assert!(d.is_empty());
        assert_eq!(p, Policy::default());
        assert_eq!(p.keep_history_secs, 400 * 86_400);
        assert_eq!(p.default_timezone, "UTC");
    }

    #[test]
    fn merges_manifest_and_blocks() {
        let (manifest, d) = Manifest::parse(
            "[project]\nname = \"x\"\ntimezone = \"Europe/Istanbul\"\n[policy]\nfrequency.email = [\"1 per 1d\"]\nwhen_capped = \"defer\"\n",
            FileId(0),
        );
        assert!(d.is_empty(), "{d:#?}");
        let file = block(vec![
            freq(Channel::Sms, &[(1, 86_400), (3, 30 * 86_400)], 10),
            rule(
                PolicyRuleKind::QuietHours {
                    channel: None,
                    from: time(22, 0),
                    to: time(8, 0),
                },
                30,
            ),
            rule(
                PolicyRuleKind::QuietHours {
                    channel: Some(Channel::Sms),
                    from: time(21, 0),
                    to: time(9, 0),
                },
                50,
            ),
            rule(PolicyRuleKind::KeepHistory(dur(30 * 86_400, 70)), 70),
        ]);
        let (p, d) = Policy::collect_files(&manifest, &[(FileId(1), &file)]);
        assert!(d.is_empty(), "{d:#?}");
        assert_eq!(
            p.email.caps,
            [FrequencyCap {
                count: 1,
                window_secs: 86_400
            }]
        );
        assert_eq!(p.sms.caps.len(), 2);
        assert_eq!(p.when_capped, WhenCapped::Defer);
        assert_eq!(p.default_timezone, "Europe/Istanbul");
        assert_eq!(p.keep_history_secs, 30 * 86_400);
        // channel-specific quiet hours win over the all-channel window
        assert_eq!(p.sms.quiet_hours.map(|q| q.from_minute), Some(21 * 60));
        assert_eq!(p.email.quiet_hours.map(|q| q.from_minute), Some(22 * 60));
        assert_eq!(p.push.quiet_hours.map(|q| q.to_minute), Some(8 * 60));
    }

    #[test]
    fn same_rule_twice_is_reported_with_both_places() {
        let (manifest, _) = Manifest::parse(
            "[project]\nname = \"x\"\n[policy]\nfrequency.email = [\"1 per 1d\"]\n",
            FileId(0),
        );
        let a = block(vec![freq(Channel::Email, &[(2, 86_400)], 5)]);
        let b = block(vec![
            rule(
                PolicyRuleKind::DefaultTimezone(ast::Name {
                    value: "UTC".into(),
                    span: Span::new(1, 5),
                }),
                1,
            ),
            rule(
                PolicyRuleKind::DefaultTimezone(ast::Name {
                    value: "Europe/Paris".into(),
                    span: Span::new(20, 30),
                }),
                20,
            ),
        ]);
        let (p, d) = Policy::collect_files(&manifest, &[(FileId(1), &a), (FileId(2), &b)]);
        let codes: Vec<_> = d.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["E0308", "E0308"]);
        assert_eq!(d[0].primary.file, FileId(1));
        assert_eq!(d[0].secondary[0].file, FileId(0));
        assert!(d[0].message.contains("frequency email"));
        assert_eq!(d[1].primary.span, Span::new(20, 30));
        // the first one wins
        assert_eq!(p.email.caps[0].count, 1);
        assert_eq!(p.default_timezone, "UTC");
    }

    #[test]
    fn project_timezone_and_policy_timezone_are_one_rule() {
        let text = "[project]\nname = \"x\"\ntimezone = \"UTC\"\n[policy]\ndefault_timezone = \"Europe/Paris\"\n";
        let (manifest, d) = Manifest::parse(text, FileId(0));
        assert!(d.is_empty(), "{d:#?}");
        let (p, d) = Policy::collect_files(&manifest, &[]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, Code::DuplicateSetting);
        assert_eq!(
            text.get(d[0].primary.span.range()),
            Some("\"Europe/Paris\"")
        );
        assert_eq!(p.default_timezone, "UTC");
    }

    #[test]
    fn unknown_timezone_in_block() {
        let file = block(vec![rule(
            PolicyRuleKind::DefaultTimezone(ast::Name {
                value: "Mars/Olympus".into(),
                span: Span::new(3, 17),
            }),
            0,
        )]);
        let (p, d) = Policy::collect_files(&Manifest::default(), &[(FileId(1), &file)]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, Code::UnknownTimezone);
        assert_eq!(p.default_timezone, "UTC");
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let q = QuietHours {
            from_minute: 21 * 60,
            to_minute: 9 * 60,
        };
        assert!(q.contains(22 * 60));
        assert!(q.contains(0));
        assert!(q.contains(8 * 60 + 59));
        assert!(!q.contains(9 * 60));
        assert!(!q.contains(12 * 60));
        let day = QuietHours {
            from_minute: 12 * 60,
            to_minute: 13 * 60,
        };
        assert!(day.contains(12 * 60 + 30));
        assert!(!day.contains(13 * 60));
    }

    #[test]
    fn policy_round_trips_through_serde() {
        let p = Policy::default();
        let json = serde_json::to_string(&p).unwrap_or_default();
        let back: Option<Policy> = serde_json::from_str(&json).ok();
        assert_eq!(back, Some(p));
    }
}
