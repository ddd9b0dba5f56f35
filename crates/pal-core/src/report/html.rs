//! HTML: one self-contained page (no network, no external assets, a strict
//! Content-Security-Policy that admits only its own style and script by
//! hash). A summary first (what credit is worth, totals per verdict and at
//! risk, coverage gaps with environment names), what to fix first, the
//! linked identities, charts (inline SVG; the top environments and
//! "others"), then the findings: one JSON data block that a small script
//! shows a page at a time, searchable over the text it shows, so a report of
//! 150,000 findings opens in seconds. Written as well-formed XHTML, so a test
//! can parse it as XML.
//!
//! Tenant text is hostile: it is escaped for markup, and inside the JSON
//! block `<`, `>`, `&`, U+2028 and U+2029 are `\u` escapes, so no name can
//! close the script or start markup.

use std::collections::BTreeMap;
use std::fmt::Write;

use base64::Engine;
use rustc_hash::FxHashMap;
use sha2::{Digest as _, Sha256};

use super::{Digest, Report, active_users};
use crate::attribution::{Finding, Verdict};
use crate::inventory::CoverageStatus;

/// Escapes text for element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON made safe inside a `<script>` element (and as XML text): no `<`,
/// `>` or `&` (so neither `</script>` nor `<!--` nor an entity), and no
/// U+2028/U+2029 (line ends to older JavaScript). Each only occurs inside
/// JSON strings, where its `\u` escape means the same.
fn script_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `'sha256-...'`: a CSP source admitting exactly this inline text.
fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn color(v: Verdict) -> &'static str {
    match v {
        Verdict::Credited => "#2e7d32",
        Verdict::CreditedToOther => "#f9a825",
        Verdict::Uncredited => "#c62828",
        Verdict::Unknown => "#6a1b9a",
    }
}

/// How many environments the chart draws before "others".
const TOP_ENVIRONMENTS: usize = 12;
/// How many "fix first" findings the page lists.
const FIX_FIRST_SHOWN: usize = 50;
/// How many resource names an identity lists.
const NAMES_SHOWN: usize = 5;

/// A stacked bar per row: how many findings of each verdict.
fn chart(title: &str, rows: &[(String, BTreeMap<Verdict, u64>)]) -> String {
    const LABEL: u32 = 220;
    const BAR: u32 = 440;
    const ROW: u32 = 26;
    let height = ROW * rows.len() as u32 + 40;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure><figcaption>{}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" role="img" aria-label="{}">"#,
        esc(title),
        LABEL + BAR + 60,
        esc(title)
    );
    let max = rows
        .iter()
        .map(|(_, c)| c.values().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    for (i, (label, counts)) in rows.iter().enumerate() {
        let y = i as u32 * ROW + 4;
        // A long name is cut, whole in the tooltip.
        let short: String = if label.chars().count() > 30 {
            label.chars().take(29).chain(['…']).collect()
        } else {
            label.clone()
        };
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="13">{}<title>{}</title></text>"#,
            LABEL - 8,
            y + 15,
            esc(&short),
            esc(label)
        );
        let mut x = LABEL;
        let total: u64 = counts.values().sum();
        for v in Verdict::ALL {
            let n = counts.get(&v).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let w = (n as f64 / max as f64 * f64::from(BAR)).round().max(1.0) as u32;
            let _ = write!(
                s,
                r#"<rect x="{x}" y="{y}" width="{w}" height="20" fill="{}"><title>{}: {n}</title></rect>"#,
                color(v),
                v.as_str()
            );
            x += w;
        }
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="12">{total}</text>"#,
            x + 6,
            y + 15
        );
    }
    let ly = ROW * rows.len() as u32 + 16;
    let mut lx = LABEL;
    for v in Verdict::ALL {
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="{ly}" width="12" height="12" fill="{}"/><text x="{}" y="{}" font-size="12">{}</text>"#,
            color(v),
            lx + 16,
            ly + 11,
            v.as_str()
        );
        lx += 16 + 8 * v.as_str().len() as u32 + 18;
    }
    s.push_str("</svg></figure>");
    s
}

/// The environments with the most findings, then one "others" row.
fn environment_rows(report: &Report) -> Vec<(String, BTreeMap<Verdict, u64>)> {
    let mut by_env: BTreeMap<&str, (&str, BTreeMap<Verdict, u64>)> = BTreeMap::new();
    for f in &report.findings {
        *by_env
            .entry(f.environment_id.as_str())
            .or_insert_with(|| (&f.environment_name, BTreeMap::new()))
            .1
            .entry(f.verdict)
            .or_default() += 1;
    }
    let mut rows: Vec<(&str, BTreeMap<Verdict, u64>)> = by_env.into_values().collect();
    // Most findings first; equal counts by name (the map's id order breaks
    // the rest, as the sort is stable).
    rows.sort_by(|a, b| {
        b.1.values()
            .sum::<u64>()
            .cmp(&a.1.values().sum::<u64>())
            .then_with(|| a.0.cmp(b.0))
    });
    // "Others" only when it stands for two or more environments.
    let shown = if rows.len() > TOP_ENVIRONMENTS + 1 {
        TOP_ENVIRONMENTS
    } else {
        rows.len()
    };
    let others = rows.len() - shown;
    let mut out: Vec<(String, BTreeMap<Verdict, u64>)> = Vec::new();
    let mut rest: BTreeMap<Verdict, u64> = BTreeMap::new();
    for (i, (name, counts)) in rows.into_iter().enumerate() {
        if i < shown {
            out.push((name.to_string(), counts));
        } else {
            for (v, n) in counts {
                *rest.entry(v).or_default() += n;
            }
        }
    }
    if others > 0 {
        out.push((format!("others ({others} environments)"), rest));
    }
    out
}

/// The verdict as shown: "credited (at risk)" apart from plain credited.
fn verdict_text(f: &Finding) -> &'static str {
    if f.at_risk() {
        "credited (at risk)"
    } else {
        f.verdict.as_str()
    }
}

/// The verdict badge's class.
fn verdict_class(f: &Finding) -> &'static str {
    if f.at_risk() {
        "v at-risk"
    } else {
        match f.verdict {
            Verdict::Credited => "v credited",
            Verdict::CreditedToOther => "v credited-to-other",
            Verdict::Uncredited => "v uncredited",
            Verdict::Unknown => "v unknown",
        }
    }
}

fn users_text(f: &Finding) -> String {
    active_users(f).map_or_else(|| "unknown".to_string(), |u| u.to_string())
}

/// The findings as the script reads them: a table of distinct strings
/// (a large tenant repeats kinds, environments, reasons and fixes by the
/// thousand) and one row of indices per finding, in `ranked` order.
fn findings_json(digest: &Digest<'_>) -> String {
    let mut strings: Vec<&str> = Vec::new();
    let mut index: FxHashMap<String, usize> = FxHashMap::default();
    let mut intern = |s: String| -> usize {
        if let Some(&i) = index.get(&s) {
            return i;
        }
        let i = index.len();
        index.insert(s, i);
        i
    };
    let mut rows = String::with_capacity(digest.ranked.len() * 48);
    rows.push('[');
    for (n, f) in digest.ranked.iter().enumerate() {
        if n > 0 {
            rows.push(',');
        }
        let attributed = f
            .attributed
            .iter()
            .map(|a| a.describe())
            .collect::<Vec<_>>()
            .join("\n");
        let flags = f
            .flags
            .iter()
            .map(|x| x.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let reasons: Vec<usize> = f.reasons.iter().map(|r| intern(r.to_string())).collect();
        let _ = write!(
            rows,
            "[{},{},{},{},{},{},{},{},{},{},{},{},{:?},{}]",
            intern(verdict_text(f).to_string()),
            intern(verdict_class(f).to_string()),
            intern(f.resource_name.to_string()),
            intern(f.resource_id.to_string()),
            intern(f.kind.as_str().to_string()),
            intern(f.product.as_str().to_string()),
            intern(f.environment_name.to_string()),
            intern(f.solution.clone().unwrap_or_default()),
            intern(users_text(f)),
            active_users(f).map_or_else(|| "-1".to_string(), |u| u.to_string()),
            intern(attributed),
            intern(flags),
            reasons,
            f.fix
                .as_ref()
                .map_or_else(|| "-1".to_string(), |x| intern(x.to_string()).to_string()),
        );
    }
    rows.push(']');
    strings.resize(index.len(), "");
    for (s, &i) in &index {
        strings[i] = s;
    }
    let strings = serde_json::to_string(&strings).expect("strings serialise");
    script_json(&format!("{{\"strings\":{strings},\"rows\":{rows}}}"))
}

/// The page's style sheet (print rules included).
const STYLE: &str = include_str!("html/style.css");

/// The findings' script: reads the JSON block, shows a page of rows with
/// DOM calls only (tenant text is never parsed as markup), filters by the
/// shown text and the verdict, sorts by a clicked column, and follows the
/// URL fragment (`#q=text&verdict=uncredited&page=2`). Errors are written
/// into the page (`data-errors` on the root element); `data-ready` says it
/// ran to the end.
const SCRIPT: &str = include_str!("html/findings.js");

/// The report as one self-contained XHTML page (see the module head); the
/// tenant's text is escaped.
pub fn render_html(report: &Report) -> String {
    let digest = Digest::of(report);
    let mut by_product: BTreeMap<String, BTreeMap<Verdict, u64>> = BTreeMap::new();
    for (p, counts) in &report.summary.by_product {
        by_product.insert(p.title().to_string(), counts.clone());
    }
    let script = format!("//<![CDATA[\n{SCRIPT}//]]>");
    let style = format!("/*<![CDATA[*/\n{STYLE}/*]]>*/");
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta charset="utf-8"/>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src {style_hash}; script-src {script_hash}; base-uri 'none'; form-action 'none'"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>PAL credit: tenant {tenant}</title>
<style>{style}</style>
</head>
<body>
<p id="errors"></p>
<h1>Partner Admin Link credit for partner {partner}</h1>
<p class="meta">Tenant {tenant}; {n} resources; pal-audit {version}; {time}</p>
"#,
        style_hash = csp_hash(&style),
        script_hash = csp_hash(&script),
        tenant = esc(&report.tenant_id),
        partner = esc(report.partner_id.as_str()),
        n = report.findings.len(),
        version = esc(&report.tool_version),
        time = report.generated_at.format("%Y-%m-%d %H:%M UTC"),
    );
    summary(&mut s, report, &digest);
    fix_first(&mut s, &digest);
    identities(&mut s, &digest);
    s.push_str(r#"<h2>Charts</h2><div class="charts">"#);
    s.push_str(&chart(
        "Credit per product",
        &by_product.into_iter().collect::<Vec<_>>(),
    ));
    s.push_str(&chart("Credit per environment", &environment_rows(report)));
    s.push_str("</div>\n");
    findings(&mut s);
    coverage(&mut s, report, &digest);
    let _ = write!(
        s,
        "<script type=\"application/json\" id=\"findings-data\">{}</script>\n<script>{script}</script>\n</body>\n</html>\n",
        findings_json(&digest)
    );
    s
}

/// What credit is worth, totals per verdict and at risk, and the coverage
/// gaps.
fn summary(s: &mut String, report: &Report, digest: &Digest<'_>) {
    let _ = write!(
        s,
        "<h2>Summary</h2>\n<p class=\"lead\"><b>{}</b></p>\n",
        esc(&digest.not_credited.sentence())
    );
    if report.redacted {
        let _ = writeln!(s, "<p><b>{}</b></p>", esc(super::REDACTED_NOTE));
    }
    s.push_str(r#"<table id="totals"><thead><tr><th>product</th><th class="n">credited</th><th class="n">credited at risk</th><th class="n">credited to another partner</th><th class="n">uncredited</th><th class="n">unknown</th></tr></thead><tbody>"#);
    let n = |m: &BTreeMap<Verdict, u64>, v| m.get(&v).copied().unwrap_or(0);
    let mut line = |name: &str, counts: &BTreeMap<Verdict, u64>, risk: u64, bold: bool| {
        let (a, b) = if bold { ("<b>", "</b>") } else { ("", "") };
        let _ = write!(
            s,
            r#"<tr><td>{a}{}{b}</td><td class="n">{a}{}{b}</td><td class="n">{a}{risk}{b}</td><td class="n">{a}{}{b}</td><td class="n">{a}{}{b}</td><td class="n">{a}{}{b}</td></tr>"#,
            esc(name),
            n(counts, Verdict::Credited).saturating_sub(risk),
            n(counts, Verdict::CreditedToOther),
            n(counts, Verdict::Uncredited),
            n(counts, Verdict::Unknown),
        );
    };
    for (p, counts) in &report.summary.by_product {
        let risk = report
            .summary
            .at_risk_by_product
            .get(p)
            .copied()
            .unwrap_or(0);
        line(p.title(), counts, risk, false);
    }
    line(
        "all",
        &report.summary.by_verdict,
        report.summary.at_risk,
        true,
    );
    s.push_str("</tbody></table>\n<p class=\"meta\">Credited at risk is counted apart from credited: together they are every credited resource.</p>\n");
    if !report.complete {
        s.push_str(r#"<div class="incomplete"><b>The audit is incomplete: these were not read in full.</b><ul>"#);
        for c in report
            .coverage
            .iter()
            .filter(|c| c.status != CoverageStatus::Complete)
        {
            let _ = write!(
                s,
                "<li><b>{}</b>{}: {}</li>",
                esc(&c.source),
                c.environment_id
                    .as_ref()
                    .map(|e| format!(" in {}", esc(&digest.environment(e))))
                    .unwrap_or_default(),
                esc(&c.detail)
            );
        }
        s.push_str("</ul></div>\n");
    }
    if let Some(fp) = &report.first_party {
        let _ = writeln!(s, r#"<p class="meta">{}</p>"#, esc(&fp.line()));
    }
}

/// The uncredited and at-risk resources we delivered, most users first.
fn fix_first(s: &mut String, digest: &Digest<'_>) {
    s.push_str("<h2>Fix first</h2>\n");
    if digest.fix_first.is_empty() {
        s.push_str(
            "<p>Nothing: no uncredited or at-risk resource that our identities delivered.</p>\n",
        );
        return;
    }
    s.push_str("<p>The uncredited and at-risk resources that our identities delivered, most active users first.</p>\n<ol class=\"fix-first\">");
    for f in digest.fix_first.iter().take(FIX_FIRST_SHOWN) {
        let ours = super::delivered_by(f);
        let _ = write!(
            s,
            r#"<li><span class="{}">{}</span> <b>{}</b> ({}, {}): active users {}; ours: {}"#,
            verdict_class(f),
            verdict_text(f),
            esc(&f.resource_name),
            f.kind.as_str(),
            esc(&f.environment_name),
            esc(&users_text(f)),
            esc(&ours)
        );
        if f.at_risk() {
            let _ = write!(s, "<br/>At risk: {}", super::risk_flags(f));
        }
        if let Some(fix) = &f.fix {
            let _ = write!(
                s,
                r#"<p class="fix"><b>Fix:</b> {}</p>"#,
                esc(&fix.to_string())
            );
        }
        s.push_str("</li>");
    }
    s.push_str("</ol>\n");
    if digest.fix_first.len() > FIX_FIRST_SHOWN {
        let _ = writeln!(
            s,
            "<p>And {} more in the findings below.</p>",
            digest.fix_first.len() - FIX_FIRST_SHOWN
        );
    }
}

/// Every link with its evidence and the findings resting on it.
fn identities(s: &mut String, digest: &Digest<'_>) {
    s.push_str("<h2>Linked identities</h2>\n");
    if digest.identities.is_empty() {
        s.push_str("<p>No links were given.</p>\n");
        return;
    }
    s.push_str(r#"<table id="identities"><thead><tr><th>identity</th><th>partner</th><th>evidence</th><th class="n">age</th><th>findings resting on it</th></tr></thead><tbody>"#);
    for id in &digest.identities {
        let mut names: Vec<String> = id
            .findings
            .iter()
            .take(NAMES_SHOWN)
            .map(|f| esc(&f.resource_name))
            .collect();
        if id.findings.len() > NAMES_SHOWN {
            names.push(format!("and {} more", id.findings.len() - NAMES_SHOWN));
        }
        let _ = write!(
            s,
            r#"<tr><td><b>{}</b><br/><code>{}</code></td><td class="nw">{}</td><td class="nw">{}</td><td class="n">{}{}</td><td>{}{}</td></tr>"#,
            esc(id.link.principal_name.as_deref().unwrap_or("")),
            esc(&id.link.principal_id),
            esc(id.link.partner_id.as_str()),
            id.evidence(),
            id.age(),
            if id.link.stale {
                r#" <span class="stale">stale</span>"#
            } else {
                ""
            },
            esc(&id.counts()),
            if names.is_empty() {
                String::new()
            } else {
                format!(": {}", names.join(", "))
            }
        );
    }
    s.push_str("</tbody></table>\n");
}

/// The findings' controls and empty table; the script fills it.
fn findings(s: &mut String) {
    s.push_str("<h2>Findings</h2>\n");
    s.push_str(
        r#"<div class="filters"><label>Search <input id="q" type="search" placeholder="name, user, flag, fix..."/></label><label>Verdict <select id="verdict"><option value="">all</option>"#,
    );
    for v in super::VERDICT_ORDER {
        let _ = write!(s, r#"<option value="{0}">{0}</option>"#, v.as_str());
    }
    s.push_str(r#"<option value="at-risk">credited (at risk)</option></select></label><span class="pager"><button id="prev" type="button">previous</button> <span id="page-info"></span> <button id="next" type="button">next</button></span></div>"#);
    s.push_str("\n<noscript><p>The findings list needs JavaScript; the summary and fix-first list above do not. <code>--format csv</code> or <code>--format markdown</code> list every finding.</p></noscript>\n");
    s.push_str(r#"<table id="findings"><thead><tr><th>verdict</th><th>resource</th><th>kind</th><th>product</th><th>environment</th><th>solution</th><th class="n">active users</th><th>attributed users</th><th>flags</th></tr></thead><tbody></tbody></table>"#);
    s.push('\n');
}

/// Every coverage row, environments named.
fn coverage(s: &mut String, report: &Report, digest: &Digest<'_>) {
    let _ = write!(
        s,
        r#"<h2>Coverage</h2><details><summary>{} sources read; {} not in full</summary><table id="coverage"><thead><tr><th>source</th><th>environment</th><th>status</th><th class="n">requests</th><th>detail</th></tr></thead><tbody>"#,
        report.coverage.len(),
        report
            .coverage
            .iter()
            .filter(|c| c.status != CoverageStatus::Complete)
            .count()
    );
    for c in &report.coverage {
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td>{}</td></tr>"#,
            esc(&c.source),
            c.environment_id
                .as_ref()
                .map_or_else(|| "-".to_string(), |e| esc(&digest.environment(e))),
            match c.status {
                CoverageStatus::Complete => "complete",
                CoverageStatus::Partial => "partial",
                CoverageStatus::Failed => "failed",
            },
            c.requests,
            esc(&c.detail)
        );
    }
    s.push_str("</tbody></table></details>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn the_style_and_script_stay_inside_their_elements() {
        for text in [STYLE, SCRIPT] {
            assert!(!text.contains("]]>") && !text.contains("</"));
        }
    }

    #[test]
    fn json_in_a_script_cannot_close_it() {
        let json = serde_json::to_string("</script><img onerror=x>&amp;\u{2028}\u{2029}").unwrap();
        let safe = script_json(&json);
        for bad in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
            assert!(!safe.contains(bad), "{bad:?} in {safe}");
        }
        // Still the same string to a JSON reader.
        assert_eq!(
            serde_json::from_str::<String>(&safe).unwrap(),
            "</script><img onerror=x>&amp;\u{2028}\u{2029}"
        );
    }
}
