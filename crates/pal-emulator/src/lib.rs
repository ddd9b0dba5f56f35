//! pal-emulator: an axum server on loopback that plays a tenant model at
//! `http://127.0.0.1:PORT/HOST/PATH` in the real shapes and paths of the
//! services pal-audit reads (BAP, Power Apps, Power Automate, Dataverse,
//! Power BI, Customer Insights, Log Analytics, Graph, ARM, the Office 365
//! Management Activity API), with real paging, the services'
//! limits and injected faults. It depends on pal-core only: it never sees
//! pal-client's wire types, so a drift between the two shows in the tests.

mod caps;
mod clock;
pub mod contoso;
pub mod faults;
pub mod model;
pub mod replay;
mod routes;
pub mod synthetic;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;
use tokio::sync::oneshot;

pub use pal_core::InputError;

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The port is taken, or the server would not run.
    #[error("emulator: {0}")]
    Start(String),
    /// A bad tenant model or recording: names the file.
    #[error(transparent)]
    Input(#[from] InputError),
}
pub use faults::{FaultKind, Faults};
pub use model::TenantModel;
pub use routes::management_activity::content_blobs;

/// Knobs of `pal-audit emulate`.
#[derive(Debug)]
pub struct Options {
    /// Items per page (the client's `$top` can only lower it).
    pub page_size: usize,
    /// Added to every request.
    pub latency: Duration,
    pub faults: Faults,
    /// Requests in flight per host above which it answers 429 with
    /// Retry-After, as the services do; Dataverse hosts always stop at 52.
    pub host_limit: Option<usize>,
    /// Power BI's hourly caps pass this many times faster (`--time-scale`).
    pub time_scale: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            page_size: 100,
            latency: Duration::ZERO,
            faults: Faults::default(),
            host_limit: None,
            time_scale: 1.0,
        }
    }
}

struct Shared {
    /// Writes (owner changes, take-overs, links) change the tenant.
    model: std::sync::RwLock<TenantModel>,
    options: Options,
    /// Requests in flight per host.
    inflight: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    /// Power BI's hourly caps.
    caps: caps::Caps,
    /// Ends each request's latency on time.
    clock: clock::Clock,
    /// Power BI scans started: id -> (workspace ids, status polls so far).
    scans: std::sync::Mutex<std::collections::HashMap<String, (Vec<String>, u32)>>,
}

/// A started emulator; stops when dropped or on `stop`.
pub struct Running {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// What to pass as `--api-base`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts serving `model` on 127.0.0.1:`port` (0 for a free port).
pub async fn start(model: TenantModel, options: Options, port: u16) -> Result<Running, Error> {
    // Built on the first request, the index held every request that came
    // with it (25 ms for a 30,000-item tenant), as no service does.
    model.build_index();
    let shared = Arc::new(Shared {
        model: std::sync::RwLock::new(model),
        caps: caps::Caps::new(options.time_scale),
        clock: clock::Clock::new(),
        options,
        inflight: std::sync::Mutex::default(),
        scans: std::sync::Mutex::default(),
    });
    serve(Router::new().fallback(handle).with_state(shared), port).await
}

/// Serves `app` on 127.0.0.1:`port` until stopped.
async fn serve(app: Router, port: u16) -> Result<Running, Error> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| Error::Start(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Start(e.to_string()))?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Running {
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": {"code": code, "message": message}}).to_string(),
    )
        .into_response()
}

/// Dataverse's documented limit of concurrent requests per user.
const DATAVERSE_CONCURRENCY: usize = 52;

/// Counts a request in flight for its host until dropped.
struct InFlight<'a> {
    shared: &'a Shared,
    host: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(n) = self
            .shared
            .inflight
            .lock()
            .expect("inflight")
            .get_mut(&self.host)
        {
            *n = n.saturating_sub(1);
        }
    }
}

async fn handle(
    State(st): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let arrived = std::time::Instant::now();
    let raw = uri.path().trim_start_matches('/');
    let (host, rest) = raw.split_once('/').unwrap_or((raw, ""));
    let host = host.to_ascii_lowercase();
    let limit = if host.contains(".crm") && host.contains(".dynamics.com") {
        Some(
            st.options
                .host_limit
                .map_or(DATAVERSE_CONCURRENCY, |l| l.min(DATAVERSE_CONCURRENCY)),
        )
    } else {
        st.options.host_limit
    };
    // A request is in flight from its arrival to its answer, latency
    // included, as the services count it.
    let slot = {
        let mut inflight = st.inflight.lock().expect("inflight");
        let n = inflight.entry(host.clone()).or_insert(0);
        limit.is_none_or(|l| *n < l).then(|| {
            *n += 1;
            InFlight {
                shared: &st,
                host: host.clone(),
            }
        })
    };
    // The answer is made while the latency runs, as a service's own work is
    // part of the time it takes: made after it, sixteen answers due at once
    // queued on the emulator's two threads and every round of a benchmark
    // paid for them.
    let response = if slot.is_some() {
        answer(&st, &method, &uri, &headers, &body, &host, rest)
    } else {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "too many requests in flight",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    };
    if !st.options.latency.is_zero() {
        st.clock.sleep_until(arrived + st.options.latency).await;
    }
    drop(slot);
    response
}

/// The answer to one request that got a slot: authorization, the hourly
/// caps, injected faults, then the route.
fn answer(
    st: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    host: &str,
    rest: &str,
) -> Response {
    // Like the real services: no bearer token, no answer.
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| !t.trim().is_empty());
    if !authorized {
        return error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "a bearer token is required",
        );
    }
    let path = format!("/{rest}");
    if let Err(wait) = st.caps.take(host, &path, std::time::Instant::now()) {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "the hourly limit of this Power BI admin API is used up",
        );
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let fault = st.options.faults.pick_request(
        &format!("{host}{path}"),
        &format!(
            "{method} {host}{path}?{} {:x}",
            uri.query().unwrap_or(""),
            {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                body.hash(&mut h);
                h.finish()
            }
        ),
    );
    match &fault {
        Some(FaultKind::Throttle { seconds, as_date }) => {
            let value = if *as_date {
                // Saturating: `429-date:18446744073709551615` must not panic.
                let now = std::time::SystemTime::now();
                httpdate::fmt_http_date(
                    now.checked_add(Duration::from_secs(*seconds))
                        .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400)),
                )
            } else {
                seconds.to_string()
            };
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "throttled",
            );
            if let Ok(v) = HeaderValue::from_str(&value) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Some(FaultKind::Af429 { seconds }) => {
            // The Management Activity API's throttling: HTTP 403, code AF429.
            let mut r = error(
                StatusCode::FORBIDDEN,
                "AF429",
                "Too many requests. Method=GetBlob, PublisherId=00000000-0000-0000-0000-000000000000",
            );
            if let Some(s) = seconds
                && let Ok(v) = HeaderValue::from_str(&s.to_string())
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Some(FaultKind::Status(s)) => {
            let status = StatusCode::from_u16(*s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, "ServiceUnavailable", "injected fault");
        }
        Some(FaultKind::ForbiddenEnvironment(_)) => {
            return error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "The caller does not have permission to read this environment.",
            );
        }
        Some(FaultKind::Redirect(to)) => {
            return Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, to.as_str())
                .body(Body::empty())
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
        _ => {}
    }
    if fault == Some(FaultKind::LostWrite) && method != Method::GET {
        // Accepted and forgotten: only a re-read can tell.
        return StatusCode::OK.into_response();
    }
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let segments = routes::segments(rest);
    let req = routes::Req {
        method,
        host,
        path: &path,
        query: &query,
        headers,
        body,
        page_size: st.options.page_size,
    };
    // Its paging is in a response header: the route makes the response.
    if host == "manage.office.com" {
        return routes::management_activity::handle(st, &req, &segments);
    }
    let (status, mut body) = routes::route(st, &req, &segments);
    match &fault {
        Some(FaultKind::RepeatNext) if body.get("value").is_some() => {
            // The page names itself as the next one, in the real URL form.
            let q = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            set_next_link(&mut body, host, format!("https://{host}{path}{q}"));
        }
        Some(FaultKind::TokenOnly) if body.get("activityEventEntities").is_some() => {
            if let Some(page) = body.as_object_mut() {
                page.remove("continuationUri");
            }
        }
        Some(FaultKind::PartialError) if body.get("tables").is_some() => {
            if let Some(rows) = body
                .pointer_mut("/tables/0/rows")
                .and_then(|r| r.as_array_mut())
            {
                rows.pop();
            }
            body["error"] = json!({
                "code": "PartialError",
                "message": "There were some errors when processing your query.",
                "details": [{"code": "EngineError", "message": "Something went wrong processing your query on the server."}]
            });
        }
        Some(FaultKind::ScanStatus(s)) if body.get("status").is_some() => {
            body["status"] = json!(s);
        }
        Some(FaultKind::NotAList(shape)) if body.get("value").is_some() => {
            body = match shape.as_str() {
                "array" => json!([]),
                "error" => {
                    json!({"error": {"code": "InternalServerError", "message": "answered with 200"}})
                }
                "other" => json!({"items": body["value"].clone()}),
                _ => json!({}),
            };
        }
        Some(FaultKind::ReplayPage) if body.get("value").is_some() => {
            let q = uri.query().map(|q| format!("?{q}&")).unwrap_or("?".into());
            set_next_link(
                &mut body,
                host,
                format!("https://{host}{path}{q}replayed=1"),
            );
        }
        Some(FaultKind::EchoSecrets) => {
            let said: Vec<&str> = [header::AUTHORIZATION.as_str(), "ocp-apim-subscription-key"]
                .into_iter()
                .filter_map(|h| headers.get(h).and_then(|v| v.to_str().ok()))
                .collect();
            let echo = format!("you sent {}", said.join(" and "));
            match body.get_mut("value").and_then(|v| v.as_array_mut()) {
                Some(items) if !items.is_empty() => {
                    let first = &mut items[0];
                    match first.get_mut("properties") {
                        Some(props) => props["displayName"] = json!(echo),
                        None => first["displayName"] = json!(echo),
                    }
                }
                _ => {
                    return error(StatusCode::BAD_REQUEST, "EchoedSecret", &echo);
                }
            }
        }
        Some(FaultKind::ForeignNext) if body.get("value").is_some() => {
            set_next_link(&mut body, host, format!("https://attacker.example{path}"));
        }
        Some(FaultKind::ForeignDataverse) => {
            if let Some(items) = body.get_mut("value").and_then(|v| v.as_array_mut()) {
                for item in items {
                    if let Some(meta) = item.pointer_mut("/properties/linkedEnvironmentMetadata")
                        && meta.get("instanceApiUrl").is_some()
                    {
                        meta["instanceApiUrl"] = json!("https://attacker.example");
                        meta["instanceUrl"] = json!("https://attacker.example/");
                    }
                }
            }
        }
        Some(FaultKind::Duplicate { changed }) => {
            if let Some(items) = body.get_mut("value").and_then(|v| v.as_array_mut())
                && let Some(first) = items.first().cloned()
            {
                let mut again = first;
                if *changed {
                    for key in ["displayName", "name"] {
                        if let Some(props) = again.get_mut("properties")
                            && props.get(key).is_some()
                        {
                            props[key] = json!("Changed on the second listing");
                            break;
                        }
                    }
                    if again.get("properties").is_none() {
                        again["displayName"] = json!("Changed on the second listing");
                    }
                }
                items.push(again);
            }
        }
        Some(FaultKind::Malformed) => {
            return (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"value\": [tru",
            )
                .into_response();
        }
        _ => {}
    }
    // `null` stands for no body: the void writes answer an empty 200.
    if body.is_null() {
        return status.into_response();
    }
    let text = body.to_string();
    if let Some(FaultKind::Slow(ms)) = fault {
        let (first, second) = text.as_bytes().split_at(text.len() / 2);
        let (first, second) = (first.to_vec(), second.to_vec());
        let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(first) }).chain(
            futures::stream::once(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(second)
            }),
        );
        return Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from_stream(stream))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    if fault == Some(FaultKind::Cut) {
        // Headers and half the body, then the connection drops.
        let half = text.as_bytes()[..text.len() / 2].to_vec();
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
            Ok(half),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "cut",
            )),
        ];
        return Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from_stream(futures::stream::iter(chunks)))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// Sets a page's next link, under the name its API uses: OData's
/// `@odata.nextLink` for Graph and Dataverse, `nextLink` for the others (or
/// whichever the page already has).
fn set_next_link(body: &mut serde_json::Value, host: &str, url: String) {
    let key = if body.get("nextLink").is_some()
        || !(host.contains("graph") || host.contains("dynamics"))
    {
        "nextLink"
    } else {
        "@odata.nextLink"
    };
    body[key] = json!(url);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request holds its host's slot for its whole latency, as the
    /// services count it: three at once against a limit of two get one 429.
    #[tokio::test]
    async fn latency_counts_as_in_flight() {
        let options = Options {
            latency: Duration::from_millis(300),
            host_limit: Some(2),
            ..Options::default()
        };
        let model = TenantModel::parse("t.toml", "tenant_id = \"t\"\n").unwrap();
        let server = start(model, options, 0).await.unwrap();
        let url = format!(
            "{}/api.bap.microsoft.com/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?api-version=2021-04-01",
            server.base_url()
        );
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        let calls = (0..3).map(|_| client.get(&url).bearer_auth("t").send());
        let statuses: Vec<u16> = futures::future::join_all(calls)
            .await
            .into_iter()
            .map(|r| r.unwrap().status().as_u16())
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 429).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            2,
            "{statuses:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(300));
        server.stop().await;
    }
}
