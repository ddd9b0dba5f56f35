//! Every report format, `explain` and `diff`, on the demo's report: snapshots
//! with the time fixed, the HTML parsed as XML, and diff's exit codes.

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
    let last = reader.headers().unwrap().len() - 1;
    assert_eq!(&reader.headers().unwrap()[last], "audit_complete");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), r.findings.len());
    // The demo's audit is incomplete: every row says so, so a filtered
    // extract still does.
    assert!(!r.complete);
    assert!(rows.iter().all(|row| &row[last] == "false"));
    let mut complete = r.clone();
    complete.complete = true;
    let text = report::render_csv(&complete);
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    assert!(reader.records().all(|row| &row.unwrap()[last] == "true"));
    insta::assert_snapshot!(csv);
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(report::render_markdown(&demo_report()));
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

#[test]
fn redact_hides_every_name_in_every_format() {
    for format in ["table", "json", "csv", "markdown", "html"] {
        let out = bin()
            .args(["demo", "--redact", "--format", format])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        for name in [
            "contoso.com",
            "Fabrikam Automation",
            "Northwind Delivery Pipeline",
        ] {
            assert!(!text.contains(name), "{format}: {name}");
        }
        assert!(text.contains("p-"), "{format}");
    }
}

#[test]
fn config_init_and_completions() {
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
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("pal-audit"),
            "{shell}"
        );
    }
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
