//! The AWS SDK at one place: the shared configuration every client is built from, and errors
//! turned into the one line an operator needs.

use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};

pub use aws_config::SdkConfig as AwsConfig;

/// The shared SDK configuration, built once per cold start; every client comes from it.
/// `AWS_ENDPOINT_URL_<SERVICE>` in the environment points clients at local emulators.
pub async fn config() -> AwsConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The SDK's errors print as "service error"; the code and message are what an operator needs.
/// `SdkError` is the same type in every SDK crate, so this serves all of them.
pub fn error_line<E>(e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let line = match e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            match (err.code(), err.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                // No code: an unmodeled answer (a 5xx without a body, say); its status is the fact.
                _ if !se.raw().status().is_success() && err.to_string() == "unhandled error" => {
                    format!("HTTP {} from the service", se.raw().status().as_u16())
                }
                _ => err.to_string(),
            }
        }
        SdkError::TimeoutError(_) => "timed out".into(),
        SdkError::DispatchFailure(d) => {
            let why = if d.is_timeout() {
                "timeout"
            } else if d.is_io() {
                "I/O error"
            } else {
                "dispatch failure"
            };
            format!("could not reach the service ({why})")
        }
        SdkError::ResponseError(_) => "unreadable response from the service".into(),
        other => other.to_string(),
    };
    crate::model::text::truncate(&crate::model::text::one_line(&line), 300)
}

/// SDK timestamps (the same type in every SDK crate) as chrono times.
pub fn time(t: Option<&aws_sdk_ssm::primitives::DateTime>) -> Option<chrono::DateTime<chrono::Utc>> {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// The error code of a service error (`ResourceNotFoundException`), if the service sent one.
pub fn error_code<E, R>(e: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match e {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}
