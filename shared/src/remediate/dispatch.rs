//! Handing a [`Request`] to the remediation function: an asynchronous Lambda invoke (`Event`), so
//! neither the alarm function nor the Slack actions function waits on SageMaker. Behind a trait so
//! the callers are tested without Lambda.

use super::Request;
use crate::aws::error_line;
use futures::future::BoxFuture;

pub trait Dispatch: Send + Sync {
    /// `Err` is one line saying why the request was not handed over.
    fn dispatch<'a>(&'a self, req: &'a Request) -> BoxFuture<'a, Result<(), String>>;
}

/// The remediation function, invoked asynchronously: Lambda queues the event and retries it, and
/// the function's failure destination keeps what still fails.
pub struct LambdaDispatch {
    /// Built at the first dispatch: most alarms ask for no remediation.
    client: crate::aws::Lazy<aws_sdk_lambda::Client>,
    function: String,
}

impl LambdaDispatch {
    pub fn new(sdk: &aws_config::SdkConfig, function: impl Into<String>) -> Self {
        Self { client: crate::aws::Lazy::from_config(sdk, aws_sdk_lambda::Client::new), function: function.into() }
    }
}

impl Dispatch for LambdaDispatch {
    fn dispatch<'a>(&'a self, req: &'a Request) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let payload = serde_json::to_vec(req).map_err(|e| format!("encoding the request: {e}"))?;
            self.client
                .invoke()
                .function_name(&self.function)
                .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
                .payload(aws_sdk_lambda::primitives::Blob::new(payload))
                .send()
                .await
                .map_err(|e| format!("Invoke {}: {}", self.function, error_line(&e)))?;
            Ok(())
        })
    }
}
