//! The one request pipeline every source uses: URL rewrite, per-host
//! concurrency limit, bearer token for the request's audience, retry with
//! Retry-After, JSON decode with JSON-path errors, one pager, request counts.
//!
//! Over 600 lines on purpose: the pipeline's steps are one `HttpClient`
//! whose methods share its state (limits, tokens, budgets, counts, the
//! recording); the self-contained parts are the submodules below.

pub mod body;
pub mod budget;
pub mod hosts;
pub mod limit;
pub use pal_core::record;
pub mod retry;
pub mod rewrite;

use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth::{AuthError, Tokens};
pub use budget::{Budgets, Cap, Exhausted};
use pal_core::inventory::EnvironmentId;
pub use retry::RetryPolicy;
pub use rewrite::{ApiBase, Target};

/// HTTP settings (flags and config file `[http]`).
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Requests in flight per host, unless `per_host` says otherwise.
    pub concurrency: usize,
    pub per_host: HashMap<String, usize>,
    pub retry: RetryPolicy,
    /// Per attempt, headers and body included.
    pub timeout: Duration,
    /// The longest silence while a response arrives: a stalled body is cut
    /// and retried.
    pub read_timeout: Duration,
    /// Client-side caps, by budget name (see `Ctx::budget`).
    pub caps: Vec<(&'static str, Cap)>,
    /// A response body larger than this is refused (a gap, never an
    /// out-of-memory kill).
    pub max_body: u64,
    /// Pages read of one list at most: past it the list is a gap, not a
    /// read that runs until the audit's timeout.
    pub max_pages: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            per_host: HashMap::new(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(100),
            read_timeout: Duration::from_secs(30),
            caps: Vec::new(),
            max_body: 256 << 20,
            max_pages: 20_000,
        }
    }
}

/// Who is asking: the source (for counts and coverage), the environment it
/// reads, the token audience, extra headers and the budget the call draws on.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub source: &'static str,
    pub environment: Option<EnvironmentId>,
    pub audience: Arc<str>,
    /// Sent with every request of this context (OData headers, API keys;
    /// mark secret values sensitive).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Budgets each attempt draws on (see `HttpConfig::caps`).
    pub budgets: Vec<&'static str>,
}

impl Ctx {
    pub fn new(source: &'static str, audience: &str) -> Self {
        Self {
            source,
            environment: None,
            audience: Arc::from(audience),
            headers: Vec::new(),
            budgets: Vec::new(),
        }
    }
    pub fn env(&self, id: &EnvironmentId) -> Self {
        Self {
            environment: Some(id.clone()),
            ..self.clone()
        }
    }
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
    pub fn budget(&self, budget: &'static str) -> Self {
        let mut c = self.clone();
        c.budgets.push(budget);
        c
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{method} {url}: HTTP {status}{}", .detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Status {
        method: Method,
        url: String,
        status: u16,
        /// The service's error code and message, when it sent them.
        detail: Option<String>,
    },
    #[error("{method} {url}: {detail}")]
    Transport {
        method: Method,
        url: String,
        detail: String,
    },
    #[error("{url}: cannot decode the response at {path}: {detail}")]
    Decode {
        url: String,
        path: String,
        detail: String,
    },
    #[error("{url}: the response is larger than the {} MB allowed ([http] max_body_mb)", .limit / (1 << 20))]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: the next link repeats a page already read; paging stopped")]
    RepeatedNextLink { url: String },
    #[error("{url}: a page lists {key} again, already read on an earlier page; paging stopped")]
    RepeatedItem { url: String, key: String },
    #[error("{url}: {key} is listed twice with different contents; the list cannot be trusted")]
    ContradictingDuplicate { url: String, key: String },
    #[error("{url}: more than {limit} pages; paging stopped ([http] max_pages)")]
    TooManyPages { url: String, limit: usize },
    /// A URL from an answer names a host that is not one of the API's own:
    /// refused before any token is attached.
    #[error(
        "{url}: not a host of this API; refused without sending (a token for {audience} goes only to that API's hosts)"
    )]
    ForeignHost { url: String, audience: String },
    #[error("{0}")]
    BadUrl(String),
    /// The audit was stopped (Ctrl-C, `--timeout`) before this call ended.
    #[error("not read: {0}")]
    Stopped(String),
    /// The service answered, but said the work failed (a scan that failed).
    #[error("{0}")]
    Service(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("the client-side budget {} ({} calls) is used up; retry after {}", .0.budget, .0.limit, .0.retry_at.format("%Y-%m-%d %H:%M UTC"))]
    Budget(Exhausted),
}

impl HttpError {
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// 401 or 403: the identity may not read this.
    pub fn is_denied(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }
}

/// How a list's items are told apart (their id) and compared.
type ItemIdentity<T> = (fn(&T) -> String, fn(&T, &T) -> bool);

/// One page of a list: its items and the URL of the next page, if any.
/// `current` is the URL this page came from, for APIs that answer with a bare
/// continuation token rather than a URL.
pub trait Paged: DeserializeOwned {
    type Item;
    fn into_parts(self, current: &str) -> (Vec<Self::Item>, Option<String>);
}

/// `{"value": [...], "nextLink"|"@odata.nextLink": url}`: the BAP, Power Apps,
/// Flow, Graph and Dataverse page.
///
/// A page must carry its list: `{}`, `[]`, a body without `value` or an
/// `{"error": ...}` answered with 200 fail to decode (a gap for that read),
/// never "no items" (attribution would take an app whose co-owners vanished
/// for an app without co-owners).
#[derive(Debug)]
pub struct ValuePage<T> {
    pub value: Vec<T>,
    pub next_link: Option<String>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ValuePage<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw<T> {
            #[serde(default = "Option::default")]
            value: Option<Vec<T>>,
            #[serde(default, rename = "nextLink", alias = "@odata.nextLink")]
            next_link: Option<String>,
            #[serde(default)]
            error: Option<ErrorObject>,
        }
        let raw: Raw<T> = map_only(d, "a list page ({\"value\": [...]})")?;
        if let Some(e) = raw.error {
            return Err(serde::de::Error::custom(e.answered_as_list()));
        }
        Ok(Self {
            value: raw
                .value
                .ok_or_else(|| serde::de::Error::missing_field("value"))?,
            next_link: raw.next_link,
        })
    }
}

/// `{"code", "message"}` of an error object sent where a list was expected.
#[derive(Debug, Deserialize)]
struct ErrorObject {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl ErrorObject {
    fn answered_as_list(&self) -> String {
        let said: Vec<&str> = [self.code.as_deref(), self.message.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        format!(
            "the service answered with an error object instead of the list ({})",
            if said.is_empty() {
                "no code".to_string()
            } else {
                said.join(": ")
            }
        )
    }
}

/// Deserializes `R` from a JSON object only: serde's derived structs also
/// accept an array (`[]` would decode as a page with every field defaulted).
fn map_only<'de, D, R>(d: D, expected: &'static str) -> Result<R, D::Error>
where
    D: serde::Deserializer<'de>,
    R: Deserialize<'de>,
{
    struct Visit<R>(&'static str, std::marker::PhantomData<R>);
    impl<'de, R: Deserialize<'de>> serde::de::Visitor<'de> for Visit<R> {
        type Value = R;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(self.0)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<R, A::Error> {
            R::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_map(Visit(expected, std::marker::PhantomData))
}

impl<T: DeserializeOwned> Paged for ValuePage<T> {
    type Item = T;
    fn into_parts(self, _current: &str) -> (Vec<T>, Option<String>) {
        (self.value, self.next_link.filter(|l| !l.is_empty()))
    }
}

/// Power BI's activity events page: `continuationUri` when the service sends
/// one, else the next URL built from `continuationToken`; done when both are
/// null (`lastResultSet` is unreliable and ignored).
/// Like `ValuePage`, the page must carry its list.
#[derive(Debug)]
pub struct ContinuationPage<T> {
    pub activity_event_entities: Vec<T>,
    pub continuation_uri: Option<String>,
    pub continuation_token: Option<String>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ContinuationPage<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw<T> {
            #[serde(default = "Option::default")]
            activity_event_entities: Option<Vec<T>>,
            #[serde(default)]
            continuation_uri: Option<String>,
            #[serde(default)]
            continuation_token: Option<String>,
            #[serde(default)]
            error: Option<ErrorObject>,
        }
        let raw: Raw<T> = map_only(d, "an activity events page")?;
        if let Some(e) = raw.error {
            return Err(serde::de::Error::custom(e.answered_as_list()));
        }
        Ok(Self {
            activity_event_entities: raw
                .activity_event_entities
                .ok_or_else(|| serde::de::Error::missing_field("activityEventEntities"))?,
            continuation_uri: raw.continuation_uri,
            continuation_token: raw.continuation_token,
        })
    }
}

impl<T: DeserializeOwned> Paged for ContinuationPage<T> {
    type Item = T;
    fn into_parts(self, current: &str) -> (Vec<T>, Option<String>) {
        let next = match (self.continuation_uri, self.continuation_token) {
            (Some(uri), _) if !uri.is_empty() => Some(uri),
            (_, Some(token)) if !token.is_empty() => url::Url::parse(current).ok().map(|mut u| {
                // The token goes back quoted, as the service expects, alone,
                // and as given: the service sends it already percent-encoded
                // (`%2BRID%3A...%3D%3D%23RT%3A1...`), so encoding it again
                // would send `%252B...`, a token it does not know.
                u.set_query(Some(&format!("continuationToken='{token}'")));
                u.to_string()
            }),
            _ => None,
        };
        (self.activity_event_entities, next)
    }
}

enum Attempt {
    Response {
        status: StatusCode,
        retry_after: Option<Duration>,
        body: bytes::Bytes,
    },
    Failed(String),
}

/// The pipeline. Cheap to share behind an `Arc`.
/// What the pipeline does with the body of a 2xx answer: buffer or decode
/// it, and give the value and, when recording, the raw body.
type Read = dyn for<'a> Fn(
        reqwest::Response,
        &'a Target,
    ) -> Pin<
        Box<
            dyn Future<
                    Output = Result<(Box<dyn Any + Send>, Option<bytes::Bytes>), body::BodyFault>,
                > + Send
                + 'a,
        >,
    > + Sync;

pub struct HttpClient {
    client: reqwest::Client,
    base: ApiBase,
    tokens: Arc<Tokens>,
    config: HttpConfig,
    hosts: Mutex<HashMap<String, Arc<limit::HostLimit>>>,
    counts: Mutex<BTreeMap<(&'static str, Option<EnvironmentId>), u64>>,
    budgets: Budgets,
    /// Set once to stop every call (why, for the gaps it leaves).
    stop: tokio::sync::watch::Sender<Option<String>>,
    /// `--record`: every response read.
    recorder: Option<Arc<record::Recorder>>,
}

impl HttpClient {
    pub fn new(base: ApiBase, tokens: Arc<Tokens>, config: HttpConfig) -> Result<Self, String> {
        crate::tls::ensure();
        // Certificate checks stay on: there is deliberately no way to turn them off.
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("pal-audit/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .read_timeout(config.read_timeout)
            .connect_timeout(Duration::from_secs(10))
            .redirect(same_host_redirects(base.clone()))
            .gzip(true);
        if base.is_set() {
            // Every call goes to loopback with a token: a proxy from the
            // environment (HTTP_PROXY, ALL_PROXY) would receive them all.
            // The real hosts keep the environment's proxy settings.
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            client,
            base,
            tokens,
            budgets: Budgets::new(config.caps.iter().copied()),
            config,
            hosts: Mutex::new(HashMap::new()),
            counts: Mutex::new(BTreeMap::new()),
            stop: tokio::sync::watch::Sender::new(None),
            recorder: None,
        })
    }

    /// Keeps every response read from now on (`audit --record`).
    pub fn record(mut self) -> Self {
        self.recorder = Some(Arc::default());
        self
    }

    /// Records one response when recording (`--record`).
    fn keep(
        &self,
        method: &Method,
        target: &Target,
        body: Option<&[u8]>,
        status: StatusCode,
        headers: record::Headers<'_>,
        raw: &[u8],
    ) {
        if let Some(r) = &self.recorder {
            let req = record::Request {
                method: method.as_str(),
                url: &target.real,
                body,
            };
            r.record(&req, status.as_u16(), headers, raw);
        }
    }

    /// The credential's tokens (a source may read its token's claims).
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The responses kept, if recording.
    pub fn recorder(&self) -> Option<&record::Recorder> {
        self.recorder.as_deref()
    }

    /// Stops the audit: calls in flight end now and new ones are not sent;
    /// each fails with `HttpError::Stopped(reason)`, which the sources record
    /// as gaps. The first reason given wins.
    pub fn stop(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.stop.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// Why the audit was stopped, if it was.
    pub fn stopped(&self) -> Option<String> {
        self.stop.borrow().clone()
    }

    async fn wait_for_stop(&self) -> String {
        let mut rx = self.stop.subscribe();
        loop {
            if let Some(r) = rx.borrow_and_update().clone() {
                return r;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    fn host(&self, host: &str) -> Arc<limit::HostLimit> {
        let mut hosts = self.hosts.lock().expect("host map");
        hosts
            .entry(host.to_string())
            .or_insert_with(|| {
                let n = self
                    .config
                    .per_host
                    .get(host)
                    .copied()
                    .unwrap_or(self.config.concurrency);
                Arc::new(limit::HostLimit::new(n))
            })
            .clone()
    }

    fn count(&self, ctx: &Ctx) {
        *self
            .counts
            .lock()
            .expect("count map")
            .entry((ctx.source, ctx.environment.clone()))
            .or_default() += 1;
    }

    /// Requests sent (retries included) by `source` for `environment`.
    pub fn requests(&self, source: &str, environment: Option<&EnvironmentId>) -> u64 {
        self.counts
            .lock()
            .expect("count map")
            .iter()
            .filter(|((s, e), _)| *s == source && e.as_ref() == environment)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Requests sent so far, retries included.
    pub fn total_requests(&self) -> u64 {
        self.counts.lock().expect("count map").values().sum()
    }

    /// Requests sent so far, by source.
    pub fn requests_by_source(&self) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        for ((source, _), n) in self.counts.lock().expect("count map").iter() {
            *out.entry(*source).or_default() += n;
        }
        out
    }

    /// GET `url` and decode it as `T`.
    pub async fn get_json<T: DeserializeOwned + Send + 'static>(
        &self,
        ctx: &Ctx,
        url: &str,
    ) -> Result<T, HttpError> {
        let cap = self.config.max_body;
        let keep = self.recorder.is_some();
        let read: &Read = &move |resp, target| {
            Box::pin(async move {
                body::decode_body::<T>(resp, target, cap, keep)
                    .await
                    .map(|(v, raw)| (Box::new(v) as Box<dyn Any + Send>, raw))
            })
        };
        let (_, value) = self
            .send_with(ctx, Method::GET, url, None, true, read)
            .await?;
        Ok(*value
            .downcast::<T>()
            .expect("the reader gives the type it was made for"))
    }

    /// GET `url`'s whole body and the value of the first of `headers` the
    /// response has (names are case-insensitive): the Management Activity
    /// API pages by a `NextPageUri` header, not in the body.
    pub async fn get_with_header(
        &self,
        ctx: &Ctx,
        url: &str,
        headers: &'static [&'static str],
    ) -> Result<(Target, bytes::Bytes, Option<String>), HttpError> {
        let cap = self.config.max_body;
        let read: &Read = &move |resp, target| {
            Box::pin(async move {
                let value = headers
                    .iter()
                    .find_map(|h| resp.headers().get(*h))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                body::buffer(resp, target, cap)
                    .await
                    .map(|b| (Box::new((b.clone(), value)) as Box<dyn Any + Send>, Some(b)))
            })
        };
        let (target, out) = self
            .send_with(ctx, Method::GET, url, None, true, read)
            .await?;
        let (body, value) = *out
            .downcast::<(bytes::Bytes, Option<String>)>()
            .expect("the reader gives the type it was made for");
        Ok((target, body, value))
    }

    /// Sends `method` with a JSON body and decodes the answer (an empty
    /// answer decodes as `null`).
    pub async fn send_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        ctx: &Ctx,
        method: Method,
        url: &str,
        body: &B,
        idempotent: bool,
    ) -> Result<T, HttpError> {
        let bytes = serde_json::to_vec(body).expect("request bodies always serialize");
        let (target, body) = self
            .send(ctx, method, url, Some(&bytes), idempotent)
            .await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return decode(&target, b"null");
        }
        decode(&target, &body)
    }

    /// POST a JSON body and decode the answer. `idempotent` says whether it
    /// is safe to repeat (Power BI's `getInfo` and Graph `$batch` of GETs are).
    pub async fn post_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        ctx: &Ctx,
        url: &str,
        body: &B,
        idempotent: bool,
    ) -> Result<T, HttpError> {
        let bytes = serde_json::to_vec(body).expect("request bodies always serialize");
        let (target, body) = self
            .send(ctx, Method::POST, url, Some(&bytes), idempotent)
            .await?;
        decode(&target, &body)
    }

    /// Every item of a paged list, following next links until there is none.
    /// A next link that repeats one already read stops with an error rather
    /// than looping.
    pub async fn get_all<P: Paged + Send + 'static>(
        &self,
        ctx: &Ctx,
        first: &str,
    ) -> Result<Vec<P::Item>, HttpError> {
        self.get_all_keyed::<P>(ctx, first, None).await
    }

    /// `get_all` for a list of things with ids (environments, apps, flows):
    /// an item listed twice on one page with the same contents is kept once,
    /// with other contents it is an error; an item an earlier page listed
    /// means the paging went round (a page served again under a changed next
    /// link), and the list ends as an error. Never two findings for one id.
    pub async fn get_all_by_id<P>(
        &self,
        ctx: &Ctx,
        first: &str,
        id: fn(&P::Item) -> String,
    ) -> Result<Vec<P::Item>, HttpError>
    where
        P: Paged + Send + 'static,
        P::Item: PartialEq,
    {
        self.get_all_keyed::<P>(ctx, first, Some((id, <P::Item as PartialEq>::eq)))
            .await
    }

    async fn get_all_keyed<P>(
        &self,
        ctx: &Ctx,
        first: &str,
        id: Option<ItemIdentity<P::Item>>,
    ) -> Result<Vec<P::Item>, HttpError>
    where
        P: Paged + Send + 'static,
    {
        let mut items: Vec<P::Item> = Vec::new();
        let mut seen = HashSet::new();
        // Item id -> the page it was first listed on.
        let mut listed: HashMap<String, usize> = HashMap::new();
        let mut url = first.to_string();
        for page_number in 0.. {
            let target = self.base.target(&url).map_err(HttpError::BadUrl)?;
            let shown = || rewrite::display(&target.real);
            if page_number >= self.config.max_pages.max(1) {
                return Err(HttpError::TooManyPages {
                    url: shown(),
                    limit: self.config.max_pages,
                });
            }
            if !seen.insert(target.url.to_string()) {
                return Err(HttpError::RepeatedNextLink { url: shown() });
            }
            let page: P = self.get_json(ctx, &url).await?;
            let (batch, next) = page.into_parts(&url);
            match id {
                None => items.extend(batch),
                Some((id, same_item)) => {
                    let page_start = items.len();
                    for item in batch {
                        let key = id(&item);
                        match listed.get(&key) {
                            None => {
                                listed.insert(key, page_number);
                                items.push(item);
                            }
                            Some(p) if *p != page_number => {
                                return Err(HttpError::RepeatedItem { url: shown(), key });
                            }
                            Some(_) => {
                                let same = items[page_start..]
                                    .iter()
                                    .any(|known| id(known) == key && same_item(known, &item));
                                if !same {
                                    return Err(HttpError::ContradictingDuplicate {
                                        url: shown(),
                                        key,
                                    });
                                }
                            }
                        }
                    }
                }
            }
            match next {
                Some(next) => url = next,
                None => return Ok(items),
            }
        }
        unreachable!("the page loop ends by returning")
    }

    /// Sends one request through the pipeline and returns the whole body of
    /// a 2xx answer. Idempotent requests are retried on throttling, server
    /// errors, broken connections and bodies cut short.
    pub async fn send(
        &self,
        ctx: &Ctx,
        method: Method,
        url: &str,
        body: Option<&[u8]>,
        idempotent: bool,
    ) -> Result<(Target, bytes::Bytes), HttpError> {
        let cap = self.config.max_body;
        let read: &Read = &move |resp, target| {
            Box::pin(async move {
                body::buffer(resp, target, cap)
                    .await
                    .map(|b| (Box::new(b.clone()) as Box<dyn Any + Send>, Some(b)))
            })
        };
        let (target, out) = self
            .send_with(ctx, method, url, body, idempotent, read)
            .await?;
        Ok((
            target,
            *out.downcast::<bytes::Bytes>()
                .expect("the reader gives the type it was made for"),
        ))
    }

    /// The pipeline, with `read` taking the body of a 2xx answer (buffered,
    /// or decoded as it arrives) and giving the value and, when recording,
    /// the raw body. A body cut short is retried like a broken connection.
    ///
    /// Not generic: the value is boxed, so the pipeline is compiled once, not
    /// once for every type a caller decodes (it was, in every crate that
    /// called `get_json`: a third of the release build of the binary).
    async fn send_with(
        &self,
        ctx: &Ctx,
        method: Method,
        url: &str,
        body: Option<&[u8]>,
        idempotent: bool,
        read: &Read,
    ) -> Result<(Target, Box<dyn Any + Send>), HttpError> {
        // A stop drops the call wherever it is: waiting for a slot, a budget,
        // a retry, or in flight (reqwest cancels a dropped request).
        let attempts = async {
            let target = self.base.target(url).map_err(HttpError::BadUrl)?;
            let shown = rewrite::display(&target.real);
            if !hosts::may_receive(&ctx.audience, &target.real) {
                return Err(HttpError::ForeignHost {
                    url: shown,
                    audience: ctx.audience.to_string(),
                });
            }
            let host = self.host(&target.real_host);
            let policy = self.config.retry;
            let started = Instant::now();
            let mut renewed_token = false;
            let mut attempt: u32 = 0;
            loop {
                attempt += 1;
                let outcome = {
                    // The budget first: waiting for a per-minute cap must not
                    // hold one of the host's slots.
                    for b in &ctx.budgets {
                        self.budgets.take(b).await.map_err(HttpError::Budget)?;
                    }
                    let _slot = host.acquire().await;
                    let token = self.tokens.token(&ctx.audience).await?;
                    let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                        .map_err(|_| AuthError::Token {
                            audience: ctx.audience.to_string(),
                            detail: "the token is not a valid header value".into(),
                        })?;
                    // Keeps the value out of any Debug output of the request.
                    auth.set_sensitive(true);
                    let mut req = self
                        .client
                        .request(method.clone(), target.url.clone())
                        .header(AUTHORIZATION, auth)
                        .header(ACCEPT, "application/json");
                    for (name, value) in &ctx.headers {
                        req = req.header(name, value.clone());
                    }
                    if let Some(b) = body {
                        req = req
                            .header(CONTENT_TYPE, "application/json")
                            .body(b.to_vec());
                    }
                    self.count(ctx);
                    tracing::debug!(source = ctx.source, %method, url = %shown, attempt, "request");
                    match req.send().await {
                        Err(e) => Attempt::Failed(describe_reqwest(e)),
                        Ok(resp) if resp.status().is_success() => {
                            let status = resp.status();
                            // Kept for a recording: the one paging header.
                            let next_page = self.recorder.as_ref().and_then(|_| {
                                ["NextPageUri", "NextPageUrl"]
                                    .iter()
                                    .find_map(|h| resp.headers().get(*h))
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_string)
                            });
                            match read(resp, &target).await {
                                Ok((out, raw)) => {
                                    if let Some(raw) = raw {
                                        let headers = record::Headers {
                                            retry_after: None,
                                            next_page_uri: next_page.as_deref(),
                                        };
                                        self.keep(&method, &target, body, status, headers, &raw);
                                    }
                                    host.succeeded();
                                    tracing::debug!(url = %shown, status = status.as_u16(), "response");
                                    return Ok((target, out));
                                }
                                Err(body::BodyFault::Cut(detail)) => Attempt::Failed(detail),
                                Err(body::BodyFault::Fatal(e)) => return Err(e),
                            }
                        }
                        Ok(resp) => {
                            let status = resp.status();
                            let retry_after_text = resp
                                .headers()
                                .get(RETRY_AFTER)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string);
                            let retry_after = retry_after_text
                                .as_deref()
                                .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
                            // Error bodies are small; one cut short is still an answer.
                            let answer = body::buffer(resp, &target, 1 << 20)
                                .await
                                .unwrap_or_default();
                            self.keep(
                                &method,
                                &target,
                                body,
                                status,
                                record::Headers {
                                    retry_after: retry_after_text.as_deref(),
                                    next_page_uri: None,
                                },
                                &answer,
                            );
                            let body = if status.is_redirection() {
                                // Not followed: `same_host_redirects` stopped it.
                                bytes::Bytes::from_static(
                                    br#"{"error":{"code":"Redirect","message":"a redirect off the request's host is not followed"}}"#,
                                )
                            } else {
                                answer
                            };
                            Attempt::Response {
                                status,
                                retry_after,
                                body,
                            }
                        }
                    }
                };
                // The host's own word on its load sets how much goes in flight.
                if let Attempt::Response { status, body, .. } = &outcome
                    && is_throttled(*status, body)
                {
                    host.throttled();
                }
                let (error, retry_after) = match outcome {
                    Attempt::Response { status, .. }
                        if status == StatusCode::UNAUTHORIZED && !renewed_token =>
                    {
                        // A token can be revoked or expire early: fetch a new one once.
                        tracing::debug!(url = %shown, "401: fetching a new token");
                        self.tokens.invalidate(&ctx.audience).await;
                        renewed_token = true;
                        continue;
                    }
                    Attempt::Response {
                        status,
                        retry_after,
                        body,
                    } => {
                        let error = HttpError::Status {
                            method: method.clone(),
                            url: shown.clone(),
                            status: status.as_u16(),
                            detail: error_detail(&body),
                        };
                        let again = retry::is_retryable_status(status.as_u16())
                            || is_throttled(status, &body);
                        if !(idempotent && again) {
                            return Err(error);
                        }
                        (error, retry_after)
                    }
                    Attempt::Failed(detail) => {
                        let error = HttpError::Transport {
                            method: method.clone(),
                            url: shown.clone(),
                            detail,
                        };
                        if !idempotent {
                            return Err(error);
                        }
                        (error, None)
                    }
                };
                if attempt >= policy.max_attempts {
                    tracing::warn!(url = %shown, attempt, "giving up: {error}");
                    return Err(error);
                }
                let wait = policy.wait(attempt, retry_after);
                if policy.would_pass(started.elapsed(), wait) {
                    tracing::warn!(url = %shown, ?wait, "giving up, the wait would pass the time allowed per request: {error}");
                    return Err(error);
                }
                tracing::info!(url = %shown, attempt, ?wait, "retrying after: {error}");
                tokio::time::sleep(wait).await;
            }
        };
        tokio::select! {
            biased;
            reason = self.wait_for_stop() => Err(HttpError::Stopped(reason)),
            r = attempts => r,
        }
    }
}

/// Follows a redirect only to the host it was sent to (the same origin and,
/// behind `--api-base`, the same Microsoft host): a redirect elsewhere would
/// take the request's headers (a Customer Insights key among them) to a host
/// nobody chose. One not followed comes back as the 3xx answer: a gap.
fn same_host_redirects(base: ApiBase) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let Some(prev) = attempt.previous().last() else {
            return attempt.stop();
        };
        let next = attempt.url();
        let same_origin = next.scheme() == prev.scheme()
            && next.host_str() == prev.host_str()
            && next.port_or_known_default() == prev.port_or_known_default();
        let real = |u: &url::Url| base.target(u.as_str()).ok().map(|t| t.real_host);
        if same_origin && attempt.previous().len() < 5 && real(next) == real(prev) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

pub use pal_core::endpoints::{is_service_id, seg};

/// Decodes a body as `T`; the error names the URL and the JSON path.
pub fn decode<T: DeserializeOwned>(target: &Target, body: &[u8]) -> Result<T, HttpError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let error = |path: String, detail: serde_json::Error| HttpError::Decode {
        url: rewrite::display(&target.real),
        path: if path == "." {
            "$".into()
        } else {
            format!("$.{path}")
        },
        detail: detail.to_string(),
    };
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        error(path, e.into_inner())
    })?;
    // Anything but whitespace after the value is not the JSON asked for.
    de.end().map_err(|e| error(".".into(), e))?;
    Ok(value)
}

/// Throttling: a 429, or the Management Activity API's `AF429`, which it
/// answers with HTTP 403 (its troubleshooting guide), not 429.
fn is_throttled(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && error_code(body).as_deref() == Some("AF429"))
}

/// The `error.code` of an error answer.
fn error_code(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.pointer("/error/code")?.as_str().map(str::to_string)
}

/// `{"error":{"code","message"}}`, the shape every one of these APIs uses.
fn error_detail(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Wrapper {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
    }
    let w: Wrapper = serde_json::from_slice(body).ok()?;
    let mut text = match (w.error.code, w.error.message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        (None, Some(m)) => m,
        (None, None) => return None,
    };
    if text.len() > 300 {
        let cut = (0..=300)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push_str("...");
    }
    Some(text)
}

/// reqwest's error with its causes, minus the URL (it can carry a query).
fn describe_reqwest(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests;
