//! Settings from the environment, read once at cold start.
//!
//! The routing document comes from, in order: `SAGEALARM_ROUTES` (the document itself),
//! `SAGEALARM_ROUTES_FILE` (a path), `SAGEALARM_ROUTES_SSM` (an SSM parameter name).

use crate::route::{ConfigError, Routes};

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
}

/// `1`, `true`, `yes` (any case) are true.
pub fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

pub fn allow_plaintext_secrets() -> bool {
    flag("SAGEALARM_ALLOW_PLAINTEXT_SECRETS")
}

/// Reads a routing document from a file and validates it.
pub fn routes_from_file(path: &str) -> Result<Routes, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|e| SettingsError::File { path: path.into(), message: e.to_string() })?;
    Ok(Routes::parse(&text)?)
}

pub async fn load_routes(sdk: Option<&aws_config::SdkConfig>) -> Result<Routes, SettingsError> {
    if let Ok(doc) = std::env::var("SAGEALARM_ROUTES") {
        if !doc.trim().is_empty() {
            return Ok(Routes::parse(&doc)?);
        }
    }
    if let Ok(path) = std::env::var("SAGEALARM_ROUTES_FILE") {
        return routes_from_file(&path);
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
            .map_err(|e| err(crate::secrets::aws_error_line(&e)))?;
        let text = out.parameter().and_then(|p| p.value()).ok_or_else(|| err("parameter has no value".into()))?;
        return Ok(Routes::parse(text)?);
    }
    Err(SettingsError::NoRoutes)
}
