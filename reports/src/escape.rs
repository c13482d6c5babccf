//! Escaping for HTML and Markdown.

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline are not allowed in HTML text.
            c if c.is_control() && c != '\n' && c != '\t' => {
                out.push_str("&#xFFFD;");
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a Markdown table cell or a line of prose: Markdown punctuation and HTML
/// are neutralised, newlines become `<br>`, pipes are escaped.
pub(crate) fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            c if c.is_control() && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text inside a fenced code block: only a run of backticks could end the block early, so
/// fences are chosen longer than any run in the text (see [`fence_for`]).
pub(crate) fn fence_for(s: &str) -> String {
    "`".repeat((longest_tick_run(s) + 1).max(3))
}

/// The longest run of backticks in `s`.
pub(crate) fn longest_tick_run(s: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html() {
        assert_eq!(
            html("<script>a & \"b\" 'c'</script>"),
            "&lt;script&gt;a &amp; &quot;b&quot; &#39;c&#39;&lt;/script&gt;"
        );
        assert_eq!(html("a\u{1}b"), "a&#xFFFD;b");
    }

    #[test]
    fn escapes_md() {
        assert_eq!(md("a|b *c* <x>\nd"), "a\\|b \\*c\\* &lt;x&gt;<br>d");
        assert_eq!(fence_for("no ticks"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }
}
