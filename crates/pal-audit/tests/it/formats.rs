//! Every report format, `explain` and `diff`, on the demo's report: snapshots
//! with the time fixed, the HTML parsed as XML, and diff's exit codes; the
//! table at 80 and 200 columns and wide, with hostile names, and `--color`;
//! what `--redact` leaves; `config init`.
//! Over 600 lines: every test here renders the one demo report, so they
//! share its fixture rather than each file making its own.

use crate::common::bin;
use pal_core::report::{self, Report};

/// The demo's report, with its time and version fixed.
pub(crate) fn demo_report() -> Report {
    let out = bin().args(["demo", "--format", "json"]).output().unwrap();
    let mut r: Report = serde_json::from_slice(&out.stdout).unwrap();
    r.generated_at = "2026-11-20T12:00:00Z".parse().unwrap();
    r.tool_version = "[version]".into();
    r
}

fn write(dir: &std::path::Path, name: &str, r: &Report) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, report::render_json(r)).unwrap();
    p
}

#[test]
fn csv_snapshot_and_shape() {
    let r = demo_report();
    let csv = report::render_csv(&r);
    assert!(csv.starts_with('\u{feff}'), "a BOM for Excel");
    assert!(csv.contains("\r\n"), "CRLF line ends");
    let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().unwrap().clone();
    let last = header.len() - 1;
    // The two whole-report columns come last, so a reader of the older
    // columns finds them where they were.
    assert_eq!(&header[last - 1], "audit_complete");
    assert_eq!(&header[last], "redacted");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), r.findings.len());
    // The demo's audit is incomplete and not redacted: every row says so,
    // so a filtered extract still does.
    assert!(!r.complete && !r.redacted);
    assert!(rows.iter().all(|row| &row[last - 1] == "false"));
    assert!(rows.iter().all(|row| &row[last] == "false"));
    let mut complete = r.clone();
    complete.complete = true;
    complete.redacted = true;
    let text = report::render_csv(&complete);
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), r.findings.len());
    assert!(rows.iter().all(|row| &row[last - 1] == "true"));
    assert!(rows.iter().all(|row| &row[last] == "true"));
    insta::assert_snapshot!(csv);
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(report::render_markdown(&demo_report()));
}

/// Tenant names that would be HTML, a link or a heading in GitHub's
/// Markdown render inert: the lines that show them, snapshotted.
#[test]
fn markdown_renders_hostile_names_inert() {
    let mut r = demo_report();
    let hostile = [
        "<img src=x onerror=alert(1)>",
        "</details><script>alert(1)</script>",
        "[click](javascript:alert(1)) ![t](https://evil.example/t.png)\n# Fix: run me",
    ];
    // Uncredited findings: they are in the table and in "What to fix".
    let mut uncredited = r
        .findings
        .iter_mut()
        .filter(|f| f.verdict != pal_core::attribution::Verdict::Credited);
    for name in hostile {
        let f = uncredited.next().unwrap();
        f.resource_name = name.into();
        f.environment_name = name.into();
    }
    let md = report::render_markdown(&r);
    assert!(!md.contains("<img") && !md.contains("</details>") && !md.contains("<script"));
    assert!(!md.contains("click](") && !md.contains("t](") && !md.contains("\n# Fix: run me"));
    let lines: Vec<&str> = md
        .lines()
        .filter(|l| l.contains("alert(1)") || l.contains("run me"))
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn html_is_one_self_contained_well_formed_page() {
    let r = demo_report();
    let html = report::render_html(&r);
    // Well-formed: every tag closes (it is XHTML).
    let mut reader = quick_xml::Reader::from_str(&html);
    let mut data = None;
    let mut in_data = false;
    let mut svgs = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Text(t)) if in_data => {
                // The findings' JSON is plain XML text: no `<` or `&` in it.
                data = Some(String::from_utf8(t.to_vec()).unwrap());
            }
            Ok(quick_xml::events::Event::End(_)) => in_data = false,
            Ok(quick_xml::events::Event::Start(e)) => {
                let name = e.name();
                in_data = name.as_ref() == b"script"
                    && e.try_get_attribute("id")
                        .unwrap()
                        .is_some_and(|a| a.value.as_ref() == b"findings-data");
                if name.as_ref() == b"svg" {
                    svgs += 1;
                }
                // No external assets: nothing is loaded from anywhere.
                for a in e.attributes() {
                    let a = a.unwrap();
                    assert!(
                        !matches!(a.key.as_ref(), b"src" | b"href"),
                        "external reference in <{}>",
                        String::from_utf8_lossy(name.as_ref())
                    );
                }
            }
            Ok(_) => {}
            Err(e) => panic!("not well-formed at {}: {e}", reader.buffer_position()),
        }
    }
    let data: serde_json::Value = serde_json::from_str(&data.expect("the findings' data")).unwrap();
    assert_eq!(data["rows"].as_array().unwrap().len(), r.findings.len());
    assert_eq!(svgs, 2, "a chart per product and one per environment");
    insta::assert_snapshot!(html);
}

#[test]
fn explain_and_dot_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "r.json", &demo_report());
    let out = bin()
        .arg("explain")
        .arg(&path)
        .arg("Quote Builder")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("explain", String::from_utf8(out.stdout).unwrap());
    let out = bin()
        .arg("explain")
        .arg(&path)
        .args(["a0000000-0000-4000-8000-000000000004", "--format", "dot"])
        .output()
        .unwrap();
    insta::assert_snapshot!("explain_dot", String::from_utf8(out.stdout).unwrap());
    // The whole report as one graph.
    let out = bin()
        .arg("explain")
        .arg(&path)
        .args(["--format", "dot"])
        .output()
        .unwrap();
    let dot = String::from_utf8(out.stdout).unwrap();
    assert!(dot.starts_with("digraph") && dot.contains("Field Service Hub"));
    // An unknown resource is bad input.
    let out = bin()
        .arg("explain")
        .arg(&path)
        .arg("nothing-like-it")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn diff_reports_changes_and_gates_on_lost_credit() {
    let dir = tempfile::tempdir().unwrap();
    let old = demo_report();
    let old_path = write(dir.path(), "old.json", &old);
    // Same reports: no change, exit 0.
    let out = bin()
        .arg("diff")
        .arg(&old_path)
        .arg(&old_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No change"));
    // After: one app lost credit, one gained it, one disappeared, one appeared.
    let mut new = old.clone();
    new.generated_at = "2026-11-21T12:00:00Z".parse().unwrap();
    let lost = new
        .findings
        .iter_mut()
        .find(|f| &*f.resource_name == "Expense Tracker")
        .unwrap();
    lost.verdict = pal_core::attribution::Verdict::Uncredited;
    lost.credited_partner_id = None;
    let gained = new
        .findings
        .iter_mut()
        .find(|f| &*f.resource_name == "Visitor Badges")
        .unwrap();
    gained.verdict = pal_core::attribution::Verdict::Credited;
    let gone = new
        .findings
        .iter()
        .position(|f| &*f.resource_name == "Shift Swap")
        .unwrap();
    let mut appeared = new.findings.remove(gone);
    appeared.resource_id = "a0000000-0000-4000-8000-000000000099".into();
    appeared.resource_name = "Shift Swap v2".into();
    new.findings.push(appeared);
    let new_path = write(dir.path(), "new.json", &new);
    let out = bin()
        .arg("diff")
        .arg(&old_path)
        .arg(&new_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "credit was lost");
    insta::assert_snapshot!("diff_table", String::from_utf8(out.stdout).unwrap());
    // Its table wraps to COLUMNS too.
    let out = bin()
        .arg("diff")
        .arg(&old_path)
        .arg(&new_path)
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Shift Swap v2") && widest(&text) <= 80,
        "{text}"
    );
    let out = bin()
        .arg("diff")
        .arg(&old_path)
        .arg(&new_path)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["summary"]["lost-credit"], 1);
    assert_eq!(d["summary"]["gained-credit"], 1);
    assert_eq!(d["summary"]["appeared"], 1);
    assert_eq!(d["summary"]["disappeared"], 1);
    let out = bin()
        .arg("diff")
        .arg(&old_path)
        .arg(&new_path)
        .args(["--format", "markdown"])
        .output()
        .unwrap();
    insta::assert_snapshot!("diff_markdown", String::from_utf8(out.stdout).unwrap());
    // The other way round, Visitor Badges loses its credit: a failure too.
    let out = bin()
        .arg("diff")
        .arg(&new_path)
        .arg(&old_path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the other way round, Visitor Badges loses credit"
    );
}

/// Every piece of tenant text in the bundled tenant's source data: display
/// names (principals, groups, environments, resources, partners), UPNs,
/// the tenant's domain, Dataverse hosts, solution names, links notes, and
/// the local paths of the links file and attestations.
fn contoso_source_text() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../pal-emulator/contoso");
    let tenant: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.join("tenant.toml")).unwrap()).unwrap();
    fn walk(v: &toml::Value, key: &str, out: &mut Vec<String>) {
        match v {
            toml::Value::String(s) => {
                let named = [
                    "name",
                    "display_name",
                    "partner_name",
                    "solution",
                    "unique_name",
                ]
                .contains(&key)
                    || key.ends_with("upn")
                    || key.ends_with("url");
                // Ids (GUIDs, an environment's `Default-<tenant id>`) are kept.
                let id = pal_core::links::is_guid(s) || s.starts_with("Default-");
                if named && !id {
                    let host = s
                        .strip_prefix("https://")
                        .map(|h| h.split('/').next().unwrap());
                    out.push(host.unwrap_or(s).to_string());
                }
            }
            toml::Value::Array(a) => a.iter().for_each(|x| walk(x, key, out)),
            toml::Value::Table(t) => t.iter().for_each(|(k, x)| walk(x, k, out)),
            _ => {}
        }
    }
    let mut text = Vec::new();
    walk(&tenant, "", &mut text);
    let links = std::fs::read_to_string(dir.join("links.csv")).unwrap();
    for row in links.lines().skip(1) {
        let cols: Vec<&str> = row.split(',').collect();
        text.extend(
            [cols[0], cols[4]]
                .into_iter()
                .filter(|c| c.contains('@') || c.contains(' '))
                .map(str::to_string),
        );
    }
    for entry in std::fs::read_dir(dir.join("attestations")).unwrap() {
        let a: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        for key in ["principal_name", "partner_name", "upn"] {
            text.extend(a[key].as_str().map(str::to_string));
        }
    }
    text.extend(
        [
            "contoso.com",
            "contoso.onmicrosoft.com",
            "crates/pal-emulator/contoso",
            "links.csv",
            "attestations/",
            ".json",
        ]
        .map(str::to_string),
    );
    text.sort();
    text.dedup();
    text
}

/// `--redact` leaves no tenant text behind in any format: not in names,
/// not in reasons, fixes, coverage or evidence (group names, Dataverse
/// hosts, the links file's path); and `report --redact` of a saved report
/// does the same.
#[test]
fn redact_leaves_no_tenant_text_in_any_format() {
    let text = contoso_source_text();
    assert!(text.len() > 100, "{text:?}");
    for must in [
        "App Makers",
        "contososales.api.crm4.dynamics.com",
        "Contoso Sales",
        "svc-northwind@contoso.com",
    ] {
        assert!(text.iter().any(|t| t == must), "{must}");
    }
    let leaks = |what: &str, out: &[u8]| {
        let out = String::from_utf8_lossy(out);
        let found: Vec<&String> = text.iter().filter(|t| out.contains(t.as_str())).collect();
        assert!(found.is_empty(), "{what}: {found:?}");
        assert!(out.contains("p-"), "{what}");
    };
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved.json");
    let out = bin()
        .args(["demo", "--format", "json", "--output"])
        .arg(&saved)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // Unredacted, the tenant's text is there (so the test can fail).
    let plain = std::fs::read_to_string(&saved).unwrap();
    for t in [
        "App Makers",
        "contosofinance.api.crm4.dynamics.com",
        "crates/pal-emulator/contoso/links.csv",
    ] {
        assert!(plain.contains(t), "{t}");
    }
    // Each format tells its reader the names are pseudonyms: a sentence for
    // people, a `redacted` column on every CSV row.
    let says_redacted = |what: &str, format: &str, out: &[u8]| {
        let out = String::from_utf8_lossy(out);
        match format {
            "json" => assert!(out.contains(r#""redacted": true"#), "{what}"),
            "csv" => {
                let mut reader =
                    csv::Reader::from_reader(out.trim_start_matches('\u{feff}').as_bytes());
                let last = reader.headers().unwrap().len() - 1;
                assert_eq!(&reader.headers().unwrap()[last], "redacted", "{what}");
                let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
                assert!(!rows.is_empty(), "{what}");
                assert!(rows.iter().all(|row| &row[last] == "true"), "{what}");
            }
            _ => assert!(out.contains(report::REDACTED_NOTE), "{what}:\n{out}"),
        }
    };
    for format in ["table", "json", "csv", "markdown", "html"] {
        let out = bin()
            .args(["demo", "--redact", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}");
        leaks(&format!("demo {format}"), &out.stdout);
        says_redacted(&format!("demo {format}"), format, &out.stdout);
        let out = bin()
            .arg("report")
            .arg(&saved)
            .args(["--redact", "--fail-on", "none", "--format", format])
            .output()
            .unwrap();
        leaks(&format!("report {format}"), &out.stdout);
        says_redacted(&format!("report {format}"), format, &out.stdout);
        // Not redacted, no format claims it is.
        let out = bin()
            .arg("report")
            .arg(&saved)
            .args(["--fail-on", "none", "--format", format])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.contains("Redacted") && !out.contains(r#""redacted""#),
            "{format}"
        );
        if format == "csv" {
            assert!(
                out.contains(",false\r\n") && !out.contains(",true\r\n"),
                "{out}"
            );
        }
    }
    // The report says it is redacted, and the same text gets the same
    // pseudonym in the demo and in `report`.
    let demo = bin()
        .args(["demo", "--redact", "--format", "json"])
        .output()
        .unwrap();
    let again = bin()
        .arg("report")
        .arg(&saved)
        .args(["--redact", "--format", "json", "--fail-on", "none"])
        .output()
        .unwrap();
    let a: Report = serde_json::from_slice(&demo.stdout).unwrap();
    let b: Report = serde_json::from_slice(&again.stdout).unwrap();
    assert!(a.redacted && b.redacted);
    let names = |r: &Report| {
        r.findings
            .iter()
            .map(|f| f.resource_name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&a), names(&b));
}

#[test]
fn config_init() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pal-audit.toml");
    let out = bin()
        .args(["config", "init", "--path"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("# partner_id")
    );
    // It never overwrites.
    let out = bin()
        .args(["config", "init", "--path"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The written file is a valid (empty) config.
    let out = bin()
        .arg("--config")
        .arg(&path)
        .args(["demo", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

/// `-o/--output` on `diff` and `explain`: written atomically, the format
/// from the extension where none is given; a diff to `.html` is refused.
#[test]
fn diff_and_explain_write_to_output_in_the_extension_s_format() {
    let dir = tempfile::tempdir().unwrap();
    let r = demo_report();
    let a = write(dir.path(), "a.json", &r);
    let md = dir.path().join("d.md");
    let out = bin()
        .arg("diff")
        .arg(&a)
        .arg(&a)
        .arg("-o")
        .arg(&md)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let want = bin()
        .arg("diff")
        .arg(&a)
        .arg(&a)
        .args(["--format", "md"])
        .output()
        .unwrap();
    assert_eq!(std::fs::read(&md).unwrap(), want.stdout);
    let js = dir.path().join("d.json");
    let out = bin()
        .arg("diff")
        .arg(&a)
        .arg(&a)
        .arg("--output")
        .arg(&js)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_slice::<serde_json::Value>(&std::fs::read(&js).unwrap()).unwrap();
    let out = bin()
        .arg("diff")
        .arg(&a)
        .arg(&a)
        .arg("-o")
        .arg(dir.path().join("d.html"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let gv = dir.path().join("g.gv");
    let out = bin()
        .arg("explain")
        .arg(&a)
        .arg("-o")
        .arg(&gv)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(&gv).unwrap().starts_with("digraph"));
    let out = bin()
        .arg("explain")
        .arg(&a)
        .arg("Quote Builder")
        .arg("-o")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a folder is refused");
}

/// `report` renders a saved report in every format without auditing again,
/// and exits by `--fail-on` as the audit did.
#[test]
fn report_renders_a_saved_report_in_every_format_and_gates_it() {
    let dir = tempfile::tempdir().unwrap();
    let r = demo_report();
    let saved = write(dir.path(), "saved.json", &r);
    let run = |args: &[&str]| {
        let mut a = vec!["report", saved.to_str().unwrap()];
        a.extend_from_slice(args);
        bin().args(&a).output().unwrap()
    };
    // JSON out is the file in: nothing lost on the way through.
    let json = run(&["--format", "json", "--fail-on", "none"]);
    assert_eq!(
        String::from_utf8(json.stdout).unwrap(),
        report::render_json(&r)
    );
    // The same renderers as the audit's.
    let md = run(&["--format", "md", "--fail-on", "none"]);
    assert_eq!(
        String::from_utf8(md.stdout).unwrap(),
        report::render_markdown(&r)
    );
    let csv = run(&["--format", "csv", "--fail-on", "none"]);
    assert_eq!(
        String::from_utf8(csv.stdout).unwrap(),
        report::render_csv(&r)
    );
    let table = run(&["--fail-on", "none"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("Quote Builder"));
    // The format follows --output's extension when --format is absent.
    for (name, starts) in [
        ("r.html", "<!DOCTYPE html"),
        ("r.md", "# "),
        ("r.json", "{"),
    ] {
        let path = dir.path().join(name);
        let out = run(&["--output", path.to_str().unwrap(), "--fail-on", "none"]);
        assert!(out.stderr.starts_with(b"report written to"), "{name}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(starts), "{name}: {}", &text[..40]);
    }
    // Exit codes: the demo's report is incomplete (a refused Dataverse) and
    // has uncredited findings.
    assert_eq!(run(&["--fail-on", "none"]).status.code(), Some(4));
    assert_eq!(run(&["--fail-on", "uncredited"]).status.code(), Some(1));
    let mut complete = r.clone();
    complete.complete = true;
    complete.coverage.clear();
    let complete = write(dir.path(), "complete.json", &complete);
    let gate = bin()
        .args(["report", complete.to_str().unwrap(), "--fail-on", "none"])
        .output()
        .unwrap();
    assert_eq!(gate.status.code(), Some(0));
    // A file that is not a report: exit 2, named.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"schema\": 1}").unwrap();
    let out = bin()
        .args(["report", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.json"));
}

/// `diff` of two tenants' or two partners' reports is refused unless
/// `--force`: every resource would show as changed.
#[test]
fn diff_refuses_reports_of_different_tenants_or_partners() {
    let dir = tempfile::tempdir().unwrap();
    let r = demo_report();
    let old = write(dir.path(), "old.json", &r);
    let mut other = r.clone();
    other.tenant_id = "11111111-2222-4333-8444-555555555555".into();
    let other_tenant = write(dir.path(), "other-tenant.json", &other);
    let mut other = r.clone();
    other.partner_id = pal_core::links::PartnerId::parse("7654321").unwrap();
    let other_partner = write(dir.path(), "other-partner.json", &other);
    for (new, what) in [(&other_tenant, "tenant"), (&other_partner, "partner ID")] {
        let out = bin()
            .args(["diff", old.to_str().unwrap(), new.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{what}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(what) && said.contains("--force"), "{said}");
        let forced = bin()
            .args([
                "diff",
                old.to_str().unwrap(),
                new.to_str().unwrap(),
                "--force",
            ])
            .output()
            .unwrap();
        assert_ne!(forced.status.code(), Some(2), "{what}");
    }
    // The same tenant and partner, different case: the same.
    let mut same = r.clone();
    same.tenant_id = r.tenant_id.to_ascii_uppercase();
    let same = write(dir.path(), "same.json", &same);
    let out = bin()
        .args(["diff", old.to_str().unwrap(), same.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

/// The demo's report cut to a few findings of each product, with names a
/// tenant may have: very long, wide characters (CJK, emoji), control
/// characters and a newline, a long UPN, a principal with no name.
fn hostile_report() -> Report {
    use std::sync::Arc;
    let mut r = demo_report();
    let mut kept = Vec::new();
    for product in pal_core::inventory::Product::ALL {
        kept.extend(
            r.findings
                .iter()
                .filter(|f| f.product == product)
                .take(2)
                .cloned(),
        );
    }
    r.findings = kept;
    r.findings[0].resource_name = Arc::from(
        "Quarterly Revenue Forecast for the EMEA North Region Field Sales Team, consolidated with regional breakdowns and five years of history",
    );
    r.findings[0].attributed[0].principal_name = Some(Arc::from(
        "a.very.long.user.principal.name.for.testing@contoso-subsidiary-emea.onmicrosoft.com",
    ));
    r.findings[1].resource_name = Arc::from("販売管理アプリケーション（営業部・東日本）");
    r.findings[1].environment_name = Arc::from("営業環境（本番）");
    r.findings[2].resource_name = Arc::from("🚀 Launch Tracker 🎉🎉 Résumé ✓");
    r.findings[3].resource_name = Arc::from("Evil\u{1b}]0;owned\u{7}\u{1b}[2J Flow\nsecond line");
    if let Some(a) = r.findings[3].attributed.first_mut() {
        a.principal_name = None;
    }
    r.coverage.truncate(6);
    r.summary = report::Summary::of(&r.findings);
    r
}

/// Display width of the longest line.
fn widest(text: &str) -> usize {
    text.lines()
        .map(unicode_width::UnicodeWidthStr::width)
        .max()
        .unwrap_or(0)
}

/// The table of `report` as the binary prints it into a pipe, with `env`.
fn printed(dir: &std::path::Path, r: &Report, args: &[&str], env: &[(&str, &str)]) -> String {
    let saved = write(dir, "hostile.json", r);
    let out = bin()
        .args(["report", saved.to_str().unwrap(), "--fail-on", "none"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success() || out.status.code() == Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The table fits the width it is given (COLUMNS): names cut by display
/// width, ids shortened whole, text wrapped; `--wide` (and a pipe without
/// COLUMNS) shows every name and id whole.
#[test]
fn table_fits_80_and_200_columns_and_wide_shows_everything() {
    let dir = tempfile::tempdir().unwrap();
    let r = hostile_report();
    let at80 = printed(dir.path(), &r, &["--color", "never"], &[("COLUMNS", "80")]);
    let at200 = printed(dir.path(), &r, &["--color", "never"], &[("COLUMNS", "200")]);
    let wide = printed(dir.path(), &r, &["--wide"], &[("COLUMNS", "80")]);
    assert!(widest(&at80) <= 80, "{at80}");
    assert!(widest(&at200) <= 200, "{at200}");
    assert!(widest(&wide) > 200);
    // Control characters are shown, never sent to the terminal.
    for text in [&at80, &at200, &wide] {
        assert!(!text.contains('\u{1b}'));
        assert!(text.contains("Evil\\u{1b}]0;owned"));
    }
    // Ids: shortened whole at a width, whole in the wide layout.
    let id = r.findings[0].resource_id.as_str();
    assert!(at80.contains(&format!("{}…{}", &id[..8], &id[id.len() - 4..])));
    assert!(!at80.contains(id));
    assert!(wide.contains(id));
    assert!(wide.contains(&*r.findings[0].resource_name));
    // Piped without COLUMNS: the wide layout, whatever the terminal.
    assert_eq!(printed(dir.path(), &r, &[], &[]), wide);
    // The flag's variable and config key.
    assert_eq!(
        printed(
            dir.path(),
            &r,
            &[],
            &[("COLUMNS", "80"), ("PAL_AUDIT_WIDE", "1")]
        ),
        wide
    );
    let config = dir.path().join("wide.toml");
    std::fs::write(&config, "wide = true\n").unwrap();
    assert_eq!(
        printed(
            dir.path(),
            &r,
            &["--config", config.to_str().unwrap()],
            &[("COLUMNS", "80")]
        ),
        wide
    );
    insta::assert_snapshot!("table_80", at80);
    insta::assert_snapshot!("table_200", at200);
    insta::assert_snapshot!("table_wide", wide);
}

/// No line of the table is wider than asked, at any width from the
/// narrowest supported up, on the demo's report and on hostile names; and
/// no id is split over two lines.
#[test]
fn no_line_exceeds_the_width() {
    for r in [demo_report(), hostile_report()] {
        for width in (70..=220).step_by(7).chain([80, 119, 120]) {
            let text = report::render_table(
                &r,
                report::TableOptions {
                    color: false,
                    width: Some(width),
                },
            );
            for line in text.lines() {
                assert!(
                    unicode_width::UnicodeWidthStr::width(line) <= usize::from(width),
                    "{width}: {line}"
                );
            }
            for f in &r.findings {
                let id = f.resource_id.as_str();
                let short = format!("{}…{}", &id[..8], &id[id.len() - 4..]);
                assert!(text.contains(&short), "{width}: {short}");
            }
        }
    }
}

/// `--color always` colours the table in a pipe too; `never`, and `auto`
/// in a pipe, do not; `NO_COLOR` turns `auto` off but not `always`.
#[test]
fn color_always_is_honoured_when_piped() {
    let dir = tempfile::tempdir().unwrap();
    let r = demo_report();
    let esc = |text: &str| text.contains("\u{1b}[");
    assert!(esc(&printed(dir.path(), &r, &["--color", "always"], &[])));
    assert!(esc(&printed(
        dir.path(),
        &r,
        &["--color", "always"],
        &[("NO_COLOR", "1")]
    )));
    assert!(!esc(&printed(dir.path(), &r, &["--color", "never"], &[])));
    assert!(!esc(&printed(dir.path(), &r, &["--color", "auto"], &[])));
    assert!(!esc(&printed(dir.path(), &r, &[], &[("COLUMNS", "80")])));
    // Into a file, never: it is read later, by anything.
    let file = dir.path().join("r.txt");
    printed(
        dir.path(),
        &r,
        &["--color", "always", "--output", file.to_str().unwrap()],
        &[],
    );
    assert!(!esc(&std::fs::read_to_string(&file).unwrap()));
}

/// A reader that goes away (`| head`) ends every format's output quietly:
/// the exit code is the report's, never 2, and nothing on stderr. The
/// report is far larger than a pipe's buffer, so the writer is still
/// writing when the pipe closes.
#[test]
fn a_closed_pipe_ends_every_format_quietly() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let mut r = demo_report();
    let one = r.findings.clone();
    for _ in 0..60 {
        r.findings.extend(one.iter().cloned());
    }
    let path = write(dir.path(), "big.json", &r);
    for format in ["table", "json", "csv", "markdown", "html"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pal-audit"))
            .arg("report")
            .arg(&path)
            .args(["--format", format, "--fail-on", "none"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut start = [0u8; 100];
        child.stdout.take().unwrap().read_exact(&mut start).unwrap();
        // The read end is closed here, with the rest unread.
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(4),
            "{format}: the saved audit was incomplete; {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Line breaks, CR and tabs in the tenant's text: a resource, environment
/// and identity name, a coverage detail. Shown escaped (`\u{a}`) wherever
/// the table (at 80 columns and wide) and `explain` (text and DOT) print
/// them, escaped once: the output is the same as for a report whose names
/// are that escaped text already, so no name adds a line of its own.
#[test]
fn line_breaks_in_names_stay_on_their_line() {
    use std::sync::Arc;
    const NAME: &str = "line1\nline2\r\n# heading";
    let hostile = |s: &str| format!("{s}{NAME}\tend");
    let escaped = |s: &str| report::line_safe(&hostile(s)).into_owned();
    let dir = tempfile::tempdir().unwrap();
    // The finding on an identity that is not credited to us: in the
    // findings table, the "Not credited" list and the identities table.
    let build = |name: &dyn Fn(&str) -> String| {
        let mut r = demo_report();
        let digest = report::Digest::of(&r);
        let identity = digest
            .identities
            .iter()
            .find(|i| {
                i.findings
                    .iter()
                    .any(|f| f.verdict != pal_core::attribution::Verdict::Credited)
            })
            .expect("an identity with a finding not credited");
        let principal = identity.link.principal_id.clone();
        let id = identity
            .findings
            .iter()
            .find(|f| f.verdict != pal_core::attribution::Verdict::Credited)
            .unwrap()
            .resource_id
            .clone();
        let f = r.findings.iter_mut().find(|f| f.resource_id == id).unwrap();
        f.resource_name = Arc::from(name("resource "));
        f.environment_name = Arc::from(name("env "));
        r.environments
            .insert(f.environment_id.clone(), name("env "));
        for a in f
            .attributed
            .iter_mut()
            .filter(|a| a.principal_id.as_str() == principal)
        {
            a.principal_name = Some(Arc::from(name("who ")));
        }
        for l in r.links.iter_mut().filter(|l| l.principal_id == principal) {
            l.principal_name = Some(name("who "));
        }
        r.coverage[0].detail = name("detail ");
        (r, id)
    };
    let (raw, id) = build(&hostile);
    let (plain, _) = build(&escaped);
    let table = |r: &Report, wide: bool| {
        let args: &[&str] = if wide {
            &["--wide"]
        } else {
            &["--color", "never"]
        };
        printed(dir.path(), r, args, &[("COLUMNS", "80")])
    };
    let explain = |r: &Report, format: &str| {
        let path = write(dir.path(), "r.json", r);
        let out = bin()
            .arg("explain")
            .arg(&path)
            .arg(id.as_str())
            .args(["--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout).unwrap()
    };
    let outputs = [
        ("table at 80", table(&raw, false), table(&plain, false)),
        ("table --wide", table(&raw, true), table(&plain, true)),
        ("explain", explain(&raw, "text"), explain(&plain, "text")),
        ("explain dot", explain(&raw, "dot"), explain(&plain, "dot")),
    ];
    for (what, text, same) in &outputs {
        // The same lines as for the names already escaped: escaped once,
        // and no line of their own.
        assert_eq!(text, same, "{what}");
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{what}: {text}"
        );
    }
    let [(_, at80, _), (_, wide, _), (_, text, _), (_, dot, _)] = &outputs;
    // Where nothing is wrapped, no cell or line starts with the name's
    // "heading" (at 80 columns, wrapping at its spaces may).
    for out in [wide, text, dot] {
        for line in out.lines() {
            let cells = line.split(['│', '┆']).map(str::trim);
            assert!(cells.clone().all(|c| !c.starts_with("# heading")), "{line}");
        }
    }
    let shown = r"line1\u{a}line2\u{d}\u{a}# heading\u{9}end";
    assert!(at80.contains(r"line1\u{a}line2"), "{at80}");
    for name in ["resource ", "env ", "who ", "detail "] {
        assert!(wide.contains(&format!("{name}{shown}")), "{name}: {wide}");
    }
    for name in ["resource ", "env ", "who "] {
        assert!(text.contains(&format!("{name}{shown}")), "{name}: {text}");
    }
    assert!(!wide.contains(r"\\u{") && !text.contains(r"\\u{"));
    // In DOT, the escape's backslash is escaped (Graphviz shows `\u{a}`),
    // and the label's one line break is the graph's own, after the name.
    assert!(dot.contains(r"resource line1\\u{a}line2"), "{dot}");
    assert!(dot.contains(r"# heading\\u{9}end\n"), "{dot}");
}

/// In the identities table, the findings resting on an identity are named
/// one to a line at most: a long name is cut with `…` at 80 columns, not
/// wrapped over rows; `--wide` shows it whole.
#[test]
fn identities_cut_long_finding_names() {
    let mut r = demo_report();
    let long = "Quarterly Revenue Forecast ".repeat(8).trim().to_string();
    let id = report::Digest::of(&r)
        .identities
        .iter()
        .find_map(|i| i.findings.first().map(|f| f.resource_id.clone()))
        .expect("an identity with findings");
    let f = r.findings.iter_mut().find(|f| f.resource_id == id).unwrap();
    f.resource_name = std::sync::Arc::from(long.as_str());
    let dir = tempfile::tempdir().unwrap();
    let identities = |text: &str| -> Vec<String> {
        let start = text.find("\nLinked identities\n").unwrap();
        let end = start + text[start..].find("\nCoverage\n").unwrap();
        text[start..end].lines().map(str::to_string).collect()
    };
    let at80 = identities(&printed(
        dir.path(),
        &r,
        &["--color", "never"],
        &[("COLUMNS", "80")],
    ));
    // Each time it is named, on one line: its start and an ellipsis, no
    // row after it carrying the rest.
    let rows: Vec<&String> = at80
        .iter()
        .filter(|l| l.contains("Quarterly") || l.contains("Revenue") || l.contains("Forecast"))
        .collect();
    assert!(!rows.is_empty(), "{}", at80.join("\n"));
    for row in rows {
        let cut = row.contains("Quarterly Revenue") && row.contains('…');
        assert!(cut, "{}", at80.join("\n"));
    }
    assert!(at80.iter().all(|l| widest(l) <= 80));
    let wide = identities(&printed(dir.path(), &r, &["--wide"], &[("COLUMNS", "80")]));
    assert!(
        wide.iter().any(|l| l.contains(&long)),
        "{}",
        wide.join("\n")
    );
}
