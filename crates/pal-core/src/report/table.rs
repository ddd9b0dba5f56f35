//! The human renderer: a findings table (one row per finding), why and how to
//! fix what is not credited, a summary by verdict and product, and coverage.

use std::fmt::Write;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table};

use super::Report;
use crate::attribution::{Finding, Verdict};
use crate::inventory::{CoverageStatus, Product};

/// How `render_table` lays the report out.
#[derive(Clone, Copy, Debug)]
pub struct TableOptions {
    /// ANSI colours (only on a terminal).
    pub color: bool,
    /// Wrap to this width; `None` for the terminal's width or 160.
    pub width: Option<u16>,
}

/// The report for people at a terminal: a findings table per product, why
/// and how to fix what is not credited, the summary and the coverage. The
/// tenant's text is made safe to print first.
pub fn render_table(report: &Report, opts: TableOptions) -> String {
    // The tenant's names, shown to people: no control character gets through.
    let report = &super::for_terminal(report);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "pal-audit {}: tenant {}, partner {}, {} resources{}",
        report.tool_version,
        if report.tenant_id.is_empty() {
            "(unknown)"
        } else {
            &report.tenant_id
        },
        report.partner_id,
        report.findings.len(),
        if report.complete {
            String::new()
        } else {
            " (INCOMPLETE: see coverage)".to_string()
        }
    );
    out.push('\n');

    // One table per product, environments in order within it.
    for product in Product::ALL {
        let findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.product == product)
            .collect();
        if findings.is_empty() {
            continue;
        }
        let mut t = new_table(opts);
        t.set_header([
            "verdict",
            "resource",
            "kind",
            "environment",
            "attributed users",
            "flags",
        ]);
        for f in &findings {
            t.add_row(vec![
                verdict_cell(f.verdict, opts),
                Cell::new(format!("{}\n{}", f.resource_name, f.resource_id)),
                Cell::new(f.kind.as_str()),
                Cell::new(&f.environment_name),
                Cell::new(
                    f.attributed
                        .iter()
                        .map(|a| a.describe())
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
                Cell::new(
                    f.flags
                        .iter()
                        .map(|fl| fl.as_str())
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
            ]);
        }
        let _ = writeln!(out, "{} ({})\n{t}\n", product.title(), findings.len());
    }
    if report.findings.is_empty() {
        let _ = writeln!(out, "No resources found.");
    }

    let not_credited: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.verdict != Verdict::Credited)
        .collect();
    if !not_credited.is_empty() {
        let _ = writeln!(out, "\nNot credited to partner {}:", report.partner_id);
        for f in not_credited {
            let _ = writeln!(
                out,
                "\n* {} ({}, {}) -> {}",
                f.resource_name,
                f.kind.as_str(),
                f.environment_name,
                f.verdict.as_str()
            );
            for r in &f.reasons {
                let _ = writeln!(out, "  - {r}");
            }
            if let Some(fix) = &f.fix {
                let _ = writeln!(out, "  fix: {fix}");
            }
        }
    }

    let mut s = new_table(opts);
    let mut header = vec!["product".to_string()];
    header.extend(Verdict::ALL.iter().map(|v| v.as_str().to_string()));
    header.push("credited at risk".to_string());
    s.set_header(header);
    for (product, counts) in &report.summary.by_product {
        let mut row = vec![product.as_str().to_string()];
        row.extend(
            Verdict::ALL
                .iter()
                .map(|v| counts.get(v).copied().unwrap_or(0).to_string()),
        );
        row.push(
            report
                .summary
                .at_risk_by_product
                .get(product)
                .copied()
                .unwrap_or(0)
                .to_string(),
        );
        s.add_row(row);
    }
    let mut total = vec!["all".to_string()];
    total.extend(Verdict::ALL.iter().map(|v| {
        report
            .summary
            .by_verdict
            .get(v)
            .copied()
            .unwrap_or(0)
            .to_string()
    }));
    total.push(report.summary.at_risk.to_string());
    s.add_row(total);
    let _ = writeln!(out, "\nSummary\n{s}");

    let mut c = new_table(opts);
    c.set_header(["source", "environment", "status", "requests", "detail"]);
    for cov in &report.coverage {
        c.add_row(vec![
            Cell::new(&cov.source),
            Cell::new(cov.environment_id.as_ref().map_or("-", |e| e.as_str())),
            status_cell(cov.status, opts),
            Cell::new(cov.requests),
            Cell::new(&cov.detail),
        ]);
    }
    let _ = writeln!(out, "\nCoverage\n{c}");
    if let Some(fp) = &report.first_party {
        let _ = writeln!(out, "{}", fp.line());
    }
    out
}

fn new_table(opts: TableOptions) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if !opts.color {
        t.force_no_tty();
    }
    t.set_width(opts.width.unwrap_or(160));
    t
}

fn verdict_cell(v: Verdict, opts: TableOptions) -> Cell {
    let cell = Cell::new(v.as_str());
    if !opts.color {
        return cell;
    }
    match v {
        Verdict::Credited => cell.fg(Color::Green),
        Verdict::CreditedToOther => cell.fg(Color::Yellow),
        Verdict::Uncredited => cell.fg(Color::Red).add_attribute(Attribute::Bold),
        Verdict::Unknown => cell.fg(Color::Magenta),
    }
}

fn status_cell(s: CoverageStatus, opts: TableOptions) -> Cell {
    let text = match s {
        CoverageStatus::Complete => "complete",
        CoverageStatus::Partial => "partial",
        CoverageStatus::Failed => "failed",
    };
    let cell = Cell::new(text);
    match (opts.color, s) {
        (false, _) | (true, CoverageStatus::Complete) => cell,
        (true, _) => cell.fg(Color::Red),
    }
}
