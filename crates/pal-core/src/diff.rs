//! `pal-audit diff`: what changed between two reports of one tenant (before
//! and after a solution import or a fix): credit gained or lost, resources
//! that appeared or disappeared, attributed users that changed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;

use crate::attribution::{Finding, Verdict};
use crate::inventory::{ResourceId, ResourceKind};
use crate::report::Report;

/// The `schema` of the JSON diff.
pub const SCHEMA: &str = "pal-audit/diff/v1";

/// How one resource changed; the diff lists changes in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// Credited before; not credited now, or gone.
    LostCredit,
    /// In both reports, credited now and not before.
    GainedCredit,
    /// In the new report only.
    Appeared,
    /// In the old report only, and not credited there.
    Disappeared,
    /// Another verdict, neither of them `credited`.
    VerdictChanged,
    /// The same verdict, but the attributed users (or their links) differ.
    AttributedChanged,
}

impl ChangeKind {
    fn words(self) -> &'static str {
        match self {
            Self::LostCredit => "lost credit",
            Self::GainedCredit => "gained credit",
            Self::Appeared => "appeared",
            Self::Disappeared => "disappeared",
            Self::VerdictChanged => "verdict changed",
            Self::AttributedChanged => "attributed users changed",
        }
    }
}

/// One resource (by kind and id) that changed between the two reports.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// How it changed.
    pub change: ChangeKind,
    /// The resource's kind.
    pub kind: ResourceKind,
    /// The resource's id.
    pub resource_id: ResourceId,
    /// Its name in the new report, else in the old.
    pub resource_name: String,
    /// Its environment's name in the new report, else in the old.
    pub environment_name: String,
    /// The old report's verdict; `None` when it appeared.
    pub old_verdict: Option<Verdict>,
    /// The new report's verdict; `None` when it disappeared.
    pub new_verdict: Option<Verdict>,
    /// The old report's attributed users, "name (partner 123)", "name
    /// (link undecided)" or "name (unlinked)", sorted, each once.
    pub old_attributed: Vec<String>,
    /// The new report's attributed users, in the same form.
    pub new_attributed: Vec<String>,
}

/// What changed between two reports of one tenant.
#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    /// Always `SCHEMA`.
    pub schema: &'static str,
    /// The tenant, as the new report names it.
    pub tenant_id: String,
    /// The partner, as the new report names it.
    pub partner_id: String,
    /// When the old report was made.
    pub old_generated_at: chrono::DateTime<chrono::Utc>,
    /// When the new report was made.
    pub new_generated_at: chrono::DateTime<chrono::Utc>,
    /// Every change, by change kind, resource kind, name (ignoring case)
    /// and id.
    pub changes: Vec<Change>,
    /// How many changes of each kind; a kind with none is absent.
    pub summary: BTreeMap<ChangeKind, usize>,
}

impl Diff {
    /// Credit was lost: what a pipeline gates on.
    pub fn lost_credit(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.change == ChangeKind::LostCredit)
    }
}

fn attributed(f: &Finding) -> Vec<String> {
    let set: BTreeSet<String> = f
        .attributed
        .iter()
        .map(|a| {
            format!(
                "{} ({})",
                a.principal_name
                    .as_deref()
                    .unwrap_or(a.principal_id.as_str()),
                a.link_words()
            )
        })
        .collect();
    set.into_iter().collect()
}

/// Compares two reports finding by finding (kind and resource id).
pub fn diff(old: &Report, new: &Report) -> Diff {
    let key = |f: &Finding| (f.kind, f.resource_id.clone());
    let olds: BTreeMap<_, &Finding> = old.findings.iter().map(|f| (key(f), f)).collect();
    let news: BTreeMap<_, &Finding> = new.findings.iter().map(|f| (key(f), f)).collect();
    let keys: BTreeSet<_> = olds.keys().chain(news.keys()).cloned().collect();
    let mut changes = Vec::new();
    for k in keys {
        let (o, n) = (olds.get(&k).copied(), news.get(&k).copied());
        let credited = |f: Option<&Finding>| f.is_some_and(|f| f.verdict == Verdict::Credited);
        let change = match (o, n) {
            (None, Some(_)) => Some(ChangeKind::Appeared),
            // A credited resource that is gone is credit lost.
            (Some(_), None) if credited(o) => Some(ChangeKind::LostCredit),
            (Some(_), None) => Some(ChangeKind::Disappeared),
            (Some(_), Some(_)) if credited(o) && !credited(n) => Some(ChangeKind::LostCredit),
            (Some(_), Some(_)) if !credited(o) && credited(n) => Some(ChangeKind::GainedCredit),
            (Some(a), Some(b)) if a.verdict != b.verdict => Some(ChangeKind::VerdictChanged),
            (Some(a), Some(b)) if attributed(a) != attributed(b) => {
                Some(ChangeKind::AttributedChanged)
            }
            _ => None,
        };
        let Some(change) = change else { continue };
        let any = n.or(o).expect("one side exists");
        changes.push(Change {
            change,
            kind: any.kind,
            resource_id: any.resource_id.clone(),
            resource_name: any.resource_name.to_string(),
            environment_name: any.environment_name.to_string(),
            old_verdict: o.map(|f| f.verdict),
            new_verdict: n.map(|f| f.verdict),
            old_attributed: o.map(attributed).unwrap_or_default(),
            new_attributed: n.map(attributed).unwrap_or_default(),
        });
    }
    changes.sort_by(|a, b| {
        (
            a.change,
            a.kind,
            a.resource_name.to_lowercase(),
            &a.resource_id,
        )
            .cmp(&(
                b.change,
                b.kind,
                b.resource_name.to_lowercase(),
                &b.resource_id,
            ))
    });
    let mut summary = BTreeMap::new();
    for c in &changes {
        *summary.entry(c.change).or_insert(0) += 1;
    }
    Diff {
        schema: SCHEMA,
        tenant_id: new.tenant_id.clone(),
        partner_id: new.partner_id.to_string(),
        old_generated_at: old.generated_at,
        new_generated_at: new.generated_at,
        changes,
        summary,
    }
}

fn verdict(v: Option<Verdict>) -> &'static str {
    v.map_or("-", Verdict::as_str)
}

/// The diff for a terminal: a table of the changes and a summary line, or
/// one sentence when nothing changed. Fitted to `width` columns as the
/// report's table is (names cut, text wrapped); `None` for the wide layout.
pub fn render_table(d: &Diff, width: Option<u16>) -> String {
    use crate::report::fit::{Piece, fitted};
    if d.changes.is_empty() {
        return "No change between the two reports.\n".into();
    }
    // Narrower than 120 columns, the kind goes under the name and the
    // verdicts share a column.
    let compact = width.is_some_and(|w| w < 120);
    let (header, mins): (&[&str], &[usize]) = if compact {
        (
            &[
                "change",
                "resource",
                "environment",
                "verdict",
                "attributed users (after)",
            ],
            &[11, 10, 8, 12, 12],
        )
    } else {
        (
            &[
                "change",
                "resource",
                "kind",
                "environment",
                "before",
                "after",
                "attributed users (after)",
            ],
            &[11, 10, 8, 8, 10, 10, 14],
        )
    };
    let words = |s: &str| Piece::Words(s.to_string());
    let rows: Vec<Vec<Vec<Piece>>> = d
        .changes
        .iter()
        .map(|c| {
            let (before, after) = (verdict(c.old_verdict), verdict(c.new_verdict));
            let name = Piece::Name(c.resource_name.clone());
            let users = c.new_attributed.iter().map(|a| words(a)).collect();
            let env = vec![Piece::Name(c.environment_name.clone())];
            if compact {
                vec![
                    vec![words(c.change.words())],
                    vec![name, words(c.kind.as_str())],
                    env,
                    vec![words(before), words(&format!("→ {after}"))],
                    users,
                ]
            } else {
                vec![
                    vec![words(c.change.words())],
                    vec![name],
                    vec![words(c.kind.as_str())],
                    env,
                    vec![words(before)],
                    vec![words(after)],
                    users,
                ]
            }
        })
        .collect();
    let (header, cells) = fitted(header, mins, &rows, width.map(usize::from));
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .force_no_tty()
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header);
    for row in cells {
        t.add_row(row);
    }
    format!("{t}\n{}\n", summary_line(d))
}

fn summary_line(d: &Diff) -> String {
    d.summary
        .iter()
        .map(|(k, n)| format!("{n} {}", k.words()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The diff as Markdown: a heading naming the two reports, the summary and
/// a table of the changes.
pub fn render_markdown(d: &Diff) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# PAL credit: what changed\n\nTenant {}, partner {}: report of {} against report of {}.\n",
        d.tenant_id,
        d.partner_id,
        d.new_generated_at.format("%Y-%m-%d %H:%M UTC"),
        d.old_generated_at.format("%Y-%m-%d %H:%M UTC")
    );
    if d.changes.is_empty() {
        s.push_str("No change.\n");
        return s;
    }
    let _ = writeln!(s, "{}.\n", summary_line(d));
    let _ = writeln!(
        s,
        "| change | resource | kind | environment | before | after | attributed users (after) |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- |");
    for c in &d.changes {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            c.change.words(),
            c.resource_name.replace('|', "\\|"),
            c.kind.as_str(),
            c.environment_name.replace('|', "\\|"),
            verdict(c.old_verdict),
            verdict(c.new_verdict),
            c.new_attributed.join("<br>").replace('|', "\\|")
        );
    }
    s
}

/// The diff as pretty-printed JSON, ending in a newline.
pub fn render_json(d: &Diff) -> String {
    let mut s = serde_json::to_string_pretty(d).expect("a diff serializes");
    s.push('\n');
    s
}
