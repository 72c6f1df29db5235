//! Grouping (`group: { by: [endpoint], window_s: 1800 }` on a route, inherited like its
//! receivers): which alarms share one Slack parent message, as Alertmanager's `group_by`.
//!
//! The group of an alarm is worked out here, once, from the same facts the routes match on; the
//! Slack app destination (`deliver/slack_app/group.rs`, a later stage) keeps the group's
//! conversation.

use super::config::GroupDoc;
use super::{invalid, ConfigError, Facts};
use std::fmt;
use std::time::Duration;

/// What an alarm's group may be keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Endpoint,
    Alarm,
    Account,
    Region,
    Namespace,
}

impl GroupBy {
    const ALL: [(&'static str, GroupBy); 5] = [
        ("endpoint", GroupBy::Endpoint),
        ("alarm", GroupBy::Alarm),
        ("account", GroupBy::Account),
        ("region", GroupBy::Region),
        ("namespace", GroupBy::Namespace),
    ];

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| n.eq_ignore_ascii_case(s.trim())).map(|(_, g)| *g)
    }

    /// What `by` accepts.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|(n, _)| *n).collect()
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(_, g)| *g == self).map(|(n, _)| *n).unwrap_or("?")
    }

    fn value<'a>(self, f: &Facts<'a>) -> Option<&'a str> {
        match self {
            GroupBy::Endpoint => f.endpoint,
            GroupBy::Alarm => Some(f.alarm_name).filter(|n| !n.is_empty()),
            GroupBy::Account => f.account,
            GroupBy::Region => f.region,
            GroupBy::Namespace => f.namespace,
        }
    }
}

/// A route's grouping, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    pub by: Vec<GroupBy>,
    /// A resolved group still takes new alarms this long after its last change; after that a new
    /// alarm opens a new group (a new parent). While any alarm of it is in ALARM it stays open.
    pub window: Duration,
}

/// Without `window_s`: half an hour, long enough for a flapping endpoint to stay in one thread.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(1800);
/// What `window_s` accepts, seconds.
pub const WINDOW_S: std::ops::RangeInclusive<u64> = 60..=86_400;

impl GroupSpec {
    /// `None`: `by: []`, which turns grouping off below a route that groups.
    pub fn parse(doc: &GroupDoc, path: &str) -> Result<Option<Self>, ConfigError> {
        let by = doc
            .by
            .0
            .iter()
            .map(|b| {
                GroupBy::parse(b).ok_or_else(|| {
                    let names: Vec<&str> = GroupBy::ALL.iter().map(|(n, _)| *n).collect();
                    invalid(format!("{path}.group.by"), format!("{b:?} is not one of {}", names.join(", ")))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let window_s = doc.window_s.unwrap_or(DEFAULT_WINDOW.as_secs());
        if !WINDOW_S.contains(&window_s) {
            return Err(invalid(
                format!("{path}.group.window_s"),
                format!("{window_s} is not between {} and {} seconds", WINDOW_S.start(), WINDOW_S.end()),
            ));
        }
        let mut unique = by.clone();
        unique.dedup();
        Ok((!unique.is_empty()).then_some(Self { by: unique, window: Duration::from_secs(window_s) }))
    }

    /// The group of an alarm with these facts; `None` when one of the labels is missing (an alarm
    /// with no endpoint is not put with every other such alarm: it keeps its own message).
    pub fn group_of(&self, facts: &Facts<'_>) -> Option<Group> {
        let labels = self.by.iter().map(|b| Some((b.as_str(), b.value(facts)?.to_string()))).collect::<Option<Vec<_>>>()?;
        Some(Group { labels, window: self.window })
    }
}

/// The group one alarm belongs to at one route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Group {
    /// `(label, value)` in the route's order: `[("endpoint", "ep1-prod")]`.
    pub labels: Vec<(&'static str, String)>,
    pub window: Duration,
}

impl Group {
    /// The group's key in the state table: `endpoint=ep1-prod,region=us-east-1`.
    pub fn key(&self) -> String {
        self.labels.iter().map(|(l, v)| format!("{l}={v}")).collect::<Vec<_>>().join(",")
    }

    /// What people read: the values, `ep1-prod · us-east-1`.
    pub fn title(&self) -> String {
        self.labels.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(" · ")
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::config::OneOrMany;

    fn spec(by: &[&str], window_s: Option<u64>) -> Result<Option<GroupSpec>, ConfigError> {
        GroupSpec::parse(&GroupDoc { by: OneOrMany(by.iter().map(|s| s.to_string()).collect()), window_s }, "route")
    }

    #[test]
    fn labels_are_checked_and_the_key_reads_as_written() {
        let s = spec(&["endpoint", "Region"], None).unwrap().unwrap();
        assert_eq!(s.window, DEFAULT_WINDOW);
        let f = Facts { alarm_name: "a", endpoint: Some("ep1"), region: Some("us-east-1"), ..Default::default() };
        let g = s.group_of(&f).unwrap();
        assert_eq!(g.key(), "endpoint=ep1,region=us-east-1");
        assert_eq!(g.title(), "ep1 · us-east-1");
        let e = spec(&["instance"], None).unwrap_err().to_string();
        assert_eq!(e, "routing document: route.group.by: \"instance\" is not one of endpoint, alarm, account, region, namespace");
        let e = spec(&["endpoint"], Some(5)).unwrap_err().to_string();
        assert_eq!(e, "routing document: route.group.window_s: 5 is not between 60 and 86400 seconds");
        assert_eq!(spec(&[], None).unwrap(), None, "by: [] turns grouping off");
    }

    #[test]
    fn an_alarm_missing_a_label_is_not_grouped() {
        let s = spec(&["endpoint"], Some(600)).unwrap().unwrap();
        assert_eq!(s.group_of(&Facts { alarm_name: "disk-full", ..Default::default() }), None);
    }
}
