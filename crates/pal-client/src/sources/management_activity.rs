//! The Office 365 Management Activity API (`--audit-api`): the unified audit
//! log's `Audit.General` content read live, for unattended runs. Its content
//! blobs hold the records a Purview export's `AuditData` holds, so they are
//! read by the export's own parser (`pal_core::audit_log`), never a second
//! one.
//!
//! Order of calls (docs/api-reference-notes.md, "Management Activity API"):
//! `subscriptions/list`; `subscriptions/start` only when asked
//! (`--start-audit-subscription`); `subscriptions/content` per 24 hours of
//! the part of the window the API keeps (7 days), paged by the
//! `NextPageUri` response header; then each blob's `contentUri`. What could
//! not be read is said as the span of event times it leaves unknown: a blob
//! (or a day's listing) that failed holds events from before its
//! `contentCreated` (its day's end), so the read covers only what comes
//! after the latest failure.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use futures::StreamExt;
use reqwest::Method;
use serde::Deserialize;

use crate::http::{Ctx, HttpClient, HttpError, decode, seg};
use pal_core::audit_log::{AuditLog, parse_audit_log};
use pal_core::endpoints;

pub const SOURCE: &str = endpoints::MANAGEMENT_ACTIVITY.source;
pub const AUDIENCE: &str = endpoints::MANAGEMENT_ACTIVITY.audience;
const BASE: &str = endpoints::MANAGEMENT_ACTIVITY.base;

/// The content type holding Power Apps and Power Automate records ("all
/// other workloads not included in the previous content types").
pub const CONTENT_TYPE: &str = "Audit.General";
/// Content older than this is not available from the API.
pub const KEPT_DAYS: i64 = 7;
/// The paging header; the troubleshooting guide's prose calls it
/// `NextPageUrl`, so both are read.
const NEXT_PAGE: &[&str] = &["NextPageUri", "NextPageUrl"];
/// Blobs fetched at once (within the host's own limit).
const BLOBS_AT_ONCE: usize = 8;

/// What the API gave.
#[derive(Debug, Default)]
pub struct FeedRead {
    /// The counted events and the records read, as a file would give them.
    pub log: AuditLog,
    /// The event times the read covers, `None` when none: from the later of
    /// the window's start, the API's 7 days and the latest failure, to the
    /// audit's time.
    pub covered: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Content blobs read.
    pub blobs: usize,
    /// What could not be read, one line each.
    pub failures: Vec<String>,
}

/// Why nothing could be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The tenant's `Audit.General` subscription is not enabled.
    #[error(
        "the {CONTENT_TYPE} subscription of the Management Activity API is not enabled ({0}); run once with --start-audit-subscription to start it (content appears up to 12 hours later)"
    )]
    NoSubscription(String),
    /// Started by this run: no content is available yet.
    #[error(
        "the {CONTENT_TYPE} subscription was started by this run; content appears up to 12 hours after the start, so the audit log is not known yet: run again later"
    )]
    JustStarted,
    /// The tenant id is needed in every URL and is not known.
    #[error("the tenant id is not known (pass --tenant with the tenant's id)")]
    NoTenant,
    #[error(transparent)]
    Http(#[from] HttpError),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSubscription {
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireContent {
    content_id: String,
    content_uri: String,
    #[serde(default)]
    content_created: Option<String>,
}

fn root(tenant: &str) -> String {
    format!("{BASE}/{}/activity/feed", seg(tenant))
}

/// `PublisherIdentifier`: the tenant's own id for a tenant reading itself;
/// with it the calls draw on the tenant's own throttling quota.
fn publisher(tenant: &str) -> String {
    format!("PublisherIdentifier={}", seg(tenant))
}

/// The subscription's status, as `subscriptions/list` says it.
async fn subscription(http: &HttpClient, ctx: &Ctx, tenant: &str) -> Result<String, HttpError> {
    let url = format!("{}/subscriptions/list?{}", root(tenant), publisher(tenant));
    let subs: Vec<WireSubscription> = http.get_json(ctx, &url).await?;
    Ok(subs
        .iter()
        .find(|s| {
            s.content_type
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(CONTENT_TYPE))
        })
        .map_or_else(
            || "no subscription".to_string(),
            |s| format!("status {}", s.status.as_deref().unwrap_or("not given")),
        ))
}

fn enabled(status: &str) -> bool {
    status.eq_ignore_ascii_case("status enabled")
}

/// Starts the subscription; one already enabled (HTTP 400, "already
/// enabled") is fine.
async fn start(http: &HttpClient, ctx: &Ctx, tenant: &str) -> Result<(), HttpError> {
    let url = format!(
        "{}/subscriptions/start?contentType={CONTENT_TYPE}&{}",
        root(tenant),
        publisher(tenant)
    );
    match http.send(ctx, Method::POST, &url, None, false).await {
        Ok(_) => Ok(()),
        Err(e) if already_enabled(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

fn already_enabled(e: &HttpError) -> bool {
    matches!(e, HttpError::Status { status: 400, detail: Some(d), .. }
        if d.to_ascii_lowercase().contains("already enabled"))
}

/// `AF20022` (no subscription) or `AF20023` (disabled by an admin).
fn no_subscription(e: &HttpError) -> Option<String> {
    match e {
        HttpError::Status {
            detail: Some(d), ..
        } if d.starts_with("AF20022") || d.starts_with("AF20023") => Some(d.clone()),
        _ => None,
    }
}

/// Reads the `Audit.General` content of `from`..`to` (the part of it the
/// API keeps) for `tenant`.
pub async fn read(
    http: &HttpClient,
    tenant: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    start_subscription: bool,
) -> Result<FeedRead, FeedError> {
    let tenant = tenant.ok_or(FeedError::NoTenant)?;
    let ctx = Ctx::new(SOURCE, AUDIENCE);
    let status = subscription(http, &ctx, tenant).await?;
    if !enabled(&status) {
        if !start_subscription {
            return Err(FeedError::NoSubscription(status));
        }
        start(http, &ctx, tenant).await?;
        return Err(FeedError::JustStarted);
    }
    let kept_from = to - Duration::days(KEPT_DAYS);
    let begin = from.max(kept_from);
    let mut out = FeedRead::default();
    // Event times before this may be in content that could not be read.
    let mut missing_before = begin;
    let mut listed: Vec<WireContent> = Vec::new();
    let mut ids = BTreeSet::new();
    let mut day = begin;
    while day < to {
        let end = (day + Duration::hours(24)).min(to);
        match list_content(http, &ctx, tenant, day, end).await {
            Ok(items) => listed.extend(
                items
                    .into_iter()
                    .filter(|c| ids.insert(c.content_id.to_ascii_lowercase())),
            ),
            Err(e) => {
                if let Some(d) = no_subscription(&e) {
                    return Err(FeedError::NoSubscription(d));
                }
                missing_before = missing_before.max(end);
                out.failures.push(format!(
                    "the content of {} to {} could not be listed: {e}",
                    day.to_rfc3339(),
                    end.to_rfc3339()
                ));
            }
        }
        day = end;
    }
    let ctx = &ctx;
    let mut blobs = futures::stream::iter(listed.iter())
        .map(|c| async move { (c, blob(http, ctx, c).await) })
        .buffer_unordered(BLOBS_AT_ONCE);
    let mut read: Vec<(&WireContent, AuditLog)> = Vec::new();
    while let Some((c, r)) = blobs.next().await {
        match r {
            Ok(log) => read.push((c, log)),
            Err(why) => {
                let created = c.content_created.as_deref().and_then(parse_time);
                // Without its time, the blob could hold anything read.
                missing_before = missing_before.max(created.unwrap_or(to));
                out.failures.push(format!(
                    "content blob {} ({}) could not be read: {why}",
                    c.content_id,
                    c.content_created
                        .as_deref()
                        .unwrap_or("creation time not given")
                ));
            }
        }
    }
    // In the listing's order, whatever order the blobs came back in.
    read.sort_by_key(|(c, _)| listed.iter().position(|l| std::ptr::eq(l, *c)));
    out.blobs = read.len();
    for (_, log) in read {
        out.log.extend(log);
    }
    out.log.files = vec![API_NAME.to_string()];
    out.covered = (missing_before < to).then_some((missing_before, to));
    Ok(out)
}

/// How reasons and coverage name this source.
pub const API_NAME: &str = "the Office 365 Management Activity API";

/// One listing of `start`..`end` (at most 24 hours), every page of it.
async fn list_content(
    http: &HttpClient,
    ctx: &Ctx,
    tenant: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<WireContent>, HttpError> {
    let time = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let mut url = format!(
        "{}/subscriptions/content?contentType={CONTENT_TYPE}&startTime={}&endTime={}&{}",
        root(tenant),
        time(start),
        time(end),
        publisher(tenant)
    );
    let mut items = Vec::new();
    let mut seen = BTreeSet::new();
    loop {
        if !seen.insert(url.clone()) {
            return Err(HttpError::RepeatedNextLink { url });
        }
        if seen.len() > 10_000 {
            return Err(HttpError::TooManyPages { url, limit: 10_000 });
        }
        let (target, body, next) = http.get_with_header(ctx, &url, NEXT_PAGE).await?;
        let page: Vec<WireContent> = decode(&target, &body)?;
        items.extend(page);
        match next.filter(|n| !n.trim().is_empty()) {
            Some(n) => url = n.trim().to_string(),
            None => return Ok(items),
        }
    }
}

/// One content blob's records, parsed as an export's.
async fn blob(http: &HttpClient, ctx: &Ctx, c: &WireContent) -> Result<AuditLog, String> {
    let (_, body) = http
        .send(ctx, Method::GET, &c.content_uri, None, true)
        .await
        .map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(&body).map_err(|e| format!("not UTF-8: {e}"))?;
    if !text.trim_start().starts_with('[') {
        return Err("the answer is not a JSON array of records".into());
    }
    parse_audit_log(&format!("content blob {}", c.content_id), text).map_err(|e| e.to_string())
}

/// `contentCreated`: ISO 8601, UTC when no offset is given.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// `doctor`: the subscription's status (listing it needs the permission).
pub async fn probe(http: &HttpClient, tenant: &str) -> Result<String, HttpError> {
    subscription(http, &Ctx::new(SOURCE, AUDIENCE), tenant).await
}

/// Whether a probe's status is an enabled subscription.
pub fn probe_enabled(status: &str) -> bool {
    enabled(status)
}
