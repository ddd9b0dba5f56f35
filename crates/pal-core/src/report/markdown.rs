//! Markdown: a handover document: what credit is worth, summary, what to fix
//! first, linked identities, coverage, findings per product, and what to fix.

use std::fmt::Write;

use super::{Digest, Report};
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
    let digest = Digest::of(report);
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
    let _ = writeln!(s, "**{}.**\n", digest.not_credited.sentence());
    let _ = writeln!(s, "## Summary\n");
    if report.redacted {
        let _ = writeln!(s, "{}\n", super::REDACTED_NOTE);
    }
    let _ = writeln!(
        s,
        "Credited at risk is counted apart from credited: together they are every credited resource.\n"
    );
    let _ = writeln!(
        s,
        "| product | credited | credited to another partner | uncredited | unknown | credited at risk |"
    );
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: |");
    let n = |m: &std::collections::BTreeMap<Verdict, u64>, v| m.get(&v).copied().unwrap_or(0);
    for (p, counts) in &report.summary.by_product {
        let risk = report
            .summary
            .at_risk_by_product
            .get(p)
            .copied()
            .unwrap_or(0);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            p.title(),
            n(counts, Verdict::Credited).saturating_sub(risk),
            n(counts, Verdict::CreditedToOther),
            n(counts, Verdict::Uncredited),
            n(counts, Verdict::Unknown),
            risk
        );
    }
    let all = &report.summary.by_verdict;
    let _ = writeln!(
        s,
        "| **all** | **{}** | **{}** | **{}** | **{}** | **{}** |\n",
        n(all, Verdict::Credited).saturating_sub(report.summary.at_risk),
        n(all, Verdict::CreditedToOther),
        n(all, Verdict::Uncredited),
        n(all, Verdict::Unknown),
        report.summary.at_risk
    );
    fix_first(&mut s, &digest);
    identities(&mut s, &digest);
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
                    .map(|e| format!(" in {}", digest.environment(e)))
                    .unwrap_or_default(),
                c.detail
            );
        }
        s.push('\n');
    }
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
        let _ = writeln!(s, "## {}\n", product.title());
        let _ = writeln!(
            s,
            "| resource | kind | environment | active users | verdict | attributed users | flags |"
        );
        let _ = writeln!(s, "| --- | --- | --- | ---: | --- | --- | --- |");
        for f in findings {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&f.resource_name),
                f.kind.as_str(),
                cell(&f.environment_name),
                users(f),
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
    let to_fix: Vec<&Finding> = digest
        .ranked
        .iter()
        .copied()
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

/// How many of the "fix first" findings the document lists by name.
const FIX_FIRST_SHOWN: usize = 25;

/// A finding's active users, or "unknown" (never zero for unknown).
fn users(f: &Finding) -> String {
    super::active_users(f).map_or_else(|| "unknown".to_string(), |u| u.to_string())
}

/// The uncredited and at-risk resources we delivered, most users first.
fn fix_first(s: &mut String, digest: &Digest<'_>) {
    let _ = writeln!(s, "## Fix first\n");
    if digest.fix_first.is_empty() {
        let _ = writeln!(
            s,
            "Nothing: no uncredited or at-risk resource that our identities delivered.\n"
        );
        return;
    }
    let _ = writeln!(
        s,
        "The uncredited and at-risk resources that our identities delivered, most active users first.\n"
    );
    for (i, f) in digest.fix_first.iter().take(FIX_FIRST_SHOWN).enumerate() {
        let ours = super::delivered_by(f);
        let _ = writeln!(
            s,
            "{}. **{}** ({}, {}): {}, active users {}; ours: {}",
            i + 1,
            f.resource_name.replace(['\n', '\r'], " "),
            f.kind.as_str(),
            f.environment_name.replace(['\n', '\r'], " "),
            if f.at_risk() {
                "credited at risk"
            } else {
                f.verdict.as_str()
            },
            users(f),
            ours.replace(['\n', '\r'], " ")
        );
        if f.at_risk() {
            let _ = writeln!(s, "   At risk: {}", super::risk_flags(f));
        }
        if let Some(fix) = &f.fix {
            let _ = writeln!(s, "   Fix: {}", fix.to_string().replace(['\n', '\r'], " "));
        }
    }
    if digest.fix_first.len() > FIX_FIRST_SHOWN {
        let _ = writeln!(
            s,
            "\nAnd {} more: see What to fix.",
            digest.fix_first.len() - FIX_FIRST_SHOWN
        );
    }
    s.push('\n');
}

/// Every link with its evidence and the findings resting on it.
fn identities(s: &mut String, digest: &Digest<'_>) {
    let _ = writeln!(s, "## Linked identities\n");
    if digest.identities.is_empty() {
        let _ = writeln!(s, "No links were given.\n");
        return;
    }
    let _ = writeln!(
        s,
        "| identity | partner | evidence | age | stale | findings resting on it |"
    );
    let _ = writeln!(s, "| --- | --- | --- | ---: | --- | --- |");
    for id in &digest.identities {
        let mut names: Vec<String> = id
            .findings
            .iter()
            .take(5)
            .map(|f| f.resource_name.to_string())
            .collect();
        if id.findings.len() > 5 {
            names.push(format!("and {} more", id.findings.len() - 5));
        }
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {}{} |",
            cell(
                id.link
                    .principal_name
                    .as_deref()
                    .unwrap_or(&id.link.principal_id)
            ),
            id.link.partner_id,
            id.evidence(),
            id.age(),
            if id.link.stale { "**stale**" } else { "" },
            id.counts(),
            if names.is_empty() {
                String::new()
            } else {
                format!(": {}", cell(&names.join(", ")))
            }
        );
    }
    s.push('\n');
}
