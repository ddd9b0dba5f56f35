//! The human renderer: what credit is worth (one line), a findings table (one
//! row per finding), why and how to fix what is not credited, a summary by
//! verdict and product, the linked identities with their evidence, and
//! coverage.

use std::fmt::Write;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table};

use super::{Digest, Report};
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
    let digest = Digest::of(report);
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
    let _ = writeln!(out, "{}", digest.not_credited.sentence());
    out.push('\n');

    // One table per product, environments in order within it.
    for product in Product::ALL {
        let findings: Vec<&Finding> = digest
            .ranked
            .iter()
            .copied()
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

    let not_credited: Vec<&Finding> = digest
        .ranked
        .iter()
        .copied()
        .filter(|f| f.verdict != Verdict::Credited)
        .collect();
    if !not_credited.is_empty() {
        let _ = writeln!(out, "\nNot credited to partner {}:", report.partner_id);
        for f in not_credited {
            let _ = writeln!(
                out,
                "\n* {} ({}, {}) -> {}, active users {}",
                f.resource_name,
                f.kind.as_str(),
                f.environment_name,
                f.verdict.as_str(),
                super::active_users(f).map_or_else(|| "unknown".to_string(), |u| u.to_string())
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
    let counts_row = |name: &str, counts: &std::collections::BTreeMap<Verdict, u64>, risk: u64| {
        let mut row = vec![name.to_string()];
        row.extend(Verdict::ALL.iter().map(|v| {
            let n = counts.get(v).copied().unwrap_or(0);
            // Credited at risk is counted apart from plain credited.
            if *v == Verdict::Credited {
                n - risk.min(n)
            } else {
                n
            }
            .to_string()
        }));
        row.push(risk.to_string());
        row
    };
    for (product, counts) in &report.summary.by_product {
        let risk = report
            .summary
            .at_risk_by_product
            .get(product)
            .copied()
            .unwrap_or(0);
        s.add_row(counts_row(product.as_str(), counts, risk));
    }
    s.add_row(counts_row(
        "all",
        &report.summary.by_verdict,
        report.summary.at_risk,
    ));
    let _ = writeln!(
        out,
        "\nSummary (credited at risk is counted apart from credited)\n{s}"
    );

    let _ = writeln!(out, "\nLinked identities");
    if digest.identities.is_empty() {
        let _ = writeln!(out, "No links were given.");
    } else {
        let mut l = new_table(opts);
        l.set_header([
            "identity",
            "kind",
            "partner",
            "evidence",
            "age",
            "findings resting on it",
        ]);
        for id in &digest.identities {
            let link = id.link;
            let mut names: Vec<String> = id
                .findings
                .iter()
                .take(3)
                .map(|f| f.resource_name.to_string())
                .collect();
            if id.findings.len() > 3 {
                names.push(format!("and {} more", id.findings.len() - 3));
            }
            l.add_row(vec![
                Cell::new(format!(
                    "{}\n{}",
                    link.principal_name.as_deref().unwrap_or("-"),
                    link.principal_id
                )),
                Cell::new(serde_plain(&link.principal_kind)),
                Cell::new(link.partner_id.as_str()),
                Cell::new(id.evidence()),
                Cell::new(if link.stale {
                    format!("{} (stale)", id.age())
                } else {
                    id.age()
                }),
                Cell::new(if names.is_empty() {
                    id.counts()
                } else {
                    format!("{}\n{}", id.counts(), names.join(", "))
                }),
            ]);
        }
        let _ = writeln!(out, "{l}");
    }

    let mut c = new_table(opts);
    c.set_header(["source", "environment", "status", "requests", "detail"]);
    for cov in &report.coverage {
        c.add_row(vec![
            Cell::new(&cov.source),
            Cell::new(
                cov.environment_id
                    .as_ref()
                    .map_or_else(|| "-".to_string(), |e| digest.environment(e)),
            ),
            status_cell(cov.status, opts),
            Cell::new(cov.requests),
            Cell::new(&cov.detail),
        ]);
    }
    let _ = writeln!(out, "\nCoverage\n{c}");
    out
}

/// An enum's kebab-case name, as the JSON report spells it.
fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
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
