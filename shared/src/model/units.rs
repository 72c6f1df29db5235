//! Human units: SageMaker latencies are microseconds (`7412093` → `7.41 s`), utilisations percent.

use regex::Regex;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Microseconds,
    Milliseconds,
    Seconds,
    Percent,
    Bytes,
    Plain,
}

/// SageMaker publishes these in microseconds, and many alarms leave `Unit` null.
const MICROSECOND_METRICS: [&str; 9] = [
    "ModelLatency",
    "OverheadLatency",
    "FirstChunkLatency",
    "MidStreamLatency",
    "ModelSetupTime",
    "ModelLoadingWaitTime",
    "ModelDownloadingTime",
    "ModelLoadingTime",
    "ModelUnloadingTime",
];

impl Unit {
    pub fn of(metric_name: &str, declared: Option<&str>) -> Self {
        match declared.map(str::to_ascii_lowercase).as_deref() {
            Some("microseconds") => return Self::Microseconds,
            Some("milliseconds") => return Self::Milliseconds,
            Some("seconds") => return Self::Seconds,
            Some("percent") => return Self::Percent,
            Some("bytes") => return Self::Bytes,
            _ => {}
        }
        if MICROSECOND_METRICS.contains(&metric_name) {
            Self::Microseconds
        } else if metric_name.contains("Utilization") && !metric_name.starts_with("Serverless") {
            // ServerlessConcurrentExecutionsUtilization is a 0–1 ratio, not a percentage.
            Self::Percent
        } else {
            Self::Plain
        }
    }

    pub fn format(self, v: f64) -> String {
        if !v.is_finite() {
            return v.to_string();
        }
        match self {
            Self::Microseconds => duration_us(v),
            Self::Milliseconds => duration_us(v * 1e3),
            Self::Seconds => duration_us(v * 1e6),
            Self::Percent => format!("{}%", sig(v)),
            Self::Bytes => bytes(v),
            Self::Plain => sig(v),
        }
    }
}

fn duration_us(us: f64) -> String {
    let a = us.abs();
    if a < 1e3 {
        format!("{} µs", sig(us))
    } else if a < 1e6 {
        format!("{} ms", sig(us / 1e3))
    } else if a < 600e6 {
        format!("{} s", sig(us / 1e6))
    } else {
        format!("{} min", sig(us / 60e6))
    }
}

fn bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut i = 0;
    while v.abs() >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{} {}", sig(v), UNITS[i])
}

/// Three significant digits for fractions, whole numbers as they are: `86.2`, `0.071`, `14`, `1234`.
pub fn sig(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let a = v.abs();
    let decimals = if a >= 100.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        // Enough decimals for three significant digits of small fractions.
        let lead = (-a.log10()).floor() as usize;
        (lead + 3).min(12)
    };
    let s = format!("{v:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A period in seconds as people say it: `10 s`, `1 min`, `5 min`, `1 h`.
pub fn period(s: u32) -> String {
    if s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

static VALUE: LazyLock<Regex> = LazyLock::new(|| {
    // CloudWatch writes datapoints and thresholds with a decimal point (`7412093.0`); the dates in
    // the same reason (`20/11/26 14:06:00`) never have one.
    Regex::new(r"(^|[\s\[(,])(-?\d+\.\d+(?:[Ee][-+]?\d+)?)").expect("static regex")
});

/// Rewrites the numbers in a `NewStateReason` into the metric's unit.
pub fn humanize_reason(reason: &str, unit: Unit) -> String {
    if unit == Unit::Plain {
        return reason.to_string();
    }
    VALUE
        .replace_all(reason, |c: &regex::Captures<'_>| {
            let n: f64 = c[2].parse().unwrap_or(f64::NAN);
            format!("{}{}", &c[1], unit.format(n))
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsecond_latencies() {
        let u = Unit::of("FirstChunkLatency", Some("Microseconds"));
        assert_eq!(u.format(7412093.0), "7.41 s");
        assert_eq!(u.format(5_000_000.0), "5 s");
        assert_eq!(Unit::of("ModelLatency", None).format(412002.1), "412 ms");
        assert_eq!(Unit::of("ModelLatency", None).format(850.0), "850 µs");
    }

    #[test]
    fn percent_counts_bytes() {
        assert_eq!(Unit::of("GPUUtilization", None).format(86.2), "86.2%");
        assert_eq!(Unit::of("Invocation5XXErrors", None).format(14.0), "14");
        assert_eq!(Unit::of("ServerlessConcurrentExecutionsUtilization", None).format(0.9), "0.9");
        assert_eq!(Unit::of("x", None).format(0.071), "0.071");
        assert_eq!(Unit::of("x", Some("Bytes")).format(3.5 * 1024.0 * 1024.0), "3.5 MiB");
        assert_eq!(sig(0.46522264287069004), "0.465");
    }

    #[test]
    fn reason_rewritten_but_dates_kept() {
        let r = "3 out of the last 3 datapoints [7412093.0 (20/11/26 14:06:00), 6120554.0 (20/11/26 14:05:00)] was greater than or equal to the threshold (5000000.0) (minimum 3 datapoints for OK -> ALARM transition).";
        let h = humanize_reason(r, Unit::Microseconds);
        assert_eq!(
            h,
            "3 out of the last 3 datapoints [7.41 s (20/11/26 14:06:00), 6.12 s (20/11/26 14:05:00)] was greater than or equal to the threshold (5 s) (minimum 3 datapoints for OK -> ALARM transition)."
        );
        assert_eq!(humanize_reason(r, Unit::Plain), r);
    }

    #[test]
    fn periods() {
        assert_eq!(period(10), "10 s");
        assert_eq!(period(60), "1 min");
        assert_eq!(period(300), "5 min");
        assert_eq!(period(3600), "1 h");
    }
}
