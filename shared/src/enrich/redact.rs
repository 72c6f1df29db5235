//! Secrets out of log excerpts before they reach Slack or PagerDuty: AWS keys, bearer tokens,
//! passwords in URLs, `password=`-style pairs, Slack webhook paths.

use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

const MASK: &str = "[REDACTED]";

static RULES: LazyLock<Vec<(Regex, String)>> = LazyLock::new(|| {
    [
        // Access key ids (long-term AKIA, temporary ASIA).
        (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", MASK.to_string()),
        // user:password@ in any URL: keep the user, drop the password.
        (r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@]+):[^\s@/]+@", format!("$1:{MASK}@")),
        (r"(?i)\b(bearer|token)\s+[A-Za-z0-9\-._~+/]{8,}=*", format!("$1 {MASK}")),
        (r"(?i)\bauthorization\s*[:=]\s*\S+(\s+\S+)?", format!("authorization: {MASK}")),
        // key=value / "key": "value" for secret-looking keys (aws_secret_access_key, api_key, password…).
        (
            r#"(?i)\b([a-z_\-]*(?:secret|password|passwd|pwd|api[_\-]?key|access[_\-]?token|session[_\-]?token|private[_\-]?key)[a-z_\-]*)("?\s*[:=]\s*"?)[^\s",;}]+"#,
            format!("$1$2{MASK}"),
        ),
        (r"hooks\.slack\.com/services/[A-Za-z0-9/]+", format!("hooks.slack.com/services/{MASK}")),
        // Bare 40-char secret access keys only next to an access key id pattern are caught above;
        // JWTs are recognisable on their own.
        (r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}", MASK.to_string()),
    ]
    .into_iter()
    .filter_map(|(re, with)| Regex::new(re).ok().map(|r| (r, with)))
    .collect()
});

pub fn redact(line: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(line);
    for (re, with) in RULES.iter() {
        if re.is_match(&out) {
            out = Cow::Owned(re.replace_all(&out, with.as_str()).into_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_compiles() {
        assert_eq!(RULES.len(), 7);
    }

    #[test]
    fn secrets_are_masked_and_the_rest_kept() {
        let cases = [
            ("using key AKIAIOSFODNN7EXAMPLE now", "using key [REDACTED] now"),
            ("db postgres://app:hunter2@db.internal:5432/x failed", "db postgres://app:[REDACTED]@db.internal:5432/x failed"),
            ("Authorization: Bearer abc.def-ghi_jkl012345", "authorization: [REDACTED]"),
            ("sent token sk_live_0123456789abcdef", "sent token [REDACTED]"),
            ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key=[REDACTED]"),
            (r#"{"password": "s3cr3t", "user": "bob"}"#, r#"{"password": "[REDACTED]", "user": "bob"}"#),
            ("post to https://hooks.slack.com/services/T000/B000/XXXX", "post to https://hooks.slack.com/services/[REDACTED]"),
            ("CUDA out of memory. Tried to allocate 2.00 GiB", "CUDA out of memory. Tried to allocate 2.00 GiB"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }
}
