//! Power BI routes on `api.powerbi.com`: the admin API
//! (`/v1.0/myorg/admin/...`: modified workspaces, only 30 minutes to 30
//! days back; the scanner, 1 to 100 workspaces a scan, done at its second
//! status poll; groups with `$skip`/`$top`; activity events, one UTC day a
//! query, with the service's percent-encoded continuation tokens), a
//! dataset's non-admin read, and the `Default.TakeOver` write, which logs a
//! TakeOverDataset activity event.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use super::{Answer, Req, bad_request, caller, empty, eq, no_caller, not_found, type_name, upn_of};
use crate::Shared;
use crate::model::{ModelDataset, TenantModel};

pub(super) fn get_dataset(m: &TenantModel, ws: &str, ds: &str) -> Answer {
    match m
        .datasets
        .iter()
        .find(|d| eq(&d.id, ds) && eq(&d.workspace, ws))
    {
        // The non-admin answer is camelCase, whatever the admin one does.
        Some(d) => (
            StatusCode::OK,
            json!({
                "id": d.id,
                "name": d.name,
                "configuredBy": d.configured_by.as_deref().map(|id| upn_of(m, id)).or(d.configured_by_upn.clone()),
            }),
        ),
        None => not_found("dataset"),
    }
}

pub(super) fn take_over(m: &mut TenantModel, req: &Req, ws: &str, ds: &str) -> Option<Answer> {
    let Some(oid) = caller(req) else {
        return Some(no_caller());
    };
    let d = m
        .datasets
        .iter_mut()
        .find(|d| eq(&d.id, ds) && eq(&d.workspace, ws))?;
    d.configured_by = Some(oid.clone());
    d.configured_by_upn = None;
    let dataset = d.id.clone();
    // On the model's clock: a fixed tenant's audits read the
    // activity window that ends at its `as_of`.
    let at = m.as_of.unwrap_or_else(Utc::now);
    m.powerbi_activity.push(crate::model::ModelPowerBiEvent {
        dataset,
        by: oid,
        at,
        activity: "TakeOverDataset".into(),
    });
    // 200 with no body: the REST specification declares no schema.
    empty()
}

fn dataset(m: &TenantModel, d: &ModelDataset, with_users: bool) -> Value {
    let publisher = d
        .configured_by
        .as_deref()
        .map(|id| upn_of(m, id))
        .or(d.configured_by_upn.clone());
    let (configured, created) = if d.pascal_case {
        ("ConfiguredBy", "CreatedDate")
    } else {
        ("configuredBy", "createdDate")
    };
    let mut v = json!({
        "id": d.id,
        "name": d.name,
        "targetStorageMode": "Import",
        configured: publisher,
        // Power BI writes these times without a zone.
        created: d.created.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
    });
    if with_users
        && !d.hide_graph_id
        && let Some(id) = &d.configured_by
    {
        let p = m.principal(id);
        v["users"] = json!([{
            "datasetUserAccessRight": "ReadWriteReshareExplore",
            "emailAddress": p.and_then(|p| p.upn.clone()),
            "displayName": p.and_then(|p| p.name.clone()),
            "identifier": p.and_then(|p| p.upn.clone()).unwrap_or_else(|| id.clone()),
            "graphId": id,
            "principalType": if type_name(p) == "ServicePrincipal" { "App" } else { "User" },
        }]);
    }
    v
}

fn workspace(m: &TenantModel, id: &str, with_users: bool) -> Option<Value> {
    let ws = m.workspaces.iter().find(|w| eq(&w.id, id))?;
    let datasets: Vec<Value> = m
        .datasets
        .iter()
        .filter(|d| eq(&d.workspace, &ws.id))
        .map(|d| dataset(m, d, with_users))
        .collect();
    Some(json!({
        "id": ws.id,
        "name": ws.name,
        "type": "Workspace",
        "state": "Active",
        "isOnDedicatedCapacity": false,
        "datasets": datasets,
    }))
}

pub(super) fn scan_start(st: &Shared, req: &Req) -> Answer {
    let body: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
    let ids: Vec<String> = body["workspaces"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() || ids.len() > 100 {
        return (
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "InvalidRequest", "message": "1 to 100 workspace ids are required"}}),
        );
    }
    let mut scans = st.scans.lock().expect("scan map");
    let id = format!("5ca40000-0000-4000-8000-{:012}", scans.len() + 1);
    scans.insert(id.clone(), (ids, 0));
    (
        StatusCode::ACCEPTED,
        json!({"id": id, "createdDateTime": Utc::now().to_rfc3339(), "status": "NotStarted"}),
    )
}

pub(super) fn powerbi(st: &Shared, m: &TenantModel, req: &Req, s: &[&str]) -> Answer {
    match s {
        ["workspaces", "modified"] => {
            let since = match req.param("modifiedSince") {
                None => None,
                Some(v) => match DateTime::parse_from_rfc3339(v) {
                    Ok(t) => Some(t.with_timezone(&Utc)),
                    Err(_) => {
                        return bad_request("modifiedSince is not an ISO 8601 date and time");
                    }
                },
            };
            // As the service: only 30 minutes to 30 days ago, on the real
            // clock (a tenant model's `as_of` does not move the service's).
            if let Some(s) = since {
                let age = Utc::now() - s;
                if age < Duration::minutes(30) || age > Duration::days(30) {
                    return bad_request("modifiedSince must be between 30 minutes and 30 days ago");
                }
            }
            (
                StatusCode::OK,
                Value::Array(
                    m.workspaces
                        .iter()
                        .filter(|w| match (since, w.modified) {
                            (Some(s), Some(at)) => at > s,
                            _ => true,
                        })
                        .map(|w| json!({"id": w.id}))
                        .collect(),
                ),
            )
        }
        ["workspaces", "scanStatus", id] => {
            let mut scans = st.scans.lock().expect("scan map");
            match scans.get_mut(*id) {
                Some((_, polls)) => {
                    *polls += 1;
                    let status = if *polls >= 2 { "Succeeded" } else { "Running" };
                    (
                        StatusCode::OK,
                        json!({"id": id, "createdDateTime": Utc::now().to_rfc3339(), "status": status}),
                    )
                }
                None => not_found("scan"),
            }
        }
        ["workspaces", "scanResult", id] => {
            let scans = st.scans.lock().expect("scan map");
            match scans.get(*id) {
                Some((ids, _)) => {
                    let workspaces: Vec<Value> =
                        ids.iter().filter_map(|w| workspace(m, w, true)).collect();
                    (StatusCode::OK, json!({ "workspaces": workspaces }))
                }
                None => not_found("scan"),
            }
        }
        ["groups"] => {
            let skip: usize = req.param("$skip").and_then(|v| v.parse().ok()).unwrap_or(0);
            let top: usize = req
                .param("$top")
                .and_then(|v| v.parse().ok())
                .unwrap_or(5000);
            let value: Vec<Value> = m
                .workspaces
                .iter()
                .skip(skip)
                .take(top)
                .filter_map(|w| workspace(m, &w.id, false))
                .collect();
            (
                StatusCode::OK,
                json!({"@odata.context": "https://api.powerbi.com/v1.0/myorg/admin/$metadata#groups", "value": value}),
            )
        }
        ["activityevents"] => activity_events(m, req),
        _ => not_found(req.path),
    }
}

/// One UTC day per query, `page_size` events a page, continuation tokens
/// until the last page, whose token is null.
///
/// The token is shaped like the service's (`+RID:...==#RT:1#TRC:5#FPC:...`)
/// and sent, as the service sends it, already percent-encoded
/// (`%2BRID%3A...`), in `continuationToken` and inside `continuationUri`. A
/// client that encodes it again sends `%252B...`, which this route refuses
/// as the service does.
fn activity_events(m: &TenantModel, req: &Req) -> Answer {
    let unquote = |v: &str| v.trim().trim_matches('\'').to_string();
    let (day, offset) = match (req.param("continuationToken"), req.param("startDateTime")) {
        (Some(tok), _) => match parse_activity_token(&unquote(tok)) {
            Some(at) => at,
            None => return bad_request("the continuation token is not valid"),
        },
        (None, Some(start)) => (unquote(start).chars().take(10).collect::<String>(), 0usize),
        (None, None) => {
            return (
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "InvalidRequest", "message": "startDateTime and endDateTime are required"}}),
            );
        }
    };
    let Ok(date) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") else {
        return (
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "InvalidRequest", "message": "bad startDateTime"}}),
        );
    };
    let events: Vec<Value> = m
        .powerbi_activity
        .iter()
        .filter(|e| e.at.date_naive() == date)
        .map(|e| {
            let ds = m.datasets.iter().find(|d| eq(&d.id, &e.dataset));
            json!({
                "Id": format!("{}-{}", e.dataset, e.at.timestamp()),
                "RecordType": 20,
                "CreationTime": e.at.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "Operation": e.activity,
                "UserType": 0,
                "Workload": "PowerBI",
                "UserId": upn_of(m, &e.by),
                "Activity": e.activity,
                "DatasetId": e.dataset,
                "DatasetName": ds.map(|d| d.name.clone()),
                "WorkspaceId": ds.map(|d| d.workspace.clone()),
            })
        })
        .collect();
    let end = (offset + req.page_size.max(1)).min(events.len());
    let page = events
        .get(offset..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let last = end >= events.len();
    let token = (!last).then(|| activity_token(&day, end));
    (
        StatusCode::OK,
        json!({
            "activityEventEntities": page,
            "continuationUri": token.as_ref().map(|t| format!("https://api.powerbi.com/v1.0/myorg/admin/activityevents?continuationToken='{t}'")),
            "continuationToken": token,
            "lastResultSet": last,
        }),
    )
}

/// The token for the page of `day` that starts at `offset`, percent-encoded
/// as the service sends it.
fn activity_token(day: &str, offset: usize) -> String {
    let raw = format!("+RID:{day}/{offset}==#RT:1#TRC:{offset}#FPC:AR=");
    percent_encoding::utf8_percent_encode(&raw, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// (day, offset) of a token as the query gives it back: decoded once.
fn parse_activity_token(token: &str) -> Option<(String, usize)> {
    let rest = token.strip_prefix("+RID:")?;
    let (key, _) = rest.split_once("==#")?;
    let (day, offset) = key.split_once('/')?;
    Some((day.to_string(), offset.parse().ok()?))
}
