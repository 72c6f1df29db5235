//! Timestamps as CloudWatch writes them: `+0000` offsets without a colon, RFC 3339 with `Z`, and the
//! stray spaces seen in published alarm-action fixtures (`2023-08-04T12: 36: 15.490+0000`).

use chrono::{DateTime, NaiveDateTime, Utc};

pub fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if let Ok(t) = DateTime::parse_from_rfc3339(&s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(t) = DateTime::parse_from_str(&s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    // No offset at all: CloudWatch times are UTC.
    NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_real_world_spellings() {
        let want = "2023-10-10T06:41:58.348Z";
        for s in [
            "2023-10-10T06:41:58.348+0000",
            "2023-10-10T06:41:58.348Z",
            "2023-10-10T06: 41: 58.348+0000",
            "2023-10-10T08:41:58.348+02:00",
            "2023-10-10T06:41:58.348",
        ] {
            let t = parse_timestamp(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), want, "{s}");
        }
        assert!(parse_timestamp("yesterday").is_none());
        assert!(parse_timestamp("").is_none());
    }
}
