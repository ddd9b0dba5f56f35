//! The audit benchmark: a synthetic tenant served by the emulator (in its own
//! process for the full audit, so memory is the audit's alone), with latency
//! and per-host limits, audited end to end, then audited again as a delta.
//! Prints one JSON object: requests against the minimum, wall time against
//! the bound, memory, the attribution stage on its own, the PowerShell-loop
//! baseline and the delta audit's numbers.
//!
//! `cargo bench --bench audit -- [--size small|medium|large] [--json] [--no-delta]`,
//! or `cargo bench --bench audit -- --attribution 1000000` for attribution
//! alone (docs/performance.md explains every number).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pal_client::audit::{self, AuditRequest};
use pal_client::auth::{Credential, Secret, Tokens};
use pal_client::http::{ApiBase, HttpClient, HttpConfig};
use pal_client::sources::{Plan, Silent};
use pal_core::attribution::{self, Options};
use pal_core::inventory::PrincipalId;
use pal_core::links::{Link, LinkKind, LinkSource, PartnerId, PrincipalRef};
use pal_emulator::{self as emulator, model::TenantModel, synthetic};

/// Requests in flight per host: the emulator answers 429 above it, and the
/// client is configured with the same number.
const HOST_LIMIT: usize = 16;
/// Items per page the emulator serves (the clients ask `$top=250` for apps
/// and flows; Dataverse pages at 5,000).
const PAGE: usize = 5000;

fn size_spec(size: &str) -> Option<(&'static str, u64)> {
    match size {
        "small" => Some((
            "envs=5,apps=200,shared=0.2,flows=400,workspaces=10,datasets=100,instances=2,seed=7",
            2,
        )),
        "medium" => Some((
            "envs=50,apps=10000,shared=0.2,flows=20000,workspaces=500,datasets=5000,instances=10,seed=7",
            20,
        )),
        "large" => Some((
            "envs=200,apps=50000,shared=0.2,flows=100000,workspaces=2000,datasets=20000,instances=50,seed=7",
            50,
        )),
        _ => None,
    }
}

fn pages(n: usize, per: usize) -> u64 {
    n.div_ceil(per).max(1) as u64
}

/// What a client must send at the least, per host, and the longest chain of
/// requests that must follow one another (the pages of the longest list).
fn minimum(model: &TenantModel) -> (BTreeMap<&'static str, u64>, u64) {
    let ours: BTreeSet<&str> = model
        .partner_links
        .iter()
        .filter(|l| l.partner_id == synthetic::OUR_PARTNER)
        .map(|l| l.principal.as_str())
        .collect();
    let mut by_host: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut chain = 1;
    *by_host.entry("bap").or_default() += pages(model.environments.len(), PAGE);
    for env in &model.environments {
        let apps: Vec<_> = model
            .apps
            .iter()
            .filter(|a| a.environment == env.name)
            .collect();
        let flows: Vec<_> = model
            .flows
            .iter()
            .filter(|f| f.environment == env.name)
            .collect();
        let app_pages = pages(apps.len(), 250);
        let flow_pages = pages(flows.len(), 250);
        chain = chain.max(app_pages + 1).max(flow_pages + 1);
        *by_host.entry("power-apps").or_default() += app_pages
            + apps
                .iter()
                // Custom pages are no canvas apps: no permissions call.
                .filter(|a| a.app_type.as_deref() != Some("CustomCanvasPage"))
                .filter(|a| !a.component_library && (!a.roles.is_empty() || a.tenant_share))
                .count() as u64;
        // One owners call per flow whose creator is not linked to us.
        *by_host.entry("power-automate").or_default() += flow_pages
            + flows
                .iter()
                .filter(|f| f.creator.as_deref().is_none_or(|c| !ours.contains(c)))
                .count() as u64;
        if env.dataverse_url.is_some() {
            let solutions = model
                .solutions
                .iter()
                .filter(|s| s.environment == env.name)
                .count() as u64;
            // systemusers (with the built-in SYSTEM and INTEGRATION), appmodules,
            // drafts, workflows, canvasapps, solutions,
            // a components read per solution, history, import jobs.
            *by_host.entry("dataverse").or_default() += pages(model.principals.len() + 2, PAGE)
                + 2
                + pages(flows.len(), PAGE)
                + pages(apps.len(), PAGE)
                + 1
                + solutions
                + 2;
        }
    }
    let batches = pages(model.workspaces.len(), 100);
    // modified, and per batch getInfo, two status polls, the result; then
    // one activity query per day.
    *by_host.entry("power-bi").or_default() += if model.workspaces.is_empty() {
        0
    } else {
        1 + 4 * batches
    } + 30;
    *by_host.entry("customer-insights").or_default() += 1 + 2 * model.instances.len() as u64;
    // The activity sources: one Log Analytics query; the Management
    // Activity API's subscription list, one listing per day of its 7 (one
    // page each at this page size) and one read per content blob.
    for (source, n) in activity_minimum(model) {
        *by_host.entry(source).or_default() += n;
    }
    let groups: BTreeSet<&str> = model
        .apps
        .iter()
        .flat_map(|a| a.roles.iter())
        .filter(|r| r.principal.starts_with("66666666"))
        .map(|r| r.principal.as_str())
        .collect();
    let people: BTreeSet<&str> = model
        .apps
        .iter()
        .map(|a| a.owner.as_str())
        .chain(model.flows.iter().filter_map(|f| f.creator.as_deref()))
        .chain(
            model
                .datasets
                .iter()
                .filter_map(|d| d.configured_by.as_deref()),
        )
        .collect();
    *by_host.entry("graph").or_default() += groups.len() as u64 + pages(people.len(), 20);
    (by_host, chain)
}

/// The activity sources' minimum requests (`--ci-workspace`, `--audit-api`).
fn activity_minimum(model: &TenantModel) -> [(&'static str, u64); 2] {
    let to = synthetic::as_of();
    let from = to - chrono::Duration::days(7);
    let blobs = emulator::content_blobs(model)
        .into_iter()
        .filter(|(_, at)| *at >= from && *at < to)
        .count() as u64;
    [("log-analytics", 1), ("management-activity", 1 + 7 + blobs)]
}

fn peak_rss_mb() -> f64 {
    rss_of("/proc/self/status")
}

/// `VmHWM` of a `/proc/PID/status` file, in MB.
fn rss_of(status: &str) -> f64 {
    std::fs::read_to_string(status)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time the hypervisor gave to other machines so far, in seconds summed
/// over the cores (the `steal` column of `/proc/stat`, in Linux's fixed 100
/// ticks a second); `None` where there is no `/proc/stat`. A run that lost
/// much of it is slow for reasons of no client's making.
fn cpu_steal_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: f64 = line.split_whitespace().nth(8)?.parse().ok()?;
    Some(ticks / 100.0)
}

/// `f`'s result, and the CPU stolen while it ran (see `cpu_steal_s`).
fn stolen_during<T>(f: impl FnOnce() -> T) -> (T, Option<f64>) {
    let before = cpu_steal_s();
    let out = f();
    (out, before.zip(cpu_steal_s()).map(|(a, b)| b - a))
}

/// Attribution alone over `n` resources built in memory (no HTTP): canvas
/// apps with owners and co-owners, and flows, across a few thousand people,
/// some linked to us, some to another partner.
fn attribution_only(n: usize) -> serde_json::Value {
    use pal_core::inventory::{
        EnvironmentId, Fact, Inventory, Principal, PrincipalType, Resource, ResourceId,
        ResourceKind, Role, RoleAssignment,
    };
    let mut rng = fastrand::Rng::with_seed(7);
    let people = 5000;
    let id = |i: usize| PrincipalId::new(format!("00000000-0000-4000-8000-{i:012x}"));
    let mut inv = Inventory::default();
    for i in 0..people {
        inv.add_principal(Principal::new(id(i), PrincipalType::User));
    }
    let now = chrono::Utc::now();
    let links: Vec<Link> = (0..100)
        .map(|i| Link {
            principal: PrincipalRef::Id(id(i)),
            principal_name: None,
            kind: LinkKind::ServiceAccount,
            partner_id: PartnerId::parse(if i % 3 == 0 {
                "1234567"
            } else {
                synthetic::OUR_PARTNER
            })
            .expect("digits"),
            partner_name: None,
            source: LinkSource::Attested,
            linked_at: Some(now),
            attested_at: Some(now),
            active: true,
            tenant_id: None,
            origin: "bench".into(),
        })
        .collect();
    // A few very busy owners, as real tenants have (a service account owning thousands).
    let person = |rng: &mut fastrand::Rng| {
        if rng.bool() {
            rng.usize(0..10)
        } else {
            rng.usize(0..people)
        }
    };
    for i in 0..n {
        let owner = id(person(&mut rng));
        let flow = i % 2 == 1;
        let mut roles = vec![RoleAssignment {
            principal: owner.clone(),
            principal_type: PrincipalType::User,
            role: Role::Owner,
        }];
        if i % 5 == 0 {
            roles.push(RoleAssignment {
                principal: id(person(&mut rng)),
                principal_type: PrincipalType::User,
                role: Role::CoOwner,
            });
        }
        inv.resources.push(Resource {
            id: ResourceId::new(format!("r{i}")),
            kind: if flow {
                ResourceKind::CloudFlow
            } else {
                ResourceKind::CanvasApp
            },
            name: format!("Resource {i}").into(),
            environment: EnvironmentId::new(format!("env{}", i % 200)),
            environment_name: None,
            solution: None,
            creator: Fact::Known(owner),
            roles: Fact::Known(roles),
            stamps: Vec::new(),
            instance_type: None,
            other_solutions: Vec::new(),
            platform_creator: None,
        });
    }
    let options = Options {
        partner_id: PartnerId::parse(synthetic::OUR_PARTNER).expect("digits"),
        now,
        attestation_max_age: chrono::Duration::days(30),
        our_other_ids: Vec::new(),
        first_party: Default::default(),
    };
    let t = Instant::now();
    let (a, steal) = stolen_during(|| attribution::attribute(&inv, &links, &options));
    let elapsed = t.elapsed().as_secs_f64();
    serde_json::json!({
        "attribution_resources": n,
        "attribution_s": elapsed,
        "cpu_steal_s": steal,
        "findings": a.findings.len(),
        "peak_rss_mb": peak_rss_mb(),
    })
}

/// Seconds one request takes when sent alone, as the PowerShell loop sends
/// them: the mean over permissions calls for the first apps and flows, one
/// at a time, through the audit's own client and the same emulator.
async fn sequential_request_s(base: &str, model: &TenantModel) -> f64 {
    const SAMPLE: usize = 100;
    let tokens = Arc::new(Tokens::new(Credential::Static(Secret::new("bench"))));
    let config = HttpConfig {
        concurrency: 1,
        ..HttpConfig::default()
    };
    let http =
        HttpClient::new(ApiBase::parse(base).expect("loopback"), tokens, config).expect("a client");
    let apps = model.apps.iter().take(SAMPLE).map(|a| {
        format!(
            "https://api.powerapps.com/providers/Microsoft.PowerApps/scopes/admin/environments/{}/apps/{}/permissions?api-version=2016-11-01",
            a.environment, a.id
        )
    });
    let flows = model.flows.iter().take(SAMPLE).map(|f| {
        format!(
            "https://api.flow.microsoft.com/providers/Microsoft.ProcessSimple/scopes/admin/environments/{}/flows/{}/permissions?api-version=2016-11-01",
            f.environment, f.id
        )
    });
    // Each API's own token: a token goes only to its API's hosts.
    let apps_ctx = pal_client::http::Ctx::new("baseline", "https://service.powerapps.com/");
    let flows_ctx = pal_client::http::Ctx::new("baseline", "https://service.flow.microsoft.com/");
    let urls: Vec<(&pal_client::http::Ctx, String)> = apps
        .map(|u| (&apps_ctx, u))
        .chain(flows.map(|u| (&flows_ctx, u)))
        .collect();
    let started = Instant::now();
    for (ctx, url) in &urls {
        http.get_json::<serde_json::Value>(ctx, url)
            .await
            .expect("a permissions answer");
    }
    started.elapsed().as_secs_f64() / urls.len().max(1) as f64
}

/// One audit's numbers.
struct Run {
    collect_s: f64,
    wall_s: f64,
    attribution_s: f64,
    requests: u64,
    by_source: BTreeMap<&'static str, u64>,
    findings: usize,
    verdicts: Vec<(pal_core::inventory::ResourceId, attribution::Verdict)>,
    /// Writing the delta cache (not in `wall_s`).
    cache_save_s: f64,
}

/// Collects and attributes against `base`; with `previous`, a delta audit.
/// As `audit --cache DIR` does, the cache is written to `cache_dir` before
/// attribution, and not held after.
async fn run_audit(
    base: &str,
    links: &[Link],
    options: &Options,
    previous: Option<Arc<pal_client::cache::Cache>>,
    cache_dir: &std::path::Path,
) -> Run {
    let request = AuditRequest {
        api_base: ApiBase::parse(base).expect("loopback"),
        http: HttpConfig {
            concurrency: HOST_LIMIT,
            ..HttpConfig::default()
        },
        tokens: Arc::new(Tokens::new(Credential::Static(Secret::new("bench")))),
        links: links.to_vec(),
        plan: Plan {
            ci_key: Some(Secret::new("bench")),
            // The activity sources, so their requests are counted.
            ci_workspace: Some(synthetic::WORKSPACE.into()),
            audit_api: Some(false),
            environment_concurrency: 16,
            previous,
            ..Plan::default()
        },
        options: options.clone(),
        scope: Default::default(),
        // As `--cache` does: the delta audit below reuses it.
        cache_dir: Some(cache_dir.to_path_buf()),
        record: None,
        stop: None,
    };
    let started = Instant::now();
    let audited = audit::audit(request, &Silent).await.expect("an audit");
    let elapsed = started.elapsed();
    let t = audited.timings;
    let report = audited.report;
    Run {
        collect_s: t.collect.as_secs_f64(),
        // The whole audit, the report made, the cache's writing apart.
        wall_s: (elapsed - t.cache_save).as_secs_f64(),
        attribution_s: t.attribution.as_secs_f64(),
        requests: audited.requests,
        by_source: audited.requests_by_source,
        findings: report.findings.len(),
        verdicts: report
            .findings
            .iter()
            .map(|f| (f.resource_id.clone(), f.verdict))
            .collect(),
        cache_save_s: t.cache_save.as_secs_f64(),
    }
}

/// Moves `lastModifiedTime` of every hundredth app and flow, and the
/// modified time of every hundredth workspace, to now: 1% of the tenant
/// changed since the full audit. Returns how many resources changed.
fn touch_one_percent(model: &mut TenantModel) -> usize {
    let now = chrono::Utc::now() + chrono::Duration::seconds(1);
    let mut n = 0;
    for a in model.apps.iter_mut().step_by(100) {
        a.modified = Some(now);
        n += 1;
    }
    for f in model.flows.iter_mut().step_by(100) {
        f.modified = Some(now);
        n += 1;
    }
    for w in model.workspaces.iter_mut().step_by(100) {
        w.modified = Some(now);
        n += 1;
    }
    n
}

/// `pal-audit emulate --synthetic SPEC` in a child process; killed on drop.
struct ChildEmulator {
    child: std::process::Child,
    base: String,
}

impl ChildEmulator {
    fn start(spec: &str, latency_ms: u64, links_out: &std::path::Path) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pal-audit"))
            .args(["emulate", "--synthetic", spec, "--latency"])
            .arg(latency_ms.to_string())
            .args(["--host-limit", &HOST_LIMIT.to_string()])
            .args(["--page-size", &PAGE.to_string()])
            .arg("--links-out")
            .arg(links_out)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the emulator starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the emulator prints its address");
        Self {
            child,
            base: line.trim().to_string(),
        }
    }

    fn peak_rss_mb(&self) -> f64 {
        rss_of(&format!("/proc/{}/status", self.child.id()))
    }
}

impl Drop for ChildEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(n) = args
        .iter()
        .position(|a| a == "--attribution")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse::<usize>().ok())
    {
        println!("{}", attribution_only(n));
        return;
    }
    let size = args
        .iter()
        .position(|a| a == "--size")
        .and_then(|i| args.get(i + 1))
        .map_or("small", String::as_str)
        .to_string();
    let json = args.iter().any(|a| a == "--json");
    let Some((spec, latency_ms)) = size_spec(&size) else {
        eprintln!("--size is small, medium or large");
        std::process::exit(2);
    };
    let spec_text = spec;
    let spec = synthetic::Spec::parse(spec).expect("a valid spec");
    let latency = Duration::from_millis(latency_ms);
    // The client on one thread, as `pal-audit audit` runs it; the delta
    // audit's emulator serves from a pool of its own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let partner = PartnerId::parse(synthetic::OUR_PARTNER).expect("digits");
    let options = Options {
        partner_id: partner.clone(),
        now: synthetic::as_of(),
        attestation_max_age: chrono::Duration::days(30),
        our_other_ids: Vec::new(),
        first_party: Default::default(),
    };
    // The full audit runs against an emulator in its own process, so this
    // process's peak memory is the audit's alone.
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let links_path = tmp.path().join("links.csv");
    let child = ChildEmulator::start(spec_text, latency_ms, &links_path);
    let links = pal_core::links::load(&[links_path], &[]).expect("the emulator's links");
    let cache_dir = tmp.path().join("cache");
    let (full, steal) = stolen_during(|| {
        runtime.block_on(run_audit(&child.base, &links, &options, None, &cache_dir))
    });
    let peak_rss = peak_rss_mb();
    let emulator_rss = child.peak_rss_mb();
    // The model again, in this process, for the minimum, the baseline's
    // sample and the delta audit.
    let mut model = synthetic::generate(&spec);
    let (sequential_s, baseline_steal) =
        stolen_during(|| runtime.block_on(sequential_request_s(&child.base, &model)));
    drop(child);
    if args.iter().any(|a| a == "--no-delta") {
        // For profiling the full audit alone (heaptrack, perf).
        println!(
            "{}",
            serde_json::json!({"size": size, "wall_s": full.wall_s, "collect_s": full.collect_s,
                "attribution_s": full.attribution_s, "requests": full.requests,
                "findings": full.findings, "peak_rss_mb": peak_rss, "cpu_steal_s": steal})
        );
        return;
    }

    let (min_by_host, chain) = minimum(&model);
    let min_requests: u64 = min_by_host.values().sum();
    let changed = touch_one_percent(&mut model);
    let server = server_runtime
        .block_on(emulator::start(
            model.clone(),
            emulator::Options {
                page_size: PAGE,
                latency,
                host_limit: Some(HOST_LIMIT),
                ..Default::default()
            },
            0,
        ))
        .expect("the emulator starts");
    let mut previous = pal_client::cache::Cache::load(&cache_dir).expect("the full audit's cache");
    // As if the delta ran an hour later: Power BI takes modifiedSince only
    // from 30 minutes ago (sooner, every workspace would be reused unread),
    // and the emulator enforces it, so the touched 1% is still what is scanned.
    previous.read_from = previous.read_from.map(|t| t - chrono::Duration::hours(1));
    let previous = Arc::new(previous);
    let delta = runtime.block_on(run_audit(
        &server.base_url(),
        &links,
        &options,
        Some(previous),
        &tmp.path().join("delta-cache"),
    ));
    server_runtime.block_on(server.stop());
    let result = (
        full.collect_s,
        full.wall_s,
        full.attribution_s,
        full.requests,
        full.by_source.clone(),
        full.findings,
    );
    let (collected, wall, attribution_s, requests, by_source, findings) = result;
    let (collected, wall) = (
        Duration::from_secs_f64(collected),
        Duration::from_secs_f64(wall),
    );
    // The activity sources' requests apart: what reading activity costs.
    let activity_requests: BTreeMap<&str, serde_json::Value> = activity_minimum(&model)
        .into_iter()
        .map(|(source, min)| {
            let sent = by_source.get(source).copied().unwrap_or(0);
            (
                source,
                serde_json::json!({"requests": sent, "min_requests": min}),
            )
        })
        .collect();
    let l = latency.as_secs_f64();
    let busiest = min_by_host.values().copied().max().unwrap_or(0);
    let bound_s = ((busiest as f64 / HOST_LIMIT as f64).ceil() * l).max(chain as f64 * l);
    // The PowerShell loop: one request at a time, permissions for every app
    // and flow. Its requests times what one request takes when sent alone to
    // the same emulator by the same client (measured on a sample: running
    // it whole would take ten minutes at medium size).
    let baseline_requests = min_requests + model.apps.len() as u64 + model.flows.len() as u64
        - min_by_host.get("power-apps").copied().unwrap_or(0)
        - min_by_host.get("power-automate").copied().unwrap_or(0)
        + 2 * model.environments.len() as u64;
    let baseline_wall_s = baseline_requests as f64 * sequential_s;
    let baseline_latency_only_s = baseline_requests as f64 * l;
    let out = serde_json::json!({
        "size": size,
        "spec": format!("{spec:?}"),
        "latency_ms": latency_ms,
        "host_limit": HOST_LIMIT,
        "findings": findings,
        "requests": requests,
        "min_requests": min_requests,
        "requests_ratio": requests as f64 / min_requests.max(1) as f64,
        "requests_by_source": by_source,
        "activity_requests": activity_requests,
        "min_requests_by_source": min_by_host,
        "wall_s": wall.as_secs_f64(),
        "collect_s": collected.as_secs_f64(),
        "bound_s": bound_s,
        "wall_ratio": wall.as_secs_f64() / bound_s.max(1e-9),
        "attribution_s": attribution_s,
        "cache_save_s": full.cache_save_s,
        "peak_rss_mb": peak_rss,
        "emulator_peak_rss_mb": emulator_rss,
        "delta_changed_resources": changed,
        "delta_requests": delta.requests,
        "delta_requests_ratio": delta.requests as f64 / requests.max(1) as f64,
        "delta_wall_s": delta.wall_s,
        "delta_same_verdicts": delta.verdicts == full.verdicts,
        "delta_requests_by_source": delta.by_source,
        "cpu_steal_s": steal,
        "baseline_requests": baseline_requests,
        "baseline_request_s": sequential_s,
        "baseline_cpu_steal_s": baseline_steal,
        "baseline_wall_s": baseline_wall_s,
        "baseline_is_estimate": true,
        "baseline_speedup": baseline_wall_s / wall.as_secs_f64().max(1e-9),
        "baseline_latency_only_s": baseline_latency_only_s,
        "baseline_latency_only_speedup": baseline_latency_only_s / wall.as_secs_f64().max(1e-9),
    });
    if json {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out).expect("json"));
    }
}
