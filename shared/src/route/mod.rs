//! Route: which receivers get an alarm, at which severity — an Alertmanager-style tree.
//!
//! The root route is the default. Children are tried in order; the first that matches wins,
//! unless it says `continue: true`, in which case later siblings are tried too. A node whose
//! children all miss delivers to its own receivers. Receivers and severity are inherited.

mod config;
pub mod group;

pub use config::RoutesDoc;
pub use group::{Group, GroupSpec};

use crate::model::text::one_line;
use crate::model::{check_frequency, Action, AlarmState, Severity};
use crate::report::Report;
use config::{MatchDoc, OneOrMany, RemediateDoc, RouteDoc};
use globset::{Glob, GlobMatcher};
use regex::Regex;
use std::collections::HashSet;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("routing document is not valid YAML/JSON: {0}")]
    Syntax(String),
    #[error("routing document: {path}: {message}")]
    Invalid { path: String, message: String },
    /// Every fault found, in document order (more than one).
    #[error("routing document: {} faults: {}", .0.len(), .0.iter().map(|e| e.to_string().trim_start_matches("routing document: ").to_string()).collect::<Vec<_>>().join("; "))]
    Many(Vec<ConfigError>),
}

impl ConfigError {
    /// One error from every fault found: itself when there is one.
    pub fn of(mut faults: Vec<ConfigError>) -> Option<Self> {
        match faults.len() {
            0 => None,
            1 => faults.pop(),
            _ => Some(Self::Many(faults.into_iter().flat_map(ConfigError::faults).collect())),
        }
    }

    /// Each fault on its own.
    pub fn faults(self) -> Vec<ConfigError> {
        match self {
            Self::Many(all) => all,
            one => vec![one],
        }
    }
}

/// Collects faults and goes on, so that a document's every fault is reported at once.
#[derive(Debug, Default)]
pub struct Faults(pub Vec<ConfigError>);

impl Faults {
    /// The value, or `None` with its fault kept.
    pub fn check<T>(&mut self, r: Result<T, ConfigError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.extend(e.faults());
                None
            }
        }
    }
}

/// A `ConfigError::Invalid` at `path` (also for the destinations, which check their own settings).
pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { path: path.into(), message: message.into() }
}

/// A receiver as the routing tree knows it: a name, and its destination's settings under one key
/// (`slack: {…}`), which only that destination reads (in the deliver stage, after routing).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiverSpec {
    pub name: String,
    /// Every key of the receiver but `name`: normally one, the destination kind.
    pub destination: serde_yaml_ng::Mapping,
    /// `receivers[2]`: where it is in the document, for error messages.
    pub path: String,
}

#[derive(Debug)]
struct Matcher {
    alarm_name: Vec<GlobMatcher>,
    alarm_name_regex: Vec<Regex>,
    endpoint: Vec<GlobMatcher>,
    namespace: Vec<GlobMatcher>,
    state: Vec<AlarmState>,
    account: Vec<GlobMatcher>,
    region: Vec<GlobMatcher>,
    /// Tag key → glob on its value; every one must match.
    tags: Vec<(String, GlobMatcher)>,
}

#[derive(Debug)]
struct Node {
    matcher: Matcher,
    receivers: Vec<usize>,
    severity: Severity,
    continue_: bool,
    children: Vec<Node>,
    remediate: Vec<RuleAction>,
    /// Inherited from the parent unless the route says its own.
    group: Option<GroupSpec>,
    /// Muted alarms still reach this route's chat receivers (inherited).
    deliver_muted: bool,
    /// Links and mentions (inherited).
    links: Vec<config::LinkDoc>,
    mention: Vec<String>,
}

/// A Slack mention a route may ask for: a user ID or a user group.
pub const MENTION: &str = r"^(U[A-Z0-9]{6,}|W[A-Z0-9]{6,}|<!subteam\^S[A-Z0-9]{6,}(\|[^<>]*)?>)$";

/// An endpoint update a matching rule asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleAction {
    pub action: Action,
    pub dry_run: bool,
    /// `route.routes[1]`: who asked, in every report of the decision.
    pub rule: String,
}

/// A validated routing tree.
#[derive(Debug)]
pub struct Routes {
    receivers: Vec<ReceiverSpec>,
    root: Node,
}

/// What the routing tree decided for one alarm, in one walk: who gets it and what the matching
/// rules ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed<'a> {
    /// Each receiver once, in route order.
    pub deliveries: Vec<Delivery<'a>>,
    /// The endpoint updates the matching rules ask for, each once.
    pub actions: Vec<RuleAction>,
}

impl Routed<'_> {
    pub fn receiver_names(&self) -> Vec<String> {
        self.deliveries.iter().map(|d| d.receiver.name.clone()).collect()
    }
}

/// One receiver an alarm goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery<'a> {
    pub receiver: &'a ReceiverSpec,
    pub severity: Severity,
    /// The alarm's group at the route that named the receiver, if that route groups.
    pub group: Option<Group>,
    /// The route that named the receiver delivers muted alarms (to chat, marked as muted).
    pub deliver_muted: bool,
    /// The route's links, placeholders filled in.
    pub links: Vec<crate::report::links::Link>,
    /// Who to mention on ALARM (`<@U…>` or `<!subteam^…>`, ready for Slack).
    pub mention: Vec<String>,
}

/// The facts routes match on.
#[derive(Debug, Default)]
pub struct Facts<'a> {
    pub alarm_name: &'a str,
    pub endpoint: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub state: Option<AlarmState>,
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
    /// The alarm's tags (from its notification, else looked up).
    pub tags: &'a [(String, String)],
}

impl<'a> Facts<'a> {
    pub fn of(report: &'a Report) -> Self {
        match report {
            Report::Alarm(a) => Facts {
                alarm_name: &a.alarm.name,
                endpoint: a.target.endpoint(),
                namespace: a.target.namespace(),
                state: Some(a.alarm.state),
                account: a.alarm.account.as_deref(),
                region: a.alarm.region.as_deref(),
                tags: &a.tags,
            },
            Report::Plain(p) => Facts { alarm_name: p.subject.as_deref().unwrap_or(""), ..Default::default() },
        }
    }
}

/// The document's text as its types (YAML; JSON is YAML): the first structural fault (unknown key,
/// wrong type) stops here, with its place. `sagealarm check-config` validates against the schema
/// first, to report every structural fault.
pub fn parse_doc(text: &str) -> Result<RoutesDoc, ConfigError> {
    serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Syntax(one_line(&e.to_string())))
}

impl Routes {
    /// Parses YAML (JSON is YAML) and validates every reference and pattern.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::from_doc(parse_doc(text)?)
    }

    pub fn from_doc(doc: RoutesDoc) -> Result<Self, ConfigError> {
        let mut faults = Faults::default();
        let routes = Self::checked(doc, &mut faults);
        match ConfigError::of(faults.0) {
            Some(e) => Err(e),
            None => Ok(routes),
        }
    }

    /// The tree, with every fault found kept in `faults` (the tree is unusable unless there are none).
    pub fn checked(doc: RoutesDoc, faults: &mut Faults) -> Self {
        let mut receivers = vec![];
        let mut seen = HashSet::new();
        for (i, r) in doc.receivers.into_iter().enumerate() {
            let path = format!("receivers[{i}]");
            if r.name.trim().is_empty() {
                faults.0.push(invalid(&path, "`name` is empty"));
            } else if !seen.insert(r.name.clone()) {
                faults.0.push(invalid(&path, format!("duplicate receiver name {:?}", r.name)));
            }
            receivers.push(ReceiverSpec { name: r.name, destination: r.destination, path });
        }
        if receivers.is_empty() {
            faults.0.push(invalid("receivers", "at least one receiver is needed"));
        }
        if doc.route.receivers.as_ref().is_none_or(Vec::is_empty) {
            faults.0.push(invalid("route.receivers", "the root route is the default and needs at least one receiver"));
        }
        let root = node(
            doc.route,
            "route",
            &receivers,
            Inherited { receivers: None, severity: Severity::Error, group: None, deliver_muted: false, links: &[], mention: &[] },
            faults,
        );
        Self { receivers, root }
    }

    pub fn receivers(&self) -> &[ReceiverSpec] {
        &self.receivers
    }

    /// Walks the tree once for these facts: the receivers (each once, in route order, at the
    /// severity of the route that named it first) and the rules' actions (each once).
    pub fn evaluate(&self, facts: &Facts<'_>) -> Routed<'_> {
        let mut matched = vec![];
        collect(&self.root, facts, &mut matched);
        let mut deliveries: Vec<Delivery<'_>> = vec![];
        let mut actions: Vec<RuleAction> = vec![];
        for n in matched {
            for &r in &n.receivers {
                if !deliveries.iter().any(|d| std::ptr::eq(d.receiver, &self.receivers[r])) {
                    let group = n.group.as_ref().and_then(|g| g.group_of(facts));
                    deliveries.push(Delivery {
                        receiver: &self.receivers[r],
                        severity: n.severity,
                        group,
                        deliver_muted: n.deliver_muted,
                        links: n.links.iter().map(|l| link(l, facts)).collect(),
                        mention: n.mention.iter().map(|m| if m.starts_with('<') { m.clone() } else { format!("<@{m}>") }).collect(),
                    });
                }
            }
            for a in &n.remediate {
                if !actions.iter().any(|o| o.action == a.action) {
                    actions.push(a.clone());
                }
            }
        }
        Routed { deliveries, actions }
    }
}

/// A route's link with the alarm's values in its placeholders, URL-encoded.
fn link(l: &config::LinkDoc, facts: &Facts<'_>) -> crate::report::links::Link {
    let enc = |v: Option<&str>| crate::report::links::enc(v.unwrap_or(""));
    let url = l
        .url
        .replace("{alarm}", &enc(Some(facts.alarm_name)))
        .replace("{endpoint}", &enc(facts.endpoint))
        .replace("{region}", &enc(facts.region));
    crate::report::links::Link { text: l.text.clone(), url }
}

/// Depth-first: a matching child stops its later siblings unless it continues.
fn collect<'n>(node: &'n Node, facts: &Facts<'_>, out: &mut Vec<&'n Node>) -> bool {
    if !node.matcher.matches(facts) {
        return false;
    }
    let mut any_child = false;
    for child in &node.children {
        if collect(child, facts, out) {
            any_child = true;
            if !child.continue_ {
                break;
            }
        }
    }
    if !any_child {
        out.push(node);
    }
    true
}

/// What a route inherits from its parent.
#[derive(Clone, Copy)]
struct Inherited<'a> {
    receivers: Option<&'a [usize]>,
    severity: Severity,
    group: Option<&'a GroupSpec>,
    deliver_muted: bool,
    links: &'a [config::LinkDoc],
    mention: &'a [String],
}

fn node(doc: RouteDoc, path: &str, receivers: &[ReceiverSpec], parent: Inherited<'_>, faults: &mut Faults) -> Node {
    let Inherited { receivers: parent_receivers, severity: parent_severity, group: parent_group, deliver_muted, links, mention } = parent;
    let links = doc.links.clone().unwrap_or_else(|| links.to_vec());
    let mention = match doc.mention.clone() {
        Some(m) => {
            static RE: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new(MENTION).expect("static regex"));
            for (i, who) in m.iter().enumerate() {
                if !RE.is_match(who.trim()) {
                    faults.0.push(invalid(
                        format!("{path}.mention[{i}]"),
                        format!("{who:?} is not a Slack user ID (U0123ABCD) or user group (<!subteam^S0123ABCD>)"),
                    ));
                }
            }
            m.iter().map(|w| w.trim().to_string()).collect()
        }
        None => mention.to_vec(),
    };
    // Checked where they are written (inherited ones were checked at their own route).
    for (i, l) in doc.links.iter().flatten().enumerate() {
        if !(l.url.starts_with("https://") || l.url.starts_with("http://")) || l.text.trim().is_empty() {
            faults.0.push(invalid(format!("{path}.links[{i}]"), "a link needs a text and an http(s) URL"));
        } else if l.text.chars().count() > config::LINK_TEXT_MAX {
            faults.0.push(invalid(
                format!("{path}.links[{i}].text"),
                format!("{} characters; a button's text has at most {} (Slack)", l.text.chars().count(), config::LINK_TEXT_MAX),
            ));
        }
    }
    let own = match doc.receivers {
        Some(names) => names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let pos = receivers.iter().position(|r| &r.name == n);
                faults.check(pos.ok_or_else(|| invalid(format!("{path}.receivers[{i}]"), format!("unknown receiver {n:?}"))))
            })
            .collect(),
        None => parent_receivers.map(<[usize]>::to_vec).unwrap_or_default(),
    };
    let severity = match doc.severity {
        Some(s) => faults
            .check(
                Severity::parse(&s)
                    .ok_or_else(|| invalid(format!("{path}.severity"), format!("{s:?} is not one of critical, error, warning, info"))),
            )
            .unwrap_or(parent_severity),
        None => parent_severity,
    };
    let matcher = Matcher::new(doc.matchers, &format!("{path}.match"), faults);
    let remediate = match doc.remediate {
        Some(r) => faults.check(rule_actions(r, path)).unwrap_or_default(),
        None => vec![],
    };
    let group = match &doc.group {
        Some(g) => faults.check(GroupSpec::parse(g, path)).flatten(),
        None => parent_group.cloned(),
    };
    let deliver_muted = doc.deliver_muted.unwrap_or(deliver_muted);
    let children = doc
        .routes
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let inherited =
                Inherited { receivers: Some(&own), severity, group: group.as_ref(), deliver_muted, links: &links, mention: &mention };
            node(c, &format!("{path}.routes[{i}]"), receivers, inherited, faults)
        })
        .collect();
    Node { matcher, receivers: own, severity, continue_: doc.continue_, children, remediate, group, deliver_muted, links, mention }
}

fn rule_actions(r: RemediateDoc, path: &str) -> Result<Vec<RuleAction>, ConfigError> {
    let frequency_s = r.frequency_s.unwrap_or(10);
    check_frequency(frequency_s)
        .map_err(|accepted| invalid(format!("{path}.remediate.frequency_s"), format!("{frequency_s} is not one of {accepted}")))?;
    if r.actions.0.is_empty() {
        return Err(invalid(format!("{path}.remediate.actions"), "name at least one action"));
    }
    r.actions
        .0
        .iter()
        .map(|a| {
            let action = Action::from_name(a, frequency_s).ok_or_else(|| {
                invalid(format!("{path}.remediate.actions"), format!("{a:?} is not scale-out or enable-enhanced-metrics"))
            })?;
            Ok(RuleAction { action, dry_run: r.dry_run, rule: path.to_string() })
        })
        .collect()
}

fn globs(v: &OneOrMany, path: &str) -> Result<Vec<GlobMatcher>, ConfigError> {
    v.0.iter().map(|p| Glob::new(p).map(|g| g.compile_matcher()).map_err(|e| invalid(path, format!("bad glob {p:?}: {e}")))).collect()
}

impl Matcher {
    /// Each key's patterns; a bad one is a fault and matches nothing.
    fn new(m: MatchDoc, path: &str, faults: &mut Faults) -> Self {
        let mut globs = |v: &OneOrMany, key: &str| faults.check(globs(v, &format!("{path}.{key}"))).unwrap_or_default();
        let (alarm_name, endpoint, namespace, account, region) = (
            globs(&m.alarm_name, "alarm_name"),
            globs(&m.endpoint, "endpoint"),
            globs(&m.namespace, "namespace"),
            globs(&m.account, "account"),
            globs(&m.region, "region"),
        );
        let alarm_name_regex = m
            .alarm_name_regex
            .0
            .iter()
            // Anchored: a rule reads as "the whole name matches".
            .filter_map(|r| {
                faults.check(
                    Regex::new(&format!("^(?:{r})$")).map_err(|e| invalid(format!("{path}.alarm_name_regex"), one_line(&e.to_string()))),
                )
            })
            .collect();
        let state = m
            .state
            .0
            .iter()
            .filter_map(|s| {
                faults.check(
                    AlarmState::parse(s)
                        .ok_or_else(|| invalid(format!("{path}.state"), format!("{s:?} is not ALARM, OK or INSUFFICIENT_DATA"))),
                )
            })
            .collect();
        let tags = m
            .tags
            .iter()
            .filter_map(|(k, p)| {
                faults.check(
                    Glob::new(p)
                        .map(|g| (k.clone(), g.compile_matcher()))
                        .map_err(|e| invalid(format!("{path}.tags.{k}"), format!("bad glob {p:?}: {e}"))),
                )
            })
            .collect();
        Self { alarm_name, alarm_name_regex, endpoint, namespace, state, account, region, tags }
    }

    fn matches(&self, f: &Facts<'_>) -> bool {
        fn any(g: &[GlobMatcher], v: Option<&str>) -> bool {
            g.is_empty() || v.is_some_and(|v| g.iter().any(|g| g.is_match(v)))
        }
        any(&self.alarm_name, Some(f.alarm_name))
            && (self.alarm_name_regex.is_empty() || self.alarm_name_regex.iter().any(|r| r.is_match(f.alarm_name)))
            && any(&self.endpoint, f.endpoint)
            && any(&self.namespace, f.namespace)
            && (self.state.is_empty() || f.state.is_some_and(|s| self.state.contains(&s)))
            && any(&self.account, f.account)
            && any(&self.region, f.region)
            && self.tags.iter().all(|(key, glob)| f.tags.iter().any(|(k, v)| k == key && glob.is_match(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"
receivers:
  - name: sre
    slack: { webhook_url: "env:SLACK_SRE" }
  - name: ml
    slack: { webhook_url: "ssm:/sagealarm/slack/ml" }
  - name: pager
    pagerduty: { routing_key: "secretsmanager:sagealarm/pd" }
route:
  receivers: [sre]
  severity: warning
  routes:
    - match: { endpoint: "deepgram-*", state: [ALARM, OK] }
      receivers: [pager]
      severity: critical
      continue: true
    - match: { alarm_name_regex: "deepgram-.*-latency.*" }
      receivers: [ml]
    - match: { namespace: "AWS/SageMaker" }
      receivers: [ml]
      severity: error
"#;

    fn names(d: &[Delivery<'_>]) -> Vec<(String, Severity)> {
        d.iter().map(|d| (d.receiver.name.clone(), d.severity)).collect()
    }

    #[test]
    fn continue_lets_later_siblings_match_and_first_match_stops() {
        let r = Routes::parse(DOC).unwrap();
        let f = Facts {
            alarm_name: "deepgram-model-latency-p99",
            endpoint: Some("deepgram-prod"),
            namespace: Some("AWS/SageMaker"),
            state: Some(AlarmState::Alarm),
            ..Default::default()
        };
        // pager (continue) then the latency regex; the namespace route is not reached.
        assert_eq!(names(&r.evaluate(&f).deliveries), vec![("pager".into(), Severity::Critical), ("ml".into(), Severity::Warning)]);
    }

    #[test]
    fn default_route_when_nothing_matches() {
        let r = Routes::parse(DOC).unwrap();
        let f =
            Facts { alarm_name: "api-lambda-errors", namespace: Some("AWS/Lambda"), state: Some(AlarmState::Alarm), ..Default::default() };
        assert_eq!(names(&r.evaluate(&f).deliveries), vec![("sre".into(), Severity::Warning)]);
    }

    #[test]
    fn state_and_region_and_account_matchers() {
        let r = Routes::parse(DOC).unwrap();
        let f = Facts { alarm_name: "x", endpoint: Some("deepgram-prod"), state: Some(AlarmState::InsufficientData), ..Default::default() };
        assert_eq!(names(&r.evaluate(&f).deliveries), vec![("sre".into(), Severity::Warning)]);
        let doc = r#"{"receivers":[{"name":"a","slack":{"webhook_url":"env:A"}},{"name":"b","slack":{"webhook_url":"env:B"}}],
                     "route":{"receivers":["a"],"routes":[{"match":{"account":"1234*","region":["eu-*"]},"receivers":["b"]}]}}"#;
        let r = Routes::parse(doc).unwrap();
        let hit = Facts { alarm_name: "x", account: Some("123456789012"), region: Some("eu-west-1"), ..Default::default() };
        let miss = Facts { alarm_name: "x", account: Some("123456789012"), region: Some("us-east-1"), ..Default::default() };
        assert_eq!(names(&r.evaluate(&hit).deliveries), vec![("b".into(), Severity::Error)]);
        assert_eq!(names(&r.evaluate(&miss).deliveries), vec![("a".into(), Severity::Error)]);
    }

    #[test]
    fn validation_errors_name_the_place() {
        let err = |doc: &str| Routes::parse(doc).unwrap_err().to_string();
        let base = r#"receivers: [{name: a, slack: {webhook_url: "env:A"}}]"#;
        assert_eq!(err(&format!("{base}\nroute: {{receivers: [b]}}")), "routing document: route.receivers[0]: unknown receiver \"b\"");
        assert!(err(&format!("{base}\nroute: {{receivers: [a], routes: [{{match: {{state: PANIC}}}}]}}"))
            .contains("route.routes[0].match.state"));
        assert!(err(&format!("{base}\nroute: {{receivers: [a], routes: [{{match: {{alarm_name_regex: \"(\"}}}}]}}"))
            .contains("alarm_name_regex"));
        assert!(err(&format!("{base}\nroute: {{receivers: [a], severity: loud}}")).contains("route.severity"));
        assert!(err(&format!("{base}\nroute: {{receivers: []}}")).contains("root route"));
        assert!(err(&format!("{base}\nroute: {{receivers: [a], matchers: {{}}}}")).contains("unknown field"));
        assert!(err("{").starts_with("routing document is not valid"));
    }
}

#[cfg(test)]
mod remediate_tests {
    use super::*;

    #[test]
    fn a_rule_names_its_actions_and_children_do_not_inherit_them() {
        let doc = r#"
receivers: [{ name: sre, slack: { webhook_url: "env:X" } }]
route:
  receivers: [sre]
  routes:
    - match: { alarm_name: "*-gpu-*" }
      remediate: { actions: [scale-out, enable-enhanced-metrics], frequency_s: 30, dry_run: true }
      routes:
        - match: { endpoint: "canary-*" }
"#;
        let r = Routes::parse(doc).unwrap();
        let gpu = Facts { alarm_name: "prod-gpu-hot", endpoint: Some("deepgram-prod"), ..Default::default() };
        let want = vec![
            RuleAction { action: Action::ScaleOut, dry_run: true, rule: "route.routes[0]".into() },
            RuleAction { action: Action::EnableEnhancedMetrics { frequency_s: 30 }, dry_run: true, rule: "route.routes[0]".into() },
        ];
        assert_eq!(r.evaluate(&gpu).actions, want);
        let canary = Facts { alarm_name: "prod-gpu-hot", endpoint: Some("canary-1"), ..Default::default() };
        assert_eq!(r.evaluate(&canary).actions, vec![], "the child matched and asks for nothing");
        assert_eq!(r.evaluate(&Facts { alarm_name: "latency", ..Default::default() }).actions, vec![]);
    }

    #[test]
    fn bad_actions_and_frequencies_are_refused_with_their_path() {
        let doc = |r: &str| {
            format!("receivers: [{{ name: a, slack: {{ webhook_url: \"env:X\" }} }}]\nroute: {{ receivers: [a], remediate: {r} }}")
        };
        let e = Routes::parse(&doc("{ actions: [reboot] }")).unwrap_err().to_string();
        assert_eq!(e, "routing document: route.remediate.actions: \"reboot\" is not scale-out or enable-enhanced-metrics");
        let e = Routes::parse(&doc("{ actions: enable-enhanced-metrics, frequency_s: 15 }")).unwrap_err().to_string();
        assert_eq!(e, "routing document: route.remediate.frequency_s: 15 is not one of 10, 30, 60, 120, 180, 240, 300");
    }
}

#[cfg(test)]
mod group_tests {
    use super::*;

    #[test]
    fn a_group_is_inherited_replaced_or_turned_off_and_worked_out_per_alarm() {
        let doc = r#"
receivers: [{ name: app, slack: { webhook_url: "env:X" } }, { name: pager, pagerduty: { routing_key: "env:K" } }]
route:
  receivers: [app]
  group: { by: [endpoint], window_s: 900 }
  routes:
    - match: { alarm_name: "gpu-*" }
    - match: { alarm_name: "acct-*" }
      group: { by: [account, region] }
    - match: { alarm_name: "solo-*" }
      receivers: [pager]
      group: { by: [] }
"#;
        let r = Routes::parse(doc).unwrap();
        let f = |name: &'static str| Facts {
            alarm_name: name,
            endpoint: Some("ep1"),
            account: Some("123"),
            region: Some("us-east-1"),
            ..Default::default()
        };
        let gpu = r.evaluate(&f("gpu-hot"));
        let g = gpu.deliveries[0].group.as_ref().unwrap();
        assert_eq!((g.key(), g.window.as_secs()), ("endpoint=ep1".to_string(), 900));
        let acct = r.evaluate(&f("acct-x"));
        let g = acct.deliveries[0].group.as_ref().unwrap();
        assert_eq!((g.key(), g.window.as_secs()), ("account=123,region=us-east-1".to_string(), 1800));
        assert_eq!(r.evaluate(&f("solo-x")).deliveries[0].group, None);
        let e = Routes::parse(&doc.replace("window_s: 900", "window_s: 9")).unwrap_err().to_string();
        assert_eq!(e, "routing document: route.group.window_s: 9 is not between 60 and 86400 seconds");
        let e = Routes::parse(&doc.replace("by: [endpoint]", "by: [endpiont]")).unwrap_err().to_string();
        assert!(e.starts_with("routing document: route.group.by: \"endpiont\" is not one of endpoint"), "{e}");
    }
}

#[cfg(test)]
mod links_tests {
    use super::*;

    const DOC: &str = r#"
receivers: [{ name: app, slack: { webhook_url: "env:X" } }]
route:
  receivers: [app]
  links: [{ text: Runbook, url: "https://runbooks.example.com/{endpoint}?alarm={alarm}&r={region}" }]
  mention: [U0ONCALL1]
  routes:
    - match: { alarm_name: "gpu-*" }
    - match: { alarm_name: "ml-*" }
      links: []
      mention: ["<!subteam^S0MLTEAM1>"]
"#;

    #[test]
    fn links_fill_their_placeholders_encoded_and_are_inherited_or_replaced() {
        let r = Routes::parse(DOC).unwrap();
        let f =
            |name: &'static str| Facts { alarm_name: name, endpoint: Some("llm prod"), region: Some("us-east-1"), ..Default::default() };
        let gpu = r.evaluate(&f("gpu-hot/1"));
        assert_eq!(gpu.deliveries[0].links[0].url, "https://runbooks.example.com/llm%20prod?alarm=gpu-hot%2F1&r=us-east-1");
        assert_eq!(gpu.deliveries[0].mention, ["<@U0ONCALL1>"]);
        let ml = r.evaluate(&f("ml-x"));
        assert!(ml.deliveries[0].links.is_empty());
        assert_eq!(ml.deliveries[0].mention, ["<!subteam^S0MLTEAM1>"]);
    }

    #[test]
    fn a_bad_link_or_mention_is_named_where_it_is_written() {
        let long = "x".repeat(config::LINK_TEXT_MAX + 1);
        let e = Routes::parse(&DOC.replace("text: Runbook", &format!("text: {long}"))).unwrap_err().to_string();
        assert!(e.contains("route.links[0].text: 76 characters"), "{e}");
        let e = Routes::parse(&DOC.replace("[U0ONCALL1]", r#"["@oncall"]"#)).unwrap_err().to_string();
        assert!(e.contains("route.mention[0]: \"@oncall\" is not a Slack user ID"), "{e}");
    }
}
