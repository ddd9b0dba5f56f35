//! CSV: one row per finding, attributed users joined, for Excel and friends.
//! Rows in the order every renderer shows them (`report::ranked`); the last
//! two columns say, on every row, what the whole report is: `audit_complete`
//! is `false` on every row of an incomplete audit, and `redacted` is `true`
//! on every row of a `--redact` report (names are pseudonyms), so a filtered
//! or pasted extract still says so (a marker row would break csv readers and
//! Excel's filters).

use super::Report;

const HEADER: [&str; 18] = [
    "product",
    "kind",
    "environment_id",
    "environment_name",
    "resource_id",
    "resource_name",
    "solution",
    "verdict",
    "credited_partner_id",
    "attributed",
    "decided_by",
    "flags",
    "reasons",
    "fix",
    "tenant_id",
    "active_users",
    "audit_complete",
    "redacted",
];

/// A cell Excel will not run as a formula: text starting with `= + - @`
/// (or a tab or carriage return) gets a leading apostrophe.
fn cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// UTF-8 with a byte-order mark and CRLF line ends, as Excel expects.
pub fn render_csv(report: &Report) -> String {
    let mut bytes = Vec::new();
    write_csv(report, &mut bytes).expect("writing to memory");
    String::from_utf8(bytes).expect("UTF-8 in, UTF-8 out")
}

/// Writes the CSV as it goes: a large tenant's report is never held whole.
pub fn write_csv(report: &Report, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    // A byte-order mark, so spreadsheet programs read the file as UTF-8.
    out.write_all("\u{feff}".as_bytes())?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(HEADER).map_err(io_error)?;
    let complete = if report.complete { "true" } else { "false" };
    let redacted = if report.redacted { "true" } else { "false" };
    for f in super::ranked(report) {
        let decided = f
            .decided_by
            .and_then(|d| serde_json::to_value(d).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let row = [
            f.product.as_str().to_string(),
            f.kind.as_str().to_string(),
            f.environment_id.to_string(),
            f.environment_name.to_string(),
            f.resource_id.to_string(),
            f.resource_name.to_string(),
            f.solution.clone().unwrap_or_default(),
            f.verdict.as_str().to_string(),
            f.credited_partner_id
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            f.attributed
                .iter()
                .map(|a| a.describe())
                .collect::<Vec<_>>()
                .join("; "),
            decided,
            f.flags
                .iter()
                .map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            f.reasons.join(" | "),
            f.fix.as_ref().map(ToString::to_string).unwrap_or_default(),
            report.tenant_id.clone(),
            // Empty when unknown: never zero.
            super::active_users(f).map_or_else(String::new, |u| u.to_string()),
            complete.to_string(),
            redacted.to_string(),
        ];
        w.write_record(row.iter().map(|c| cell(c)))
            .map_err(io_error)?;
    }
    w.flush()
}

/// The csv crate's error as the I/O error under it, kind kept: a closed
/// pipe (`| head`) must stay `BrokenPipe`, which ends the output quietly,
/// not become `Other`, which is a failed write (exit 2).
fn io_error(e: csv::Error) -> std::io::Error {
    if !matches!(e.kind(), csv::ErrorKind::Io(_)) {
        return std::io::Error::other(e);
    }
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        _ => unreachable!("an I/O error, matched above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused() {
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("Expense Tracker"), "Expense Tracker");
    }

    /// A writer whose reader went away, as `| head` leaves stdout.
    struct ClosedPipe;
    impl std::io::Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_stays_a_closed_pipe() {
        let report = crate::report::demo_report();
        let e = write_csv(&report, &mut ClosedPipe).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
    }
}
