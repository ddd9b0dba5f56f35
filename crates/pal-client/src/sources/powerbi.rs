//! Power BI admin APIs (api.powerbi.com): datasets and their publishers
//! through the scanner (modified workspaces, getInfo, scanStatus, scanResult),
//! the admin groups list as a fallback, and activity events. Every call draws
//! on a client-side budget for its documented cap. Over 600 lines because the
//! scanner is a protocol of four calls with their caps, the delta window, the
//! activity day cache and the take-over write, all on one API.

use pal_core::endpoints;
use pal_core::fix::Outcome;
use serde_json::Value;

use super::write;
use crate::auth::{Claims, Tokens};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::wire::opt_time;
use crate::cache::{ActivityDays, Cache, CachedWorkspace, DayEvent};
use crate::http::{Cap, ContinuationPage, Ctx, HttpClient, HttpError, ValuePage};
use pal_core::inventory::{
    EnvironmentId, Fact, Principal, PrincipalId, PrincipalType, Resource, ResourceId, ResourceKind,
    Stamp, StampKind,
};

pub const SOURCE: &str = endpoints::POWER_BI.source;
pub const AUDIENCE: &str = endpoints::POWER_BI.audience;
const BASE: &str = endpoints::POWER_BI.base;

const MODIFIED: &str = "powerbi-workspaces-modified";
const GET_INFO: &str = "powerbi-getinfo";
const SCAN_STATUS: &str = "powerbi-scanstatus";
const SCAN_RESULT: &str = "powerbi-scanresult";
const GROUPS_HOUR: &str = "powerbi-groups";
const GROUPS_MINUTE: &str = "powerbi-groups-minute";
const ACTIVITY: &str = "powerbi-activityevents";

/// The documented caps (tenant-wide, per hour unless said).
pub const CAPS: &[(&str, Cap)] = &[
    (MODIFIED, Cap::per_hour(30)),
    (GET_INFO, Cap::per_hour(500)),
    (SCAN_STATUS, Cap::per_hour(10_000)),
    (SCAN_RESULT, Cap::per_hour(500)),
    (GROUPS_HOUR, Cap::per_hour(50)),
    (GROUPS_MINUTE, Cap::per_minute(15)),
    (ACTIVITY, Cap::per_hour(200)),
];

/// Workspaces per `getInfo`, and `getInfo` calls in flight (documented).
const SCAN_BATCH: usize = 100;
const SCANS_IN_FLIGHT: usize = 16;
/// How long one scan may take before it is a gap.
const SCAN_TIMEOUT: Duration = Duration::from_secs(600);

/// Activities that count as use of a dataset, and those that (re)publish it.
const DATASET_ACTIVITIES: &[&str] = &[
    "Import",
    "ImportArtifactStart",
    "ImportArtifactEnd",
    "TakeOverDataset",
    "EditDataset",
    "ViewReport",
    "RefreshDataset",
];
pub use pal_core::inventory::PUBLISH_ACTIVITIES;

#[derive(Debug, Deserialize)]
pub struct WireWorkspaceId {
    pub id: String,
}

#[derive(Debug, Serialize)]
struct GetInfoBody<'a> {
    workspaces: &'a [String],
}

#[derive(Debug, Deserialize)]
pub struct WireScan {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
}

/// `workspaces` is required: a scan result without it is no answer.
#[derive(Debug, Default, Deserialize)]
pub struct WireScanResult {
    pub workspaces: Vec<WireWorkspace>,
}

#[derive(Debug, Deserialize)]
pub struct WireWorkspace {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub datasets: Vec<WireDataset>,
    #[serde(default)]
    pub users: Vec<WireUser>,
}

/// Field casing varies between answers (`createdDate` / `CreatedDate`): the
/// aliases read both.
#[derive(Debug, Deserialize)]
pub struct WireDataset {
    #[serde(alias = "Id")]
    pub id: String,
    #[serde(default, alias = "Name")]
    pub name: Option<String>,
    #[serde(default, rename = "configuredBy", alias = "ConfiguredBy")]
    pub configured_by: Option<String>,
    #[serde(
        default,
        rename = "createdDate",
        alias = "CreatedDate",
        deserialize_with = "opt_time"
    )]
    pub created_date: Option<DateTime<Utc>>,
    #[serde(default, alias = "Users")]
    pub users: Vec<WireUser>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireUser {
    #[serde(default, alias = "EmailAddress")]
    pub email_address: Option<String>,
    #[serde(default, alias = "Identifier")]
    pub identifier: Option<String>,
    #[serde(default, alias = "GraphId")]
    pub graph_id: Option<String>,
    #[serde(default, alias = "PrincipalType")]
    pub principal_type: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct WireActivityEvent {
    #[serde(
        rename = "CreationTime",
        alias = "creationTime",
        default,
        deserialize_with = "opt_time"
    )]
    pub creation_time: Option<DateTime<Utc>>,
    #[serde(rename = "Activity", alias = "activity", default)]
    pub activity: Option<String>,
    #[serde(rename = "UserId", alias = "userId", default)]
    pub user_id: Option<String>,
    #[serde(rename = "DatasetId", alias = "datasetId", default)]
    pub dataset_id: Option<String>,
}

/// What the Power BI APIs gave.
#[derive(Debug, Default)]
pub struct PowerBiRead {
    pub resources: Vec<Resource>,
    pub principals: Vec<Principal>,
    /// (dataset, publisher or user UPN, time, activity); UPNs are resolved
    /// after all sources ran.
    pub events: Vec<(ResourceId, String, DateTime<Utc>, String)>,
    /// "scanner" or "admin groups (fallback: ...)".
    pub path: String,
    pub workspaces: usize,
    /// Activity could not be read: why (the datasets are still audited).
    pub activity_gap: Option<String>,
    /// Each scanned (or reused) workspace's datasets, for the next delta audit.
    pub cache: Vec<(String, CachedWorkspace)>,
    /// Workspaces taken from the previous audit's cache, not scanned again.
    pub reused: usize,
    /// Days of activity taken from the cache (`--cache`), not queried.
    pub cached_days: usize,
    /// Cached days whose files could not be used, read again.
    pub unusable_days: usize,
    /// A delta audit that could not ask for changes since the previous one
    /// (too recent, too old, or refused): what it did instead.
    pub delta_note: Option<String>,
}

fn ctx() -> Ctx {
    Ctx::new(SOURCE, AUDIENCE)
}

/// Reads every dataset with its publisher, then `activity_days` UTC days of
/// activity events (past days from `activity_cache` when it has them). A refused scanner falls back to the admin groups list.
/// With `previous` (a delta audit), only workspaces modified since the
/// previous audit, or not in its cache, are scanned again.
pub async fn read(
    http: &HttpClient,
    activity_days: u32,
    now: DateTime<Utc>,
    previous: Option<&Cache>,
    activity_cache: Option<&ActivityDays>,
) -> Result<PowerBiRead, HttpError> {
    let mut out = match scan(http, previous).await {
        Ok((workspaces, delta_note)) => {
            let reused = workspaces.iter().filter(|(_, _, r)| *r).count();
            let mut out = PowerBiRead {
                path: "scanner".into(),
                workspaces: workspaces.len(),
                reused,
                delta_note,
                ..Default::default()
            };
            for (id, ws, _) in workspaces {
                out.resources.extend(ws.resources.iter().cloned());
                out.principals.extend(ws.principals.iter().cloned());
                out.cache.push((id, ws));
            }
            out
        }
        Err(e) if e.is_denied() => {
            tracing::info!("Power BI scanner refused ({e}); falling back to admin/groups");
            let workspaces = groups(http).await?;
            into_read(
                workspaces,
                format!("admin groups list (the scanner was refused: {e})"),
            )
        }
        Err(e) => return Err(e),
    };
    match activity(http, activity_days, now, activity_cache).await {
        Ok(read) => {
            out.events = read.events;
            out.cached_days = read.cached_days;
            out.unusable_days = read.unusable;
        }
        Err(e) => out.activity_gap = Some(e.to_string()),
    }
    Ok(out)
}

/// `modifiedSince` is accepted only between these ages (else 400).
const MODIFIED_SINCE_MIN: chrono::TimeDelta = chrono::TimeDelta::minutes(30);
const MODIFIED_SINCE_MAX: chrono::TimeDelta = chrono::TimeDelta::days(30);
/// Kept from the window's edges: the age is taken before the call, on this
/// machine's clock, and judged after it on the service's.
const EDGE_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// How a delta audit reads Power BI, by the age of the previous audit's read
/// on the real clock (the service judges `modifiedSince` by its own clock,
/// never by `--as-of`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaRead {
    /// Too recent for `modifiedSince`: every workspace from the cache, no
    /// modified call at all (each spends one of 30 an hour).
    Reuse,
    /// `modifiedSince` names what changed; the rest comes from the cache.
    Since(DateTime<Utc>),
    /// Too old for `modifiedSince`: every workspace scanned again.
    Full,
}

impl DeltaRead {
    pub fn of(since: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let age = now - since;
        if age < MODIFIED_SINCE_MIN + EDGE_MARGIN {
            Self::Reuse
        } else if age > MODIFIED_SINCE_MAX - EDGE_MARGIN {
            Self::Full
        } else {
            Self::Since(since)
        }
    }
}

/// "N minutes", "N hours" or "N days": the previous audit's age, in words.
fn age_words(age: chrono::TimeDelta) -> String {
    match (age.num_days(), age.num_hours(), age.num_minutes().max(0)) {
        (d, _, _) if d >= 2 => format!("{d} days"),
        (_, h, _) if h >= 2 => format!("{h} hours"),
        (_, _, 1) => "1 minute".into(),
        (_, _, m) => format!("{m} minutes"),
    }
}

/// Every workspace as (id, its datasets, reused from the cache or not), and
/// for a delta audit a note on how it was read.
async fn scan(
    http: &HttpClient,
    previous: Option<&Cache>,
) -> Result<(Vec<(String, CachedWorkspace, bool)>, Option<String>), HttpError> {
    let mut out = Vec::new();
    let mut note = None;
    let mut changed: Option<(&Cache, std::collections::HashSet<String>)> = None;
    // A delta audit: modifiedSince names what changed; the rest is taken from
    // the cache (a workspace the cache lacks is new). The service takes it
    // only between 30 minutes and 30 days ago.
    if let Some((cache, since)) = previous.and_then(|c| c.read_from.map(|t| (c, t)))
        && !cache.workspaces.is_empty()
    {
        let age = age_words(Utc::now() - since);
        match DeltaRead::of(since, Utc::now()) {
            DeltaRead::Reuse => {
                for (id, ws) in &cache.workspaces {
                    out.push((id.clone(), ws.clone(), true));
                }
                let note = format!(
                    "the previous audit read {age} ago, sooner than modifiedSince takes (30 minutes): every workspace as it read them"
                );
                return Ok((out, Some(note)));
            }
            DeltaRead::Full => {
                note = Some(format!(
                    "the previous audit read {age} ago, longer than modifiedSince reaches (30 days): every workspace scanned again"
                ));
            }
            DeltaRead::Since(since) => {
                let url = format!(
                    "{BASE}/admin/workspaces/modified?excludePersonalWorkspaces=false&modifiedSince={}",
                    since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                );
                match http
                    .get_json::<Vec<WireWorkspaceId>>(&ctx().budget(MODIFIED), &url)
                    .await
                {
                    Ok(ids) => {
                        let ids = ids.into_iter().map(|w| w.id.to_ascii_lowercase());
                        changed = Some((cache, ids.collect()));
                    }
                    // Out of the window on the service's clock, or refused
                    // for a reason of its own: a full read, never a lost source.
                    Err(e) if e.status() == Some(400) => {
                        tracing::info!("modifiedSince refused ({e}); scanning every workspace");
                        note = Some(format!(
                            "modifiedSince was refused ({e}): every workspace scanned again"
                        ));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    let url = format!("{BASE}/admin/workspaces/modified?excludePersonalWorkspaces=false");
    let ids: Vec<WireWorkspaceId> = http.get_json(&ctx().budget(MODIFIED), &url).await?;
    let mut ids: Vec<String> = ids.into_iter().map(|w| w.id).collect();
    if let Some((cache, changed)) = changed {
        ids.retain(|id| {
            let key = id.to_ascii_lowercase();
            match cache.workspaces.get(&key) {
                Some(ws) if !changed.contains(&key) => {
                    out.push((key, ws.clone(), true));
                    false
                }
                _ => true,
            }
        });
    }
    let batches: Vec<&[String]> = ids.chunks(SCAN_BATCH).collect();
    let results = futures::stream::iter(batches)
        .map(|batch| scan_batch(http, batch))
        .buffer_unordered(SCANS_IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    for r in results {
        for ws in r?.workspaces {
            let id = ws.id.to_ascii_lowercase();
            let read = into_read(vec![ws], String::new());
            out.push((
                id,
                CachedWorkspace {
                    resources: read.resources,
                    principals: read.principals,
                },
                false,
            ));
        }
    }
    Ok((out, note))
}

async fn scan_batch(http: &HttpClient, workspaces: &[String]) -> Result<WireScanResult, HttpError> {
    let url = format!("{BASE}/admin/workspaces/getInfo?getArtifactUsers=true");
    // getInfo only starts a read-only scan: safe to send again.
    let scan: WireScan = http
        .post_json(
            &ctx().budget(GET_INFO),
            &url,
            &GetInfoBody { workspaces },
            true,
        )
        .await?;
    let started = std::time::Instant::now();
    let mut wait = Duration::from_millis(200);
    let mut status = scan.status.unwrap_or_default();
    while !status.eq_ignore_ascii_case("Succeeded") {
        if status.eq_ignore_ascii_case("Failed") {
            return Err(HttpError::Service(format!(
                "Power BI scan {} failed",
                scan.id
            )));
        }
        if started.elapsed() > SCAN_TIMEOUT {
            return Err(HttpError::Service(format!(
                "Power BI scan {} still {status} after {} s",
                scan.id,
                SCAN_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 3 / 2).min(Duration::from_secs(15));
        let url = format!(
            "{BASE}/admin/workspaces/scanStatus/{}",
            crate::http::seg(&scan.id)
        );
        let s: WireScan = http.get_json(&ctx().budget(SCAN_STATUS), &url).await?;
        status = s.status.unwrap_or_default();
    }
    let url = format!(
        "{BASE}/admin/workspaces/scanResult/{}",
        crate::http::seg(&scan.id)
    );
    http.get_json(&ctx().budget(SCAN_RESULT), &url).await
}

/// The fallback: `admin/groups?$expand=datasets`, 5,000 a page by `$skip`.
async fn groups(http: &HttpClient) -> Result<Vec<WireWorkspace>, HttpError> {
    const TOP: usize = 5000;
    let mut all = Vec::new();
    let c = ctx().budget(GROUPS_MINUTE).budget(GROUPS_HOUR);
    for page in 0.. {
        let url = format!(
            "{BASE}/admin/groups?$top={TOP}&$skip={}&$expand=datasets",
            page * TOP
        );
        let p: ValuePage<WireWorkspace> = http.get_json(&c, &url).await?;
        let n = p.value.len();
        all.extend(p.value);
        if n < TOP {
            break;
        }
    }
    Ok(all)
}

/// The tenant id in the Power BI token (`tid`), if it is a JWT that names one.
pub async fn token_tenant(http: &HttpClient) -> Option<String> {
    let token = http.tokens().token(AUDIENCE).await.ok()?;
    crate::auth::Claims::of(&token)?.tid
}

/// Activity events of one audit and how many days came from the cache.
#[derive(Debug, Default)]
pub struct ActivityRead {
    pub events: Vec<(ResourceId, String, DateTime<Utc>, String)>,
    /// Days taken from the cache instead of the service.
    pub cached_days: usize,
    /// Cache files that could not be used (the days were read again).
    pub unusable: usize,
}

/// One day's events from the service, as a day file keeps them: every
/// event naming a dataset (the filter is applied after, so a later version
/// can count other activities from the same files).
async fn read_day(http: &HttpClient, day: chrono::NaiveDate) -> Result<Vec<DayEvent>, HttpError> {
    let url = format!(
        "{BASE}/admin/activityevents?startDateTime='{day}T00:00:00.000Z'&endDateTime='{day}T23:59:59.999Z'"
    );
    let events = http
        .get_all::<ContinuationPage<WireActivityEvent>>(&ctx().budget(ACTIVITY), &url)
        .await?;
    Ok(events
        .into_iter()
        .filter_map(
            |e| match (e.creation_time, e.activity, e.user_id, e.dataset_id) {
                (Some(at), Some(activity), Some(user), Some(dataset)) if !dataset.is_empty() => {
                    Some(DayEvent {
                        at,
                        activity,
                        user,
                        dataset,
                    })
                }
                _ => None,
            },
        )
        .collect())
}

/// One query per UTC day, oldest first, each followed by its continuation
/// tokens until there are none. With `cache`, a day that is over (on the
/// real clock: `now` may be `--as-of`) is read once and kept; today's, still
/// growing, is always read.
async fn activity(
    http: &HttpClient,
    days: u32,
    now: DateTime<Utc>,
    cache: Option<&ActivityDays>,
) -> Result<ActivityRead, HttpError> {
    let today = now.date_naive();
    let days: Vec<chrono::NaiveDate> = (0..days)
        .rev()
        .map(|back| today - chrono::Duration::days(i64::from(back)))
        .collect();
    let real_now = Utc::now();
    // A few days at once: each day's continuation chain is sequential, the
    // days are not; the hourly budget still bounds the total.
    let per_day = futures::stream::iter(days)
        .map(|day| async move {
            let settled = cache.filter(|_| ActivityDays::settled(day, real_now));
            let mut unusable = false;
            if let Some(c) = settled {
                match c.load(day) {
                    Ok(Some(events)) => return Ok((events, true, false)),
                    Ok(None) => {}
                    Err(why) => {
                        tracing::warn!("ignoring a cached day of Power BI activity ({why}); reading the day again");
                        unusable = true;
                    }
                }
            }
            let events = read_day(http, day).await?;
            if let Some(c) = settled
                && let Err(e) = c.save(day, &events)
            {
                // Only a later audit loses: it reads the day again.
                tracing::warn!("could not keep {day}'s Power BI activity in the cache: {e}");
            }
            Ok::<_, HttpError>((events, false, unusable))
        })
        .buffered(4)
        .collect::<Vec<_>>()
        .await;
    let mut out = ActivityRead::default();
    for day in per_day {
        let (events, cached, unusable) = day?;
        out.cached_days += usize::from(cached);
        out.unusable += usize::from(unusable);
        for e in events {
            if DATASET_ACTIVITIES
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&e.activity))
            {
                out.events.push((
                    ResourceId::new(e.dataset),
                    e.user.to_ascii_lowercase(),
                    e.at,
                    e.activity,
                ));
            }
        }
    }
    Ok(out)
}

fn into_read(workspaces: Vec<WireWorkspace>, path: String) -> PowerBiRead {
    let mut out = PowerBiRead {
        path,
        workspaces: workspaces.len(),
        ..Default::default()
    };
    for ws in workspaces {
        let ws_id = EnvironmentId::new(&ws.id);
        let ws_name = ws.name.clone().unwrap_or_else(|| ws.id.clone());
        for ds in &ws.datasets {
            let publisher = match ds.configured_by.as_deref().filter(|c| !c.is_empty()) {
                None => Fact::Unknown("the dataset has no configuredBy".into()),
                Some(upn) => {
                    // The scan's own user lists carry the Graph id: no lookup needed.
                    let known = ds.users.iter().chain(&ws.users).find(|u| {
                        [&u.email_address, &u.identifier]
                            .into_iter()
                            .flatten()
                            .any(|x| x.eq_ignore_ascii_case(upn))
                    });
                    match known
                        .and_then(|u| u.graph_id.as_deref())
                        .filter(|g| !g.is_empty())
                    {
                        Some(gid) => {
                            let mut p = Principal::new(
                                PrincipalId::new(gid),
                                match known.and_then(|u| u.principal_type.as_deref()) {
                                    Some(t) if t.eq_ignore_ascii_case("App") => {
                                        PrincipalType::ServicePrincipal
                                    }
                                    _ => PrincipalType::User,
                                },
                            );
                            if upn.contains('@') {
                                p.upn = Some(upn.to_ascii_lowercase());
                            }
                            out.principals.push(p);
                            Fact::Known(PrincipalId::new(gid))
                        }
                        None => Fact::Known(PrincipalId::upn_placeholder(upn)),
                    }
                }
            };
            // Its creation is the configuring publisher's activity, the
            // earliest one (rules v2).
            let stamps = match (&publisher, ds.created_date) {
                (Fact::Known(p), Some(at)) => vec![Stamp {
                    kind: StampKind::Created,
                    principal: p.clone(),
                    at,
                }],
                _ => Vec::new(),
            };
            out.resources.push(Resource {
                id: ResourceId::new(&ds.id),
                kind: ResourceKind::Dataset,
                name: ds.name.clone().unwrap_or_else(|| ds.id.clone()).into(),
                environment: ws_id.clone(),
                environment_name: Some(ws_name.clone()),
                solution: None,
                creator: publisher,
                roles: Fact::Known(Vec::new()),
                stamps,
                instance_type: None,
                other_solutions: Vec::new(),
                platform_creator: None,
            });
        }
    }
    out
}

// Writes (`fix --apply`): each checks first, writes, and is judged by a
// re-read of the same resource.

/// `Default.TakeOver` of a dataset, run as the PAL identity `id` (named
/// `name` in `configuredBy`): the caller becomes its publisher.
pub async fn take_over(
    http: &HttpClient,
    tokens: &Tokens,
    workspace: &str,
    dataset: &str,
    id: &str,
    name: Option<&str>,
) -> Result<Outcome, HttpError> {
    // Default.TakeOver makes the caller the publisher: it must be the PAL identity.
    let token = tokens.token(AUDIENCE).await?;
    let caller = Claims::of(&token).and_then(|c| c.oid);
    if caller.as_deref() != Some(id) {
        return Ok(Outcome::Failed(format!(
            "a take-over must run signed in as the PAL identity {id}; this run is signed in as {}",
            caller.as_deref().unwrap_or("an unknown identity")
        )));
    }
    let ctx = Ctx::new(SOURCE, AUDIENCE);
    let uri = format!("{BASE}/groups/{workspace}/datasets/{dataset}");
    let want = name.unwrap_or(id);
    let publisher = |v: &Value| {
        v["configuredBy"]
            .as_str()
            .is_some_and(|c| c.eq_ignore_ascii_case(want) || c.eq_ignore_ascii_case(id))
    };
    let before: Value = http.get_json(&ctx, &uri).await?;
    // Once `configuredBy` is the identity a take-over changes
    // nothing more: done, even if the report shows a later publish.
    if publisher(&before) {
        return Ok(Outcome::AlreadyDone);
    }
    // The operation takes no body.
    write::send(
        http,
        &ctx,
        reqwest::Method::POST,
        &format!("{uri}/Default.TakeOver"),
        None,
    )
    .await?;
    let after: Value = match write::reread(http, &ctx, &uri).await {
        Ok(v) => v,
        Err(o) => return Ok(o),
    };
    Ok(if publisher(&after) {
        Outcome::Changed
    } else {
        Outcome::Failed(format!(
            "the take-over was accepted, but the dataset's configuredBy is still {}",
            after["configuredBy"].as_str().unwrap_or("empty")
        ))
    })
}

/// `doctor`: whether the admin APIs answer.
pub async fn probe_admin(http: &HttpClient) -> Result<(), HttpError> {
    http.get_json::<ValuePage<serde_json::Value>>(
        &Ctx::new(SOURCE, AUDIENCE),
        &format!("{BASE}/admin/groups?$top=1"),
    )
    .await
    .map(|_| ())
}

/// `doctor`: whether the scanner answers; how many workspaces it lists.
pub async fn probe_scanner(http: &HttpClient) -> Result<usize, HttpError> {
    http.get_json::<Vec<serde_json::Value>>(
        &Ctx::new(SOURCE, AUDIENCE),
        &format!("{BASE}/admin/workspaces/modified?excludePersonalWorkspaces=false"),
    )
    .await
    .map(|w| w.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_since_is_asked_only_inside_its_window() {
        let now: DateTime<Utc> = "2026-11-20T12:00:00Z".parse().unwrap();
        let ago = |m: i64| now - chrono::TimeDelta::minutes(m);
        assert_eq!(DeltaRead::of(ago(10), now), DeltaRead::Reuse);
        assert_eq!(DeltaRead::of(ago(31), now), DeltaRead::Reuse, "margin");
        assert_eq!(DeltaRead::of(ago(60), now), DeltaRead::Since(ago(60)));
        let days = |d: i64| ago(d * 24 * 60);
        assert_eq!(DeltaRead::of(days(29), now), DeltaRead::Since(days(29)));
        assert_eq!(DeltaRead::of(days(30), now), DeltaRead::Full);
        assert_eq!(DeltaRead::of(days(40), now), DeltaRead::Full);
        assert_eq!(age_words(chrono::TimeDelta::minutes(10)), "10 minutes");
        assert_eq!(age_words(chrono::TimeDelta::days(40)), "40 days");
    }

    #[test]
    fn decodes_both_casings() {
        let a: WireDataset = serde_json::from_str(
            r#"{"id":"d1","configuredBy":"a@b.c","createdDate":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let b: WireDataset = serde_json::from_str(
            r#"{"id":"d1","ConfiguredBy":"a@b.c","CreatedDate":"2026-01-01T00:00:00.123"}"#,
        )
        .unwrap();
        assert_eq!(a.configured_by, b.configured_by);
        assert!(a.created_date.is_some() && b.created_date.is_some());
        let e: WireActivityEvent = serde_json::from_str(
            r#"{"Id":"x","CreationTime":"2026-11-02T10:00:00","Activity":"ViewReport","UserId":"A@B.C","DatasetId":"d1"}"#,
        )
        .unwrap();
        assert!(e.creation_time.is_some());
    }

    #[test]
    fn scan_users_resolve_the_publisher_without_graph() {
        let result: WireScanResult =
            serde_json::from_str(include_str!("../../api-samples/powerbi-scan-result.json"))
                .unwrap();
        let read = into_read(result.workspaces, "scanner".into());
        assert_eq!(read.resources.len(), 2);
        assert_eq!(
            read.resources[0].creator,
            Fact::Known(PrincipalId::new("a0000000-0000-4000-8000-000000000001"))
        );
        assert_eq!(
            read.resources[1].creator,
            Fact::Known(PrincipalId::upn_placeholder("someone@contoso.com"))
        );
        assert_eq!(
            read.resources[0].environment_name.as_deref(),
            Some("Finance")
        );
    }
}
