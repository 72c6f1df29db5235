//! The routing document (YAML or JSON), validated once at cold start.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutesDoc {
    pub receivers: Vec<ReceiverDoc>,
    pub route: RouteDoc,
}

/// A receiver: its name, and its destination's settings under the destination's key
/// (`slack: {webhook_url: …}`), left for that destination to read.
#[derive(Debug, Clone, Deserialize)]
pub struct ReceiverDoc {
    pub name: String,
    #[serde(flatten)]
    pub destination: serde_yaml_ng::Mapping,
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
    /// Alarms that share one Slack parent message (inherited by children; `by: []` turns it off).
    #[serde(default)]
    pub group: Option<GroupDoc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDoc {
    /// `endpoint`, `alarm`, `account`, `region`, `namespace`.
    pub by: OneOrMany,
    #[serde(default)]
    pub window_s: Option<u64>,
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
