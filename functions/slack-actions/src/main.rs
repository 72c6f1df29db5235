//! The Slack interactivity Lambda behind a Function URL (auth NONE: Slack cannot sign with SigV4;
//! the Slack request signature is the authentication, checked before anything else).

use anyhow::Context;
use aws_lambda_events::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use sagealarm::app::settings::{self, list, remediate_function};
use sagealarm::deliver::http::RetryPolicy;
use sagealarm::deliver::Receivers;
use sagealarm::remediate::dispatch::LambdaDispatch;
use sagealarm::secrets::{SecretRef, SecretResolver};
use sagealarm::slack_actions::{raw_body, SlackActions};
use sagealarm::state::StateTable;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sagealarm::logging::init();
    let sdk = sagealarm::aws_config().await;
    let secret_ref = std::env::var("SAGEALARM_SLACK_SIGNING_SECRET")
        .context("SAGEALARM_SLACK_SIGNING_SECRET is not set (ssm:/… or secretsmanager:…)")?;
    let secret_ref = SecretRef::try_from(secret_ref).map_err(|e| anyhow::anyhow!("SAGEALARM_SLACK_SIGNING_SECRET: {e}"))?;
    let secret = SecretResolver::new(Some(&sdk), settings::allow_plaintext_secrets())
        .resolve(&secret_ref)
        .await
        .context("resolving the Slack signing secret")?;
    let mut actions = SlackActions::new(secret, list("SAGEALARM_SLACK_ALLOWED_USERS"), list("SAGEALARM_SLACK_ALLOWED_CHANNELS"))
        .context("building the HTTP client for Slack's response_url")?;
    // Remediation buttons, when the remediation function is deployed.
    if let Some(function) = remediate_function() {
        actions = actions.with_remediation(Arc::new(LambdaDispatch::new(&sdk, function)));
    }
    // Acknowledge and Snooze are told to the routing document's receivers (the Slack app's token,
    // PagerDuty's routing keys), as the alarm function delivers to them.
    let routing = sagealarm::app::load_routing(Some(&sdk)).await.context("the routing document")?;
    let mut receivers = Receivers::new(
        routing.receivers,
        SecretResolver::new(Some(&sdk), settings::allow_plaintext_secrets()),
        RetryPolicy { max_retries: 1, ..RetryPolicy::default() },
    )
    .context("building the HTTP client for the receivers")?;
    // Replays are refused across instances, and acknowledgements and snoozes are kept, in the table.
    if let Some(state) = StateTable::from_env(&sdk) {
        receivers = receivers.with_state(state.clone());
        actions = actions.with_state(state);
    }
    actions = actions.with_receivers(Arc::new(receivers));
    if settings::flag("SAGEALARM_SNOOZE_MUTE_RULES") {
        actions = actions.with_mute_rules(&sdk);
    }
    let actions = &actions;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<LambdaFunctionUrlRequest>| async move {
        let req = event.payload;
        let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
        let answer = match raw_body(req.body.as_deref(), req.is_base64_encoded) {
            Ok(body) => {
                actions
                    .handle(header("x-slack-request-timestamp"), header("x-slack-signature"), &body, chrono::Utc::now().timestamp())
                    .await
            }
            Err(e) => sagealarm::slack_actions::Response { status: 400, body: e },
        };
        let mut resp = LambdaFunctionUrlResponse::default();
        resp.status_code = i64::from(answer.status);
        resp.body = Some(answer.body);
        Ok::<_, Error>(resp)
    }))
    .await
}
