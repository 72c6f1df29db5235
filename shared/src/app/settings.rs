//! Settings from the environment, read once at cold start into plain data; the app builds the
//! runtime objects from them.
//!
//! The routing document comes from, in order: `SAGEALARM_ROUTES` (the document itself),
//! `SAGEALARM_ROUTES_FILE` (a path), `SAGEALARM_ROUTES_SSM` (an SSM parameter name).

use super::remediation::RemediationSettings;
use crate::enrich::EnrichSettings;
use crate::route::ConfigError;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("no routing document: set SAGEALARM_ROUTES, SAGEALARM_ROUTES_FILE or SAGEALARM_ROUTES_SSM")]
    NoRoutes,
    #[error("SAGEALARM_ROUTES_FILE {path}: {message}")]
    File { path: String, message: String },
    #[error("SAGEALARM_ROUTES_SSM {name}: {message}")]
    Ssm { name: String, message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{name}: {message}")]
    Invalid { name: &'static str, message: String },
}

/// `1`, `true`, `yes` (any case) are true.
pub fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

pub fn allow_plaintext_secrets() -> bool {
    flag("SAGEALARM_ALLOW_PLAINTEXT_SECRETS")
}

/// A routing document's text from a file.
pub fn routes_file(path: &str) -> Result<String, SettingsError> {
    std::fs::read_to_string(path).map_err(|e| SettingsError::File { path: path.into(), message: e.to_string() })
}

/// The routing document's text, from wherever the environment says.
pub async fn routes_text(sdk: Option<&aws_config::SdkConfig>) -> Result<String, SettingsError> {
    if let Ok(doc) = std::env::var("SAGEALARM_ROUTES") {
        if !doc.trim().is_empty() {
            return Ok(doc);
        }
    }
    if let Ok(path) = std::env::var("SAGEALARM_ROUTES_FILE") {
        return routes_file(&path);
    }
    if let Ok(name) = std::env::var("SAGEALARM_ROUTES_SSM") {
        let err = |message: String| SettingsError::Ssm { name: name.clone(), message };
        let sdk = sdk.ok_or_else(|| err("no AWS configuration".into()))?;
        let out = aws_sdk_ssm::Client::new(sdk)
            .get_parameter()
            .name(&name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| err(crate::aws::error_line(&e)))?;
        let text = out.parameter().and_then(|p| p.value()).ok_or_else(|| err("parameter has no value".into()))?;
        return Ok(text.to_string());
    }
    Err(SettingsError::NoRoutes)
}

/// A variable's value; unset and blank are the same.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Enrichment from the environment: `SAGEALARM_ENRICH` (`on` by default, `off`),
/// `SAGEALARM_ENRICH_DEADLINE_MS` (default 10000), `SAGEALARM_LOG_SIGNATURES` (JSON object of
/// label → regex, replacing the defaults), `SAGEALARM_LOG_FILTER_PATTERN` (CloudWatch syntax).
/// A bad value fails the cold start rather than quietly enriching less. `Ok(Err(why))`: off.
pub fn enrichment() -> Result<Result<EnrichSettings, String>, SettingsError> {
    match var("SAGEALARM_ENRICH").map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("on" | "1" | "true" | "yes") => {}
        Some("off" | "0" | "false" | "no") => return Ok(Err("disabled by SAGEALARM_ENRICH=off".into())),
        Some(other) => {
            return Err(SettingsError::Invalid { name: "SAGEALARM_ENRICH", message: format!("{other:?} is neither on nor off") })
        }
    }
    enrich_settings().map(Ok)
}

pub fn enrich_settings() -> Result<EnrichSettings, SettingsError> {
    let mut s = EnrichSettings::default();
    if let Some(ms) = var("SAGEALARM_ENRICH_DEADLINE_MS") {
        let ms: u64 = ms.trim().parse().ok().filter(|m| (100..=600_000).contains(m)).ok_or_else(|| SettingsError::Invalid {
            name: "SAGEALARM_ENRICH_DEADLINE_MS",
            message: format!("{ms:?} is not a number of milliseconds between 100 and 600000"),
        })?;
        s.deadline = Duration::from_millis(ms);
    }
    if let Some(json) = var("SAGEALARM_LOG_SIGNATURES") {
        s.logs =
            s.logs.with_signatures_json(&json).map_err(|message| SettingsError::Invalid { name: "SAGEALARM_LOG_SIGNATURES", message })?;
    }
    if let Some(p) = var("SAGEALARM_LOG_FILTER_PATTERN") {
        // `*` asks for every event (matched on our side only).
        s.logs.filter_pattern = (p.trim() != "*").then_some(p);
    }
    s.promql = promql()?;
    // The tags hold the buttons' opt-in and sagealarm's last action, both only with remediation
    // deployed; the template grants ListTags exactly then.
    s.read_tags = slack_buttons() || remediate_function().is_some();
    Ok(s)
}

/// Where the LLM signals are read: `SAGEALARM_PROMQL` (`cloudwatch`, the default; `amp:<workspace-id>`;
/// a Prometheus `http(s)://` URL; `off`), `SAGEALARM_PROMQL_URL` (the base URL of the `cloudwatch` or
/// `amp` source, keeping its dialect and signing: local runs and tests) and `SAGEALARM_PROMQL_BEARER`
/// (a secret reference, for a Prometheus URL).
pub fn promql() -> Result<crate::promql::PromQlSettings, SettingsError> {
    let source = crate::promql::Source::parse(&var("SAGEALARM_PROMQL").unwrap_or_default())
        .map_err(|message| SettingsError::Invalid { name: "SAGEALARM_PROMQL", message })?;
    let base_url = var("SAGEALARM_PROMQL_URL").map(|u| u.trim().trim_end_matches('/').to_string());
    if let Some(u) = &base_url {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(SettingsError::Invalid { name: "SAGEALARM_PROMQL_URL", message: format!("{u:?} is not an http(s):// URL") });
        }
    }
    let bearer = var("SAGEALARM_PROMQL_BEARER")
        .map(crate::secrets::SecretRef::try_from)
        .transpose()
        .map_err(|message| SettingsError::Invalid { name: "SAGEALARM_PROMQL_BEARER", message })?;
    Ok(crate::promql::PromQlSettings { source, base_url, bearer, allow_plaintext: allow_plaintext_secrets(), ..Default::default() })
}

/// What remediation may do, from `SAGEALARM_REMEDIATE_MAX_INSTANCES` (10), `_STEP` (1),
/// `_COOLDOWN_MIN` (15) and, for the Slack button, `_FREQUENCY_S` (10). The same variables are
/// given to the alarm function (to label buttons) and the remediation function (to enforce).
pub fn remediation() -> Result<RemediationSettings, SettingsError> {
    fn int(name: &'static str, default: i64, range: std::ops::RangeInclusive<i64>) -> Result<i64, SettingsError> {
        match var(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().ok().filter(|n| range.contains(n)).ok_or_else(|| SettingsError::Invalid {
                name,
                message: format!("{v:?} is not a whole number from {} to {}", range.start(), range.end()),
            }),
        }
    }
    let policy = crate::remediate::Policy {
        max_instances: int("SAGEALARM_REMEDIATE_MAX_INSTANCES", 10, 1..=1000)? as i32,
        step: int("SAGEALARM_REMEDIATE_STEP", 1, 1..=100)? as i32,
        cooldown: chrono::Duration::minutes(int("SAGEALARM_REMEDIATE_COOLDOWN_MIN", 15, 0..=1440)?),
    };
    let frequency_s = int("SAGEALARM_REMEDIATE_FREQUENCY_S", 10, 10..=300)? as i32;
    crate::model::check_frequency(frequency_s).map_err(|accepted| SettingsError::Invalid {
        name: "SAGEALARM_REMEDIATE_FREQUENCY_S",
        message: format!("{frequency_s} is not one of {accepted}"),
    })?;
    Ok(RemediationSettings { policy, frequency_s })
}

/// `SAGEALARM_REMEDIATE_FUNCTION`: the remediation function's name or ARN, when deployed.
pub fn remediate_function() -> Option<String> {
    var("SAGEALARM_REMEDIATE_FUNCTION")
}

/// `SAGEALARM_SLACK_BUTTONS`: offer the opted-in actions as Slack buttons (the Slack actions
/// function must be deployed and set as the Slack app's interactivity URL).
pub fn slack_buttons() -> bool {
    flag("SAGEALARM_SLACK_BUTTONS")
}

/// A comma-separated list; empty when unset.
pub fn list(name: &str) -> Vec<String> {
    var(name).map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
}
