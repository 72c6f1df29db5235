//! Structured JSON logs (CloudWatch Logs Insights can query every field). Secrets are never
//! fields: receivers log their name, and HTTP errors drop the URL.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SAGEALARM_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}
