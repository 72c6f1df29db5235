//! sagealarm: CloudWatch alarms on SageMaker endpoints, enriched and routed to Slack and PagerDuty.
//!
//! The data flows one way, one module per stage:
//! [`intake`] (parse) → [`target`] (what it is about) → [`enrich`] (fetch) → [`report`] (one model)
//! → [`render`] (Slack, PagerDuty bodies) → [`route`] + [`notify`] (deliver). [`pipeline`] wires
//! them for the Lambda and the CLI; [`settings`] reads the environment.

pub mod aws;
pub mod enrich;
pub mod intake;
pub mod links;
pub mod logging;
pub mod model;
pub mod notify;
pub mod pipeline;
pub mod remediate;
pub mod render;
pub mod report;
pub mod route;
pub mod secrets;
pub mod settings;
pub mod slack_actions;
pub mod slack_signature;
pub mod target;

pub use aws::AwsConfig;

/// See [`aws::config`].
pub async fn aws_config() -> AwsConfig {
    aws::config().await
}
