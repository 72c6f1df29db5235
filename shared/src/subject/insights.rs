//! A recursive-descent parser of the CloudWatch Metrics Insights subset that alarms use:
//!
//! ```text
//! SELECT fn(metric)
//! FROM namespace | SCHEMA(namespace [, key …])
//! [WHERE cond]            cond := conj (OR conj)* ; conj := atom (AND atom)* ;
//!                         atom := ( cond ) | NOT atom | key (= | != | <> | LIKE | NOT LIKE) value | key [NOT] IN (value, …)
//! [GROUP BY key [, key …]]
//! [ORDER BY fn() [ASC | DESC]]
//! [LIMIT n]
//! ```
//!
//! Keywords are case-insensitive; `"…"` quotes a name (namespace, metric, key) and `'…'` a value,
//! both with `\` escaping the next character. Only equality filters joined by `AND` count as
//! [`InsightsQuery::filters`]: with an `OR` anywhere no single value is certain, so none is kept.
//! Errors are one line and name the character where parsing stopped; nothing panics.

use crate::model::Statistic;
use serde::Serialize;

/// What a Metrics Insights query selects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InsightsQuery {
    pub namespace: String,
    /// The dimension keys of `SCHEMA(namespace, keys…)`; empty for a bare namespace.
    pub schema_keys: Vec<String>,
    pub metric: String,
    /// `MAX` → `Maximum`, `AVG` → `Average`, `SUM` → `Sum`, `MIN` → `Minimum`, `COUNT` → `SampleCount`.
    pub statistic: Statistic,
    /// `key = 'value'` conditions that all must hold (none when the WHERE has an `OR`).
    pub filters: Vec<(String, String)>,
    pub group_by: Vec<String>,
    /// `ORDER BY fn() DESC` → (`Maximum`, true).
    pub order_by: Option<(Statistic, bool)>,
    pub limit: Option<u64>,
}

impl InsightsQuery {
    pub fn filter(&self, key: &str) -> Option<&str> {
        self.filters.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Why a query could not be read: one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Metrics Insights query, at character {at}: {message}")]
pub struct ParseError {
    /// 0-based character offset.
    pub at: usize,
    pub message: String,
}

/// Parses one query. Only `SELECT` queries are Metrics Insights: metric math (`m1 / m2`) is an error.
pub fn parse(query: &str) -> Result<InsightsQuery, ParseError> {
    let tokens = lex(query)?;
    let mut p = Parser { tokens, pos: 0, end: query.chars().count() };
    let q = p.query()?;
    match p.peek() {
        None => Ok(q),
        Some(t) => Err(p.error_at(t.at, format!("unexpected {} after the query", t.kind.describe()))),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// A bare word: keyword, function, unquoted name.
    Word(String),
    /// `"…"`: a name.
    Quoted(String),
    /// `'…'`: a value.
    Str(String),
    Number(String),
    Punct(&'static str),
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Word(w) => format!("`{w}`"),
            Kind::Quoted(s) => format!("\"{s}\""),
            Kind::Str(s) => format!("'{s}'"),
            Kind::Number(n) => format!("number {n}"),
            Kind::Punct(p) => format!("`{p}`"),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    at: usize,
}

fn lex(s: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let kind = match c {
            '"' | '\'' => {
                let (text, next) = quoted(&chars, i)?;
                i = next;
                if c == '"' {
                    Kind::Quoted(text)
                } else {
                    Kind::Str(text)
                }
            }
            '(' | ')' | ',' | '=' | '*' => {
                i += 1;
                Kind::Punct(match c {
                    '(' => "(",
                    ')' => ")",
                    ',' => ",",
                    '=' => "=",
                    _ => "*",
                })
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                i += 2;
                Kind::Punct("!=")
            }
            '<' if chars.get(i + 1) == Some(&'>') => {
                i += 2;
                Kind::Punct("!=")
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                Kind::Number(chars[start..i].iter().collect())
            }
            c if is_word_char(c) => {
                let start = i;
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                Kind::Word(chars[start..i].iter().collect())
            }
            other => return Err(ParseError { at, message: format!("unexpected character {other:?}") }),
        };
        out.push(Token { kind, at });
    }
    Ok(out)
}

/// Unquoted names may hold what CloudWatch namespaces and metric names commonly do.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | '#')
}

/// A quoted run starting at `chars[start]` (the quote); `\` escapes the next character.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), ParseError> {
    let quote = chars[start];
    let mut text = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                text.push(chars[i + 1]);
                i += 2;
            }
            c if c == quote => return Ok((text, i + 1)),
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    Err(ParseError { at: start, message: format!("unterminated {quote}…{quote}") })
}

/// Deeper parentheses than this are refused rather than risking the stack.
const MAX_DEPTH: usize = 32;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Character count of the input, for "at the end" errors.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn error_at(&self, at: usize, message: String) -> ParseError {
        ParseError { at, message }
    }

    /// "expected X, found Y" at the current token.
    fn expected(&self, what: &str) -> ParseError {
        match self.peek() {
            Some(t) => self.error_at(t.at, format!("expected {what}, found {}", t.kind.describe())),
            None => self.error_at(self.end, format!("expected {what}, found the end of the query")),
        }
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: Kind::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        let yes = self.is_keyword(kw);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn keyword(&mut self, kw: &str) -> Result<(), ParseError> {
        if self.eat_keyword(kw) {
            Ok(())
        } else {
            Err(self.expected(kw))
        }
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        let yes = matches!(self.peek(), Some(Token { kind: Kind::Punct(q), .. }) if *q == p);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn punct(&mut self, p: &str) -> Result<(), ParseError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{p}`")))
        }
    }

    /// A name: a bare word that is not a clause keyword, or a `"…"` string.
    fn name(&mut self, what: &str) -> Result<String, ParseError> {
        const RESERVED: [&str; 11] = ["SELECT", "FROM", "WHERE", "GROUP", "ORDER", "BY", "LIMIT", "AND", "OR", "NOT", "SCHEMA"];
        let found = match self.peek() {
            Some(Token { kind: Kind::Quoted(s), .. }) if !s.trim().is_empty() => Some(s.clone()),
            Some(Token { kind: Kind::Word(w), .. }) if !RESERVED.iter().any(|r| w.eq_ignore_ascii_case(r)) => Some(w.clone()),
            _ => None,
        };
        match found {
            Some(s) => {
                self.pos += 1;
                Ok(s)
            }
            None => Err(self.expected(what)),
        }
    }

    /// A value on the right of a condition: `'…'`, `"…"`, a number or a bare word.
    fn value(&mut self) -> Result<String, ParseError> {
        let found = match self.peek() {
            Some(Token { kind: Kind::Str(s) | Kind::Quoted(s) | Kind::Number(s) | Kind::Word(s), .. }) => Some(s.clone()),
            _ => None,
        };
        match found {
            Some(s) => {
                self.pos += 1;
                Ok(s)
            }
            None => Err(self.expected("a value ('…')")),
        }
    }

    /// `MAX` … → the statistic GetMetricData names.
    fn function(&mut self) -> Result<Statistic, ParseError> {
        let stat = match self.peek() {
            Some(Token { kind: Kind::Word(w), .. }) => match w.to_ascii_uppercase().as_str() {
                "MAX" => Some("Maximum"),
                "MIN" => Some("Minimum"),
                "AVG" => Some("Average"),
                "SUM" => Some("Sum"),
                "COUNT" => Some("SampleCount"),
                _ => None,
            },
            _ => None,
        };
        match stat {
            Some(s) => {
                self.pos += 1;
                Ok(Statistic(s.to_string()))
            }
            None => Err(self.expected("a function (AVG, COUNT, MAX, MIN, SUM)")),
        }
    }

    fn query(&mut self) -> Result<InsightsQuery, ParseError> {
        self.keyword("SELECT")?;
        let statistic = self.function()?;
        self.punct("(")?;
        let metric = self.name("a metric name")?;
        self.punct(")")?;

        self.keyword("FROM")?;
        let (namespace, schema_keys) = if self.eat_keyword("SCHEMA") {
            self.punct("(")?;
            let namespace = self.name("a namespace")?;
            let mut keys = Vec::new();
            while self.eat_punct(",") {
                keys.push(self.name("a dimension key")?);
            }
            self.punct(")")?;
            (namespace, keys)
        } else {
            (self.name("a namespace or SCHEMA(…)")?, vec![])
        };

        let mut filters = Vec::new();
        if self.eat_keyword("WHERE") {
            let mut any_or = false;
            self.condition(&mut filters, &mut any_or, 0)?;
            if any_or {
                filters.clear();
            }
        }

        let mut group_by = Vec::new();
        if self.eat_keyword("GROUP") {
            self.keyword("BY")?;
            group_by.push(self.name("a dimension key")?);
            while self.eat_punct(",") {
                group_by.push(self.name("a dimension key")?);
            }
        }

        let mut order_by = None;
        if self.eat_keyword("ORDER") {
            self.keyword("BY")?;
            let f = self.function()?;
            self.punct("(")?;
            self.punct(")")?;
            let desc = if self.eat_keyword("DESC") {
                true
            } else {
                self.eat_keyword("ASC");
                false
            };
            order_by = Some((f, desc));
        }

        let mut limit = None;
        if self.eat_keyword("LIMIT") {
            let n = match self.peek() {
                Some(Token { kind: Kind::Number(n), .. }) => n.parse::<u64>().ok(),
                _ => None,
            };
            match n {
                Some(n) => {
                    self.pos += 1;
                    limit = Some(n);
                }
                None => return Err(self.expected("a whole number after LIMIT")),
            }
        }

        Ok(InsightsQuery { namespace, schema_keys, metric, statistic, filters, group_by, order_by, limit })
    }

    /// `conj (OR conj)*`; equality atoms are collected, and `any_or` set when an `OR` appears.
    fn condition(&mut self, filters: &mut Vec<(String, String)>, any_or: &mut bool, depth: usize) -> Result<(), ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.expected(&format!("at most {MAX_DEPTH} nested parentheses")));
        }
        self.conjunction(filters, any_or, depth)?;
        while self.eat_keyword("OR") {
            *any_or = true;
            self.conjunction(filters, any_or, depth)?;
        }
        Ok(())
    }

    fn conjunction(&mut self, filters: &mut Vec<(String, String)>, any_or: &mut bool, depth: usize) -> Result<(), ParseError> {
        self.atom(filters, any_or, depth, false)?;
        while self.eat_keyword("AND") {
            self.atom(filters, any_or, depth, false)?;
        }
        Ok(())
    }

    fn atom(&mut self, filters: &mut Vec<(String, String)>, any_or: &mut bool, depth: usize, negated: bool) -> Result<(), ParseError> {
        if self.eat_punct("(") {
            // An equality under NOT is not a filter: collect into a scratch list then.
            if negated {
                self.condition(&mut Vec::new(), any_or, depth + 1)?;
            } else {
                self.condition(filters, any_or, depth + 1)?;
            }
            return self.punct(")");
        }
        if self.eat_keyword("NOT") {
            if depth > MAX_DEPTH {
                return Err(self.expected(&format!("at most {MAX_DEPTH} nested NOTs")));
            }
            return self.atom(filters, any_or, depth + 1, !negated);
        }
        let key = self.name("a dimension key")?;
        if self.eat_punct("=") {
            let v = self.value()?;
            if !negated {
                filters.push((key, v));
            }
        } else if self.eat_punct("!=") || self.eat_keyword("LIKE") {
            self.value()?;
        } else if self.eat_keyword("NOT") {
            if self.eat_keyword("LIKE") {
                self.value()?;
            } else {
                self.keyword("IN")?;
                self.value_list()?;
            }
        } else if self.eat_keyword("IN") {
            self.value_list()?;
        } else {
            return Err(self.expected("an operator (=, !=, LIKE, IN)"));
        }
        Ok(())
    }

    fn value_list(&mut self) -> Result<(), ParseError> {
        self.punct("(")?;
        self.value()?;
        while self.eat_punct(",") {
            self.value()?;
        }
        self.punct(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GPU: &str = r#"SELECT MAX(GPUUtilizationNormalized) FROM SCHEMA("/aws/sagemaker/Endpoints", EndpointName, InstanceId, GpuId) WHERE EndpointName = 'llm-prod' GROUP BY InstanceId, GpuId ORDER BY MAX() DESC"#;

    #[test]
    fn the_per_gpu_query() {
        let q = parse(GPU).unwrap();
        assert_eq!(q.namespace, "/aws/sagemaker/Endpoints");
        assert_eq!(q.schema_keys, ["EndpointName", "InstanceId", "GpuId"]);
        assert_eq!(q.metric, "GPUUtilizationNormalized");
        assert_eq!(q.statistic.as_str(), "Maximum");
        assert_eq!(q.filters, vec![("EndpointName".to_string(), "llm-prod".to_string())]);
        assert_eq!(q.group_by, ["InstanceId", "GpuId"]);
        assert_eq!(q.order_by, Some((Statistic("Maximum".into()), true)));
        assert_eq!(q.limit, None);
    }

    #[test]
    fn every_function_maps_to_a_statistic() {
        for (f, s) in [("MAX", "Maximum"), ("min", "Minimum"), ("Avg", "Average"), ("sum", "Sum"), ("COUNT", "SampleCount")] {
            let q = parse(&format!("SELECT {f}(Invocations) FROM \"AWS/SageMaker\"")).unwrap();
            assert_eq!(q.statistic.as_str(), s, "{f}");
        }
    }

    #[test]
    fn keywords_are_case_insensitive_and_names_keep_their_case() {
        let q = parse("select avg(CPUUtilization) from schema(\"/aws/sagemaker/Endpoints\", EndpointName, VariantName) where EndpointName = 'Ep' and VariantName = 'AllTraffic' group by InstanceId order by avg() asc limit 10").unwrap();
        assert_eq!(q.metric, "CPUUtilization");
        assert_eq!(q.filter("EndpointName"), Some("Ep"));
        assert_eq!(q.filter("VariantName"), Some("AllTraffic"));
        assert_eq!(q.group_by, ["InstanceId"]);
        assert_eq!(q.order_by, Some((Statistic("Average".into()), false)));
        assert_eq!(q.limit, Some(10));
    }

    #[test]
    fn quoting_names_and_values() {
        let q = parse(r#"SELECT SUM("Invocation 5XX") FROM "AWS/SageMaker" WHERE "EndpointName" = 'it\'s-prod' AND VariantName = "v\"1""#)
            .unwrap();
        assert_eq!(q.metric, "Invocation 5XX");
        assert_eq!(q.namespace, "AWS/SageMaker");
        assert_eq!(q.filter("EndpointName"), Some("it's-prod"));
        assert_eq!(q.filter("VariantName"), Some("v\"1"));
        // Unquoted namespace with slashes, as users write it.
        let q = parse("SELECT AVG(ConsumedWriteCapacityUnits) FROM AWS/DynamoDB GROUP BY TableName").unwrap();
        assert_eq!((q.namespace.as_str(), q.schema_keys.len()), ("AWS/DynamoDB", 0));
    }

    #[test]
    fn only_certain_equalities_are_filters() {
        let q = parse("SELECT MAX(M) FROM SCHEMA(N, A, B, C) WHERE A = 'x' AND B != 'y' AND C LIKE 'z%' AND NOT A = 'w' AND B IN ('1', '2') AND C NOT IN ('3')").unwrap();
        assert_eq!(q.filters, vec![("A".to_string(), "x".to_string())]);
        let q = parse("SELECT MAX(M) FROM N WHERE (A = 'x' AND B = 'y') OR A = 'z'").unwrap();
        assert!(q.filters.is_empty());
        let q = parse("SELECT MAX(M) FROM N WHERE (A = 'x') AND (B = 'y')").unwrap();
        assert_eq!(q.filters.len(), 2);
    }

    #[test]
    fn bad_input_is_a_one_line_error() {
        for bad in [
            "",
            "m1 / m2",
            "ANOMALY_DETECTION_BAND(m1, 2)",
            "SELECT MEDIAN(x) FROM y",
            "SELECT MAX(x) FROM",
            "SELECT MAX(x) FROM SCHEMA(\"ns\", a",
            "SELECT MAX(x) FROM y WHERE a = 'unterminated",
            "SELECT MAX(x) FROM y WHERE a",
            "SELECT MAX(x) FROM y GROUP a",
            "SELECT MAX(x) FROM y LIMIT many",
            "SELECT MAX(x) FROM y extra",
            "SELECT MAX(x) FROM y WHERE a = 'b' ; DROP",
            "SELECT MAX(x) FROM y ORDER BY MAX( DESC",
            "SELECT MAX(\"\") FROM y",
            "SELECT MAX(x) FROM \" \"",
        ] {
            let e = parse(bad).expect_err(bad).to_string();
            assert!(!e.contains('\n') && e.starts_with("Metrics Insights query, at character "), "{bad:?} → {e}");
        }
        assert_eq!(parse("SELECT MAX(x) FROM").unwrap_err().at, 18);
        assert!(parse("SELECT MAX(x) FROM y extra").unwrap_err().message.contains("`extra`"));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("SELECT MAX(x) FROM y WHERE {}a = 'b'{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).is_err());
        let nots = format!("SELECT MAX(x) FROM y WHERE {}a = 'b'", "NOT ".repeat(10_000));
        assert!(parse(&nots).is_err());
        let ok = format!("SELECT MAX(x) FROM y WHERE {}a = 'b'{}", "(".repeat(5), ")".repeat(5));
        assert_eq!(parse(&ok).unwrap().filters.len(), 1);
    }

    #[test]
    fn arbitrary_text_never_panics() {
        for s in ["'", "\"", "\\", "SELECT", "SELECT MAX(", "(((", "!", "<>", "SELECT MAX(x) FROM y WHERE a <> 'b'", "é ü 漢字", "'\\"]
        {
            let _ = parse(s);
        }
    }

    mod generated {
        use super::*;
        use proptest::prelude::*;

        /// Query-shaped soup: keywords, names, quotes and punctuation in any order.
        fn soup() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("SELECT".to_string()),
                Just("FROM".to_string()),
                Just("SCHEMA".to_string()),
                Just("WHERE".to_string()),
                Just("AND".to_string()),
                Just("OR".to_string()),
                Just("NOT".to_string()),
                Just("IN".to_string()),
                Just("LIKE".to_string()),
                Just("GROUP BY".to_string()),
                Just("ORDER BY".to_string()),
                Just("LIMIT".to_string()),
                Just("MAX".to_string()),
                Just("(".to_string()),
                Just(")".to_string()),
                Just(",".to_string()),
                Just("=".to_string()),
                Just("!=".to_string()),
                Just("'".to_string()),
                Just("\"".to_string()),
                Just("\\".to_string()),
                "[A-Za-z0-9_/]{1,8}",
                "[0-9]{1,25}",
                ".{0,3}",
            ];
            prop::collection::vec(piece, 0..40).prop_map(|v| v.join(" "))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

            #[test]
            fn anything_is_a_query_or_a_one_line_error(s in prop_oneof![soup(), ".{0,200}"]) {
                match parse(&s) {
                    Ok(q) => prop_assert!(!q.namespace.is_empty() && !q.metric.is_empty() && q.group_by.iter().all(|k| !k.is_empty())),
                    Err(e) => {
                        let line = e.to_string();
                        prop_assert!(!line.contains('\n'), "{line:?}");
                        prop_assert!(e.at <= s.chars().count(), "{e:?} beyond {s:?}");
                    }
                }
            }
        }
    }

    /// The per-GPU alarm template.yaml offers parses to what the target needs.
    #[test]
    fn the_templates_per_gpu_alarm_query_parses() {
        let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
        let line =
            template.lines().find(|l| l.trim_start().starts_with("Expression: !Sub \"SELECT MAX(GPUUtilizationNormalized)")).unwrap();
        let quoted = line.split_once("!Sub ").unwrap().1.trim();
        let query = quoted[1..quoted.len() - 1]
            .replace("\\\"", "\"")
            .replace("${EndpointName}", "llm-prod")
            .replace("${VariantName}", "AllTraffic");
        let q = parse(&query).unwrap();
        assert_eq!(
            (q.namespace.as_str(), q.metric.as_str(), q.statistic.as_str()),
            ("/aws/sagemaker/Endpoints", "GPUUtilizationNormalized", "Maximum")
        );
        assert_eq!((q.filter("EndpointName"), q.filter("VariantName")), (Some("llm-prod"), Some("AllTraffic")));
        assert_eq!(q.group_by, ["InstanceId", "GpuId"]);
    }
}
