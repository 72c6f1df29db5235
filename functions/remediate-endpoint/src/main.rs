//! The remediation Lambda: the only function whose role may write to SageMaker. Invoked
//! asynchronously with a `sagealarm::remediate::Request` by the alarm function (a routing rule)
//! or the Slack actions function (an approved button). Every guardrail is applied in the library.

use anyhow::Context;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use sagealarm::app::{self, carry_out, settings, App, EnrichMode};
use sagealarm::deliver::http::RetryPolicy;
use sagealarm::remediate::{aws::Remediator, Request};
use sagealarm::secrets::SecretResolver;
use sagealarm::state::StateTable;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sagealarm::logging::init();
    let sdk = sagealarm::aws_config().await;
    let policy = settings::remediation().context("reading the remediation settings")?.policy;
    let remediator = Remediator::new(&sdk, policy);
    // The routing document names the receivers that get each decision.
    let routing = app::load_routing(Some(&sdk)).await.context("loading the routing document")?;
    let secrets = SecretResolver::new(Some(&sdk), settings::allow_plaintext_secrets());
    let mut app = App::new(routing, secrets, EnrichMode::Off("remediation function".into()), RetryPolicy::default())?;
    // The per-endpoint lock, and the alarm's threads for the decision's reply.
    if let Some(state) = StateTable::from_env(&sdk) {
        app = app.with_state(state);
    }
    let (remediator, app) = (&remediator, &app);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Request>| async move {
        let deadline = app::deadline_from_epoch_ms(event.context.deadline);
        let carried = carry_out(&event.payload, remediator, app, chrono::Utc::now(), deadline).await;
        Ok::<_, Error>(serde_json::to_value(carried)?)
    }))
    .await
}
