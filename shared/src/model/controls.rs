//! The controls on an alarm's Slack parent (Acknowledge, Snooze, Unsnooze): their action IDs, the
//! snooze lengths, and what a click carries. Shared by the renderer that puts them on the message
//! and the Slack actions function that acts on a click.

use chrono::Duration;
use serde::{Deserialize, Serialize};

pub const ACK: &str = "sagealarm_ack";
pub const SNOOZE: &str = "sagealarm_snooze";
pub const UNSNOOZE: &str = "sagealarm_unsnooze";

/// How long a snooze lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnoozeFor {
    OneHour,
    FourHours,
    OneDay,
    /// Until the alarm goes back to OK.
    UntilOk,
}

impl SnoozeFor {
    pub const ALL: [SnoozeFor; 4] = [Self::OneHour, Self::FourHours, Self::OneDay, Self::UntilOk];

    /// The menu option's value.
    pub fn value(self) -> &'static str {
        match self {
            Self::OneHour => "1h",
            Self::FourHours => "4h",
            Self::OneDay => "24h",
            Self::UntilOk => "ok",
        }
    }

    pub fn parse(v: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.value() == v.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::OneHour => "1 hour",
            Self::FourHours => "4 hours",
            Self::OneDay => "24 hours",
            Self::UntilOk => "until OK",
        }
    }

    /// `None`: until OK.
    pub fn duration(self) -> Option<Duration> {
        match self {
            Self::OneHour => Some(Duration::hours(1)),
            Self::FourHours => Some(Duration::hours(4)),
            Self::OneDay => Some(Duration::hours(24)),
            Self::UntilOk => None,
        }
    }
}

/// What a control carries (in its `value`, at most Slack's 2,000 characters): which incident,
/// the message it sits on, and the PagerDuty receivers its trigger went to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlTarget {
    /// The alarm's identity (`Alarm::identity`): the incident's key and PagerDuty's dedup key.
    pub alarm: String,
    /// The alarm's name, for what people read.
    pub name: String,
    /// The Slack app receiver whose parent message carries the controls.
    pub receiver: String,
    /// Every receiver the alarm was routed to: PagerDuty ones are acknowledged.
    #[serde(default)]
    pub receivers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snooze_lengths_round_trip_their_values() {
        for s in SnoozeFor::ALL {
            assert_eq!(SnoozeFor::parse(s.value()), Some(s));
        }
        assert_eq!(SnoozeFor::parse("2h"), None);
        assert_eq!(SnoozeFor::OneHour.duration(), Some(Duration::hours(1)));
        assert_eq!(SnoozeFor::UntilOk.duration(), None);
    }
}
