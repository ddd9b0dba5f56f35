//! The Office 365 Management Activity API on `manage.office.com`, under
//! `/api/v1.0/{tenant}/activity/feed/`: `subscriptions/list`,
//! `subscriptions/start`, `subscriptions/content` (paged by the
//! `NextPageUri` response header) and the content blobs, serving the
//! tenant's unified audit log records (`audit_records`) as `Audit.General`.
//!
//! Written from the API reference and its troubleshooting guide
//! (docs/api-reference-notes.md), not from the client: a listing needs the
//! subscription (`AF20022` without it), takes `startTime`/`endTime` both or
//! neither, at most 24 hours apart and at most 7 days back (`AF20055`),
//! and lists by the time a blob became available, not the events' time.
//! Each record becomes available 30 minutes after it happened, in the blob
//! of that hour. The API's own throttling answer (`AF429` as HTTP 403) is
//! the `af429` fault. The emulator's "now" is the tenant's `as_of`.

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::{Req, eq};
use crate::Shared;
use crate::model::TenantModel;

const CONTENT_TYPE: &str = "Audit.General";
/// How long after an event its record becomes available.
const LATENCY_MINUTES: i64 = 30;

fn answer(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    answer(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// `now` of the tenant: its `as_of`, so a test's answers do not move with
/// the calendar.
fn now(m: &TenantModel) -> DateTime<Utc> {
    m.as_of.unwrap_or_else(Utc::now)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                .map(|n| n.and_utc())
                .or_else(|| {
                    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(|n| n.and_utc())
                })
        })
}

/// One content blob: its id, when it became available, its records.
struct Blob<'a> {
    id: String,
    created: DateTime<Utc>,
    records: Vec<&'a Value>,
}

/// The tenant's records as blobs, one per hour of availability, oldest
/// first; only those available by `now`.
fn blobs(m: &TenantModel) -> Vec<Blob<'_>> {
    let now = now(m);
    let mut out: std::collections::BTreeMap<String, Blob> = Default::default();
    for r in &m.audit_records {
        let Some(at) = r["CreationTime"].as_str().and_then(parse_time) else {
            continue;
        };
        let available = at + Duration::minutes(LATENCY_MINUTES);
        if available > now {
            continue;
        }
        let id = format!("{}$audit_general", available.format("%Y%m%d%H"));
        let blob = out.entry(id.clone()).or_insert_with(|| Blob {
            id,
            created: available,
            records: Vec::new(),
        });
        blob.created = blob.created.max(available);
        blob.records.push(r);
    }
    out.into_values().collect()
}

/// The content blobs the tenant serves: id and when each became
/// available, oldest first (the benchmark counts its minimum requests by
/// them).
pub fn content_blobs(m: &TenantModel) -> Vec<(String, DateTime<Utc>)> {
    blobs(m).into_iter().map(|b| (b.id, b.created)).collect()
}

/// Every request to `manage.office.com`.
pub(crate) fn handle(st: &Shared, req: &Req, seg: &[String]) -> Response {
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    let ["api", version, tenant, "activity", "feed", rest @ ..] = s.as_slice() else {
        return error(StatusCode::NOT_FOUND, "NotFound", "no such path");
    };
    if !matches!(*version, "v1.0" | "v1") {
        return error(StatusCode::NOT_FOUND, "NotFound", "no such API version");
    }
    if *req.method == Method::POST && rest == ["subscriptions", "start"] {
        let mut m = st.model.write().expect("tenant model");
        if !eq(tenant, &m.tenant_id) {
            return wrong_tenant();
        }
        if !req
            .param("contentType")
            .is_some_and(|c| eq(c, CONTENT_TYPE))
        {
            return error(
                StatusCode::BAD_REQUEST,
                "AF20020",
                "The specified content type is not valid.",
            );
        }
        if m.audit_subscription {
            return error(
                StatusCode::BAD_REQUEST,
                "AF20024",
                "The subscription is already enabled. No property change.",
            );
        }
        m.audit_subscription = true;
        return answer(
            StatusCode::OK,
            &json!({"contentType": CONTENT_TYPE, "status": "enabled", "webhook": null}),
        );
    }
    if *req.method != Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "not an operation of this API",
        );
    }
    let m = st.model.read().expect("tenant model");
    if !eq(tenant, &m.tenant_id) {
        return wrong_tenant();
    }
    match rest {
        ["subscriptions", "list"] => {
            let list: Vec<Value> = if m.audit_subscription {
                vec![json!({"contentType": CONTENT_TYPE, "status": "enabled", "webhook": null})]
            } else {
                Vec::new()
            };
            answer(StatusCode::OK, &Value::Array(list))
        }
        ["subscriptions", "content"] => content(&m, req, st.options.page_size),
        ["audit", id] => match blobs(&m).into_iter().find(|b| eq(&b.id, id)) {
            Some(b) => answer(
                StatusCode::OK,
                &Value::Array(b.records.into_iter().cloned().collect()),
            ),
            None => error(
                StatusCode::NOT_FOUND,
                "AF20050",
                "The specified content does not exist.",
            ),
        },
        _ => error(StatusCode::NOT_FOUND, "NotFound", "no such operation"),
    }
}

fn wrong_tenant() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "AF20010",
        "The tenant ID passed in the URL does not match the tenant ID passed in the access token.",
    )
}

/// `subscriptions/content`: one page of the blobs available in the span.
fn content(m: &TenantModel, req: &Req, page_size: usize) -> Response {
    if !req
        .param("contentType")
        .is_some_and(|c| eq(c, CONTENT_TYPE))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "AF20020",
            "The specified content type is not valid.",
        );
    }
    if !m.audit_subscription {
        return error(
            StatusCode::BAD_REQUEST,
            "AF20022",
            "No subscription found for the specified content type.",
        );
    }
    let now = now(m);
    let span = match (req.param("startTime"), req.param("endTime")) {
        (None, None) => Some((now - Duration::hours(24), now)),
        (Some(a), Some(b)) => parse_time(a).zip(parse_time(b)),
        _ => None,
    };
    let bad_span = || {
        error(
            StatusCode::BAD_REQUEST,
            "AF20055",
            "Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time no more than 7 days in the past.",
        )
    };
    let Some((start, end)) = span else {
        return bad_span();
    };
    if end <= start || end - start > Duration::hours(24) || start < now - Duration::days(7) {
        return bad_span();
    }
    let skip: usize = req
        .param("nextPage")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listed: Vec<Blob> = blobs(m)
        .into_iter()
        .filter(|b| b.created >= start && b.created < end)
        .collect();
    let size = page_size.max(1);
    let page: Vec<Value> = listed
        .iter()
        .skip(skip)
        .take(size)
        .map(|b| {
            json!({
                "contentType": CONTENT_TYPE,
                "contentId": b.id,
                "contentUri": format!(
                    "https://{}/api/v1.0/{}/activity/feed/audit/{}",
                    req.host, m.tenant_id, b.id
                ),
                "contentCreated": b.created.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                "contentExpiration": (b.created + Duration::days(7)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            })
        })
        .collect();
    let mut r = answer(StatusCode::OK, &Value::Array(page));
    if skip + size < listed.len() {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in req.query.iter().filter(|(k, _)| k != "nextPage") {
            q.append_pair(k, v);
        }
        q.append_pair("nextPage", &(skip + size).to_string());
        let next = format!("https://{}{}?{}", req.host, req.path, q.finish());
        if let Ok(v) = HeaderValue::from_str(&next) {
            r.headers_mut().insert("NextPageUri", v);
        }
    }
    r
}
