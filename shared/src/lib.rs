//! sagealarm: CloudWatch alarms on SageMaker endpoints, enriched and routed to Slack and PagerDuty.
//!
//! The data flows one way, one module per stage, each importing only the ones before it:
//!
//! [`intake`] (parse any envelope) → [`subject`] (what the alarm is about) → [`enrich`] (ask AWS)
//! → [`report`] (one model of what we know) → [`route`] (who gets it, what rules ask for)
//! → [`render`] (text every destination shares) → [`deliver`] (one folder per destination).
//!
//! Below every stage: [`model`], the shared vocabulary, which imports nothing of the crate, and
//! the plumbing ([`aws`], [`clock`], [`promql`], [`secrets`], [`tls`], [`logging`], and [`state`]: incident state shared
//! by every instance). Beside the flow: [`remediate`] (the
//! guardrailed endpoint updates, read from a report) and [`slack_actions`] (a button click).
//! Above everything: [`app`], the only module that knows every stage; nothing imports it.
//! `tests/layers.rs` fails on any import circle between these modules.

pub mod model;

pub mod aws;
pub mod clock;
pub mod logging;
pub mod promql;
pub mod secrets;
pub mod state;
pub mod tls;

pub mod deliver;
pub mod enrich;
pub mod intake;
pub mod remediate;
pub mod render;
pub mod report;
pub mod route;
pub mod subject;

pub mod slack_actions;

pub mod app;

pub use aws::AwsConfig;

/// See [`aws::config`].
pub async fn aws_config() -> AwsConfig {
    aws::config().await
}
