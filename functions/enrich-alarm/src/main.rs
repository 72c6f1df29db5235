//! The alarm Lambda: SNS, EventBridge or a direct alarm action in; Slack and PagerDuty out.
//! `main` reads the settings and starts building the app, whose routing document is fetched in
//! the background (`app::deferred`); the handler calls the library.

use anyhow::Context;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use sagealarm::app::deferred::{Deferred, Parts};
use sagealarm::app::{self, settings, EnrichMode, Remediation};
use sagealarm::remediate::dispatch::{Dispatch, LambdaDispatch};
use sagealarm::secrets::SecretResolver;
use sagealarm::state::StateTable;
use serde_json::Value;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sagealarm::logging::init();
    let sdk = sagealarm::aws_config().await;
    // Bad settings fail the cold start loudly. The AWS clients are built at their first call.
    let parts = Parts {
        secrets: SecretResolver::new(Some(&sdk), settings::allow_plaintext_secrets()),
        enrich: EnrichMode::from_env(&sdk).context("reading the enrichment settings")?,
        remediation: Remediation {
            dispatch: settings::remediate_function().map(|f| Arc::new(LambdaDispatch::new(&sdk, f)) as Arc<dyn Dispatch>),
            buttons: settings::slack_buttons(),
            settings: settings::remediation().context("reading the remediation settings")?,
        },
        // Delivery records, threads and a storm's evidence shared by every instance; without it,
        // per-instance memory.
        state: StateTable::from_env(&sdk),
        sdk,
    };
    let app = &Deferred::load(parts);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Delivery keeps honouring Slack's pace (429 + Retry-After) until just before this.
        let deadline = app::deadline_from_epoch_ms(event.context.deadline);
        let summary = app.handle_until(&event.payload, deadline).await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
