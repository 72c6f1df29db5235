//! The routing document (YAML or JSON), validated once at cold start.

use crate::secrets::SecretRef;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutesDoc {
    pub receivers: Vec<ReceiverDoc>,
    pub route: RouteDoc,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverDoc {
    pub name: String,
    #[serde(default)]
    pub slack: Option<SlackDoc>,
    #[serde(default)]
    pub pagerduty: Option<PagerDutyDoc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackDoc {
    /// A secret reference: the webhook URL is a credential.
    pub webhook_url: SecretRef,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyDoc {
    pub routing_key: SecretRef,
    /// Events API URL; the default is PagerDuty's. Overridden for local receivers.
    #[serde(default)]
    pub events_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDoc {
    #[serde(default, rename = "match")]
    pub matchers: MatchDoc,
    #[serde(default)]
    pub receivers: Option<Vec<String>>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    #[serde(default)]
    pub routes: Vec<RouteDoc>,
    /// Endpoint updates this rule asks for on ALARM (not inherited by children: an action is
    /// never a surprise). The remediation function applies every guardrail again.
    #[serde(default)]
    pub remediate: Option<RemediateDoc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediateDoc {
    /// `scale-out`, `enable-enhanced-metrics`.
    pub actions: OneOrMany,
    /// For `enable-enhanced-metrics`; 10 s when absent.
    #[serde(default)]
    pub frequency_s: Option<i32>,
    #[serde(default)]
    pub dry_run: bool,
}

/// Every key present must match (AND); a list inside a key is any-of.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchDoc {
    #[serde(default)]
    pub alarm_name: OneOrMany,
    #[serde(default)]
    pub alarm_name_regex: OneOrMany,
    #[serde(default)]
    pub endpoint: OneOrMany,
    #[serde(default)]
    pub namespace: OneOrMany,
    #[serde(default)]
    pub state: OneOrMany,
    #[serde(default)]
    pub account: OneOrMany,
    #[serde(default)]
    pub region: OneOrMany,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "OneOrManyRaw")]
pub struct OneOrMany(pub Vec<String>);

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrManyRaw {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrManyRaw> for OneOrMany {
    fn from(r: OneOrManyRaw) -> Self {
        match r {
            OneOrManyRaw::One(s) => Self(vec![s]),
            OneOrManyRaw::Many(v) => Self(v),
        }
    }
}
