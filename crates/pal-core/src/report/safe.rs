//! Tenant text made safe to show: control characters (a terminal obeys ESC
//! sequences in a resource name) become visible escapes, line breaks too
//! in a report's strings (a name must not start a line of its own), and
//! for Markdown the HTML specials are escaped too. JSON and CSV keep the
//! data exact.

use std::borrow::Cow;

use super::Report;

/// C0 controls (but the newline), DEL, C1 controls, and the invisible
/// formatting characters that change what a line shows.
fn is_control(c: char) -> bool {
    (c.is_control() && c != '\n') || c == '\u{7f}' || is_invisible_format(c)
}

/// Bidirectional controls (U+202E turns the rest of a table row, borders
/// included, right to left: `abc\u{202e}gnp.exe` shows as `abcexe.png`)
/// and zero-width characters that make two different names look the same.
/// The zero-width (non-)joiners stay: scripts and emoji need them.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'
            | '\u{200e}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// `text` with every character `escaped` picks shown as `\u{1b}`.
fn escape(text: &str, escaped: fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` with every control character (ESC, CR, tab, DEL, C1; newlines
/// kept) shown as `\u{1b}`, so printing it cannot move the cursor, recolour
/// or retitle the terminal. For text of several lines that pal-audit
/// composed (an error, `doctor`'s table); one tenant string goes through
/// [`line_safe`].
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    escape(text, is_control)
}

/// `text` on one line: every control character shown as [`terminal_safe`]
/// shows it, and line feeds too (`\u{a}`), so a name cannot print over
/// several lines or start one of its own (`line1\n# heading`). The escapes
/// are plain text: escaping again changes nothing.
pub fn line_safe(text: &str) -> Cow<'_, str> {
    escape(text, |c| {
        c.is_control() || c == '\u{7f}' || is_invisible_format(c)
    })
}

/// `text` for Markdown: terminal-safe, with `&`, `<` and `>` as entities so
/// a resource name cannot inject HTML into the rendered document (an
/// `<img onerror>`, a `</details>` closing the document's own), `](`
/// escaped so it cannot make a link or load an image, and line breaks
/// as spaces so it cannot start a heading or a list of its own.
pub fn markdown_safe(text: &str) -> String {
    let safe = terminal_safe(text);
    let mut out = String::with_capacity(safe.len());
    let mut chars = safe.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // `](` is where a link or image starts its target; elsewhere a
            // bracket stays as written (JSON in a fix, `[default]`).
            ']' if chars.peek() == Some(&'(') => out.push_str("\\]"),
            '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// A copy of `report` with every string made [`line_safe`]: for the table,
/// `explain` and `diff`, which print the tenant's names. None of the
/// report's strings is meant to span lines (the renderers break lines
/// themselves), so a line feed in one is the tenant's.
pub fn for_terminal(report: &Report) -> Report {
    map_strings(report, |s| line_safe(s).into_owned())
}

/// A copy of `report` with every string made Markdown-safe.
pub fn for_markdown(report: &Report) -> Report {
    map_strings(report, markdown_safe)
}

/// Every string in the report through `f`, by way of its JSON form (one walk
/// over every field, including those added later).
fn map_strings(report: &Report, f: impl Fn(&str) -> String + Copy) -> Report {
    fn walk(v: &mut serde_json::Value, f: impl Fn(&str) -> String + Copy) {
        match v {
            serde_json::Value::String(s) => *s = f(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, f)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| walk(x, f)),
            _ => {}
        }
    }
    let Ok(mut value) = serde_json::to_value(report) else {
        return report.clone();
    };
    walk(&mut value, f);
    // Ids, dates and enum names have no character either function changes,
    // so the report always reads back.
    serde_json::from_value(value).unwrap_or_else(|_| report.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(
            terminal_safe("App\u{1b}]0;owned\u{7}\r\u{7f}\u{9b}2J\nnext"),
            "App\\u{1b}]0;owned\\u{7}\\u{d}\\u{7f}\\u{9b}2J\nnext"
        );
        assert!(matches!(terminal_safe("Quote Builder"), Cow::Borrowed(_)));
        assert_eq!(terminal_safe("Ünïcödé ✓"), "Ünïcödé ✓");
    }

    #[test]
    fn a_line_safe_name_stays_on_one_line_and_is_escaped_once() {
        let name = "line1\nline2\r\n# heading\tend\u{1b}[2J\u{85}";
        let safe = line_safe(name);
        assert_eq!(
            safe,
            "line1\\u{a}line2\\u{d}\\u{a}# heading\\u{9}end\\u{1b}[2J\\u{85}"
        );
        assert!(!safe.chars().any(char::is_control));
        // Already escaped: left as it is, not escaped twice.
        assert_eq!(line_safe(&safe), safe);
        assert!(matches!(line_safe("Quote Builder"), Cow::Borrowed(_)));
    }

    #[test]
    fn bidi_overrides_and_zero_width_spaces_are_shown_not_obeyed() {
        assert_eq!(line_safe("abc\u{202e}gnp.exe"), "abc\\u{202e}gnp.exe");
        assert_eq!(terminal_safe("abc\u{202e}gnp.exe"), "abc\\u{202e}gnp.exe");
        assert_eq!(
            line_safe("zero\u{200b}width\u{feff}x\u{2067}"),
            "zero\\u{200b}width\\u{feff}x\\u{2067}"
        );
        assert!(markdown_safe("a\u{202e}b").contains("\\u{202e}"));
        // Joiners are part of scripts and emoji: kept.
        assert_eq!(line_safe("👩\u{200d}💻 \u{200c}"), "👩\u{200d}💻 \u{200c}");
    }

    #[test]
    fn markdown_escapes_html() {
        assert_eq!(
            markdown_safe("<img src=x onerror=alert(1)> & \u{1b}"),
            "&lt;img src=x onerror=alert(1)&gt; &amp; \\u{1b}"
        );
        assert_eq!(
            markdown_safe("</details><script>x</script>"),
            "&lt;/details&gt;&lt;script&gt;x&lt;/script&gt;"
        );
        // No link, no image, no block of its own.
        assert_eq!(
            markdown_safe("![t](https://evil.example/p.png)\n# Fix: run me"),
            "![t\\](https://evil.example/p.png) # Fix: run me"
        );
    }
}
