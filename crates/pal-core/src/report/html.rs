//! HTML: one self-contained file (no network, no external assets): charts of
//! credit per product and per environment (inline SVG), and a findings table
//! that sorts and filters, with each finding's reasons, flags and fix.
//! Written as well-formed XHTML, so a test can parse it as XML.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::Report;
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

fn color(v: Verdict) -> &'static str {
    match v {
        Verdict::Credited => "#2e7d32",
        Verdict::CreditedToOther => "#f9a825",
        Verdict::Uncredited => "#c62828",
        Verdict::Unknown => "#6a1b9a",
    }
}

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
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="13">{}</text>"#,
            LABEL - 8,
            y + 15,
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

fn row(f: &Finding) -> String {
    let attributed = f
        .attributed
        .iter()
        .map(|a| esc(&a.describe()))
        .collect::<Vec<_>>()
        .join("<br/>");
    let mut details = String::new();
    let _ = write!(details, "<details><summary>why</summary><ul>");
    for r in &f.reasons {
        let _ = write!(details, "<li>{}</li>", esc(r));
    }
    details.push_str("</ul>");
    if let Some(fix) = &f.fix {
        let _ = write!(
            details,
            r#"<p class="fix"><b>Fix:</b> {}</p>"#,
            esc(&fix.to_string())
        );
    }
    details.push_str("</details>");
    format!(
        r#"<tr data-verdict="{v}"><td><span class="v" style="background:{c}">{v}</span></td><td><b>{name}</b><br/><code>{id}</code>{details}</td><td>{kind}</td><td>{product}</td><td>{env}</td><td>{solution}</td><td>{attributed}</td><td>{flags}</td></tr>"#,
        v = f.verdict.as_str(),
        c = color(f.verdict),
        name = esc(&f.resource_name),
        id = esc(f.resource_id.as_str()),
        kind = f.kind.as_str(),
        product = f.product.as_str(),
        env = esc(&f.environment_name),
        solution = esc(f.solution.as_deref().unwrap_or("")),
        flags = f
            .flags
            .iter()
            .map(|x| format!("<code>{}</code>", x.as_str()))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
.meta { color: #555; margin-top: 0; }
.incomplete { background: #fff3e0; border-left: 4px solid #ef6c00; padding: 0.5rem 1rem; }
.charts { display: flex; flex-wrap: wrap; gap: 2rem; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 0.4rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f5f5f5; cursor: pointer; position: sticky; top: 0; }
.v { color: #fff; padding: 0.1rem 0.4rem; border-radius: 3px; white-space: nowrap; }
code { font-size: 0.8rem; color: #444; }
details { margin-top: 0.3rem; }
.fix { background: #f1f8e9; padding: 0.3rem 0.5rem; }
.filters { margin: 1rem 0; display: flex; gap: 1rem; }
"#;

const SCRIPT: &str = r#"
(function () {
  var table = document.getElementById('findings');
  var body = table.tBodies[0];
  var q = document.getElementById('q');
  var v = document.getElementById('verdict');
  function filter() {
    var text = q.value.toLowerCase();
    var want = v.value;
    Array.prototype.forEach.call(body.rows, function (r) {
      var ok = (!want || r.getAttribute('data-verdict') === want) &&
        r.textContent.toLowerCase().indexOf(text) !== -1;
      r.style.display = ok ? '' : 'none';
    });
  }
  q.addEventListener('input', filter);
  v.addEventListener('change', filter);
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
    th.addEventListener('click', function () {
      var dir = th.getAttribute('data-dir') === 'asc' ? -1 : 1;
      th.setAttribute('data-dir', dir === 1 ? 'asc' : 'desc');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        return a.cells[i].textContent.localeCompare(b.cells[i].textContent) * dir;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
"#;

/// The report as one self-contained XHTML page (see the module head); the
/// tenant's text is escaped.
pub fn render_html(report: &Report) -> String {
    let mut by_product: BTreeMap<String, BTreeMap<Verdict, u64>> = BTreeMap::new();
    for (p, counts) in &report.summary.by_product {
        by_product.insert(p.as_str().to_string(), counts.clone());
    }
    let mut by_env: BTreeMap<String, BTreeMap<Verdict, u64>> = BTreeMap::new();
    for f in &report.findings {
        *by_env
            .entry(f.environment_name.to_string())
            .or_default()
            .entry(f.verdict)
            .or_default() += 1;
    }
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>PAL credit: tenant {tenant}</title>
<style>/*<![CDATA[*/{STYLE}/*]]>*/</style>
</head>
<body>
<h1>Partner Admin Link credit for partner {partner}</h1>
<p class="meta">Tenant {tenant}; {n} resources; pal-audit {version}; {time}</p>
"#,
        tenant = esc(&report.tenant_id),
        partner = esc(report.partner_id.as_str()),
        n = report.findings.len(),
        version = esc(&report.tool_version),
        time = report.generated_at.format("%Y-%m-%d %H:%M UTC"),
    );
    if !report.complete {
        s.push_str(r#"<div class="incomplete"><b>The audit is incomplete.</b><ul>"#);
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
                    .map(|e| format!(" ({})", esc(e.as_str())))
                    .unwrap_or_default(),
                esc(&c.detail)
            );
        }
        s.push_str("</ul></div>\n");
    }
    if let Some(fp) = &report.first_party {
        let _ = writeln!(s, r#"<p class="meta">{}</p>"#, esc(&fp.line()));
    }
    s.push_str(r#"<div class="charts">"#);
    s.push_str(&chart(
        "Credit per product",
        &by_product.into_iter().collect::<Vec<_>>(),
    ));
    s.push_str(&chart(
        "Credit per environment",
        &by_env.into_iter().collect::<Vec<_>>(),
    ));
    s.push_str("</div>\n<h2>Findings</h2>\n");
    s.push_str(
        r#"<div class="filters"><label>Filter <input id="q" type="search" placeholder="name, user, flag..."/></label><label>Verdict <select id="verdict"><option value="">all</option>"#,
    );
    for v in Verdict::ALL {
        let _ = write!(s, r#"<option value="{0}">{0}</option>"#, v.as_str());
    }
    s.push_str("</select></label></div>\n");
    s.push_str(r#"<table id="findings"><thead><tr><th>verdict</th><th>resource</th><th>kind</th><th>product</th><th>environment</th><th>solution</th><th>attributed users</th><th>flags</th></tr></thead><tbody>"#);
    s.push('\n');
    for f in &report.findings {
        s.push_str(&row(f));
        s.push('\n');
    }
    s.push_str("</tbody></table>\n");
    let _ = write!(
        s,
        "<script>//<![CDATA[{SCRIPT}//]]></script>\n</body>\n</html>\n"
    );
    s
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
}
