//! The alarm Lambda's app, with its routing document fetched in the background from the cold
//! start on: an event waits for it only at the route stage, after intake and enrichment, which the
//! fetch overlaps.
//!
//! Why: the fetch (SSM `GetParameter`) was most of the cold start (7–9 ms of 15 on loopback,
//! more against SSM itself), and enrichment, which every SageMaker alarm runs first, does not need
//! the document. A fetch or a document that fails fails the event with that one line (Lambda
//! retries it; the failure destination keeps it), and the next event fetches again: a fixed
//! document is taken without a new cold start.

use super::{reports, App, EnrichMode, HandleError, Remediation, Summary};
use crate::deliver::http::RetryPolicy;
use crate::intake;
use crate::secrets::SecretResolver;
use crate::state::StateTable;
use futures::future::BoxFuture;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// Builds the [`App`]: fetches and validates the routing document, then the receivers. `Err` is
/// one line saying what failed.
pub type Build = Arc<dyn Fn() -> BoxFuture<'static, Result<App, String>> + Send + Sync>;

/// What the alarm function's app is built from, besides its routing document.
#[derive(Clone)]
pub struct Parts {
    pub sdk: crate::AwsConfig,
    pub secrets: SecretResolver,
    pub enrich: EnrichMode,
    pub remediation: Remediation,
    pub state: Option<StateTable>,
}

impl Parts {
    /// Fetches the routing document from the environment ([`super::load_routing`]) and builds the
    /// app around it.
    async fn build(self) -> Result<App, String> {
        let routing = super::load_routing(Some(&self.sdk)).await.map_err(|e| format!("loading the routing document: {e}"))?;
        let app = App::new(routing, self.secrets, self.enrich, RetryPolicy::default()).map_err(|e| e.to_string())?;
        let app = app.with_buttons(self.remediation.buttons).with_remediation(self.remediation);
        Ok(match self.state {
            Some(state) => app.with_state(state),
            None => app,
        })
    }
}

pub struct Deferred {
    enrich: EnrichMode,
    app: Arc<OnceCell<App>>,
    build: Build,
}

impl Deferred {
    /// Starts building the app on the runtime (in the background) and returns at once. `enrich`
    /// enriches every event (before its app may be ready); the app routes and delivers.
    pub fn start(enrich: EnrichMode, build: Build) -> Self {
        let this = Self { enrich, app: Arc::new(OnceCell::new()), build };
        let (app, build) = (this.app.clone(), this.build.clone());
        tokio::spawn(async move {
            if let Err(e) = app.get_or_try_init(|| build()).await {
                // The first event tries again and fails with this, if it still fails.
                tracing::error!(error = %e, "the app could not be built at the cold start");
            }
        });
        this
    }

    /// The alarm function's app: the routing document from the environment, fetched from now on.
    pub fn load(parts: Parts) -> Self {
        let enrich = match &parts.state {
            Some(state) => parts.enrich.clone().with_state(state.clone()),
            None => parts.enrich.clone(),
        };
        Self::start(enrich, Arc::new(move || Box::pin(parts.clone().build())))
    }

    /// The built app, waiting for the build under way or starting one when the last failed.
    async fn app(&self) -> Result<&App, HandleError> {
        self.app.get_or_try_init(|| (self.build)()).await.map_err(HandleError::NotReady)
    }

    /// [`App::handle_until`], with the event's intake and enrichment run while the app is built.
    pub async fn handle_until(&self, event: &Value, deadline: Instant) -> Result<Summary, HandleError> {
        let started = std::time::Instant::now();
        let notifications = intake::parse_event(event)?;
        let count = notifications.len();
        let (reports, app) = tokio::join!(reports(notifications, &self.enrich), self.app());
        app?.deliver_reports(count, reports, deadline, started).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::Routing;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn event() -> Value {
        serde_json::from_str(include_str!("../../../events/sns-gpu-utilization-alarm.json")).expect("event")
    }

    /// A build that fails `failures` times ("ParameterNotFound"), then builds an app with one
    /// webhook receiver at `url`, each attempt taking `delay`; it counts its calls.
    fn build(url: String, failures: usize, delay: Duration, calls: Arc<AtomicUsize>) -> Build {
        Arc::new(move || {
            let (url, calls) = (url.clone(), calls.clone());
            Box::pin(async move {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                if n < failures {
                    return Err("SAGEALARM_ROUTES_SSM /sagealarm/routes: ParameterNotFound: Parameter not found.".into());
                }
                let doc =
                    format!("receivers:\n  - name: hook\n    slack: {{ webhook_url: \"{url}/hook\" }}\nroute:\n  receivers: [hook]\n");
                let routing = Routing::parse(&doc).map_err(|e| e.to_string())?;
                App::new(routing, SecretResolver::new(None, true), EnrichMode::Off("test".into()), RetryPolicy::default())
                    .map_err(|e| e.to_string())
            })
        })
    }

    #[tokio::test]
    async fn the_app_is_built_from_the_start_and_an_event_waits_for_it() {
        let hook = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).expect(1).mount(&hook).await;
        let calls = Arc::new(AtomicUsize::new(0));
        let d = Deferred::start(EnrichMode::Off("test".into()), build(hook.uri(), 0, Duration::from_millis(200), calls.clone()));
        // Before any event: the build is under way.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let summary = d.handle_until(&event(), Instant::now() + Duration::from_secs(10)).await.expect("delivered");
        assert_eq!((summary.notifications, summary.deliveries.len()), (1, 1));
        assert!(summary.deliveries[0].ok, "{summary:?}");
        // One build served the event and is kept.
        d.handle_until(&event(), Instant::now() + Duration::from_secs(10)).await.ok();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_build_fails_the_event_with_its_line_and_the_next_event_builds_again() {
        let hook = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).expect(1).mount(&hook).await;
        let calls = Arc::new(AtomicUsize::new(0));
        // The background build and the first event's own attempt both fail. The event comes while
        // the background build is under way: it waits for it, then tries itself.
        let d = Deferred::start(EnrichMode::Off("test".into()), build(hook.uri(), 2, Duration::from_millis(50), calls.clone()));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let err = d.handle_until(&event(), Instant::now() + Duration::from_secs(10)).await.expect_err("no routing document");
        assert_eq!(
            err.to_string(),
            "not delivered, the app is not ready: SAGEALARM_ROUTES_SSM /sagealarm/routes: ParameterNotFound: Parameter not found."
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let summary = d.handle_until(&event(), Instant::now() + Duration::from_secs(10)).await.expect("delivered on the next event");
        assert!(summary.deliveries[0].ok);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn bad_input_is_refused_before_waiting_for_the_app() {
        let calls = Arc::new(AtomicUsize::new(0));
        let d = Deferred::start(EnrichMode::Off("test".into()), build("http://127.0.0.1:9".into(), 0, Duration::from_secs(30), calls));
        let started = std::time::Instant::now();
        let err = d.handle_until(&serde_json::json!({"hello": 1}), Instant::now() + Duration::from_secs(10)).await.expect_err("bad input");
        assert!(matches!(err, HandleError::Intake(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
