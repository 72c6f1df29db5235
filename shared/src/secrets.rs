//! Secrets by reference: `ssm:/path` (SecureString), `secretsmanager:name` or
//! `secretsmanager:name#json-key`. `env:VAR` and literal values are for local use only and are
//! refused unless plaintext secrets are explicitly allowed.

use crate::aws::Lazy;
use serde::Deserialize;
use std::fmt;

#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum SecretRef {
    Ssm(String),
    SecretsManager {
        id: String,
        key: Option<String>,
    },
    Env(String),
    /// A literal value; never printed.
    Plain(String),
}

/// In the routing document's schema: a string with one of the reference schemes.
impl schemars::JsonSchema for SecretRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "description": "A secret reference: ssm:/path (SecureString), secretsmanager:name or secretsmanager:name#json-key; env:VAR or a literal value only with SAGEALARM_ALLOW_PLAINTEXT_SECRETS=1 (local use)",
            "pattern": "^(ssm:|secretsmanager:|env:|https?:|[^:]*$)"
        })
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl TryFrom<String> for SecretRef {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let s = s.trim().to_string();
        if s.is_empty() {
            return Err("a secret reference is empty".into());
        }
        if let Some(name) = s.strip_prefix("ssm:") {
            return Ok(Self::Ssm(name.to_string()));
        }
        if let Some(rest) = s.strip_prefix("secretsmanager:") {
            let (id, key) = match rest.split_once('#') {
                Some((id, k)) => (id.to_string(), Some(k.to_string())),
                None => (rest.to_string(), None),
            };
            return Ok(Self::SecretsManager { id, key });
        }
        if let Some(var) = s.strip_prefix("env:") {
            return Ok(Self::Env(var.to_string()));
        }
        let scheme = s.split_once(':').map(|(p, _)| p).filter(|p| p.chars().all(|c| c.is_ascii_lowercase()));
        match scheme {
            Some("http" | "https") | None => Ok(Self::Plain(s)),
            Some(other) => Err(format!(
                "unknown secret reference scheme {other:?} in \"{other}:…\": use ssm:NAME, secretsmanager:NAME[#KEY] or env:VAR"
            )),
        }
    }
}

impl SecretRef {
    /// Whether resolving this needs AWS credentials and clients.
    pub fn needs_aws(&self) -> bool {
        matches!(self, Self::Ssm(_) | Self::SecretsManager { .. })
    }

    /// Safe to log: names the reference, never the value.
    pub fn describe(&self) -> String {
        match self {
            Self::Ssm(n) => format!("ssm:{n}"),
            Self::SecretsManager { id, key: Some(k) } => format!("secretsmanager:{id}#{k}"),
            Self::SecretsManager { id, key: None } => format!("secretsmanager:{id}"),
            Self::Env(v) => format!("env:{v}"),
            Self::Plain(_) => "(literal value)".into(),
        }
    }
}

/// A resolved secret. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{reference}: plaintext secrets are for local use only (set SAGEALARM_ALLOW_PLAINTEXT_SECRETS=1 to allow them)")]
    PlaintextRefused { reference: String },
    #[error("{reference}: environment variable is not set")]
    EnvMissing { reference: String },
    #[error("{reference}: {message}")]
    Fetch { reference: String, message: String },
}

/// Resolves references with AWS clients built at their first use (a routing document without SSM
/// or Secrets Manager references builds neither).
#[derive(Clone)]
pub struct SecretResolver {
    ssm: Option<Lazy<aws_sdk_ssm::Client>>,
    secrets_manager: Option<Lazy<aws_sdk_secretsmanager::Client>>,
    allow_plaintext: bool,
    /// The configuration the clients come from (destinations that are AWS services reuse it).
    aws: Option<aws_config::SdkConfig>,
}

impl SecretResolver {
    pub fn new(sdk: Option<&aws_config::SdkConfig>, allow_plaintext: bool) -> Self {
        Self {
            ssm: sdk.map(|sdk| Lazy::from_config(sdk, aws_sdk_ssm::Client::new)),
            secrets_manager: sdk.map(|sdk| Lazy::from_config(sdk, aws_sdk_secretsmanager::Client::new)),
            allow_plaintext,
            aws: sdk.cloned(),
        }
    }

    /// The AWS configuration, when there is one.
    pub fn aws(&self) -> Option<&aws_config::SdkConfig> {
        self.aws.as_ref()
    }

    pub async fn resolve(&self, r: &SecretRef) -> Result<Secret, SecretError> {
        let reference = r.describe();
        let fetch = |message: String| SecretError::Fetch { reference: reference.clone(), message };
        match r {
            SecretRef::Plain(v) if self.allow_plaintext => Ok(Secret::new(v.clone())),
            SecretRef::Env(var) if self.allow_plaintext => {
                std::env::var(var).map(Secret::new).map_err(|_| SecretError::EnvMissing { reference: reference.clone() })
            }
            SecretRef::Plain(_) | SecretRef::Env(_) => Err(SecretError::PlaintextRefused { reference }),
            SecretRef::Ssm(name) => {
                let client = self.ssm.as_ref().ok_or_else(|| fetch("no AWS configuration".into()))?;
                let out =
                    client.get_parameter().name(name).with_decryption(true).send().await.map_err(|e| fetch(crate::aws::error_line(&e)))?;
                out.parameter().and_then(|p| p.value()).map(Secret::new).ok_or_else(|| fetch("parameter has no value".into()))
            }
            SecretRef::SecretsManager { id, key } => {
                let client = self.secrets_manager.as_ref().ok_or_else(|| fetch("no AWS configuration".into()))?;
                let out = client.get_secret_value().secret_id(id).send().await.map_err(|e| fetch(crate::aws::error_line(&e)))?;
                let s = out.secret_string().ok_or_else(|| fetch("secret has no string value".into()))?;
                match key {
                    None => Ok(Secret::new(s)),
                    Some(k) => serde_json::from_str::<serde_json::Value>(s)
                        .ok()
                        .and_then(|v| v.get(k).and_then(|x| x.as_str()).map(Secret::new))
                        .ok_or_else(|| fetch(format!("secret is not JSON with a string key {k:?}"))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> SecretRef {
        SecretRef::try_from(s.to_string()).unwrap()
    }

    #[test]
    fn references_parse() {
        assert_eq!(r("ssm:/sagealarm/slack"), SecretRef::Ssm("/sagealarm/slack".into()));
        assert_eq!(r("secretsmanager:pd#routing_key"), SecretRef::SecretsManager { id: "pd".into(), key: Some("routing_key".into()) });
        assert_eq!(r("env:SLACK_URL"), SecretRef::Env("SLACK_URL".into()));
        assert!(matches!(r("https://hooks.slack.com/services/T000/B000/XXX"), SecretRef::Plain(_)));
        assert!(matches!(r("0123456789abcdef0123456789abcdef"), SecretRef::Plain(_)));
        assert!(SecretRef::try_from("vault:x".to_string()).unwrap_err().contains("unknown secret reference scheme"));
    }

    #[test]
    fn literal_values_never_print() {
        let s = r("https://hooks.slack.com/services/T000/B000/XXXXSECRET");
        assert!(!format!("{s:?}").contains("XXXXSECRET"));
        assert_eq!(format!("{:?}", Secret::new("k")), "Secret(***)");
    }

    #[tokio::test]
    async fn plaintext_refused_unless_allowed() {
        let strict = SecretResolver::new(None, false);
        let e = strict.resolve(&r("https://example.invalid/x")).await.unwrap_err();
        assert!(e.to_string().contains("local use only"));
        let local = SecretResolver::new(None, true);
        assert_eq!(local.resolve(&r("abc")).await.unwrap().expose(), "abc");
        assert!(matches!(local.resolve(&r("env:SAGEALARM_SURELY_UNSET_VAR")).await, Err(SecretError::EnvMissing { .. })));
        assert!(local.resolve(&r("ssm:/x")).await.unwrap_err().to_string().contains("no AWS configuration"));
    }
}
