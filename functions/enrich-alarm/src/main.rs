//! The alarm Lambda: SNS, EventBridge or a direct alarm action in; Slack and PagerDuty out.
//! `main` builds the configuration and clients once; the handler calls the library.

use anyhow::Context;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use sagealarm::app::{self, settings, App, EnrichMode, Remediation};
use sagealarm::deliver::http::RetryPolicy;
use sagealarm::remediate::dispatch::{Dispatch, LambdaDispatch};
use sagealarm::secrets::SecretResolver;
use sagealarm::state::StateTable;
use serde_json::Value;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sagealarm::logging::init();
    let sdk = sagealarm::aws_config().await;
    // A bad routing document fails the cold start loudly rather than dropping alarms later.
    let routing = app::load_routing(Some(&sdk)).await.context("loading the routing document")?;
    let secrets = SecretResolver::new(Some(&sdk), settings::allow_plaintext_secrets());
    let enrich = EnrichMode::from_env(&sdk).context("reading the enrichment settings")?;
    let remediation = Remediation {
        dispatch: settings::remediate_function().map(|f| Arc::new(LambdaDispatch::new(&sdk, f)) as Arc<dyn Dispatch>),
        buttons: settings::slack_buttons(),
        settings: settings::remediation().context("reading the remediation settings")?,
    };
    let mut app = App::new(routing, secrets, enrich, RetryPolicy::default())?.with_remediation(remediation);
    // Delivery records and threads shared by every instance; without it, per-instance memory.
    if let Some(state) = StateTable::from_env(&sdk) {
        app = app.with_state(state);
    }
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Delivery keeps honouring Slack's pace (429 + Retry-After) until just before this.
        let deadline = app::deadline_from_epoch_ms(event.context.deadline);
        let summary = app.handle_until(&event.payload, deadline).await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
