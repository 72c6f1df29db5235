//! The client against a local HTTP server: what it sends (form-encoded POST, GET for label values,
//! SigV4 or bearer headers) and how it reads every documented answer and fault. The engine's
//! answers themselves are tested against a real Prometheus (`shared/tests/llm.rs`).

use super::*;
use wiremock::matchers::{body_string_contains, header, header_exists, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn sdk(token: Option<&str>) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            token.map(str::to_string),
            None,
            "test",
        )))
        .build()
}

fn client(server: &MockServer, source: Source) -> PromQl {
    let settings = PromQlSettings { source, base_url: Some(server.uri()), ..PromQlSettings::default() };
    PromQl::new(&settings, &sdk(Some("session-token")))
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T14:07:31Z").unwrap().with_timezone(&Utc)
}

const VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[
  {"metric":{"aws.sagemaker.inference_component.name":"ic-a","@resource.host.id":"i-1"},"value":[1763647651.512,"0.98"]},
  {"metric":{"aws.sagemaker.inference_component.name":"ic-b","@resource.host.id":"i-1"},"value":[1763647651.512,"NaN"]}]}}"#;

#[tokio::test]
async fn cloudwatch_queries_are_signed_for_monitoring_with_the_session_token_and_form_encoded() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/query"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header_exists("x-amz-date"))
        .and(header("x-amz-security-token", "session-token"))
        .and(body_string_contains("query=max+by"))
        .respond_with(ResponseTemplate::new(200).set_body_string(VECTOR))
        .expect(1)
        .mount(&server)
        .await;
    let q = client(&server, Source::CloudWatch);
    let a = q.query(r#"max by ("@resource.host.id") ({"vllm:kv_cache_usage_perc"})"#, at(), soon()).await.unwrap();
    assert_eq!(a.series.len(), 2);
    assert_eq!(a.series[0].label("aws.sagemaker.inference_component.name"), Some("ic-a"));
    assert_eq!(a.series[0].last(), Some(0.98));
    assert!(a.series[1].last().unwrap().is_nan(), "NaN is read as NaN");
    let req: &Request = &server.received_requests().await.unwrap()[0];
    let auth = req.headers.get("authorization").unwrap().to_str().unwrap().to_string();
    assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), "{auth}");
    assert!(auth.contains("/eu-west-1/monitoring/aws4_request"), "{auth}");
    assert!(auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"), "{auth}");
}

#[tokio::test]
async fn amp_is_signed_for_aps_and_a_plain_url_sends_no_signature() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_string(VECTOR)).mount(&server).await;
    client(&server, Source::Amp { workspace: "ws-1".into() }).query("up", at(), soon()).await.unwrap();
    client(&server, Source::Url { url: server.uri() }).query("up", at(), soon()).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    let auth = reqs[0].headers.get("authorization").unwrap().to_str().unwrap();
    assert!(auth.contains("/eu-west-1/aps/aws4_request"), "{auth}");
    assert!(reqs[1].headers.get("authorization").is_none());
    assert!(reqs[1].headers.get("x-amz-date").is_none());
}

#[test]
fn sources_are_parsed_and_know_their_api() {
    assert_eq!(Source::parse("").unwrap(), Source::CloudWatch);
    assert_eq!(Source::parse("OFF").unwrap(), Source::Off);
    assert_eq!(Source::parse("amp:ws-0123abcd").unwrap(), Source::Amp { workspace: "ws-0123abcd".into() });
    assert_eq!(Source::parse("http://127.0.0.1:9090/").unwrap(), Source::Url { url: "http://127.0.0.1:9090".into() });
    assert!(Source::parse("amp:").unwrap_err().contains("workspace id"));
    assert!(Source::parse("grafana").unwrap_err().contains("is not cloudwatch"));
    assert_eq!(Source::CloudWatch.base_url("us-east-1").as_deref(), Some("https://monitoring.us-east-1.amazonaws.com"));
    assert_eq!(Source::CloudWatch.base_url("cn-north-1").as_deref(), Some("https://monitoring.cn-north-1.amazonaws.com.cn"));
    assert_eq!(
        Source::Amp { workspace: "ws-1".into() }.base_url("us-west-2").as_deref(),
        Some("https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1")
    );
    assert_eq!(Source::CloudWatch.dialect(), Dialect::CloudWatch);
    assert_eq!(Source::Url { url: "http://x".into() }.dialect(), Dialect::Legacy);
}

#[tokio::test]
async fn label_values_are_a_get_with_the_label_percent_encoded_in_the_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/label/%40resource.host.id/values"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"status":"success","data":["i-1","i-2"]}"#))
        .expect(1)
        .mount(&server)
        .await;
    let q = client(&server, Source::CloudWatch);
    let a = q.label_values("@resource.host.id", &[], at() - chrono::Duration::hours(1), at(), soon()).await.unwrap();
    assert_eq!(a.names, ["i-1", "i-2"]);
}

#[tokio::test]
async fn throttling_is_retried_and_a_query_too_expensive_is_not() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("throttled"))
        .respond_with(
            ResponseTemplate::new(422).set_body_string(r#"{"status":"error","errorType":"execution","error":"TPS limit exceeded"}"#),
        )
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("throttled"))
        .respond_with(ResponseTemplate::new(200).set_body_string(VECTOR))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("expensive"))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_string(r#"{"status":"error","errorType":"execution","error":"query exceeded the series scanned limit"}"#),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("busy"))
        .respond_with(ResponseTemplate::new(429).set_body_string(r#"{"message":"Too many concurrent queries"}"#))
        .mount(&server)
        .await;
    let q = client(&server, Source::CloudWatch);
    let a = q.query("throttled", at(), soon()).await.expect("answered after two throttles");
    assert_eq!(a.series.len(), 2);
    let e = q.query("expensive", at(), soon()).await.unwrap_err();
    assert_eq!(
        e,
        PromQlError::Status { status: 422, message: "execution: query exceeded the series scanned limit".into(), retryable: false }
    );
    let before = server.received_requests().await.unwrap().len();
    let e = q.query("busy", at(), soon()).await.unwrap_err();
    assert_eq!(e, PromQlError::Status { status: 429, message: "Too many concurrent queries".into(), retryable: true });
    assert_eq!(server.received_requests().await.unwrap().len() - before, MAX_ATTEMPTS, "a 429 is tried {MAX_ATTEMPTS} times");
}

#[tokio::test]
async fn a_slow_answer_ends_at_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(VECTOR).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let started = Instant::now();
    let e = client(&server, Source::CloudWatch).query("up", at(), Instant::now() + Duration::from_millis(300)).await.unwrap_err();
    assert_eq!(e, PromQlError::Deadline);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn truncation_warnings_matrices_and_native_histograms_are_read() {
    let truncated = parse_ok(
        r#"{"status":"success","warnings":["result truncated to the maximum of 500 series; refine the query or use the limit parameter"],
            "data":{"resultType":"matrix","result":[{"metric":{"__name__":"x"},"values":[[1763647600,"1"],[1763647660,"2"]]}]}}"#,
    );
    assert!(truncated.truncated());
    assert_eq!(truncated.series[0].points.len(), 2);
    assert_eq!(truncated.series[0].peak(), Some(2.0));
    let native = parse_ok(
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"vllm:time_to_first_token_seconds"},
            "histogram":[1763647651,{"count":"100","sum":"150","buckets":[[0,"0","1","50"],[0,"1","2","40"],[0,"2","4","10"]]}]}]}}"#,
    );
    let (_, h) = &native.series[0].histograms[0];
    assert_eq!((h.count, h.mean()), (100.0, Some(1.5)));
    assert_eq!(h.quantile(0.5), Some(1.0));
    assert_eq!(h.quantile(0.99), Some(3.8));
    let range = parse_ok(
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},
            "histograms":[[1763647600,{"count":"1","sum":"2","buckets":[[0,"1","2","1"]]}],[1763647660,{"count":"2","sum":"4","buckets":[[0,"1","2","2"]]}]]}]}}"#,
    );
    assert_eq!(range.series[0].histograms.len(), 2);
    let names = parse_ok(r#"{"status":"success","data":["vllm:kv_cache_usage_perc","DCGM_FI_DEV_FB_USED"]}"#);
    assert_eq!(names.names.len(), 2);
    let series = parse_ok(r#"{"status":"success","data":[{"__name__":"x","__type__":"Histogram","__temporality__":"delta"}]}"#);
    assert_eq!(series.series[0].label("__temporality__"), Some("delta"));
}

#[test]
fn errors_name_what_the_service_said() {
    let e = answer::parse(400, r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#).unwrap_err();
    assert_eq!(e, PromQlError::Status { status: 400, message: "bad_data: parse error at char 5".into(), retryable: false });
    let e = answer::parse(403, r#"{"message":"User is not authorized to perform: cloudwatch:ListMetrics"}"#).unwrap_err();
    assert!(matches!(e, PromQlError::Status { status: 403, retryable: false, .. }), "{e:?}");
    let e = answer::parse(503, "<html>Service Unavailable</html>").unwrap_err();
    assert!(e.retryable(), "{e:?}");
    assert!(matches!(answer::parse(200, "not json"), Err(PromQlError::Decode(_))));
}

fn parse_ok(text: &str) -> Answer {
    answer::parse(200, text).unwrap_or_else(|e| panic!("{e}: {text}"))
}
