//! Azure Monitor Log Analytics query API on `api.loganalytics.io` (and its
//! successor host `api.loganalytics.azure.com`): `POST
//! /v1/workspaces/{id}/query` with `{query, timespan}`, answering the
//! tenant's Customer Insights diagnostics (`[[ci_activity]]`) as rows of
//! `CIEventsAudit` / `CIEventsOperational`.
//!
//! Written from the API's documentation (response-format.md, errors.md) and
//! the Azure Monitor table reference, not from the client. It runs no KQL:
//! it answers the tables the query names, in the window of `timespan`, with
//! their columns in the table reference's order (a real answer has the
//! projected ones: a client must read columns by name), and honours a
//! `take N`. A body that is not JSON, or a request without
//! `Content-Type: application/json`, gets a 200 with no body, as documented.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{Answer, Req, eq, upn_of};
use crate::model::TenantModel;

const TABLES: [&str; 2] = ["CIEventsAudit", "CIEventsOperational"];

/// The columns answered, in the order of the table reference (a subset).
const COLUMNS: [(&str, &str); 10] = [
    ("TenantId", "string"),
    ("TimeGenerated", "datetime"),
    ("OperationName", "string"),
    ("Category", "string"),
    ("ResultType", "string"),
    ("CallerObjectId", "string"),
    ("UserPrincipalName", "string"),
    ("InstanceId", "string"),
    ("SubmittedBy", "string"),
    ("Type", "string"),
];

fn error(status: StatusCode, code: &str, message: &str) -> Answer {
    (
        status,
        json!({"error": {"code": code, "message": message, "details": []}}),
    )
}

pub(super) fn query(m: &TenantModel, req: &Req, workspace: &str) -> Answer {
    if m.ci_workspace.as_deref().is_some_and(|w| !eq(w, workspace)) {
        return error(
            StatusCode::NOT_FOUND,
            "PathNotFoundError",
            &format!("The requested path does not exist: workspace {workspace}"),
        );
    }
    let json_body = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    let body: Value = match serde_json::from_slice(req.body) {
        Ok(v) if json_body => v,
        _ => return (StatusCode::OK, Value::Null),
    };
    let Some(text) = body["query"].as_str().filter(|q| !q.trim().is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadArgumentError",
            "The request had some invalid properties: query is required",
        );
    };
    let tables: Vec<&str> = TABLES.into_iter().filter(|t| text.contains(t)).collect();
    if tables.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "SemanticError",
            "A semantic error occurred: the query names no table this workspace holds",
        );
    }
    let (from, to) = match body.get("timespan").and_then(Value::as_str) {
        None => (None, None),
        Some(span) => match timespan(span, Utc::now()) {
            Some((a, b)) => (Some(a), Some(b)),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BadArgumentError",
                    &format!("The timespan {span:?} is not valid"),
                );
            }
        },
    };
    let take = text
        .split('|')
        .filter_map(|stage| stage.trim().strip_prefix("take "))
        .find_map(|n| n.trim().parse::<usize>().ok());
    let workspace_id = m.ci_workspace.clone().unwrap_or_else(|| workspace.into());
    let mut events: Vec<_> = m
        .ci_activity
        .iter()
        .filter(|e| tables.iter().any(|t| eq(t, &e.table)))
        .filter(|e| from.is_none_or(|f| e.at >= f) && to.is_none_or(|t| e.at <= t))
        .collect();
    events.sort_by_key(|e| e.at);
    let rows: Vec<Value> = events
        .into_iter()
        .take(take.unwrap_or(usize::MAX))
        .map(|e| {
            let operational = eq(&e.table, "CIEventsOperational");
            let caller = if e.upn_only { "" } else { e.by.as_str() };
            json!([
                workspace_id,
                e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                e.operation,
                if operational { "Operational" } else { "Audit" },
                "Success",
                caller,
                upn_of(m, &e.by),
                e.instance,
                if operational {
                    Value::from(e.by.as_str())
                } else {
                    Value::Null
                },
                e.table,
            ])
        })
        .collect();
    let columns: Vec<Value> = COLUMNS
        .iter()
        .map(|(name, kind)| json!({"name": name, "type": kind}))
        .collect();
    (
        StatusCode::OK,
        json!({"tables": [{"name": "PrimaryResult", "columns": columns, "rows": rows}]}),
    )
}

/// `start/end` (ISO 8601 times) or a duration before `now` (`P30D`,
/// `PT12H`).
fn timespan(span: &str, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let time = |s: &str| {
        DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    if let Some((a, b)) = span.split_once('/') {
        return Some((time(a)?, time(b)?));
    }
    let n = |s: &str| s.parse::<i64>().ok();
    let d = if let Some(h) = span.strip_prefix("PT").and_then(|r| r.strip_suffix('H')) {
        Duration::hours(n(h)?)
    } else {
        Duration::days(n(span.strip_prefix('P')?.strip_suffix('D')?)?)
    };
    Some((now - d, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans() {
        let now: DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
        assert_eq!(
            timespan("P2D", now),
            Some(("2026-11-18T00:00:00Z".parse().unwrap(), now))
        );
        assert_eq!(
            timespan("2026-11-01T00:00:00Z/2026-11-20T00:00:00Z", now),
            Some(("2026-11-01T00:00:00Z".parse().unwrap(), now))
        );
        assert_eq!(timespan("last week", now), None);
    }

    #[test]
    fn the_contoso_events_are_the_bundled_exports() {
        let (m, _) = crate::contoso::load().unwrap();
        let export: Vec<Value> = crate::contoso::CI_ACTIVITY
            .1
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(m.ci_activity.len(), export.len());
        for (e, x) in m.ci_activity.iter().zip(&export) {
            assert_eq!(e.instance, x["properties"]["instanceId"].as_str().unwrap());
            assert_eq!(e.by, x["properties"]["callerObjectId"].as_str().unwrap());
            assert_eq!(
                e.at,
                x["time"]
                    .as_str()
                    .unwrap()
                    .parse::<DateTime<Utc>>()
                    .unwrap()
            );
            assert_eq!(e.operation, x["operationName"].as_str().unwrap());
            assert_eq!(e.table, x["category"].as_str().unwrap());
        }
    }
}
