//! The human renderer: what credit is worth (one line), a findings table (one
//! row per finding), why and how to fix what is not credited, a summary by
//! verdict and product, the linked identities with their evidence, and
//! coverage; fitted to a width (names cut, ids shortened, text wrapped) or
//! wide.

use std::fmt::Write;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table};

use super::fit::{self, Piece, fitted};
use super::{Digest, Report};
use crate::attribution::{Finding, Verdict};
use crate::inventory::{CoverageStatus, Product};

/// How `render_table` lays the report out. The caller decides both (the
/// terminal, `--color`, `--wide`): nothing here looks at the terminal.
#[derive(Clone, Copy, Debug)]
pub struct TableOptions {
    /// ANSI colours, wherever the text goes.
    pub color: bool,
    /// Fit every line into this many columns: names cut with `…`, ids
    /// shortened (`a0000000…0013`), text wrapped. `None` for the wide
    /// layout: whole names and ids, nothing wrapped.
    pub width: Option<u16>,
}

/// Below this width the findings table shows the kind under the name
/// instead of in a column of its own.
const COMPACT_BELOW: usize = 120;

/// The report for people at a terminal: a findings table per product, why
/// and how to fix what is not credited, the summary and the coverage. The
/// tenant's text is made safe to print first.
pub fn render_table(report: &Report, opts: TableOptions) -> String {
    // The tenant's names, shown to people: no control character gets through.
    let report = &super::for_terminal(report);
    let width = opts.width.map(usize::from);
    let digest = Digest::of(report);
    let mut out = String::new();
    let title = format!(
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
    let _ = writeln!(out, "{}", fit::hang("", "", &title, width));
    if report.redacted {
        let _ = writeln!(out, "{}", fit::hang("", "", super::REDACTED_NOTE, width));
    }
    let _ = writeln!(
        out,
        "{}",
        fit::hang("", "", &digest.not_credited.sentence(), width)
    );
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
        let t = findings_table(&findings, width, opts);
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
            let head = format!(
                "{} ({}, {}) -> {}, active users {}",
                f.resource_name,
                f.kind.as_str(),
                f.environment_name,
                f.verdict.as_str(),
                super::active_users(f).map_or_else(|| "unknown".to_string(), |u| u.to_string())
            );
            let _ = writeln!(out, "\n{}", fit::hang("* ", "  ", &head, width));
            for r in &f.reasons {
                let _ = writeln!(out, "{}", fit::hang("  - ", "    ", r, width));
            }
            if let Some(fix) = &f.fix {
                let fix = fix.to_string();
                let _ = writeln!(out, "{}", fit::hang("  fix: ", "       ", &fix, width));
            }
        }
    }

    let _ = writeln!(
        out,
        "\nSummary (credited at risk is counted apart from credited)\n{}",
        summary_table(report, width, opts)
    );
    let _ = writeln!(out, "\nLinked identities");
    if digest.identities.is_empty() {
        let _ = writeln!(out, "No links were given.");
    } else {
        let _ = writeln!(out, "{}", identities_table(&digest, width, opts));
    }
    let _ = writeln!(
        out,
        "\nCoverage\n{}",
        coverage_table(report, &digest, width, opts)
    );
    if let Some(fp) = &report.first_party {
        let _ = writeln!(out, "{}", fit::hang("", "", &fp.line(), width));
    }
    out
}

/// One product's findings. Narrower than [`COMPACT_BELOW`], the flags go
/// under the verdict and the kind under the resource's name.
fn findings_table(findings: &[&Finding], width: Option<usize>, opts: TableOptions) -> Table {
    let compact = width.is_some_and(|w| w < COMPACT_BELOW);
    let (header, mins): (Vec<&str>, Vec<usize>) = if compact {
        (
            vec![
                "verdict, flags",
                "resource",
                "environment",
                "attributed users",
            ],
            vec![17, 13, 10, 14],
        )
    } else {
        (
            vec![
                "verdict",
                "resource",
                "kind",
                "environment",
                "attributed users",
                "flags",
            ],
            vec![17, 13, 10, 10, 14, 10],
        )
    };
    let rows: Vec<Vec<Vec<Piece>>> = findings
        .iter()
        .map(|f| {
            let words = |s: &str| Piece::Words(s.to_string());
            let flags = f.flags.iter().map(|fl| words(fl.as_str()));
            let mut resource = vec![Piece::Name(f.resource_name.to_string())];
            if compact {
                resource.push(words(f.kind.as_str()));
            }
            resource.push(Piece::Id(f.resource_id.as_str().to_string()));
            let mut verdict = vec![words(f.verdict.as_str())];
            if compact {
                verdict.extend(flags.clone());
            }
            let mut row = vec![verdict, resource];
            if !compact {
                row.push(vec![words(f.kind.as_str())]);
            }
            row.push(vec![Piece::Name(f.environment_name.to_string())]);
            row.push(
                f.attributed
                    .iter()
                    .map(|a| {
                        let rest = format!("({}, {})", a.role.words(), a.link_words());
                        match a.principal_name.as_deref() {
                            Some(name) => Piece::Lead(name.to_string(), rest),
                            None if width.is_some() => {
                                Piece::Lead(fit::short_id(a.principal_id.as_str()), rest)
                            }
                            None => Piece::Lead(a.principal_id.as_str().to_string(), rest),
                        }
                    })
                    .collect(),
            );
            if !compact {
                row.push(flags.collect());
            }
            row
        })
        .collect();
    let (header, cells) = fitted(&header, &mins, &rows, width);
    let mut t = new_table(opts);
    t.set_header(header);
    for (f, row) in findings.iter().zip(cells) {
        let mut row = row.into_iter();
        let verdict = row.next().unwrap_or_default();
        let mut cells = vec![verdict_cell(verdict, f.verdict, opts)];
        cells.extend(row.map(Cell::new));
        t.add_row(cells);
    }
    t
}

fn summary_table(report: &Report, width: Option<usize>, opts: TableOptions) -> Table {
    let mut header = vec!["product"];
    header.extend(Verdict::ALL.iter().map(|v| v.as_str()));
    header.push("credited at risk");
    let count = |n: u64| vec![Piece::Id(n.to_string())];
    let mut rows: Vec<Vec<Vec<Piece>>> = Vec::new();
    for (product, counts) in &report.summary.by_product {
        let mut row = vec![vec![Piece::Words(product.as_str().to_string())]];
        let risk = report
            .summary
            .at_risk_by_product
            .get(product)
            .copied()
            .unwrap_or(0);
        row.extend(Verdict::ALL.iter().map(|v| count(apart(*v, counts, risk))));
        row.push(count(risk));
        rows.push(row);
    }
    let mut total = vec![vec![Piece::Words("all".to_string())]];
    let risk = report.summary.at_risk;
    total.extend(
        Verdict::ALL
            .iter()
            .map(|v| count(apart(*v, &report.summary.by_verdict, risk))),
    );
    total.push(count(report.summary.at_risk));
    rows.push(total);
    let mins = vec![9, 8, 9, 10, 7, 8];
    let (header, cells) = fitted(&header, &mins, &rows, width);
    let mut s = new_table(opts);
    s.set_header(header);
    for row in cells {
        s.add_row(row);
    }
    s
}

/// A verdict's count, credited at risk counted apart from plain credited.
fn apart(v: Verdict, counts: &std::collections::BTreeMap<Verdict, u64>, at_risk: u64) -> u64 {
    let n = counts.get(&v).copied().unwrap_or(0);
    if v == Verdict::Credited {
        n - at_risk.min(n)
    } else {
        n
    }
}

/// The linked identities: their evidence, its age, and the findings
/// resting on each.
fn identities_table(digest: &Digest, width: Option<usize>, opts: TableOptions) -> Table {
    // Narrower than COMPACT_BELOW, the kind goes under the identity and the
    // age under the evidence, so the findings keep room to be read.
    let compact = width.is_some_and(|w| w < COMPACT_BELOW);
    let (header, mins): (&[&str], &[usize]) = if compact {
        (
            &["identity", "partner", "evidence", "findings resting on it"],
            &[13, 7, 8, 20],
        )
    } else {
        (
            &[
                "identity",
                "kind",
                "partner",
                "evidence",
                "age",
                "findings resting on it",
            ],
            &[13, 6, 7, 8, 5, 14],
        )
    };
    let rows: Vec<Vec<Vec<Piece>>> = digest
        .identities
        .iter()
        .map(|id| {
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
            let mut resting = vec![Piece::Words(id.counts())];
            if !names.is_empty() {
                // Cut like every other name, not wrapped over many rows.
                resting.push(Piece::Names(names));
            }
            let mut identity = vec![
                Piece::Name(link.principal_name.as_deref().unwrap_or("-").to_string()),
                Piece::Id(link.principal_id.to_string()),
            ];
            let kind = Piece::Words(serde_plain(&link.principal_kind));
            let evidence = Piece::Words(id.evidence().to_string());
            let age = Piece::Words(if link.stale {
                format!("{} (stale)", id.age())
            } else {
                id.age()
            });
            let partner = vec![Piece::Id(link.partner_id.to_string())];
            if compact {
                identity.push(kind);
                vec![identity, partner, vec![evidence, age], resting]
            } else {
                vec![
                    identity,
                    vec![kind],
                    partner,
                    vec![evidence],
                    vec![age],
                    resting,
                ]
            }
        })
        .collect();
    let (header, cells) = fitted(header, mins, &rows, width);
    let mut t = new_table(opts);
    t.set_header(header);
    for row in cells {
        t.add_row(row);
    }
    t
}

/// An enum's kebab-case name, as the JSON report spells it.
fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// What each source read. Narrower than [`COMPACT_BELOW`], the
/// environment goes under the source.
fn coverage_table(
    report: &Report,
    digest: &Digest,
    width: Option<usize>,
    opts: TableOptions,
) -> Table {
    let compact = width.is_some_and(|w| w < COMPACT_BELOW);
    let (header, mins): (&[&str], &[usize]) = if compact {
        (
            &["source, environment", "status", "requests", "detail"],
            &[13, 8, 8, 20],
        )
    } else {
        (
            &["source", "environment", "status", "requests", "detail"],
            &[10, 13, 8, 8, 20],
        )
    };
    let rows: Vec<Vec<Vec<Piece>>> = report
        .coverage
        .iter()
        .map(|cov| {
            let source = Piece::Words(cov.source.clone());
            // The environment's name (when known), then its id.
            let env: Vec<Piece> = cov.environment_id.as_ref().map_or_else(Vec::new, |e| {
                let name = digest
                    .environment_names
                    .get(e.as_str())
                    .filter(|name| **name != e.as_str())
                    .map(|name| Piece::Name(name.to_string()));
                name.into_iter().chain([Piece::Id(e.to_string())]).collect()
            });
            let mut row = if compact {
                vec![std::iter::once(source).chain(env).collect()]
            } else if env.is_empty() {
                vec![vec![source], vec![Piece::Id("-".into())]]
            } else {
                vec![vec![source], env]
            };
            row.extend([
                vec![Piece::Id(status_text(cov.status).to_string())],
                vec![Piece::Id(cov.requests.to_string())],
                vec![Piece::Words(cov.detail.clone())],
            ]);
            row
        })
        .collect();
    let (header, cells) = fitted(header, mins, &rows, width);
    let status_at = if compact { 1 } else { 2 };
    let mut c = new_table(opts);
    c.set_header(header);
    for (cov, row) in report.coverage.iter().zip(cells) {
        let cells: Vec<Cell> = row
            .into_iter()
            .enumerate()
            .map(|(i, text)| match i {
                _ if i == status_at => status_cell(text, cov.status, opts),
                _ => Cell::new(text),
            })
            .collect();
        c.add_row(cells);
    }
    c
}

/// A table whose cells are already fitted: comfy-table only draws it, and
/// colours exactly when asked (piped too: `--color always`).
fn new_table(opts: TableOptions) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    if opts.color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t
}

fn verdict_cell(text: String, v: Verdict, opts: TableOptions) -> Cell {
    let cell = Cell::new(text);
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

fn status_text(s: CoverageStatus) -> &'static str {
    match s {
        CoverageStatus::Complete => "complete",
        CoverageStatus::Partial => "partial",
        CoverageStatus::Failed => "failed",
    }
}

fn status_cell(text: String, s: CoverageStatus, opts: TableOptions) -> Cell {
    let cell = Cell::new(text);
    match (opts.color, s) {
        (false, _) | (true, CoverageStatus::Complete) => cell,
        (true, _) => cell.fg(Color::Red),
    }
}
