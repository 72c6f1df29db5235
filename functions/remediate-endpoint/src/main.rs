//! The remediation Lambda: the only function whose role may write to SageMaker. Invoked
//! asynchronously with a `sagealarm::remediate::Request` by the alarm function (a routing rule)
//! or the Slack actions function (an approved button). Every guardrail is applied here.

use anyhow::Context;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use sagealarm::notify::http::RetryPolicy;
use sagealarm::pipeline::{App, EnrichMode};
use sagealarm::remediate::{aws::Remediator, carry_out, Request};
use sagealarm::secrets::SecretResolver;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sagealarm::logging::init();
    let sdk = sagealarm::aws_config().await;
    let settings = sagealarm::settings::remediation().context("reading the remediation settings")?;
    let remediator = Remediator::new(&sdk, settings.policy);
    // The routing document names the receivers that get each decision.
    let routes = sagealarm::settings::load_routes(Some(&sdk)).await.context("loading the routing document")?;
    let secrets = SecretResolver::new(Some(&sdk), sagealarm::settings::allow_plaintext_secrets());
    let app = App::new(routes, secrets, EnrichMode::Off("remediation function".into()), RetryPolicy::default());
    let (remediator, app) = (&remediator, &app);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Request>| async move {
        let deadline = sagealarm::pipeline::deadline_from_epoch_ms(event.context.deadline);
        let carried = carry_out(&event.payload, remediator, app, chrono::Utc::now(), deadline).await;
        Ok::<_, Error>(serde_json::to_value(carried)?)
    }))
    .await
}
