//! Text safety and size: untrusted text (alarm names, descriptions, log lines) must never become a
//! Slack mention, link or broken markup, and every field must fit its limit.

/// Errors and untrusted text in logs and one-line messages: every run of whitespace one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts to at most `max` characters (not bytes), marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let keep = max.saturating_sub(1);
    let mut out: String = s.chars().take(keep).collect();
    out.push('…');
    out
}

/// Slack mrkdwn: `&`, `<`, `>` are the only control characters; escaping them disarms `<!channel>`,
/// `<@U…>` and `<url|text>`. Backticks become a look-alike so untrusted text cannot open or close
/// a code span. Escaping happens after truncation so an entity is never cut in half.
pub fn mrkdwn(s: &str, max: usize) -> String {
    escape(&truncate(s, max))
}

/// For `plain_text` objects (headers): Slack does not parse them, but whether it decodes entities
/// there is undocumented, so angle brackets become look-alikes instead of entities.
pub fn plain(s: &str, max: usize) -> String {
    truncate(s, max)
        .chars()
        .map(|c| match c {
            '<' => '‹',
            '>' => '›',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// Escaped text for inside an inline code span: one line.
pub fn code(s: &str, max: usize) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    format!("`{}`", escape(&truncate(&one_line, max)))
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('ˋ'),
            _ => out.push(c),
        }
    }
    out
}

/// Escaped length can exceed the budget (`&` → 5 chars): the final clamp for a Slack text field.
pub fn clamp_escaped(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut cut = truncate(&s, max);
    // Never leave a half entity (`&am…`).
    if let Some(amp) = cut.rfind('&') {
        if !cut[amp..].contains(';') {
            cut.truncate(amp);
            cut.push('…');
        }
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_inert() {
        let hostile = "<!channel> <!here> <@U123ABC> <https://evil.example|click> `rm` & co";
        let s = mrkdwn(hostile, 1000);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('`'), "{s}");
        assert_eq!(s, "&lt;!channel&gt; &lt;!here&gt; &lt;@U123ABC&gt; &lt;https://evil.example|click&gt; ˋrmˋ &amp; co");
        assert_eq!(code("a`b\nc", 100), "`aˋb c`");
    }

    #[test]
    fn truncation_counts_chars_and_marks_the_cut() {
        assert_eq!(truncate("héllo wörld", 5), "héll…");
        assert_eq!(truncate("short", 5), "short");
        assert_eq!(truncate(&"x".repeat(10_000), 3000).chars().count(), 3000);
        assert_eq!(clamp_escaped("ab&amp;cd".into(), 5), "ab…");
    }
}
