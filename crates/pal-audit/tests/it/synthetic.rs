//! Synthetic tenants: generated, served, audited end to end; and what
//! `--no-flow-owners` saves.

use crate::common::*;
use pal_emulator::synthetic::{self, Spec};

fn links_csv(model: &pal_emulator::TenantModel, dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("links.csv");
    let mut csv = String::from("principal,partner_id,kind\n");
    for l in &model.partner_links {
        csv.push_str(&format!(
            "{},{},service-account\n",
            l.principal, l.partner_id
        ));
    }
    std::fs::write(&path, csv).unwrap();
    path
}

fn run(emu: &Emulator, links: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let base = emu.base();
    let out = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .env("PAL_AUDIT_CI_KEY", CI_KEY)
        .args(["audit", "--auth", "static-token", "--api-base", &base])
        .args([
            "--partner-id",
            synthetic::OUR_PARTNER,
            "--format",
            "json",
            "--fail-on",
            "none",
        ])
        .arg("--links")
        .arg(links)
        .args(extra)
        .output()
        .unwrap();
    json(&out)
}

#[test]
fn a_synthetic_tenant_is_audited_in_full() {
    let spec = Spec::parse(
        "envs=6,apps=120,shared=0.3,flows=150,workspaces=4,datasets=20,instances=3,seed=11",
    )
    .unwrap();
    let model = synthetic::generate(&spec);
    // Component libraries and custom pages are no canvas apps to audit.
    let custom_pages = model
        .apps
        .iter()
        .filter(|a| !a.component_library && a.app_type.as_deref() == Some("CustomCanvasPage"))
        .count();
    assert!(custom_pages > 0, "the synthetic tenant has custom pages");
    let expected = model.apps.iter().filter(|a| !a.component_library).count() - custom_pages
        + model.flows.len()
        + model.model_driven_apps.len()
        + model.datasets.len()
        + model.instances.len();
    let dir = tempfile::tempdir().unwrap();
    let links = links_csv(&model, dir.path());
    let emu = Emulator::serve(model, "", 50);
    let report = run(&emu, &links, &[]);
    assert_eq!(report["complete"], true, "{}", report["coverage"]);
    assert_eq!(report["findings"].as_array().unwrap().len(), expected);
    for v in ["credited", "credited-to-other", "uncredited", "unknown"] {
        assert!(
            report["summary"]["by_verdict"][v].as_u64().unwrap() > 0,
            "{v}"
        );
    }
}

#[test]
fn no_flow_owners_reads_only_the_lists_and_says_so() {
    let spec =
        Spec::parse("envs=2,apps=10,flows=60,workspaces=0,datasets=0,instances=0,seed=5").unwrap();
    let model = synthetic::generate(&spec);
    let dir = tempfile::tempdir().unwrap();
    let links = links_csv(&model, dir.path());
    let emu = Emulator::serve(model, "", 500);
    let full = run(&emu, &links, &["--products", "power-automate"]);
    let lean = run(
        &emu,
        &links,
        &["--products", "power-automate", "--no-flow-owners"],
    );
    assert_eq!(
        requests(&lean, "power-automate"),
        2,
        "one list call per environment"
    );
    assert!(requests(&full, "power-automate") > 2);
    let detail = lean["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == "power-automate")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("linked-owner-not-creator cannot be raised"),
        "{detail}"
    );
    // The verdicts do not depend on owners.
    let v = |r: &serde_json::Value| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["resource_id"].clone(), f["verdict"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(v(&full), v(&lean));
}

#[test]
fn a_client_pushed_back_with_429_slows_down_and_finishes() {
    let spec = Spec::parse(
        "envs=3,apps=150,shared=0.5,flows=150,workspaces=2,datasets=6,instances=1,seed=9",
    )
    .unwrap();
    let model = synthetic::generate(&spec);
    let dir = tempfile::tempdir().unwrap();
    let links = links_csv(&model, dir.path());
    let calm = Emulator::serve(model.clone(), "", 50);
    let expected = run(&calm, &links, &[]);
    // The service allows 3 in flight per host; the client would send 12.
    let busy = Emulator::serve_limited(model, "", 50, Some(3));
    let config = dir.path().join("pal-audit.toml");
    std::fs::write(&config, "[http]\nconcurrency = 12\nbase_delay_ms = 50\n").unwrap();
    let report = run(&busy, &links, &["--config", config.to_str().unwrap()]);
    assert_eq!(report["complete"], true, "{}", report["coverage"]);
    let verdicts = |r: &serde_json::Value| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["resource_id"].clone(), f["verdict"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(verdicts(&report), verdicts(&expected));
}

/// Collects the tenant `emu` serves through the library, as `audit` does.
fn collect(emu: &Emulator) -> pal_core::inventory::Inventory {
    use pal_client::auth::{Credential, Secret, Tokens};
    use pal_client::http::{ApiBase, HttpClient, HttpConfig};
    use pal_client::sources::{self, Plan, Silent};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tokens = std::sync::Arc::new(Tokens::new(Credential::Static(Secret::new(TOKEN))));
    let http = HttpClient::new(
        ApiBase::parse(&emu.base()).unwrap(),
        tokens,
        HttpConfig::default(),
    )
    .unwrap();
    let plan = Plan {
        ci_key: Some(Secret::new(CI_KEY)),
        environment_concurrency: 8,
        now: "2026-11-20T00:00:00Z".parse().unwrap(),
        ..Plan::default()
    };
    runtime
        .block_on(sources::collect(&http, &plan, &[], &Silent))
        .unwrap()
        .inventory
}

#[test]
fn environments_ending_in_any_order_give_the_same_inventory_and_report() {
    // Environments are read at once and each is merged once those before it
    // are: the first environment, made slow, ends last, and neither the
    // inventory (its order included) nor the report may notice.
    let spec = Spec::parse(
        "envs=5,apps=100,shared=0.3,flows=100,workspaces=2,datasets=6,instances=1,seed=5",
    )
    .unwrap();
    let model = synthetic::generate(&spec);
    let dir = tempfile::tempdir().unwrap();
    let links = links_csv(&model, dir.path());
    let first = model.environments[0].name.clone();
    let calm = Emulator::serve(model.clone(), "", 50);
    let slow = Emulator::serve(model, &format!("slow:150@{first}*all"), 50);
    let (mut expected, mut got) = (collect(&calm), collect(&slow));
    // Only the request counts may differ (none should), never the data.
    assert_eq!(expected.coverage, got.coverage);
    expected.coverage.clear();
    got.coverage.clear();
    assert!(expected == got, "the inventories differ");
    let expected = run(&calm, &links, &[]);
    let report = run(&slow, &links, &[]);
    for part in ["links", "findings", "coverage", "summary"] {
        assert_eq!(report[part], expected[part], "{part}");
    }
}
