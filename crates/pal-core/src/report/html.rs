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

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; }
.meta { color: #555; margin-top: 0; }
.lead { font-size: 1.15rem; }
.incomplete { background: #fff3e0; border-left: 4px solid #ef6c00; padding: 0.5rem 1rem; }
.charts { display: flex; flex-wrap: wrap; gap: 2rem; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 0.4rem; }
table { border-collapse: collapse; font-size: 0.9rem; }
#findings, #identities { width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th { background: #f5f5f5; }
#findings th { cursor: pointer; position: sticky; top: 0; }
td.n, th.n { text-align: right; }
.v { color: #fff; padding: 0.1rem 0.4rem; border-radius: 3px; white-space: nowrap; }
.v.credited { background: #2e7d32; }
.v.at-risk { background: #2e7d32; outline: 3px solid #ef6c00; }
.v.credited-to-other { background: #f9a825; color: #222; }
.v.uncredited { background: #c62828; }
.v.unknown { background: #6a1b9a; }
code { font-size: 0.8rem; color: #444; }
details { margin-top: 0.3rem; }
.fix { background: #f1f8e9; padding: 0.3rem 0.5rem; margin: 0.3rem 0; }
.stale { color: #c62828; font-weight: 600; }
ol.fix-first li { margin-bottom: 0.6rem; }
.filters { margin: 1rem 0; display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; }
#errors { color: #c62828; font-weight: 600; }
@media print {
  body { margin: 0.5cm; }
  .filters, .pager, .charts, #errors { display: none; }
  #findings th { position: static; }
  ol.fix-first li, tr { break-inside: avoid; }
  .v { color: #000; background: none; border: 1px solid #000; outline: none; }
}
"#;

/// The findings' script: reads the JSON block, shows a page of rows with
/// DOM calls only (tenant text is never parsed as markup), filters by the
/// shown text and the verdict, sorts by a clicked column, and follows the
/// URL fragment (`#q=text&verdict=uncredited&page=2`). Errors are written
/// into the page (`data-errors` on the root element); `data-ready` says it
/// ran to the end.
const SCRIPT: &str = r#"
(function () {
  var root = document.documentElement;
  function fail(msg) {
    var prev = root.getAttribute('data-errors');
    root.setAttribute('data-errors', (prev ? prev + ' | ' : '') + msg);
    var box = document.getElementById('errors');
    if (box) { box.textContent = 'This page failed: ' + root.getAttribute('data-errors'); }
  }
  window.addEventListener('error', function (e) { fail(String(e.message)); });
  var PAGE = 100;
  var data = JSON.parse(document.getElementById('findings-data').textContent);
  var S = data.strings, R = data.rows;
  var lower = null;
  var body = document.getElementById('findings').tBodies[0];
  var q = document.getElementById('q');
  var sel = document.getElementById('verdict');
  var info = document.getElementById('page-info');
  var prev = document.getElementById('prev');
  var next = document.getElementById('next');
  var shown = [], page = 0, sortCol = -1, sortDir = 1;
  // Columns as rows hold them: 0 verdict text, 1 verdict class, 2 name,
  // 3 id, 4 kind, 5 product, 6 environment, 7 solution, 8 users text,
  // 9 users number (-1 unknown), 10 attributed, 11 flags, 12 reasons, 13 fix.
  var TEXT = [0, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13];
  function matches(r, text) {
    for (var i = 0; i < TEXT.length; i++) {
      var k = r[TEXT[i]];
      if (k >= 0 && lower[k].indexOf(text) !== -1) { return true; }
    }
    for (var j = 0; j < r[12].length; j++) {
      if (lower[r[12][j]].indexOf(text) !== -1) { return true; }
    }
    return false;
  }
  function want(r, v) {
    if (!v) { return true; }
    var text = S[r[0]];
    return v === 'at-risk' ? text === 'credited (at risk)' : text === v;
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }
  function lines(td, text) {
    var parts = text.split('\n');
    for (var i = 0; i < parts.length; i++) {
      if (i > 0) { td.appendChild(el('br')); }
      td.appendChild(document.createTextNode(parts[i]));
    }
  }
  function row(r) {
    var tr = el('tr');
    tr.setAttribute('data-verdict', S[r[0]]);
    var td = el('td'); td.appendChild(el('span', S[r[0]], S[r[1]])); tr.appendChild(td);
    td = el('td');
    td.appendChild(el('b', S[r[2]])); td.appendChild(el('br')); td.appendChild(el('code', S[r[3]]));
    if (r[13] >= 0) {
      var fix = el('p', null, 'fix'); fix.appendChild(el('b', 'Fix: '));
      fix.appendChild(document.createTextNode(S[r[13]])); td.appendChild(fix);
    }
    if (r[12].length) {
      var d = el('details'); d.appendChild(el('summary', 'why'));
      var ul = el('ul');
      for (var i = 0; i < r[12].length; i++) { ul.appendChild(el('li', S[r[12][i]])); }
      d.appendChild(ul); td.appendChild(d);
    }
    tr.appendChild(td);
    tr.appendChild(el('td', S[r[4]]));
    tr.appendChild(el('td', S[r[5]]));
    tr.appendChild(el('td', S[r[6]]));
    tr.appendChild(el('td', S[r[7]]));
    tr.appendChild(el('td', S[r[8]], 'n'));
    td = el('td'); lines(td, S[r[10]]); tr.appendChild(td);
    td = el('td'); lines(td, S[r[11]]); tr.appendChild(td);
    return tr;
  }
  function render() {
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    if (page >= pages) { page = pages - 1; }
    if (page < 0) { page = 0; }
    var frag = document.createDocumentFragment();
    var end = Math.min(shown.length, (page + 1) * PAGE);
    for (var i = page * PAGE; i < end; i++) { frag.appendChild(row(R[shown[i]])); }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    body.appendChild(frag);
    info.textContent = shown.length === 0 ? 'no findings match' :
      'findings ' + (page * PAGE + 1) + '-' + end + ' of ' + shown.length +
      (shown.length === R.length ? '' : ' (of ' + R.length + ')') +
      ', page ' + (page + 1) + ' of ' + pages;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }
  function filter() {
    var text = q.value.trim().toLowerCase();
    var v = sel.value;
    if (text && lower === null) {
      lower = S.map(function (s) { return s.toLowerCase(); });
    }
    shown = [];
    for (var i = 0; i < R.length; i++) {
      if (want(R[i], v) && (!text || matches(R[i], text))) { shown.push(i); }
    }
    if (sortCol >= 0) { sortShown(); }
    render();
  }
  // Table columns to row fields: verdict, resource, kind, product,
  // environment, solution, active users, attributed users, flags.
  var COLS = [0, 2, 4, 5, 6, 7, 9, 10, 11];
  function sortShown() {
    var k = COLS[sortCol];
    shown.sort(function (a, b) {
      var x = R[a][k], y = R[b][k], c;
      if (k === 9) { c = x - y; } else { c = S[x].localeCompare(S[y]); }
      return c !== 0 ? c * sortDir : a - b;
    });
  }
  var timer = null;
  q.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { page = 0; filter(); }, 150);
  });
  sel.addEventListener('change', function () { page = 0; filter(); });
  prev.addEventListener('click', function () { page--; render(); });
  next.addEventListener('click', function () { page++; render(); });
  var ths = document.getElementById('findings').tHead.rows[0].cells;
  Array.prototype.forEach.call(ths, function (th, i) {
    th.addEventListener('click', function () {
      sortDir = sortCol === i ? -sortDir : (i === 6 ? -1 : 1);
      sortCol = i;
      sortShown();
      render();
    });
  });
  function fromHash() {
    var h = location.hash.replace(/^#/, '');
    h.split('&').forEach(function (kv) {
      var i = kv.indexOf('=');
      if (i < 0) { return; }
      var key = kv.slice(0, i), val = decodeURIComponent(kv.slice(i + 1).replace(/\+/g, ' '));
      if (key === 'q') { q.value = val; }
      if (key === 'verdict') { sel.value = val; }
      if (key === 'page') { page = Math.max(0, (parseInt(val, 10) || 1) - 1); }
    });
    filter();
  }
  window.addEventListener('hashchange', function () { page = 0; fromHash(); });
  fromHash();
  // When the page was ready, from the start of navigation (measured, never
  // asserted: docs/performance.md).
  root.setAttribute('data-ready-ms', String(Math.round(performance.now())));
  root.setAttribute('data-ready', 'true');
})();
"#;

/// The report as one self-contained XHTML page (see the module head); the
/// tenant's text is escaped.
pub fn render_html(report: &Report) -> String {
    let digest = Digest::of(report);
    let mut by_product: BTreeMap<String, BTreeMap<Verdict, u64>> = BTreeMap::new();
    for (p, counts) in &report.summary.by_product {
        by_product.insert(p.title().to_string(), counts.clone());
    }
    let script = format!("//<![CDATA[{SCRIPT}//]]>");
    let style = format!("/*<![CDATA[*/{STYLE}/*]]>*/");
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
            r#"<tr><td><b>{}</b><br/><code>{}</code></td><td>{}</td><td>{}</td><td class="n">{}{}</td><td>{}{}</td></tr>"#,
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
