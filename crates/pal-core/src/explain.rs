//! `pal-audit explain`: the attribution path of one resource (partner ->
//! link -> principal -> role -> resource) in plain words, and the attribution
//! graph (petgraph) in Graphviz DOT, from a report.

use std::collections::HashMap;
use std::fmt::Write;

use petgraph::dot::{Config, Dot};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::attribution::{DecidedBy, Finding, LinkRow, Verdict};
use crate::links::{LinkKind, LinkSource};
use crate::report::{Report, line_safe};

fn kind(k: LinkKind) -> &'static str {
    match k {
        LinkKind::User => "a person's account",
        LinkKind::ServiceAccount => "a service account",
        LinkKind::ServicePrincipal => "a service principal",
    }
}

fn source(s: LinkSource) -> &'static str {
    match s {
        LinkSource::Attested => "attested",
        LinkSource::Declared => "declared",
    }
}

/// The findings `id` names: a resource id, or else a resource name (any case).
pub fn find<'a>(report: &'a Report, id: &str) -> Vec<&'a Finding> {
    let by_id: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.resource_id.as_str().eq_ignore_ascii_case(id))
        .collect();
    if !by_id.is_empty() {
        return by_id;
    }
    report
        .findings
        .iter()
        .filter(|f| f.resource_name.eq_ignore_ascii_case(id))
        .collect()
}

fn links_of<'a>(report: &'a Report, principal: &str) -> Vec<&'a LinkRow> {
    report
        .links
        .iter()
        .filter(|l| l.principal_id.eq_ignore_ascii_case(principal))
        .collect()
}

/// The attribution path of one finding, in plain words.
pub fn explain(report: &Report, f: &Finding) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({} {}, environment {}{})",
        f.resource_name,
        f.kind.as_str(),
        f.resource_id,
        f.environment_name,
        f.solution
            .as_deref()
            .map(|x| format!(", solution {x}"))
            .unwrap_or_default()
    );
    let decided = match f.decided_by {
        Some(DecidedBy::SinglePartner) => "one candidate partner",
        Some(DecidedBy::AuditEvents) => "the latest activity in audit events",
        Some(DecidedBy::ResourceStamps) => "the latest activity stamped on the resource",
        Some(DecidedBy::SolutionImport) => "the last linked importer of its managed solution",
        None => "nothing: no partner could be decided",
    };
    let _ = writeln!(
        s,
        "Verdict: {}{}; decided by {decided}.",
        f.verdict.as_str(),
        match (&f.credited_partner_id, f.verdict) {
            (Some(p), Verdict::Credited) => format!(" (partner {p}, ours)"),
            (Some(p), _) => format!(" (partner {p})"),
            _ => String::new(),
        }
    );
    let _ = writeln!(s, "\nAttribution path:");
    if f.attributed.is_empty() {
        let _ = writeln!(s, "  (no attributed user could be read)");
    }
    for a in &f.attributed {
        let who = format!(
            "{} ({})",
            a.principal_name
                .as_deref()
                .unwrap_or(a.principal_id.as_str()),
            a.principal_id
        );
        let links = links_of(report, a.principal_id.as_str());
        let deciding = a
            .partner_id
            .as_ref()
            .is_some_and(|p| Some(p) == f.credited_partner_id.as_ref());
        match (
            &a.partner_id,
            links
                .iter()
                .find(|l| Some(&l.partner_id) == a.partner_id.as_ref()),
        ) {
            (Some(p), Some(l)) => {
                let _ = writeln!(
                    s,
                    "  partner {p} <- {} link{} of {} <- {who} -> {} of the resource{}",
                    source(l.source),
                    l.linked_at
                        .map(|t| format!(" made {}", t.format("%Y-%m-%d")))
                        .unwrap_or_default(),
                    kind(l.principal_kind),
                    a.role.words(),
                    if deciding { "   <- decides" } else { "" }
                );
            }
            (Some(p), None) => {
                let _ = writeln!(
                    s,
                    "  partner {p} <- {who} -> {} of the resource",
                    a.role.words()
                );
            }
            (None, _) => {
                let _ = writeln!(
                    s,
                    "  (no partner) <- {who}, not linked -> {} of the resource",
                    a.role.words()
                );
            }
        }
    }
    let _ = writeln!(s, "\nEvidence:");
    for r in &f.reasons {
        let _ = writeln!(s, "  - {r}");
    }
    if !f.flags.is_empty() {
        let _ = writeln!(
            s,
            "\nFlags: {}",
            f.flags
                .iter()
                .map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(fix) = &f.fix {
        let _ = writeln!(s, "\nFix: {fix}");
    }
    s
}

/// The attribution graph of `findings` in DOT: partners, principals and
/// resources, joined by link and role edges. The tenant's text is put on one
/// line ([`line_safe`]) and every label quoted for DOT ([`dot_string`]), so
/// a name can neither break the graph's syntax nor a label's lines.
pub fn dot(report: &Report, findings: &[&Finding]) -> String {
    let mut g: DiGraph<String, String> = DiGraph::new();
    let mut nodes: HashMap<String, NodeIndex> = HashMap::new();
    let mut node = |g: &mut DiGraph<String, String>, key: String, label: String| -> NodeIndex {
        *nodes.entry(key).or_insert_with(|| g.add_node(label))
    };
    let mut shapes: HashMap<NodeIndex, &'static str> = HashMap::new();
    for f in findings {
        let r = node(
            &mut g,
            format!("r:{}", f.resource_id),
            // The one line break in a label is this one, the graph's own.
            format!(
                "{}\n{} ({})",
                line_safe(&f.resource_name),
                f.kind.as_str(),
                f.verdict.as_str()
            ),
        );
        shapes.insert(r, "note");
        for a in &f.attributed {
            let p = node(
                &mut g,
                format!("p:{}", a.principal_id),
                line_safe(
                    a.principal_name
                        .as_deref()
                        .unwrap_or(a.principal_id.as_str()),
                )
                .into_owned(),
            );
            shapes.insert(p, "ellipse");
            g.update_edge(p, r, a.role.words().to_string());
            for l in links_of(report, a.principal_id.as_str()) {
                let partner = node(
                    &mut g,
                    format!("partner:{}", l.partner_id),
                    format!("partner {}", line_safe(l.partner_id.as_str())),
                );
                shapes.insert(partner, "box");
                g.update_edge(p, partner, format!("{} link", source(l.source)));
            }
        }
    }
    let edge = |_: &DiGraph<String, String>, e: petgraph::graph::EdgeReference<'_, String>| {
        format!("label={}", dot_string(e.weight()))
    };
    let node_attrs = |_: &DiGraph<String, String>, (i, label): (NodeIndex, &String)| {
        format!(
            "label={} shape={}",
            dot_string(label),
            shapes.get(&i).copied().unwrap_or("ellipse")
        )
    };
    let dot = Dot::with_attr_getters(
        &g,
        &[Config::EdgeNoLabel, Config::NodeNoLabel],
        &edge,
        &node_attrs,
    );
    format!("{dot:?}")
}

/// `text` as a quoted DOT string: `"` and `\` escaped (so `\N`, `\G` or
/// `\l` in a name is shown, not expanded by Graphviz), a line feed as DOT's
/// centred line break `\n`, and any other control character as the visible
/// `\u{1b}` the terminal shows (its backslash escaped for DOT).
fn dot_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                out.push('\\');
                out.extend(c.escape_unicode());
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_strings_quote_what_dot_would_read() {
        assert_eq!(dot_string("Quote Builder"), "\"Quote Builder\"");
        assert_eq!(dot_string("a\"b\\N\nc\r"), "\"a\\\"b\\\\N\\nc\\\\u{d}\"");
    }
}
