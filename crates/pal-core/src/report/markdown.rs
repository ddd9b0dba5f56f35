//! Markdown: a handover document: summary, coverage, findings per product,
//! and what to fix.

use std::fmt::Write;

use super::Report;
use crate::attribution::{Finding, Verdict};
use crate::inventory::{CoverageStatus, Product};

/// Text that stays inside one table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The report as a Markdown handover document (see the module head); the
/// tenant's text is made safe for Markdown first.
pub fn render_markdown(report: &Report) -> String {
    // Tenant text must not become HTML (or terminal escapes) in the document.
    let report = &super::for_markdown(report);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Partner Admin Link credit: tenant {}\n",
        report.tenant_id
    );
    let _ = writeln!(
        s,
        "Partner **{}**, {} resources, audited with pal-audit {} at {}.{}\n",
        report.partner_id,
        report.findings.len(),
        report.tool_version,
        report.generated_at.format("%Y-%m-%d %H:%M UTC"),
        if report.complete {
            ""
        } else {
            " **The audit is incomplete: see Coverage.**"
        }
    );
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(
        s,
        "| product | credited | credited to another partner | uncredited | unknown | credited at risk |"
    );
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: |");
    let n = |m: &std::collections::BTreeMap<Verdict, u64>, v| m.get(&v).copied().unwrap_or(0);
    for (p, counts) in &report.summary.by_product {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            p.title(),
            n(counts, Verdict::Credited),
            n(counts, Verdict::CreditedToOther),
            n(counts, Verdict::Uncredited),
            n(counts, Verdict::Unknown),
            report
                .summary
                .at_risk_by_product
                .get(p)
                .copied()
                .unwrap_or(0)
        );
    }
    let all = &report.summary.by_verdict;
    let _ = writeln!(
        s,
        "| **all** | **{}** | **{}** | **{}** | **{}** | **{}** |\n",
        n(all, Verdict::Credited),
        n(all, Verdict::CreditedToOther),
        n(all, Verdict::Uncredited),
        n(all, Verdict::Unknown),
        report.summary.at_risk
    );
    let gaps: Vec<_> = report
        .coverage
        .iter()
        .filter(|c| c.status != CoverageStatus::Complete)
        .collect();
    let _ = writeln!(s, "## Coverage\n");
    if let Some(fp) = &report.first_party {
        let _ = writeln!(s, "{}\n", fp.line());
    }
    if gaps.is_empty() {
        let _ = writeln!(s, "Every source was read in full.\n");
    } else {
        for c in gaps {
            let _ = writeln!(
                s,
                "- **{}**{}: {}",
                c.source,
                c.environment_id
                    .as_ref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default(),
                c.detail
            );
        }
        s.push('\n');
    }
    for product in Product::ALL {
        let findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.product == product)
            .collect();
        if findings.is_empty() {
            continue;
        }
        let _ = writeln!(s, "## {}\n", product.title());
        let _ = writeln!(
            s,
            "| resource | kind | environment | verdict | attributed users | flags |"
        );
        let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- |");
        for f in findings {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&f.resource_name),
                f.kind.as_str(),
                cell(&f.environment_name),
                if f.verdict == Verdict::Credited {
                    f.verdict.as_str().to_string()
                } else {
                    format!("**{}**", f.verdict.as_str())
                },
                cell(
                    &f.attributed
                        .iter()
                        .map(|a| a.describe())
                        .collect::<Vec<_>>()
                        .join("<br>")
                ),
                f.flags
                    .iter()
                    .map(|x| format!("`{}`", x.as_str()))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        s.push('\n');
    }
    let to_fix: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.verdict != Verdict::Credited)
        .collect();
    if !to_fix.is_empty() {
        let _ = writeln!(s, "## What to fix\n");
        for f in to_fix {
            let _ = writeln!(
                s,
                "### {} ({}, {}): {}\n",
                f.resource_name,
                f.kind.as_str(),
                f.environment_name,
                f.verdict.as_str()
            );
            for r in &f.reasons {
                let _ = writeln!(s, "- {r}");
            }
            if let Some(fix) = &f.fix {
                let _ = writeln!(s, "\n**Fix:** {fix}");
            }
            s.push('\n');
        }
    }
    s
}
