//! The routing document (YAML or JSON), validated once at cold start. The same types give the
//! document's JSON Schema (`sagealarm schema`, written by the deliver stage's `schema` module): doc comments become
//! descriptions, and every list of accepted values comes from the constant the parser checks
//! against ([`schema`]).

use serde::Deserialize;

/// A sagealarm routing document: the receivers (where alarms can go) and the route tree (which
/// alarms go where, how loud).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "sagealarm routing document")]
pub struct RoutesDoc {
    /// Every destination an alarm can be delivered to, each with a unique name.
    #[schemars(length(min = 1))]
    pub receivers: Vec<ReceiverDoc>,
    /// The root route: the default for every alarm no child route takes.
    pub route: RouteDoc,
}

/// A receiver: its name, and its destination's settings under the destination's key
/// (`slack: {webhook_url: …}`), left for that destination to read.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[schemars(transform = schema::receiver)]
pub struct ReceiverDoc {
    /// How routes name this receiver; unique.
    #[schemars(length(min = 1))]
    pub name: String,
    #[serde(flatten)]
    #[schemars(skip)]
    pub destination: serde_yaml_ng::Mapping,
}

/// A route: which alarms it takes (`match`), where they go and how loud; its children are tried in
/// order, the first that matches wins unless it says `continue: true`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteDoc {
    /// Every key present must match (AND); a list inside a key is any-of. No `match`: every alarm.
    #[serde(default, rename = "match")]
    pub matchers: MatchDoc,
    /// Receiver names; inherited from the parent route when absent. The root route needs one.
    #[serde(default)]
    pub receivers: Option<Vec<String>>,
    /// `critical`, `error`, `warning` or `info`; inherited, `error` at the root by default.
    #[serde(default)]
    #[schemars(schema_with = "schema::severity")]
    pub severity: Option<String>,
    /// After this route matches, later siblings are tried too.
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    /// Child routes, tried in order.
    #[serde(default)]
    pub routes: Vec<RouteDoc>,
    /// Endpoint updates this rule asks for on ALARM (not inherited by children: an action is
    /// never a surprise). The remediation function applies every guardrail again.
    #[serde(default)]
    pub remediate: Option<RemediateDoc>,
    /// Alarms that share one Slack parent message (inherited by children; `by: []` turns it off).
    #[serde(default)]
    pub group: Option<GroupDoc>,
    /// Links every message of this route carries (a runbook, a dashboard): `{alarm}`,
    /// `{endpoint}` and `{region}` in a URL become the alarm's values, URL-encoded. Inherited.
    #[serde(default)]
    pub links: Option<Vec<LinkDoc>>,
    /// Who is mentioned when the alarm goes to ALARM: Slack user IDs (`U0123ABCD`) or user
    /// groups (`<!subteam^S0123ABCD>`); never on OK, updates or thread replies. Inherited.
    #[serde(default)]
    #[schemars(schema_with = "schema::mentions")]
    pub mention: Option<Vec<String>>,
    /// A muted alarm (an alarm mute rule silences its actions) still goes to this route's chat
    /// receivers, marked as muted; never to PagerDuty. Off by default: a muted alarm pages nobody.
    /// Inherited by children.
    #[serde(default)]
    pub deliver_muted: Option<bool>,
}

/// A link button's text at most (Slack's button text limit).
pub const LINK_TEXT_MAX: usize = 75;

/// A link a route adds to its messages.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkDoc {
    /// What the button or link says (`Runbook`).
    #[schemars(length(min = 1, max = LINK_TEXT_MAX))]
    pub text: String,
    /// `https://…`, with `{alarm}`, `{endpoint}`, `{region}` placeholders.
    #[schemars(regex(pattern = r"^https?://"))]
    pub url: String,
}

/// Alarms that share one Slack parent message at Slack app receivers.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupDoc {
    /// What alarms are grouped by: `endpoint`, `alarm`, `account`, `region`, `namespace`; `[]`
    /// turns grouping off below a route that groups.
    #[schemars(schema_with = "schema::group_by")]
    pub by: OneOrMany,
    /// How long a resolved group still takes new alarms, seconds (default 1800).
    #[serde(default)]
    #[schemars(schema_with = "schema::window_s")]
    pub window_s: Option<u64>,
}

/// Endpoint updates this route asks for on ALARM; the remediation function applies every guardrail.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemediateDoc {
    /// `scale-out`, `enable-enhanced-metrics`.
    #[schemars(schema_with = "schema::actions")]
    pub actions: OneOrMany,
    /// For `enable-enhanced-metrics`: the publish frequency, seconds; 10 when absent.
    #[serde(default)]
    #[schemars(schema_with = "schema::frequency_s")]
    pub frequency_s: Option<i32>,
    /// Decide and report, but change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Every key present must match (AND); a list inside a key is any-of.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchDoc {
    /// Glob(s) on the alarm's name (`*-latency-*`).
    #[serde(default)]
    pub alarm_name: OneOrMany,
    /// Regular expression(s) the whole alarm name matches.
    #[serde(default)]
    pub alarm_name_regex: OneOrMany,
    /// Glob(s) on the SageMaker endpoint the alarm is about.
    #[serde(default)]
    pub endpoint: OneOrMany,
    /// Glob(s) on the metric's namespace (`AWS/SageMaker`).
    #[serde(default)]
    pub namespace: OneOrMany,
    /// `ALARM`, `OK`, `INSUFFICIENT_DATA`.
    #[serde(default)]
    #[schemars(schema_with = "schema::states")]
    pub state: OneOrMany,
    /// Glob(s) on the AWS account id.
    #[serde(default)]
    pub account: OneOrMany,
    /// Glob(s) on the region code (`us-east-1`).
    #[serde(default)]
    pub region: OneOrMany,
    /// Alarm tags: a glob per key (`team: "search-*"`); every key given must match.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// One string or a list of strings.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(from = "OneOrManyRaw")]
#[schemars(with = "schema::OneOrManyOf<String>")]
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

/// The schema of what the parser accepts, from the constants it checks against.
pub mod schema {
    use crate::model::{AlarmState, Severity, FREQUENCIES_S};
    use crate::route::group::{GroupBy, WINDOW_S};
    use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

    /// One value or a list of them.
    #[derive(JsonSchema)]
    #[serde(untagged)]
    #[allow(dead_code)]
    pub enum OneOrManyOf<T> {
        One(T),
        Many(Vec<T>),
    }

    fn one_or_many(values: Vec<String>) -> Schema {
        json_schema!({ "anyOf": [ { "enum": values }, { "type": "array", "items": { "enum": values } } ] })
    }

    pub fn states(_: &mut SchemaGenerator) -> Schema {
        one_or_many(AlarmState::ALL.iter().map(|s| s.as_str().to_string()).collect())
    }

    pub fn severity(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "enum": Severity::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>() })
    }

    pub fn group_by(_: &mut SchemaGenerator) -> Schema {
        one_or_many(GroupBy::names().iter().map(|s| s.to_string()).collect())
    }

    pub fn window_s(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "minimum": WINDOW_S.start(), "maximum": WINDOW_S.end() })
    }

    pub fn actions(_: &mut SchemaGenerator) -> Schema {
        one_or_many(["scale-out", "enable-enhanced-metrics"].iter().map(|s| s.to_string()).collect())
    }

    pub fn mentions(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "array", "items": { "type": "string", "pattern": crate::route::MENTION } })
    }

    pub fn frequency_s(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "enum": FREQUENCIES_S })
    }

    /// A receiver's own keys; each destination's key is added by `deliver::schema`.
    pub fn receiver(schema: &mut Schema) {
        if let Some(o) = schema.as_object_mut() {
            o.insert("additionalProperties".into(), false.into());
        }
    }
}
