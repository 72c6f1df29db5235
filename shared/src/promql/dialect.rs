//! The two ways the same SageMaker labels are written. CloudWatch keeps OpenTelemetry's names as
//! they are (`aws.sagemaker.endpoint.name`, resource attributes under `@resource.`), which PromQL
//! must quote: `{"vllm:kv_cache_usage_perc", "aws.sagemaker.endpoint.name"="ep"}`,
//! `by ("@resource.host.id")`. An OpenTelemetry collector's Prometheus exporter (a self-hosted
//! Prometheus, AMP) writes them the legacy way: dots as underscores, resource attributes without
//! the prefix (`aws_sagemaker_endpoint_name`, `host_id`).

use super::Series;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Quoted UTF-8 names, as CloudWatch's PromQL stores OpenTelemetry metrics.
    CloudWatch,
    /// Legacy Prometheus names.
    Legacy,
}

/// The labels sagealarm reads and filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    Endpoint,
    Variant,
    Component,
    Host,
    Zone,
    InstanceType,
    Gpu,
    Framework,
}

impl Label {
    pub const ALL: [Label; 8] =
        [Label::Endpoint, Label::Variant, Label::Component, Label::Host, Label::Zone, Label::InstanceType, Label::Gpu, Label::Framework];

    /// This label as CloudWatch names it.
    pub fn cloudwatch(self) -> &'static str {
        match self {
            Label::Endpoint => "aws.sagemaker.endpoint.name",
            Label::Variant => "aws.sagemaker.variant.name",
            Label::Component => "aws.sagemaker.inference_component.name",
            Label::Host => "@resource.host.id",
            Label::Zone => "@resource.cloud.availability_zone",
            Label::InstanceType => "@resource.host.type",
            Label::Gpu => "gpu",
            Label::Framework => "aws.sagemaker.inference_framework",
        }
    }

    /// This label as a Prometheus exporter names it.
    pub fn legacy(self) -> &'static str {
        match self {
            Label::Endpoint => "aws_sagemaker_endpoint_name",
            Label::Variant => "aws_sagemaker_variant_name",
            Label::Component => "aws_sagemaker_inference_component_name",
            Label::Host => "host_id",
            Label::Zone => "cloud_availability_zone",
            Label::InstanceType => "host_type",
            Label::Gpu => "gpu",
            Label::Framework => "aws_sagemaker_inference_framework",
        }
    }

    /// Which label a name is, in either dialect (a PromQL alarm's contributor attributes come in
    /// whatever form the alarm's query used). `resource.host.id`, without the `@`, is accepted too.
    pub fn from_name(name: &str) -> Option<Label> {
        let n = name.trim();
        let bare = n.strip_prefix('@').unwrap_or(n);
        Label::ALL.into_iter().find(|l| {
            let cw = l.cloudwatch();
            n == cw || bare == cw.strip_prefix('@').unwrap_or(cw) || n == l.legacy() || bare == cw.trim_start_matches("@resource.")
        })
    }
}

impl Dialect {
    pub fn label(self, l: Label) -> &'static str {
        match self {
            Dialect::CloudWatch => l.cloudwatch(),
            Dialect::Legacy => l.legacy(),
        }
    }

    /// The value of `l` on a series, in whichever dialect the series names it.
    pub fn read(self, s: &Series, l: Label) -> Option<String> {
        s.label(self.label(l)).or_else(|| s.label(l.cloudwatch())).or_else(|| s.label(l.legacy())).map(str::to_string)
    }

    /// A label name as it must be written in a query: quoted when it is not a legacy identifier.
    fn name(self, name: &str) -> String {
        if is_identifier(name) {
            name.to_string()
        } else {
            string(name)
        }
    }

    /// `metric{a="x", b=~"y"}`, or `{"metric", "a.b"="x"}` when the metric name needs quoting.
    /// Matchers: label, operator (`=`, `!=`, `=~`, `!~`), value.
    pub fn selector(self, metric: &str, matchers: &[(Label, &str, &str)]) -> String {
        let parts: Vec<String> = matchers.iter().map(|(l, op, v)| format!("{}{op}{}", self.name(self.label(*l)), string(v))).collect();
        if is_metric_identifier(metric) {
            format!("{metric}{{{}}}", parts.join(", "))
        } else {
            let mut all = vec![string(metric)];
            all.extend(parts);
            format!("{{{}}}", all.join(", "))
        }
    }

    /// `by (a, b)` / `by ("a.b", "@c")`; extra names (`le`) as they are.
    pub fn by(self, labels: &[Label], extra: &[&str]) -> String {
        let names: Vec<String> = labels.iter().map(|l| self.name(self.label(*l))).chain(extra.iter().map(|e| self.name(e))).collect();
        format!("by ({})", names.join(", "))
    }
}

/// A legacy label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A legacy metric name: colons allowed too.
fn is_metric_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A PromQL string literal: double-quoted, `\` and `"` escaped, control characters as escapes.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A regex that matches `s` literally (for `=~` matchers over several values).
pub fn regex_literal(s: &str) -> String {
    regex::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_in_both_dialects() {
        let m = [(Label::Endpoint, "=", "llm-prod"), (Label::Host, "=", "i-1")];
        assert_eq!(
            Dialect::CloudWatch.selector("vllm:kv_cache_usage_perc", &m),
            r#"vllm:kv_cache_usage_perc{"aws.sagemaker.endpoint.name"="llm-prod", "@resource.host.id"="i-1"}"#
        );
        assert_eq!(
            Dialect::Legacy.selector("vllm:kv_cache_usage_perc", &m),
            r#"vllm:kv_cache_usage_perc{aws_sagemaker_endpoint_name="llm-prod", host_id="i-1"}"#
        );
        assert_eq!(Dialect::CloudWatch.selector("http.server.active_requests", &[]), r#"{"http.server.active_requests"}"#);
        assert_eq!(
            Dialect::CloudWatch.by(&[Label::Component, Label::Host], &["le"]),
            r#"by ("aws.sagemaker.inference_component.name", "@resource.host.id", le)"#
        );
        assert_eq!(Dialect::Legacy.by(&[Label::Zone], &[]), "by (cloud_availability_zone)");
    }

    #[test]
    fn untrusted_values_cannot_break_out_of_their_string() {
        let s = Dialect::Legacy.selector("up", &[(Label::Endpoint, "=", "a\"} or vector(1) or {x=\"\\")]);
        assert_eq!(s, r#"up{aws_sagemaker_endpoint_name="a\"} or vector(1) or {x=\"\\"}"#);
        assert_eq!(string("line\nbreak"), r#""line\nbreak""#);
    }

    #[test]
    fn labels_are_known_in_every_spelling() {
        for name in ["aws.sagemaker.inference_component.name", "aws_sagemaker_inference_component_name"] {
            assert_eq!(Label::from_name(name), Some(Label::Component), "{name}");
        }
        for name in ["@resource.host.id", "resource.host.id", "host_id", "host.id"] {
            assert_eq!(Label::from_name(name), Some(Label::Host), "{name}");
        }
        assert_eq!(Label::from_name("@resource.cloud.availability_zone"), Some(Label::Zone));
        assert_eq!(Label::from_name("le"), None);
    }
}
