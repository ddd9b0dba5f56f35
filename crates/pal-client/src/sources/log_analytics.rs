//! Azure Monitor Log Analytics query API (`api.loganalytics.io`): the
//! Customer Insights diagnostics (`CIEventsAudit`, `CIEventsOperational`) in
//! the workspace they are sent to (`--ci-workspace`), read as the same
//! [`CiEvent`]s as the `--ci-activity` export.
//!
//! The query text is ours alone (a constant): the window goes in the
//! request's `timespan`, the workspace id (a GUID, checked) in the path.
//! Columns are read by name from the answer's `tables[].columns`, never by
//! position. A 200 carrying `error.code == "PartialError"`, and an answer at
//! the API's row limit, are partial reads: never a complete one.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::customer_insights::CiEvent;
use crate::http::{Ctx, HttpClient, HttpError, Target};
use pal_core::endpoints;
use pal_core::inventory::{PrincipalId, ResourceId};
use pal_core::links::is_guid;

pub const SOURCE: &str = endpoints::LOG_ANALYTICS.source;
pub const AUDIENCE: &str = endpoints::LOG_ANALYTICS.audience;
const BASE: &str = endpoints::LOG_ANALYTICS.base;

/// Records one query answers at most (the query API's documented limit):
/// an answer that holds this many may have been cut.
pub const ROW_LIMIT: usize = 500_000;

/// The columns read, by name (the Azure Monitor table reference for
/// `CIEventsAudit` / `CIEventsOperational`; `SubmittedBy` is the
/// operational table's workflow submitter, null in the audit table).
const COLUMNS: [&str; 7] = [
    "TimeGenerated",
    "Type",
    "OperationName",
    "InstanceId",
    "CallerObjectId",
    "UserPrincipalName",
    "SubmittedBy",
];

/// Both tables over the request's `timespan`. No text from the command line
/// or from an answer is ever put into it.
const QUERY: &str = "union CIEventsAudit, CIEventsOperational\n\
| project TimeGenerated, Type, OperationName, InstanceId, CallerObjectId, UserPrincipalName, SubmittedBy\n\
| order by TimeGenerated asc";

/// What one query gave.
#[derive(Debug, Default, PartialEq)]
pub struct ActivityRead {
    pub events: Vec<CiEvent>,
    /// Rows in the answer.
    pub rows: usize,
    /// Rows naming no instance or no user: no evidence of anyone.
    pub skipped: usize,
    /// Why the answer is not the whole window, when it is not.
    pub partial: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireAnswer {
    #[serde(default)]
    tables: Option<Vec<WireTable>>,
    #[serde(default)]
    error: Option<WireError>,
}

#[derive(Debug, Deserialize)]
struct WireTable {
    #[serde(default)]
    name: Option<String>,
    columns: Vec<WireColumn>,
    rows: Vec<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
struct WireColumn {
    name: String,
}

#[derive(Debug, Deserialize)]
struct WireError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl WireError {
    fn describe(&self) -> String {
        match (&self.code, &self.message) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.clone(),
            (None, Some(m)) => m.clone(),
            (None, None) => "an error without code or message".into(),
        }
    }
}

fn query_url(workspace: &str) -> String {
    format!("{BASE}/workspaces/{}/query", crate::http::seg(workspace))
}

/// The request body: our query over `since/now`.
fn body(query: &str, since: DateTime<Utc>, now: DateTime<Utc>) -> Vec<u8> {
    let at = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    serde_json::to_vec(&json!({"query": query, "timespan": format!("{}/{}", at(since), at(now))}))
        .expect("a JSON value serializes")
}

async fn run(
    http: &HttpClient,
    workspace: &str,
    query: &str,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<ActivityRead, HttpError> {
    if !is_guid(workspace) {
        return Err(HttpError::BadUrl(format!(
            "--ci-workspace {workspace:?} is not a workspace id (a GUID)"
        )));
    }
    let ctx = Ctx::new(SOURCE, AUDIENCE);
    let body = body(query, since, now);
    // A query reads and changes nothing: safe to repeat.
    let (target, answer) = http
        .send(
            &ctx,
            reqwest::Method::POST,
            &query_url(workspace),
            Some(&body),
            true,
        )
        .await?;
    decode(&target, &answer, ROW_LIMIT)
}

/// The Customer Insights events of `since..now` in `workspace`.
pub async fn read(
    http: &HttpClient,
    workspace: &str,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<ActivityRead, HttpError> {
    run(http, workspace, QUERY, since, now).await
}

/// `doctor`: the identity may query the workspace (Log Analytics Reader),
/// and the answer has the columns an audit reads. One row of the last day.
pub async fn probe(http: &HttpClient, workspace: &str) -> Result<usize, HttpError> {
    const PROBE: &str = "union CIEventsAudit, CIEventsOperational\n\
| project TimeGenerated, Type, OperationName, InstanceId, CallerObjectId, UserPrincipalName, SubmittedBy\n\
| take 1";
    let now = Utc::now();
    run(http, workspace, PROBE, now - chrono::Duration::days(1), now)
        .await
        .map(|r| r.rows)
}

/// Decodes one answer into events. Errors name the URL and the JSON path:
/// a missing column names the column.
pub fn decode(target: &Target, body: &[u8], limit: usize) -> Result<ActivityRead, HttpError> {
    let url = || crate::http::rewrite::display(&target.real);
    let bad = |path: String, detail: String| HttpError::Decode {
        url: url(),
        path,
        detail,
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        // 204: "the workspace has no data" [C errors.md]; a 200 without a
        // body: the request was not understood. Neither says nobody was
        // active.
        return Err(HttpError::Service(format!(
            "{}: the query API answered no body (the workspace holds no data, or the request was not understood): are the Customer Insights diagnostics sent to this workspace?",
            url()
        )));
    }
    let answer: WireAnswer = crate::http::decode(target, body)?;
    let mut partial = Vec::new();
    match (&answer.error, &answer.tables) {
        (Some(e), None) => {
            return Err(HttpError::Service(format!(
                "{}: the query failed ({})",
                url(),
                e.describe()
            )));
        }
        // PartialError, or any other error beside tables: what came is
        // not all there is.
        (Some(e), Some(_)) => partial.push(format!("the service reported {}", e.describe())),
        (None, None) => return Err(bad("$".into(), "no `tables` in the answer".into())),
        (None, Some(_)) => {}
    }
    let tables = answer.tables.unwrap_or_default();
    let Some((t, table)) = tables
        .iter()
        .enumerate()
        .find(|(_, t)| t.name.as_deref() == Some("PrimaryResult"))
        .or_else(|| {
            tables
                .iter()
                .enumerate()
                .next()
                .filter(|_| tables.len() == 1)
        })
    else {
        return Err(bad(
            "$.tables".into(),
            "no PrimaryResult table in the answer".into(),
        ));
    };
    let mut at = [0usize; COLUMNS.len()];
    for (slot, name) in at.iter_mut().zip(COLUMNS) {
        *slot = table
            .columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| {
                bad(
                    format!("$.tables[{t}].columns"),
                    format!("no column {name} (the query projects it; was it renamed?)"),
                )
            })?;
    }
    let [time, kind, operation, instance, caller, upn, submitted] = at;
    let mut out = ActivityRead {
        rows: table.rows.len(),
        ..ActivityRead::default()
    };
    for (i, row) in table.rows.iter().enumerate() {
        let path = |c: usize| format!("$.tables[{t}].rows[{i}][{c}]");
        if row.len() != table.columns.len() {
            return Err(bad(
                format!("$.tables[{t}].rows[{i}]"),
                format!("{} values for {} columns", row.len(), table.columns.len()),
            ));
        }
        let text = |c: usize| -> Result<Option<&str>, HttpError> {
            match &row[c] {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.trim()).filter(|s| !s.is_empty())),
                other => Err(bad(
                    path(c),
                    format!(
                        "{}: expected a string, found {other}",
                        column_name(table, c)
                    ),
                )),
            }
        };
        let when = text(time)?.ok_or_else(|| bad(path(time), "TimeGenerated is empty".into()))?;
        let when = super::wire::parse_time(when)
            .ok_or_else(|| bad(path(time), format!("TimeGenerated {when:?} is not a time")))?;
        let who = match (text(caller)?, text(submitted)?, text(upn)?) {
            (Some(id), _, _) if is_guid(id) => Some(PrincipalId::new(id)),
            (_, Some(id), _) if is_guid(id) => Some(PrincipalId::new(id)),
            (_, _, Some(upn)) if upn.contains('@') => Some(PrincipalId::upn_placeholder(upn)),
            _ => None,
        };
        let (Some(who), Some(on)) = (who, text(instance)?) else {
            out.skipped += 1;
            continue;
        };
        out.events.push(CiEvent {
            instance: ResourceId::new(on),
            caller: who,
            at: when,
            operation: text(operation)?
                .or(text(kind)?)
                .unwrap_or("activity")
                .to_string(),
        });
    }
    if out.rows >= limit {
        partial.push(format!(
            "the answer holds {} rows, the query API's limit: later events may be missing (shorten --activity-days)",
            out.rows
        ));
    }
    if !partial.is_empty() {
        out.partial = Some(partial.join("; "));
    }
    Ok(out)
}

fn column_name(table: &WireTable, c: usize) -> &str {
    table.columns.get(c).map_or("?", |c| c.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        crate::http::ApiBase::real()
            .target("https://api.loganalytics.io/v1/workspaces/w/query")
            .unwrap()
    }

    const I1: &str = "e1000000-0000-4000-8000-000000000001";
    const U1: &str = "11111111-1111-4111-8111-000000000001";

    fn answer(columns: &[&str], rows: Value) -> Vec<u8> {
        let cols: Vec<Value> = columns
            .iter()
            .map(|c| json!({"name": c, "type": "string"}))
            .collect();
        serde_json::to_vec(
            &json!({"tables": [{"name": "PrimaryResult", "columns": cols, "rows": rows}]}),
        )
        .unwrap()
    }

    #[test]
    fn columns_are_read_by_name_in_any_order() {
        let a = answer(
            &COLUMNS,
            json!([[
                "2026-11-10T09:15:00Z",
                "CIEventsAudit",
                "Segments.Refresh",
                I1,
                U1,
                "a@x.com",
                null
            ]]),
        );
        let mut reversed = COLUMNS;
        reversed.reverse();
        let b = answer(
            &reversed,
            json!([[
                null,
                "a@x.com",
                U1,
                I1,
                "Segments.Refresh",
                "CIEventsAudit",
                "2026-11-10T09:15:00Z"
            ]]),
        );
        let a = decode(&target(), &a, ROW_LIMIT).unwrap();
        let b = decode(&target(), &b, ROW_LIMIT).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.events.len(), 1);
        assert_eq!(a.events[0].caller.as_str(), U1);
        assert_eq!(a.events[0].instance, ResourceId::new(I1));
        assert_eq!(a.events[0].operation, "Segments.Refresh");
        assert_eq!(a.partial, None);
    }

    #[test]
    fn the_user_is_the_caller_the_submitter_or_the_upn() {
        let a = answer(
            &COLUMNS,
            json!([
                [
                    "2026-11-10T09:15:00Z",
                    "CIEventsOperational",
                    "Unification.WorkflowStarted",
                    I1,
                    "",
                    "",
                    U1
                ],
                [
                    "2026-11-10T09:16:00Z",
                    "CIEventsAudit",
                    "Segments.Create",
                    I1,
                    null,
                    "Ann@Contoso.com",
                    null
                ],
                [
                    "2026-11-10T09:17:00Z",
                    "CIEventsAudit",
                    "Segments.Create",
                    I1,
                    null,
                    null,
                    null
                ],
                [
                    "2026-11-10T09:18:00Z",
                    "CIEventsAudit",
                    "Segments.Create",
                    null,
                    U1,
                    null,
                    null
                ]
            ]),
        );
        let r = decode(&target(), &a, ROW_LIMIT).unwrap();
        assert_eq!(r.rows, 4);
        assert_eq!(r.skipped, 2, "no user, no instance: no evidence");
        assert_eq!(r.events[0].caller.as_str(), U1);
        assert_eq!(
            r.events[1].caller,
            PrincipalId::upn_placeholder("Ann@Contoso.com")
        );
    }

    #[test]
    fn a_missing_or_renamed_column_is_a_decode_error_naming_it() {
        let mut cols = COLUMNS.to_vec();
        cols[4] = "CallerObjectID";
        let e = decode(&target(), &answer(&cols, json!([])), ROW_LIMIT)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no column CallerObjectId"), "{e}");
        assert!(e.contains("$.tables[0].columns"), "{e}");
        let e = decode(&target(), &answer(&COLUMNS[1..], json!([])), ROW_LIMIT)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no column TimeGenerated"), "{e}");
    }

    #[test]
    fn bad_rows_and_shapes_are_errors_never_no_activity() {
        let short = answer(&COLUMNS, json!([["2026-11-10T09:15:00Z"]]));
        assert!(matches!(
            decode(&target(), &short, ROW_LIMIT),
            Err(HttpError::Decode { .. })
        ));
        let bad_time = answer(
            &COLUMNS,
            json!([["yesterday", "CIEventsAudit", "x", I1, U1, null, null]]),
        );
        let e = decode(&target(), &bad_time, ROW_LIMIT)
            .unwrap_err()
            .to_string();
        assert!(e.contains("rows[0][0]") && e.contains("yesterday"), "{e}");
        for body in [&b""[..], b"  ", b"{}", b"{\"tables\": []}"] {
            assert!(decode(&target(), body, ROW_LIMIT).is_err(), "{body:?}");
        }
        let failed = br#"{"error": {"code": "BadArgumentError", "message": "no"}}"#;
        let e = decode(&target(), failed, ROW_LIMIT)
            .unwrap_err()
            .to_string();
        assert!(e.contains("BadArgumentError"), "{e}");
    }

    #[test]
    fn partial_error_is_a_partial_read() {
        let mut a: Value = serde_json::from_slice(&answer(
            &COLUMNS,
            json!([[
                "2026-11-10T09:15:00Z",
                "CIEventsAudit",
                "x",
                I1,
                U1,
                null,
                null
            ]]),
        ))
        .unwrap();
        a["error"] = json!({"code": "PartialError", "message": "There were some errors when processing your query.", "details": []});
        let r = decode(&target(), &serde_json::to_vec(&a).unwrap(), ROW_LIMIT).unwrap();
        assert_eq!(r.events.len(), 1, "what came is kept");
        assert!(r.partial.as_deref().unwrap().contains("PartialError"));
    }

    #[test]
    fn an_answer_at_the_row_limit_is_partial() {
        let row = json!([
            "2026-11-10T09:15:00Z",
            "CIEventsAudit",
            "x",
            I1,
            U1,
            null,
            null
        ]);
        let a = answer(&COLUMNS, json!([row.clone(), row.clone(), row]));
        let r = decode(&target(), &a, 3).unwrap();
        assert!(r.partial.as_deref().unwrap().contains("3 rows"), "{r:?}");
        assert_eq!(decode(&target(), &a, 4).unwrap().partial, None);
    }

    #[test]
    fn the_query_is_ours_and_the_window_is_the_timespan() {
        let since = "2026-10-21T00:00:00Z".parse().unwrap();
        let now = "2026-11-20T00:00:00Z".parse().unwrap();
        let b: Value = serde_json::from_slice(&body(QUERY, since, now)).unwrap();
        assert_eq!(b["timespan"], "2026-10-21T00:00:00Z/2026-11-20T00:00:00Z");
        assert_eq!(b["query"], QUERY);
        for c in COLUMNS {
            assert!(QUERY.contains(c), "{c}");
        }
        assert_eq!(
            query_url("0b0b0b0b-0000-4000-8000-000000000001"),
            "https://api.loganalytics.io/v1/workspaces/0b0b0b0b-0000-4000-8000-000000000001/query"
        );
    }
}
