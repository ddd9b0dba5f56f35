//! The report: the versioned `pal-audit/report/v1` type built from the
//! attribution, the `--fail-on` gate, atomic output, and one renderer per format.

mod csv;
mod digest;
pub(crate) mod fit;
mod html;
mod markdown;
mod redact;
mod safe;
mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::attribution::{Attribution, Finding, FirstParty, Flag, LinkRow, Verdict};
use crate::inventory::{Coverage, CoverageStatus, EnvironmentId, Inventory, Product};
use crate::links::PartnerId;

pub use csv::{render_csv, write_csv};
pub use digest::{
    Digest, Identity, NotCredited, VERDICT_ORDER, active_users, delivered_by, not_credited_to_us,
    ranked, risk_flags, to_fix_first,
};
pub use html::render_html;
pub use markdown::render_markdown;
pub use redact::{addresses, pseudonym, redact, tenant_text};
pub use safe::{for_markdown, for_terminal, line_safe, markdown_safe, terminal_safe};
pub use table::{TableOptions, render_table};

/// The `schema` of every report; `fix::read_report` refuses any other.
pub const SCHEMA: &str = "pal-audit/report/v1";

/// What the table, Markdown and HTML say when the report is redacted (JSON
/// has `redacted`, CSV a `redacted` column): a reader must not take a
/// pseudonym for a real name.
pub const REDACTED_NOTE: &str =
    "Redacted: names are pseudonymised (p- and a short hash of the name).";

/// The coverage row of an audit stopped before it had read everything.
pub const STOPPED_SOURCE: &str = "audit";
/// Its reason when Ctrl-C stopped it.
pub const INTERRUPTED_REASON: &str = "interrupted (Ctrl-C)";

/// The result of one audit: every finding, with the links and coverage
/// behind them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `SCHEMA`.
    pub schema: String,
    /// When the report was made, after the tenant was read.
    pub generated_at: DateTime<Utc>,
    /// The pal-audit version that made it.
    pub tool_version: String,
    /// The audited tenant's id; empty when not known.
    pub tenant_id: String,
    /// Our partner: the one `credited` means.
    pub partner_id: PartnerId,
    /// Every source was read in full (all coverage `complete`).
    pub complete: bool,
    /// What the audit was asked to read.
    pub scope: Scope,
    /// Every active link, resolved to an object id where possible.
    pub links: Vec<LinkRow>,
    /// One per resource: by product, environment, resource name, id.
    pub findings: Vec<Finding>,
    /// What each source read, by source and environment.
    pub coverage: Vec<Coverage>,
    /// The audited environments' names by id, so coverage rows name them
    /// (a Power BI workspace is named by its findings).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<EnvironmentId, String>,
    /// The findings counted (platform-made ones never: see `first_party`).
    pub summary: Summary,
    /// Platform-made components (Microsoft's or the platform's own), counted
    /// apart from the findings; absent when the audit found none and was not
    /// asked to show them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_party: Option<FirstParty>,
    /// A delta audit (`--since`): what was reused from the previous audit
    /// rather than read again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<crate::inventory::Reuse>,
    /// Written with `--redact`: names are pseudonyms, so nothing can be
    /// fixed from it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

/// `--products` and `--environment`, as the audit read them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// The products audited.
    pub products: Vec<Product>,
    /// The `--environment` filters; empty for every environment.
    pub environments: Vec<String>,
}

impl Default for Scope {
    fn default() -> Self {
        Self {
            products: Product::ALL.to_vec(),
            environments: Vec::new(),
        }
    }
}

/// The findings counted by verdict and product.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Findings per verdict, every verdict present (zero included).
    pub by_verdict: BTreeMap<Verdict, u64>,
    /// Findings per product and verdict; a product with no finding is
    /// absent.
    pub by_product: BTreeMap<Product, BTreeMap<Verdict, u64>>,
    /// Of the `credited`, how many are at risk (`Finding::at_risk`).
    #[serde(default)]
    pub at_risk: u64,
    /// `at_risk` per product; a product with none is absent.
    #[serde(default)]
    pub at_risk_by_product: BTreeMap<Product, u64>,
    /// Active users, summed per resource, on the `uncredited` and
    /// `credited-to-other` findings whose usage is known; `None` in a
    /// report written before it was counted (never read as zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_credited_active_users: Option<u64>,
    /// How many `uncredited` and `credited-to-other` findings have unknown
    /// usage (not in `not_credited_active_users`); `None` as above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_credited_usage_unknown: Option<u64>,
}

impl Summary {
    /// Counts `findings`, platform-made ones (flag `first-party`) left out:
    /// they are no one's uncredited work.
    pub fn of(findings: &[Finding]) -> Self {
        let zero = || {
            Verdict::ALL
                .iter()
                .map(|v| (*v, 0))
                .collect::<BTreeMap<_, _>>()
        };
        let mut s = Summary {
            by_verdict: zero(),
            by_product: BTreeMap::new(),
            at_risk: 0,
            at_risk_by_product: BTreeMap::new(),
            not_credited_active_users: None,
            not_credited_usage_unknown: None,
        };
        // Platform-made components shown with --include-first-party are
        // never counted: they are nobody's delivery.
        let lost = NotCredited::of(findings);
        s.not_credited_active_users = Some(lost.active_users);
        s.not_credited_usage_unknown = Some(lost.usage_unknown);
        for f in findings.iter().filter(|f| !f.first_party()) {
            if f.at_risk() {
                s.at_risk += 1;
                *s.at_risk_by_product.entry(f.product).or_default() += 1;
            }
            *s.by_verdict.entry(f.verdict).or_default() += 1;
            *s.by_product
                .entry(f.product)
                .or_insert_with(zero)
                .entry(f.verdict)
                .or_default() += 1;
        }
        s
    }
}

impl Report {
    /// The report of one audit made at `generated_at`: the attribution's
    /// links and findings, and their counts; the inventory's tenant,
    /// coverage (sorted) and reuse.
    pub fn new(
        inventory: &Inventory,
        attribution: Attribution,
        partner_id: PartnerId,
        scope: Scope,
        generated_at: DateTime<Utc>,
    ) -> Self {
        let mut coverage = inventory.coverage.clone();
        coverage
            .sort_by(|a, b| (&a.source, &a.environment_id).cmp(&(&b.source, &b.environment_id)));
        Report {
            schema: SCHEMA.to_string(),
            generated_at,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            tenant_id: inventory.tenant_id.clone().unwrap_or_default(),
            partner_id,
            complete: coverage
                .iter()
                .all(|c| c.status == CoverageStatus::Complete),
            scope,
            summary: Summary::of(&attribution.findings),
            first_party: (attribution.first_party.components > 0
                || attribution.first_party.included)
                .then_some(attribution.first_party),
            links: attribution.links,
            findings: attribution.findings,
            coverage,
            environments: inventory
                .environments
                .iter()
                .map(|e| (e.id.clone(), e.display_name.clone()))
                .collect(),
            delta: inventory.reuse.clone(),
            redacted: false,
        }
    }

    /// Ctrl-C stopped the audit that wrote this report.
    pub fn interrupted(&self) -> bool {
        self.coverage
            .iter()
            .any(|c| c.source == STOPPED_SOURCE && c.detail.contains(INTERRUPTED_REASON))
    }

    /// What a finished audit comes to: findings at or above `--fail-on`
    /// first, then an incomplete audit, else clean. The binary maps it to an
    /// exit code.
    pub fn gate(&self, fail_on: &FailOn) -> Gate {
        if self.findings.iter().any(|f| fail_on.matches(f)) {
            Gate::Failed
        } else if !self.complete {
            Gate::Incomplete
        } else {
            Gate::Passed
        }
    }
}

/// What a report comes to under `--fail-on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Complete, and nothing at or above `--fail-on`.
    Passed,
    /// Some finding is at or above `--fail-on`.
    Failed,
    /// Nothing at or above `--fail-on`, but some source was not read.
    Incomplete,
}

/// `--fail-on`: which findings fail the run. Levels combine with commas.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailOn {
    verdicts: BTreeSet<Verdict>,
    flags: BTreeSet<Flag>,
}

impl FailOn {
    /// `any` (the default: every verdict but `credited`), `none`,
    /// `uncredited`, `credited-to-other`, `unknown`, `flag:NAME`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut f = FailOn::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "any" => f.verdicts.extend([
                    Verdict::CreditedToOther,
                    Verdict::Uncredited,
                    Verdict::Unknown,
                ]),
                "none" => {}
                "uncredited" => {
                    f.verdicts.insert(Verdict::Uncredited);
                }
                "credited-to-other" => {
                    f.verdicts.insert(Verdict::CreditedToOther);
                }
                "unknown" => {
                    f.verdicts.insert(Verdict::Unknown);
                }
                _ => match part.strip_prefix("flag:").map(|n| (n, Flag::parse(n))) {
                    Some((_, Some(flag))) => {
                        f.flags.insert(flag);
                    }
                    Some((name, None)) => return Err(format!("--fail-on: unknown flag {name:?}")),
                    None => {
                        return Err(format!(
                            "--fail-on: {part:?} is not one of any, none, uncredited, credited-to-other, unknown, flag:NAME"
                        ));
                    }
                },
            }
        }
        Ok(f)
    }

    /// Whether `f` fails the run: its verdict is one of the levels, or it
    /// has one of the flags. A platform-made finding (`first-party`) fails
    /// it only by a flag named: its verdict is no one's uncredited work.
    pub fn matches(&self, f: &Finding) -> bool {
        let by_verdict = self.verdicts.contains(&f.verdict) && !f.first_party();
        by_verdict || f.flags.iter().any(|fl| self.flags.contains(fl))
    }
}

/// The JSON report, whole, as `write_json` writes it.
pub fn render_json(report: &Report) -> String {
    let mut bytes = Vec::new();
    write_json(report, &mut bytes).expect("writing to memory");
    String::from_utf8(bytes).expect("serde_json writes UTF-8")
}

/// Writes the JSON report as it goes: a large tenant's report is never held
/// whole in memory.
pub fn write_json(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

/// The demo's report, from the integration tests' JSON snapshot, for the
/// renderers' unit tests.
#[cfg(test)]
pub(crate) fn demo_report() -> Report {
    let text = include_str!("../../../pal-audit/tests/it/snapshots/it__snapshots__json.snap");
    let json = text.splitn(3, "---").nth(2).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["generated_at"] = serde_json::json!("2026-11-20T00:00:00Z");
    v["tool_version"] = serde_json::json!("0");
    serde_json::from_value(v).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_levels_combine() {
        let f = FailOn::parse("uncredited,flag:user-account-link").unwrap();
        assert!(f.verdicts.contains(&Verdict::Uncredited));
        assert!(f.flags.contains(&Flag::UserAccountLink));
        assert!(FailOn::parse("none").unwrap().verdicts.is_empty());
        assert_eq!(FailOn::parse("any").unwrap().verdicts.len(), 3);
        assert!(FailOn::parse("flag:nope").is_err());
        assert!(FailOn::parse("sometimes").is_err());
    }
}
