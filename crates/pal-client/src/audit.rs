//! The one audit: read the tenant into an inventory, attribute it, make the
//! report. `pal-audit audit`, `demo`, `fix --apply`'s re-check and the
//! benchmark all run this function, so none of them can drift from the
//! others. It returns data; it prints nothing.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use pal_core::InputError;
use pal_core::attribution::{self, Options};
use pal_core::inventory::{Coverage, CoverageStatus};
use pal_core::links::{self, Link};
use pal_core::output::OutputError;
use pal_core::report::{self, Report, Scope};

use crate::auth::{AuthError, Tokens};
use crate::cache::Cache;
use crate::http::{ApiBase, HttpClient, HttpConfig};
use crate::sources::{self, Plan, Progress};

/// A future that, when it ends, stops the audit's calls with its reason
/// (Ctrl-C, a timeout): what was read by then is reported, the rest is a
/// coverage gap.
pub type Stop = Pin<Box<dyn Future<Output = String> + Send>>;

/// Everything one audit needs.
pub struct AuditRequest {
    /// Where requests go: the real hosts, or `--api-base`.
    pub api_base: ApiBase,
    /// The request pipeline's limits.
    pub http: HttpConfig,
    /// The sign-in.
    pub tokens: Arc<Tokens>,
    /// The PAL links and attestations to judge by.
    pub links: Vec<Link>,
    /// What to read. Its `ours` and `now` are set from `options` and
    /// `links` here, so no caller can count other identities as ours.
    pub plan: Plan,
    /// How to judge (partner id, time, attestation age).
    pub options: Options,
    /// The products and environments the report says it covers.
    pub scope: Scope,
    /// `--cache DIR`: the inventory's reusable parts are saved there.
    pub cache_dir: Option<PathBuf>,
    /// `--record DIR`: every response read is saved there.
    pub record: Option<Recording>,
    /// Stops the calls when it ends.
    pub stop: Option<Stop>,
}

/// `--record`: where, and how.
#[derive(Clone, Debug)]
pub struct Recording {
    /// The folder.
    pub dir: PathBuf,
    /// Remove a recording already in it first (`--force`).
    pub replace: bool,
    /// Pseudonymise names and addresses (`--redact`).
    pub redact: bool,
}

/// What an audit gives back.
#[derive(Debug)]
pub struct Audited {
    /// The report.
    pub report: Report,
    /// Tenant text the report may quote without a field of its own (group
    /// names, Dataverse hosts): for `--redact` (`report::tenant_text`).
    pub tenant_text: Vec<String>,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Requests sent, by source.
    pub requests_by_source: BTreeMap<&'static str, u64>,
    /// Where the time went.
    pub timings: Timings,
}

/// Where an audit's time went.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Reading the tenant.
    pub collect: Duration,
    /// Writing the `--cache`.
    pub cache_save: Duration,
    /// The rules.
    pub attribution: Duration,
}

/// Why an audit could not give a report.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// No call could be made: sign-in failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A link names another tenant than the one read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The cache or the recording could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The request pipeline could not be set up.
    #[error("{0}")]
    Setup(String),
}

/// Reads the tenant, attributes it and makes the report.
pub async fn audit(req: AuditRequest, progress: &dyn Progress) -> Result<Audited, AuditError> {
    let AuditRequest {
        api_base,
        http,
        tokens,
        links,
        mut plan,
        options,
        scope,
        cache_dir,
        record,
        stop,
    } = req;
    plan.ours = Plan::ours_from(&links, &options.partner_id);
    plan.now = options.now;
    plan.keep_cache |= cache_dir.is_some();
    let mut client = HttpClient::new(api_base, tokens, http).map_err(AuditError::Setup)?;
    if record.is_some() {
        client = client.record();
    }
    let client = Arc::new(client);
    let watcher = stop.map(|stop| {
        let client = client.clone();
        tokio::spawn(async move { client.stop(stop.await) })
    });
    let started = Instant::now();
    let collected = sources::collect(&client, &plan, &links, progress).await;
    if let Some(w) = watcher {
        w.abort();
    }
    let sources::Collected {
        mut inventory,
        mut cache,
    } = collected?;
    let collect = started.elapsed();
    if let (Some(rec), Some(recorder)) = (&record, client.recorder()) {
        if rec.replace {
            pal_core::record::remove_recording(&rec.dir)?;
        }
        let n = recorder.save(&rec.dir, rec.redact)?;
        tracing::info!("recorded {n} responses in {}", rec.dir.display());
    }
    if let Some(reason) = client.stopped() {
        inventory.coverage.push(Coverage {
            source: report::STOPPED_SOURCE.into(),
            environment_id: None,
            status: CoverageStatus::Failed,
            detail: format!("the audit was stopped: {reason}; what was not read by then is a gap"),
            requests: 0,
        });
    }
    if let Some(t) = &inventory.tenant_id {
        links::check_tenant(&links, t)?;
    }
    // The cache is saved, and its memory freed, before attribution: both
    // would otherwise peak together on a large tenant.
    let generated_at = Utc::now();
    let t = Instant::now();
    if let Some(dir) = &cache_dir {
        cache.report_generated_at = Some(generated_at);
        cache.save(dir)?;
    }
    let cache_save = t.elapsed();
    drop(cache);
    let t = Instant::now();
    let attribution = attribution::attribute(&inventory, &links, &options);
    let attribution_time = t.elapsed();
    let tenant_text = report::tenant_text(&inventory);
    let report = Report::new(
        &inventory,
        attribution,
        options.partner_id.clone(),
        scope,
        generated_at,
    );
    Ok(Audited {
        report,
        tenant_text,
        requests: client.total_requests(),
        requests_by_source: client.requests_by_source(),
        timings: Timings {
            collect,
            cache_save,
            attribution: attribution_time,
        },
    })
}

/// The previous audit's cache for a delta audit (`--since REPORT --cache
/// DIR`): only when it belongs to that report.
pub fn previous(since: &Report, dir: &std::path::Path) -> Result<Arc<Cache>, InputError> {
    Ok(Arc::new(Cache::load_for(dir, since)?))
}
