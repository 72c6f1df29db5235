//! The AWS SDK at one place: the shared configuration every client is built from, and errors
//! turned into the one line an operator needs.

use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

pub use aws_config::SdkConfig as AwsConfig;

/// The shared SDK configuration, built once per cold start; every client comes from it, and with
/// it the one HTTPS client ([`Https`]). `AWS_ENDPOINT_URL_<SERVICE>` in the environment points
/// clients at local emulators.
pub async fn config() -> AwsConfig {
    loader().load().await
}

fn loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(Https::new())
}

/// An SDK client built at its first use instead of at the cold start. Building one takes 0.2–0.4 ms
/// (its runtime plugins and configuration checks), a cold start would build seven, and most events
/// use only some: an alarm that is not about SageMaker needs no enrichment client,
/// a routing document with no secret references no SSM or Secrets Manager client. Derefs to the
/// client; clones share it.
pub struct Lazy<C>(Arc<LazyLock<C, Box<dyn FnOnce() -> C + Send>>>);

impl<C> Lazy<C> {
    /// Built by `build` at the first call.
    pub fn new(build: impl FnOnce() -> C + Send + 'static) -> Self {
        Self(Arc::new(LazyLock::new(Box::new(build))))
    }

    /// Built from (a clone of, cheap) the SDK configuration at the first call.
    pub fn from_config(sdk: &AwsConfig, build: impl FnOnce(&AwsConfig) -> C + Send + 'static) -> Self {
        let sdk = sdk.clone();
        Self::new(move || build(&sdk))
    }

    /// A client built already (tests hand in mocked clients).
    pub fn ready(client: C) -> Self
    where
        C: Send + 'static,
    {
        Self::new(move || client)
    }
}

impl<C> std::ops::Deref for Lazy<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.0
    }
}

impl<C> Clone for Lazy<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<C> std::fmt::Debug for Lazy<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lazy")
    }
}

/// The SDK's own hyper/rustls connector (as its default client builds it: aws-lc, proxy from the
/// environment, the config's timeouts), trusting [`crate::tls::roots`], built at the first call
/// and shared by every SDK client made from the config. The default client reads the system trust
/// store, and builds a connector, parsing every root, for each SDK client at its construction
/// (to check that it can) and again at its first call.
#[derive(Debug)]
struct Https {
    tls: TlsContext,
    /// One connector (and connection pool) per pair of timeouts asked for.
    built: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
}

/// (connect, read)
type Timeouts = (Option<Duration>, Option<Duration>);

impl Https {
    fn new() -> Self {
        let roots = crate::tls::roots().unwrap_or_else(|e| {
            // `deliver::http::client` fails with this (building the app); here it cannot be returned.
            tracing::warn!(error = %e, "AWS calls trust only the compiled-in roots");
            crate::tls::compiled_in()
        });
        let store = TrustStore::empty().with_native_roots(false).with_pem_certificate(crate::tls::pem_bundle(roots));
        let tls = TlsContext::builder().with_trust_store(store).build().expect("TlsContext::build only stores its fields");
        Self { tls, built: Mutex::new(vec![]) }
    }
}

impl HttpClient for Https {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, c)) = built.iter().find(|(k, _)| *k == key) {
            return c.clone();
        }
        let mut b = Connector::builder().connector_settings(settings.clone()).proxy_config(ProxyConfig::from_env());
        b.set_sleep_impl(components.sleep_impl());
        let c = SharedHttpConnector::new(b.tls_provider(Provider::Rustls(CryptoMode::AwsLc)).tls_context(self.tls.clone()).build());
        built.push((key, c.clone()));
        c
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ssm::config::{Credentials, Region};
    use wiremock::matchers::{header, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[test]
    fn a_lazy_client_is_built_once_at_its_first_use_and_shared_by_its_clones() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let built = Arc::new(AtomicUsize::new(0));
        let counter = built.clone();
        let lazy = Lazy::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            String::from("client")
        });
        let copy = lazy.clone();
        assert_eq!(built.load(Ordering::SeqCst), 0, "not built before its first use");
        assert_eq!((copy.as_str(), lazy.as_str()), ("client", "client"));
        assert_eq!(built.load(Ordering::SeqCst), 1);
        assert_eq!(*Lazy::ready(7), 7);
    }

    /// Plain http, as the emulators speak it: clients made from the config reach it through the
    /// one shared HTTPS client, with the config's timeouts.
    #[tokio::test]
    async fn clients_made_from_the_config_share_its_client_and_reach_a_plain_http_endpoint() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(header("x-amz-target", "AmazonSSM.GetParameter"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(r#"{"Parameter":{"Name":"/sagealarm/routes","Value":"routes: []"}}"#, "application/x-amz-json-1.1"),
            )
            .expect(2)
            .mount(&server)
            .await;
        let sdk = loader()
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
            .endpoint_url(server.uri())
            .load()
            .await;
        assert!(sdk.timeout_config().and_then(|t| t.connect_timeout()).is_some(), "a connect timeout: {:?}", sdk.timeout_config());
        for _ in 0..2 {
            let got = aws_sdk_ssm::Client::new(&sdk).get_parameter().name("/sagealarm/routes").send().await.expect("GetParameter");
            assert_eq!(got.parameter().and_then(|p| p.value()), Some("routes: []"));
        }
        // Two SDK clients, one connector: the roots were parsed once.
        let https = format!("{:?}", sdk.http_client().expect("the config carries the client"));
        assert!(https.starts_with("SharedHttpClient { selector: Https {"), "{https}");
        assert_eq!(https.matches("SharedHttpConnector(").count(), 1, "{https}");
    }
}
