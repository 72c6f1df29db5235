//! End-to-end: the `sagealarm` binary on every sample event.

use std::process::Command;

fn sagealarm(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sagealarm")).args(args).current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).output().unwrap()
}

fn events() -> Vec<String> {
    let mut out = vec![];
    for dir in ["events", "events/real"] {
        for e in std::fs::read_dir(format!("{}/../{dir}", env!("CARGO_MANIFEST_DIR"))).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                out.push(format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn render_gives_valid_slack_and_pagerduty_bodies_for_every_event() {
    let events = events();
    assert!(events.len() >= 30);
    for ev in &events {
        for format in ["slack", "pagerduty", "teams", "q-developer"] {
            let out = sagealarm(&["render", ev, "--format", format, "--no-enrich"]);
            assert!(out.status.success(), "{ev} {format}: {}", String::from_utf8_lossy(&out.stderr));
            let stdout = String::from_utf8(out.stdout).unwrap();
            let lines: Vec<&str> = stdout.lines().collect();
            assert!(!lines.is_empty(), "{ev}: no output");
            for line in lines {
                let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{ev}: not JSON: {e}"));
                let check = match format {
                    "slack" => sagealarm::deliver::slack::render::check_limits(&v),
                    "pagerduty" => sagealarm::deliver::pagerduty::render::check_event(&v),
                    "teams" => sagealarm::deliver::teams::render::check(&v),
                    _ => sagealarm::deliver::q_developer::render::check(&v),
                };
                check.unwrap_or_else(|e| panic!("{ev} {format}: {e}"));
            }
        }
    }
}

#[test]
fn render_with_routes_prints_one_body_per_routed_receiver() {
    let out = sagealarm(&[
        "render",
        "events/sns-first-chunk-latency-p99-alarm.json",
        "--format",
        "pagerduty",
        "--no-enrich",
        "--config",
        "config/routes.example.yaml",
    ]);
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "only the prod PagerDuty route is a PagerDuty receiver");
    assert_eq!(lines[0]["payload"]["severity"], "critical");
}

#[test]
fn graph_without_enrichment_has_nothing_to_draw_and_exits_2_with_one_line() {
    let out_path = std::env::temp_dir().join(format!("sagealarm-cli-chart-{}.png", std::process::id()));
    let out = out_path.to_str().unwrap();
    let run = sagealarm(&["graph", "events/sns-gpu-utilization-alarm.json", "--out", out, "--no-enrich"]);
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8(run.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("deepgram-high-gpu: nothing to draw: enrichment did not run: disabled (--no-enrich)"), "{err}");
    assert!(!out_path.exists(), "no file is written when there is nothing to draw");
    // An event without an alarm says so.
    let run = sagealarm(&["graph", "events/sns-plain-text-message.json", "--out", out, "--no-enrich"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8(run.stderr).unwrap().contains("no alarm in this event"));
}

#[test]
fn unusable_input_exits_2_with_one_line() {
    let dir = std::env::temp_dir().join(format!("sagealarm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body, want) in
        [("bad.json", "{\"foo\": 1}", "expected an SNS event"), ("trunc.json", "{\"Records\": [", "input is not JSON")]
    {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        let out = sagealarm(&["render", p.to_str().unwrap(), "--format", "slack"]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{err}");
    }
    let out = sagealarm(&["render", "no/such/file.json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_config_lists_receivers_and_rejects_bad_documents() {
    let out = sagealarm(&["check-config", "config/routes.example.yaml"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("\"receiver\":\"sre-pagerduty\"") && s.contains("secretsmanager:sagealarm/pagerduty#routing_key"), "{s}");
    let p = std::env::temp_dir().join(format!("sagealarm-routes-{}.yaml", std::process::id()));
    std::fs::write(&p, "receivers: []\nroute: {receivers: [x]}\n").unwrap();
    let out = sagealarm(&["check-config", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    // The schema's word for it, at the path: one line.
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("routing document: receivers: [] has less than 1 item"), "{err}");
}

/// The committed schema is what `sagealarm schema` prints (regenerate: `cargo run -q -p
/// sagealarm-cli -- schema > config/routes.schema.json`), and the example says to use it.
#[test]
fn the_committed_schema_is_current_and_the_example_points_at_it() {
    let out = sagealarm(&["schema"]);
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/routes.schema.json")).unwrap())
            .unwrap();
    assert!(
        printed == committed,
        "config/routes.schema.json is stale: regenerate it with `cargo run -q -p sagealarm-cli -- schema > config/routes.schema.json`"
    );
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/routes.example.yaml")).unwrap();
    assert!(example.starts_with("# yaml-language-server: $schema=./routes.schema.json\n"));
}

/// The example validates against the schema; a document with a fault at each place is refused by
/// the schema at each of them, and `check-config` names every fault with its place.
#[test]
fn the_schema_validates_the_example_and_check_config_reports_every_fault() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/routes.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let yaml = |p: &str| -> serde_json::Value {
        serde_yaml_ng::from_str(&std::fs::read_to_string(format!("{}/../{p}", env!("CARGO_MANIFEST_DIR"))).unwrap()).unwrap()
    };
    let example = yaml("config/routes.example.yaml");
    let errors: Vec<String> = validator.iter_errors(&example).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(sagealarm(&["check-config", "config/routes.example.yaml"]).status.success());

    let bad = r##"
receivers:
  - name: chat
    slack: { webhook_url: "ssm:/x", channel: "#general" }
  - name: pager
    pagerduty: { routing_key: "ssm:/k" }
    teams: { webhook_url: "ssm:/t" }
route:
  receivers: [chat]
  severity: loud
  group: { by: [endpoint], window_s: 5 }
  routes:
    - match: { state: PENDING, endpont: "x" }
      receivers: [chat]
"##;
    let doc: serde_json::Value = serde_yaml_ng::from_str(bad).unwrap();
    let places: Vec<String> = validator.iter_errors(&doc).map(|e| e.instance_path().to_string()).collect();
    for place in ["/receivers/0/slack", "/receivers/1", "/route/severity", "/route/group/window_s", "/route/routes/0/match"] {
        assert!(places.iter().any(|p| p.starts_with(place)), "no fault at {place}: {places:#?}");
    }
    let dir = std::env::temp_dir().join(format!("sagealarm-bad-routes-{}.yaml", std::process::id()));
    std::fs::write(&dir, bad).unwrap();
    let out = sagealarm(&["check-config", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for place in ["receivers[0].slack", "receivers[1]", "route.severity", "route.group.window_s", "route.routes[0].match"] {
        assert!(stderr.contains(&format!("routing document: {place}")), "check-config did not name {place}:\n{stderr}");
    }
    assert!(stderr.lines().count() >= 5, "one line per fault:\n{stderr}");

    // Semantic faults (not the schema's to see) are all reported too.
    let semantic = "receivers: [{name: a, slack: {webhook_url: \"ssm:/x\"}}]\nroute:\n  receivers: [a, ghost]\n  routes:\n    - match: {alarm_name_regex: \"(\"}\n      receivers: [phantom]\n";
    std::fs::write(&dir, semantic).unwrap();
    let out = sagealarm(&["check-config", dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for fault in [
        "route.receivers[1]: unknown receiver \"ghost\"",
        "route.routes[0].match.alarm_name_regex",
        "route.routes[0].receivers[0]: unknown receiver \"phantom\"",
    ] {
        assert!(stderr.contains(fault), "{fault} missing:\n{stderr}");
    }
    let _ = std::fs::remove_file(&dir);
}
