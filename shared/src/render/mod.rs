//! Render: what every destination shows the same way — the enrichment as plain text
//! ([`enrichment`]) and the state badge. Each destination's own body is rendered in its folder
//! (`deliver/<name>/render.rs`), from a [`crate::report::Report`], never from raw input.

pub mod enrichment;

use crate::model::AlarmState;

/// State at a glance, the same in Slack and logs.
pub fn state_badge(state: Option<AlarmState>) -> &'static str {
    match state {
        Some(AlarmState::Alarm) => "🔴 ALARM",
        Some(AlarmState::Ok) => "✅ OK",
        Some(AlarmState::InsufficientData) => "⚪ INSUFFICIENT_DATA",
        None => "✉️ NOTIFICATION",
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::enrich::Enrichment;
    use crate::model::Notification;
    use crate::report::{build_alarm, Report};
    use crate::target;

    pub fn reports_from_str(raw: &str) -> Vec<Report> {
        crate::intake::parse_bytes(raw.as_bytes())
            .unwrap()
            .into_iter()
            .map(|n| match n {
                Notification::Alarm(a) => {
                    let t = target::resolve(&a);
                    Report::Alarm(Box::new(build_alarm(*a, t, Enrichment::skipped("test"))))
                }
                Notification::Plain(p) => Report::Plain(p),
            })
            .collect()
    }

    pub fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// Every sample event, as reports.
    pub fn all_reports() -> Vec<(String, Report)> {
        let dir = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
        let mut out = vec![];
        for sub in ["", "real"] {
            for e in std::fs::read_dir(format!("{dir}/{sub}")).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "json") {
                    for r in reports_from_str(&std::fs::read_to_string(&p).unwrap()) {
                        out.push((p.display().to_string(), r));
                    }
                }
            }
        }
        out
    }

    /// A JSON-string-safe hostile string: mentions, links, code fences, entities, 10,000 chars.
    pub fn hostile(len: usize) -> String {
        let unit = "<!channel> <!here> <@U024BE7LH> <https://evil.example|click me> ```code``` `tick` *bold* _it_ ~s~ &amp; & > < ";
        unit.repeat(len / unit.len() + 1).chars().take(len).collect()
    }

    /// The GPU fixture with a hostile name, description and dimension value.
    pub fn hostile_report(len: usize) -> Report {
        let h = hostile(len);
        let esc = serde_json::to_string(&h).unwrap();
        let esc = &esc[1..esc.len() - 1];
        let msg = fixture("sns-gpu-utilization-alarm.json");
        let v: serde_json::Value = serde_json::from_str(&msg).unwrap();
        let mut inner: serde_json::Value = serde_json::from_str(v["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
        inner["AlarmName"] = h.clone().into();
        inner["AlarmDescription"] = h.clone().into();
        inner["NewStateReason"] = h.clone().into();
        inner["Trigger"]["Dimensions"][0]["value"] = h.clone().into();
        let mut v = v;
        v["Records"][0]["Sns"]["Message"] = inner.to_string().into();
        let _ = esc;
        reports_from_str(&v.to_string()).remove(0)
    }
}
