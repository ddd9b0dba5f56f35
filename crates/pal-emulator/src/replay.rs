//! `emulate --replay DIR`: serves the responses `audit --record DIR` saved,
//! each request getting the next recorded answer for the same method, host,
//! path, query and request body (the last one repeats). A request the
//! recording does not hold gets 404 `NotRecorded`, and is logged.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::Running;
use crate::Error;
use pal_core::record::{self, Exchange, Manifest};

struct Replay {
    manifest: Manifest,
    answers: Mutex<BTreeMap<String, VecDeque<Exchange>>>,
}

/// Loads the recording in `dir` (exit 2 on a bad file) and serves it.
pub async fn start(dir: &Path, port: u16) -> Result<(Running, usize), Error> {
    let (manifest, by_key) = record::load(dir)?;
    let count = by_key.values().map(Vec::len).sum();
    let replay = Arc::new(Replay {
        manifest,
        answers: Mutex::new(
            by_key
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
        ),
    });
    let server = super::serve(Router::new().fallback(handle).with_state(replay), port).await?;
    Ok((server, count))
}

async fn handle(
    State(replay): State<Arc<Replay>>,
    method: Method,
    uri: Uri,
    body: axum::body::Bytes,
) -> Response {
    let raw = uri.path().trim_start_matches('/');
    let (host, rest) = raw.split_once('/').unwrap_or((raw, ""));
    let path = format!("/{rest}");
    let query = uri.query().unwrap_or_default();
    let with_body = !body.is_empty();
    let key = if replay.manifest.redacted {
        let (path, query) = record::redact_target(&path, query);
        record::key(
            method.as_str(),
            host,
            &path,
            &query,
            with_body.then(|| record::redacted_sha(&body)).as_deref(),
        )
    } else {
        record::key(
            method.as_str(),
            host,
            &path,
            query,
            with_body.then(|| record::sha256_hex(&body)).as_deref(),
        )
    };
    let answer = {
        let mut answers = replay.answers.lock().expect("replay answers");
        answers.get_mut(&key).and_then(|q| {
            if q.len() > 1 {
                q.pop_front()
            } else {
                q.front().cloned()
            }
        })
    };
    let Some(e) = answer else {
        tracing::warn!(%key, "not in the recording");
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"error": {"code": "NotRecorded", "message": "the recording holds no answer to this request"}}).to_string(),
        )
            .into_response();
    };
    let text = match &e.body {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let mut r = (
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response();
    if let Some(ra) = e
        .retry_after
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        r.headers_mut().insert(header::RETRY_AFTER, ra);
    }
    if let Some(next) = e
        .next_page_uri
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        r.headers_mut().insert("NextPageUri", next);
    }
    r
}
