//! Collection: reads every source through the one HTTP pipeline into an
//! `Inventory`, recording a coverage row for each source and environment. A
//! source that fails for one environment is a gap; the audit goes on.

mod audit_merge;
pub mod bap;
pub mod customer_insights;
pub mod dataverse;
pub mod directory;
pub mod flow;
pub mod graph;
pub mod log_analytics;
pub mod management_activity;
pub mod management_partner;
mod merge;
pub mod powerapps;
pub mod powerbi;
pub mod wire;
mod write;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::auth::{AuthError, Secret};
use crate::cache::Cache;
use crate::http::{HttpClient, HttpError};
use customer_insights::CiEvent;
use merge::{merge_customer_insights, merge_environment, placeholder_upns, resolve_placeholders};
use pal_core::inventory::{
    Activity, ActivitySource, ActivityWindow, Coverage, CoverageStatus, Environment, Inventory,
    PrincipalId, Product, ResourceId, ResourceKind, Unread, UnreadFact,
};
use pal_core::links::{Link, is_guid};

/// Told when each part of the collection starts and ends, so a terminal can
/// show progress. Sources never see how it is drawn.
pub trait Progress: Send + Sync {
    /// A tenant-wide source (`environments`, `Power BI`, ...) starts.
    fn begin(&self, _what: &str) {}
    /// It ended; `summary` says what it read, in words.
    fn finish(&self, _what: &str, _summary: &str) {}
    /// How many environments will be read, once listed: before the first
    /// of them begins.
    fn environments(&self, _total: usize) {}
    /// Environment `index` (of [`Progress::environments`]) starts: `name`
    /// may be shared by two environments, `index` is not.
    fn begin_environment(&self, _index: usize, _name: &str) {}
    /// It ended.
    fn finish_environment(&self, _index: usize, _name: &str, _summary: &str) {}
}

/// No progress: pipelines, tests, `--quiet`.
pub struct Silent;

impl Progress for Silent {}

/// What to read.
#[derive(Clone, Debug)]
pub struct Plan {
    /// `--environment`: ids or display names; empty for all.
    pub environments: Vec<String>,
    /// `--products`.
    pub products: BTreeSet<Product>,
    /// `--tenant`, when it is a tenant id.
    pub tenant_id: Option<String>,
    /// Environments read at once.
    pub environment_concurrency: usize,
    /// Days of activity to read (Power BI events, the CI export's window).
    pub activity_days: u32,
    pub now: DateTime<Utc>,
    /// `PAL_AUDIT_CI_KEY`.
    pub ci_key: Option<Secret>,
    pub ci_audience: String,
    /// `--ci-activity`, already parsed.
    pub ci_activity: Option<Vec<CiEvent>>,
    /// `--ci-workspace`: the Log Analytics workspace the Customer Insights
    /// diagnostics go to, queried for the activity window instead of a file
    /// (never together with `ci_activity`).
    pub ci_workspace: Option<String>,
    /// `--audit-log`, every file already parsed.
    pub audit_log: Option<pal_core::audit_log::AuditLog>,
    /// `--audit-api`: read the unified audit log from the Office 365
    /// Management Activity API too; `Some(true)` with
    /// `--start-audit-subscription`.
    pub audit_api: Option<bool>,
    /// Read each flow's owners (one call per flow); `--no-flow-owners` skips
    /// them, and `linked-owner-not-creator` can then not be raised.
    pub flow_owners: bool,
    /// Object ids linked to our partner, known before collection: the owners
    /// of flows they created need not be read.
    pub ours: BTreeSet<PrincipalId>,
    /// A delta audit (`--since`): what the previous audit read. Unchanged
    /// apps, flows and workspaces are taken from it.
    pub previous: Option<std::sync::Arc<Cache>>,
    /// Keep what a later delta audit may reuse (`--cache`); off, the
    /// collection holds no second copy of it.
    pub keep_cache: bool,
    /// `--cache DIR`: where whole past days of Power BI activity are kept
    /// and read back, by every audit given it (delta or not).
    pub activity_cache: Option<std::path::PathBuf>,
}

/// What a collection gives: the inventory, and what the next delta audit
/// may reuse of it.
pub struct Collected {
    pub inventory: Inventory,
    pub cache: Cache,
}

impl Plan {
    /// The start of the activity window: `activity_days` before `now`.
    pub fn activity_since(&self) -> DateTime<Utc> {
        self.now - chrono::Duration::days(i64::from(self.activity_days))
    }

    /// `ours`: the object ids of the active links to `partner`, as the
    /// links name them (a UPN is resolved only during collection). One
    /// definition for the audit and the benchmark, which had drifted apart.
    pub fn ours_from(
        links: &[pal_core::links::Link],
        partner: &pal_core::links::PartnerId,
    ) -> BTreeSet<PrincipalId> {
        links
            .iter()
            .filter(|l| l.active && &l.partner_id == partner)
            .filter_map(|l| match &l.principal {
                pal_core::links::PrincipalRef::Id(id) => Some(id.clone()),
                pal_core::links::PrincipalRef::Upn(_) => None,
            })
            .collect()
    }
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            environments: Vec::new(),
            products: Product::ALL.into_iter().collect(),
            tenant_id: None,
            environment_concurrency: 4,
            activity_days: 30,
            now: Utc::now(),
            ci_key: None,
            ci_audience: customer_insights::DEFAULT_AUDIENCE.into(),
            ci_activity: None,
            ci_workspace: None,
            audit_log: None,
            audit_api: None,
            flow_owners: true,
            ours: BTreeSet::new(),
            previous: None,
            keep_cache: false,
            activity_cache: None,
        }
    }
}

/// Reads the tenant. Only a failure to authenticate for the very first call
/// is fatal (exit code 3); everything else becomes coverage.
pub async fn collect(
    http: &HttpClient,
    plan: &Plan,
    links: &[Link],
    progress: &dyn Progress,
) -> Result<Collected, AuthError> {
    let mut inv = Inventory {
        tenant_id: plan.tenant_id.clone(),
        ..Inventory::default()
    };
    let mut next = Cache::new(None, Utc::now());
    let previous = plan.previous.as_deref();
    let mut reuse = pal_core::inventory::Reuse {
        since: previous.and_then(|p| p.report_generated_at),
        ..Default::default()
    };
    let wants = |p: Product| plan.products.contains(&p);
    let platform = wants(Product::PowerApps) || wants(Product::PowerAutomate);
    let mut first_call_done = false;
    if platform || wants(Product::CustomerInsights) {
        first_call_done = true;
        progress.begin("environments");
        let read = read_environments(http, plan, &mut inv).await;
        progress.finish(
            "environments",
            &plural(inv.environments.len(), "environment"),
        );
        match read {
            Ok(()) => {}
            Err(HttpError::Auth(e)) => return Err(e),
            Err(_) => {}
        }
    }
    // Every source at once, each within its hosts' limits: Power BI and
    // Customer Insights do not wait for the environments' reads.
    let environments = inv.environments.clone();
    let power_bi = async {
        if !wants(Product::PowerBi) {
            return None;
        }
        progress.begin("Power BI");
        let days = match &plan.activity_cache {
            Some(dir) => {
                let tenant = match &plan.tenant_id {
                    Some(t) => Some(t.clone()),
                    None => powerbi::token_tenant(http).await,
                };
                Some(crate::cache::ActivityDays::new(dir, tenant.as_deref()))
            }
            None => None,
        };
        let read = powerbi::read(http, plan.activity_days, plan.now, previous, days.as_ref()).await;
        progress.finish(
            "Power BI",
            &read.as_ref().map_or_else(
                |e| format!("failed: {e}"),
                |r| plural(r.resources.len(), "dataset"),
            ),
        );
        Some(read)
    };
    let ci = async {
        if !wants(Product::CustomerInsights) {
            return None;
        }
        progress.begin("Customer Insights");
        let (read, activity) = match &plan.ci_key {
            Some(key) => {
                let instances =
                    customer_insights::read(http, key, &plan.ci_audience, &environments);
                let activity = async {
                    match &plan.ci_workspace {
                        Some(ws) => Some(
                            log_analytics::read(http, ws, plan.activity_since(), plan.now).await,
                        ),
                        None => None,
                    }
                };
                let (read, activity) = tokio::join!(instances, activity);
                (Some(read), activity)
            }
            None => (None, None),
        };
        progress.finish(
            "Customer Insights",
            &match &read {
                Some(Ok(r)) => plural(r.resources.len(), "instance"),
                Some(Err(e)) => format!("failed: {e}"),
                None => "no key".into(),
            },
        );
        Some((read, activity))
    };
    // Graph starts on each environment's groups and account status while
    // the others are read; the rest of Graph waits for every source.
    // The feed's URLs name the tenant: `--tenant`, else what BAP said, else
    // the token's.
    let known_tenant = inv.tenant_id.clone();
    let (feed, needs) = directory::feed();
    let platform_read = async {
        let feed = feed;
        if platform {
            read_platform(http, plan, &mut inv, &mut next, &mut reuse, progress, &feed).await;
        }
    };
    let audit_feed = async {
        // Its events are on apps and flows only.
        let start = plan.audit_api.filter(|_| platform)?;
        progress.begin("audit log (Management Activity API)");
        let tenant = match known_tenant {
            Some(t) => Some(t),
            None => {
                let token = http
                    .tokens()
                    .token(management_activity::AUDIENCE)
                    .await
                    .ok();
                token
                    .and_then(|t| crate::auth::Claims::of(&t))
                    .and_then(|c| c.tid)
            }
        };
        let read = management_activity::read(
            http,
            tenant.as_deref(),
            plan.activity_since(),
            plan.now,
            start,
        )
        .await;
        progress.finish(
            "audit log (Management Activity API)",
            &match &read {
                Ok(r) => plural(r.blobs, "content blob"),
                Err(e) => format!("failed: {e}"),
            },
        );
        Some(read)
    };
    let early = directory::read_early(http, needs);
    let ((), power_bi, ci, early, audit_feed) =
        tokio::join!(platform_read, power_bi, ci, early, audit_feed);
    let mut events: Vec<(ResourceId, PrincipalId, DateTime<Utc>, String)> = Vec::new();
    if let Some(read) = power_bi {
        match read {
            Ok(read) => {
                let mut detail = format!(
                    "{} in {} read through the {}",
                    plural(read.resources.len(), "dataset"),
                    plural(read.workspaces, "workspace"),
                    read.path
                );
                match &read.delta_note {
                    // Too recent, too old or refused: said as such, since
                    // no workspace was known to be unchanged.
                    Some(note) => detail.push_str(&format!("; {note}")),
                    None if previous.is_some() => detail.push_str(&format!(
                        " ({} unchanged since the previous audit, reused from its cache)",
                        plural(read.reused, "workspace")
                    )),
                    None => {}
                }
                reuse.workspaces += read.reused as u64;
                if plan.keep_cache {
                    next.workspaces.extend(read.cache);
                }
                let status = match &read.activity_gap {
                    None => {
                        detail.push_str(&format!(
                            "; {} of the last {} days",
                            plural(read.events.len(), "activity event"),
                            plan.activity_days
                        ));
                        if plan.activity_cache.is_some() {
                            detail.push_str(&format!(
                                " ({} from the cache",
                                plural(read.cached_days, "day")
                            ));
                            if read.unusable_days > 0 {
                                detail.push_str(&format!(
                                    "; {} unusable there, read again",
                                    plural(read.unusable_days, "cached day")
                                ));
                            }
                            detail.push(')');
                        }
                        // The fact usage and publishers rest on: every
                        // day of the window read.
                        inv.activity_windows.push(ActivityWindow {
                            source: ActivitySource::PowerBiActivity,
                            kinds: vec![ResourceKind::Dataset],
                            from: plan.activity_since(),
                            to: plan.now,
                            covered: Some((plan.activity_since(), plan.now)),
                            files: Vec::new(),
                        });
                        CoverageStatus::Complete
                    }
                    Some(gap) => {
                        detail.push_str(&format!("; activity events could not be read: {gap}"));
                        // Publish events name publishers: without them a
                        // dataset's publishers are not all known.
                        inv.unread.push(Unread {
                            fact: UnreadFact::Activity {
                                product: Product::PowerBi,
                            },
                            environment: None,
                            resource: None,
                            why: format!("Power BI activity events could not be read: {gap}"),
                        });
                        CoverageStatus::Partial
                    }
                };
                read.principals
                    .into_iter()
                    .for_each(|p| inv.add_principal(p));
                inv.add_resources(read.resources);
                events.extend(
                    read.events.into_iter().map(|(ds, upn, at, what)| {
                        (ds, PrincipalId::upn_placeholder(&upn), at, what)
                    }),
                );
                inv.coverage
                    .push(global(powerbi::SOURCE, status, detail, http));
            }
            Err(HttpError::Auth(e)) if !first_call_done => return Err(e),
            Err(e) => inv.coverage.push(global(
                powerbi::SOURCE,
                CoverageStatus::Failed,
                format!("datasets could not be read: {e}"),
                http,
            )),
        }
    }
    let power_bi_events = events.len();
    if let Some((read, activity)) = ci {
        merge_customer_insights(http, plan, &mut inv, &mut events, read, activity);
    }
    inv.activity = events
        .into_iter()
        .enumerate()
        .map(|(i, (resource, principal, at, action))| Activity {
            resource,
            principal,
            at,
            action,
            source: Some(if i < power_bi_events {
                ActivitySource::PowerBiActivity
            } else {
                ActivitySource::CustomerInsightsDiagnostics
            }),
        })
        .collect();
    if plan.audit_log.is_some() || audit_feed.is_some() {
        audit_merge::merge_audit_log(plan, &mut inv, plan.audit_log.as_ref(), audit_feed, http);
    }

    let placeholders = placeholder_upns(&inv);
    progress.begin("Graph");
    directory::read_graph(http, &mut inv, links, &placeholders, early).await;
    progress.finish("Graph", &plural(inv.principals.len(), "principal"));
    // Grown by doubling while environments were merged: up to twice the room.
    inv.resources.shrink_to_fit();
    give_back_freed_memory();
    next.tenant_id = inv.tenant_id.clone();
    if previous.is_some() {
        inv.reuse = Some(reuse);
    }
    Ok(Collected {
        inventory: inv,
        cache: next,
    })
}

/// Gives the memory freed since the collection began back to the system.
/// glibc keeps what each thread freed resident in that thread's arena, and
/// attribution's threads allocate in arenas of their own: without this, a
/// large tenant's peak held the reading's buffers and the findings at once
/// (`peak_rss_mb` in docs/performance.md).
fn give_back_freed_memory() {
    // SAFETY: malloc_trim only walks glibc's own free lists; it has no
    // precondition and is safe to call from any thread at any time.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn read_environments(
    http: &HttpClient,
    plan: &Plan,
    inv: &mut Inventory,
) -> Result<(), HttpError> {
    let (environments, bap_tenant, invalid) = match bap::list_environments(http).await {
        Ok(read) => read,
        Err(e) => {
            if !matches!(e, HttpError::Auth(_)) {
                inv.coverage.push(global(
                    bap::SOURCE,
                    CoverageStatus::Failed,
                    format!("environments could not be listed: {e}"),
                    http,
                ));
            }
            return Err(e);
        }
    };
    if inv.tenant_id.is_none() {
        // BAP names the tenant; else the default environment is named
        // `Default-<tenant id>`.
        inv.tenant_id = bap_tenant.or_else(|| default_env_tenant(&environments));
    }
    let total = environments.len();
    let (chosen, unmatched) = choose(environments, &plan.environments);
    let (status, detail) = if unmatched.is_empty() {
        (
            CoverageStatus::Complete,
            format!(
                "{} listed, {} audited",
                plural(total, "environment"),
                chosen.len()
            ),
        )
    } else {
        (
            CoverageStatus::Partial,
            format!(
                "{} listed; no environment matches {}",
                plural(total, "environment"),
                unmatched.join(", ")
            ),
        )
    };
    let (status, detail) = if invalid.is_empty() {
        (status, detail)
    } else {
        (
            CoverageStatus::Partial,
            format!(
                "{detail}; left out, their ids are not environment ids: {}",
                invalid.join(", ")
            ),
        )
    };
    inv.coverage.push(global(bap::SOURCE, status, detail, http));
    inv.environments = chosen;
    Ok(())
}

/// Canvas apps, cloud flows and Dataverse, environment by environment.
async fn read_platform(
    http: &HttpClient,
    plan: &Plan,
    inv: &mut Inventory,
    next: &mut Cache,
    reuse: &mut pal_core::inventory::Reuse,
    progress: &dyn Progress,
    feed: &directory::Feed,
) {
    let previous = plan.previous.as_deref();
    let apps_wanted = plan.products.contains(&Product::PowerApps);
    let flows_wanted = plan.products.contains(&Product::PowerAutomate);
    let environments = inv.environments.clone();
    progress.environments(environments.len());
    let mut per_env = futures::stream::iter(environments.iter().enumerate())
        .map(|(index, env)| async move {
            progress.begin_environment(index, &env.display_name);
            let apps = async {
                if apps_wanted {
                    Some(powerapps::read_environment(http, env, previous).await)
                } else {
                    None
                }
            };
            let flows = async {
                if flows_wanted {
                    Some(
                        flow::read_environment(http, env, plan.flow_owners, &plan.ours, previous)
                            .await,
                    )
                } else {
                    None
                }
            };
            let dataverse = async {
                if env.dataverse_api_url.is_some() {
                    Some(dataverse::read_environment(http, env).await)
                } else {
                    None
                }
            };
            let (apps, flows, dv) = tokio::join!(apps, flows, dataverse);
            let count = |n: Option<usize>, what: &str| n.map(|n| plural(n, what));
            let summary: Vec<String> = [
                count(
                    apps.as_ref()
                        .and_then(|r| r.as_ref().ok())
                        .map(|r| r.resources.len()),
                    "canvas app",
                ),
                count(
                    flows
                        .as_ref()
                        .and_then(|r| r.as_ref().ok())
                        .map(|r| r.resources.len()),
                    "flow",
                ),
                count(
                    dv.as_ref()
                        .and_then(|r| r.as_ref().ok())
                        .map(|r| r.model_driven_apps.len()),
                    "model-driven app",
                ),
            ]
            .into_iter()
            .flatten()
            .collect();
            progress.finish_environment(index, &env.display_name, &summary.join(", "));
            (index, EnvironmentRead { apps, flows, dv })
        })
        .buffer_unordered(plan.environment_concurrency.max(1));
    // Each environment is merged as soon as those before it are: the
    // inventory comes out the same whatever order the reads end in, and a
    // read is dropped once merged (every Dataverse environment lists the
    // tenant's users: held until the last environment ended, a large
    // tenant's copies were a third of the audit's memory).
    let mut ended: BTreeMap<usize, EnvironmentRead> = BTreeMap::new();
    let mut merged = 0;
    while let Some((index, read)) = per_env.next().await {
        ended.insert(index, read);
        while let Some(read) = ended.remove(&merged) {
            let from = inv.resources.len();
            merge_environment(http, plan, inv, next, reuse, &environments[merged], read);
            feed.merged(&inv.resources[from..], inv);
            merged += 1;
        }
    }
}

/// What one environment's reads gave.
struct EnvironmentRead {
    apps: Option<Result<powerapps::AppsRead, HttpError>>,
    flows: Option<Result<flow::FlowsRead, HttpError>>,
    dv: Option<Result<dataverse::DataverseRead, HttpError>>,
}

fn global(source: &str, status: CoverageStatus, detail: String, http: &HttpClient) -> Coverage {
    Coverage {
        source: source.into(),
        environment_id: None,
        status,
        detail,
        requests: http.requests(source, None),
    }
}

/// `<tenant id>` from an environment named `Default-<tenant id>`.
fn default_env_tenant(environments: &[Environment]) -> Option<String> {
    environments.iter().find_map(|e| {
        let rest = e.name.get(8..).filter(|_| {
            e.name
                .get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("default-"))
        })?;
        is_guid(rest).then(|| rest.to_ascii_lowercase())
    })
}

/// Environments matching `--environment` (by id or display name, any case),
/// and the filters that matched nothing.
fn choose(all: Vec<Environment>, filters: &[String]) -> (Vec<Environment>, Vec<String>) {
    if filters.is_empty() {
        return (all, Vec::new());
    }
    let matches = |e: &Environment, f: &str| {
        e.id.as_str().eq_ignore_ascii_case(f) || e.display_name.eq_ignore_ascii_case(f)
    };
    let unmatched = filters
        .iter()
        .filter(|f| !all.iter().any(|e| matches(e, f)))
        .cloned()
        .collect();
    let chosen = all
        .into_iter()
        .filter(|e| filters.iter().any(|f| matches(e, f)))
        .collect();
    (chosen, unmatched)
}

/// "1 app", "2 apps", "3 component libraries".
fn plural(n: usize, word: &str) -> String {
    // "libraries" but "days": only a consonant's y becomes "ies".
    let stem = word
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'i', 'o', 'u']));
    match (n, stem) {
        (1, _) => format!("1 {word}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {word}s"),
    }
}

#[cfg(test)]
mod tests;
