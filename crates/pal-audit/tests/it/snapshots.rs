//! Snapshots of the renderers on the bundled tenant (insta), and where a
//! `--redact` report tells its reader so. Times and the tool version are
//! redacted; the demo judges attestations as of the tenant's own date, so
//! nothing else moves.

use crate::common::bin;

fn demo(args: &[&str]) -> String {
    let out = bin().arg("demo").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .replace(env!("CARGO_PKG_VERSION"), "[version]")
}

#[test]
fn table() {
    insta::assert_snapshot!(demo(&["--color", "never"]));
}

#[test]
fn json() {
    let report: serde_json::Value = serde_json::from_str(&demo(&["--format", "json"])).unwrap();
    insta::assert_json_snapshot!(report, {
        ".generated_at" => "[time]",
        ".tool_version" => "[version]",
    });
}

/// The text from `start` up to (not including) `end`, both in `text`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {text}"));
    let to = from
        + text[from..]
            .find(end)
            .unwrap_or_else(|| panic!("{end} in {text}"));
    &text[from..to]
}

/// A redacted report says so where its reader starts: the table's header
/// lines, the Markdown's and the HTML's summary, and a `redacted` column
/// on every CSV row (header and first row shown).
#[test]
fn redacted_heads() {
    let table = demo(&["--redact", "--color", "never"]);
    let markdown = demo(&["--redact", "--format", "markdown"]);
    let html = demo(&["--redact", "--format", "html"]);
    let csv = demo(&["--redact", "--format", "csv"]);
    let heads = format!(
        "table:\n{}\n\nmarkdown:\n{}\nhtml:\n{}\n\ncsv:\n{}",
        table.lines().take(3).collect::<Vec<_>>().join("\n"),
        between(&markdown, "## Summary", "| product"),
        between(&html, "<h2>Summary</h2>", "<table id=\"totals\">"),
        csv.lines().take(2).collect::<Vec<_>>().join("\n"),
    );
    insta::assert_snapshot!(heads);
}
