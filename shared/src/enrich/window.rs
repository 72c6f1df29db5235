//! The time range enrichment looks at: anchored on the alarm's own state change, never on "now"
//! (SNS may deliver late, Lambda may retry hours later).

use crate::model::Alarm;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Points per series we aim for: enough for a trend, few enough to stay cheap.
const TARGET_POINTS: i64 = 40;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Start of the context before the alarm's own evaluation window.
    pub start: DateTime<Utc>,
    /// Start of the alarm's evaluation window (period × evaluation periods before the anchor).
    pub alarm_start: DateTime<Utc>,
    /// The state change time.
    pub anchor: DateTime<Utc>,
    /// A little past the anchor, never in the future.
    pub end: DateTime<Utc>,
    /// GetMetricData period: a multiple of 60 s, coarser for long or old windows (retention).
    pub period_s: i32,
}

impl Window {
    /// The window of `alarm` as seen at `now` (the enricher's [`crate::clock::Clock`]): an alarm
    /// without a readable time is anchored at `now`.
    pub fn for_alarm(alarm: &Alarm, now: DateTime<Utc>) -> Self {
        let anchor = alarm.state_change_time.unwrap_or(now);
        let span = alarm.window_span().max(Duration::minutes(1));
        // Context: three times the evaluation window, at least 30 minutes, at most a day.
        let context = (span * 3).clamp(Duration::minutes(30), Duration::days(1));
        let alarm_start = anchor - span;
        let start = alarm_start - context;
        let end = (anchor + span.min(Duration::minutes(5))).min(now).max(anchor);
        Self { start, alarm_start, anchor, end, period_s: period_for(start, end, now) }
    }

    pub fn start_ms(&self) -> i64 {
        self.start.timestamp_millis()
    }

    pub fn end_ms(&self) -> i64 {
        self.end.timestamp_millis()
    }
}

/// CloudWatch keeps 60 s data for 15 days, 300 s for 63 days, then hourly: ask for what exists.
fn period_for(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> i32 {
    let age = now - start;
    let floor = if age > Duration::days(63) {
        3600
    } else if age > Duration::days(15) {
        300
    } else {
        60
    };
    let span_s = (end - start).num_seconds().max(60);
    let wanted = (span_s / TARGET_POINTS).max(60);
    let rounded = ((wanted + 59) / 60) * 60;
    rounded.max(floor) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_is_a_minute_multiple_and_respects_retention() {
        let now = Utc::now();
        assert_eq!(period_for(now - Duration::minutes(40), now, now), 60);
        assert_eq!(period_for(now - Duration::hours(6), now, now), 540);
        assert_eq!(period_for(now - Duration::days(20), now - Duration::days(20) + Duration::hours(1), now), 300);
        assert_eq!(period_for(now - Duration::days(90), now - Duration::days(90) + Duration::hours(1), now), 3600);
    }
}
