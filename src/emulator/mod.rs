//! The emulator: an axum server on loopback that plays a tenant model at
//! `http://127.0.0.1:PORT/HOST/PATH` in the real shapes and paths of BAP,
//! Power Apps, Power Automate and Graph, with real paging and injected faults.

pub mod faults;
pub mod model;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::error::Error;
pub use faults::{FaultKind, Faults};
pub use model::TenantModel;
use model::{ModelApp, ModelFlow, ModelKind, ModelPrincipal};

/// Knobs of `pal-audit emulate`.
#[derive(Debug)]
pub struct Options {
    /// Items per page (the client's `$top` can only lower it).
    pub page_size: usize,
    /// Added to every request.
    pub latency: Duration,
    pub faults: Faults,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            page_size: 100,
            latency: Duration::ZERO,
            faults: Faults::default(),
        }
    }
}

struct Shared {
    model: TenantModel,
    options: Options,
    requests: AtomicU64,
}

/// A started emulator; stops when dropped or on `stop`.
pub struct Running {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// What to pass as `--api-base`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
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
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| Error::Emulator(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Emulator(e.to_string()))?;
    let shared = Arc::new(Shared {
        model,
        options,
        requests: AtomicU64::new(0),
    });
    let app = Router::new().fallback(handle).with_state(shared.clone());
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
        shared,
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

async fn handle(
    State(st): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    st.requests.fetch_add(1, Ordering::SeqCst);
    if !st.options.latency.is_zero() {
        tokio::time::sleep(st.options.latency).await;
    }
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
    let raw = uri.path().trim_start_matches('/');
    let (host, rest) = raw.split_once('/').unwrap_or((raw, ""));
    let host = host.to_ascii_lowercase();
    let path = format!("/{rest}");
    let fault = st.options.faults.pick(&format!("{host}{path}"));
    match &fault {
        Some(FaultKind::Throttle { seconds, as_date }) => {
            let value = if *as_date {
                httpdate::fmt_http_date(
                    std::time::SystemTime::now() + Duration::from_secs(*seconds),
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
        Some(FaultKind::Cut) | None => {}
    }
    if method != Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "read-only emulator",
        );
    }
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let segments: Vec<String> = rest
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let req = Req {
        host: &host,
        path: &path,
        query: &query,
        page_size: st.options.page_size,
    };
    let (status, body) = route(&st.model, &req, &segments);
    let text = body.to_string();
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

struct Req<'a> {
    host: &'a str,
    path: &'a str,
    query: &'a [(String, String)],
    page_size: usize,
}

impl Req<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// One page of `items`, with a next link on the real host when more
    /// remain (`$skiptoken` carries the offset).
    fn page(&self, items: Vec<Value>, next_key: &str) -> Value {
        let skip: usize = self
            .param("$skiptoken")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let top: usize = self
            .param("$top")
            .and_then(|s| s.parse().ok())
            .unwrap_or(usize::MAX);
        let size = self.page_size.min(top).max(1);
        let end = (skip + size).min(items.len());
        let page: Vec<Value> = items
            .get(skip..end)
            .map(<[Value]>::to_vec)
            .unwrap_or_default();
        let mut body = json!({ "value": page });
        if end < items.len() {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in self.query.iter().filter(|(k, _)| k != "$skiptoken") {
                q.append_pair(k, v);
            }
            q.append_pair("$skiptoken", &end.to_string());
            body[next_key] = json!(format!("https://{}{}?{}", self.host, self.path, q.finish()));
        }
        body
    }

    fn needs_api_version(&self) -> Option<(StatusCode, Value)> {
        self.param("api-version").is_none().then(|| {
            (
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "MissingApiVersionParameter", "message": "The api-version query parameter (?api-version=) is required for all requests."}}),
            )
        })
    }
}

fn not_found(what: &str) -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        json!({"error": {"code": "NotFound", "message": format!("{what} was not found")}}),
    )
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn route(m: &TenantModel, req: &Req, seg: &[String]) -> (StatusCode, Value) {
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    match (req.host, s.as_slice()) {
        ("api.bap.microsoft.com", ["providers", p, "scopes", "admin", "environments"])
            if eq(p, "Microsoft.BusinessAppPlatform") =>
        {
            if let Some(e) = req.needs_api_version() {
                return e;
            }
            let items = m.environments.iter().map(|e| environment(m, e)).collect();
            (StatusCode::OK, req.page(items, "nextLink"))
        }
        (
            "api.powerapps.com",
            [
                "providers",
                p,
                "scopes",
                "admin",
                "environments",
                env,
                "apps",
            ],
        ) if eq(p, "Microsoft.PowerApps") => {
            if let Some(e) = req.needs_api_version() {
                return e;
            }
            let Some(env) = m.environments.iter().find(|e| eq(&e.name, env)) else {
                return not_found("environment");
            };
            let items = m
                .apps
                .iter()
                .filter(|a| eq(&a.environment, &env.name))
                .map(|a| app(m, a))
                .collect();
            (StatusCode::OK, req.page(items, "nextLink"))
        }
        (
            "api.powerapps.com",
            [
                "providers",
                p,
                "scopes",
                "admin",
                "environments",
                env,
                "apps",
                id,
                "permissions",
            ],
        ) if eq(p, "Microsoft.PowerApps") => {
            if let Some(e) = req.needs_api_version() {
                return e;
            }
            match m
                .apps
                .iter()
                .find(|a| eq(&a.id, id) && eq(&a.environment, env))
            {
                Some(a) => (StatusCode::OK, req.page(app_permissions(m, a), "nextLink")),
                None => not_found("app"),
            }
        }
        (
            "api.flow.microsoft.com",
            [
                "providers",
                p,
                "scopes",
                "admin",
                "environments",
                env,
                "v2",
                "flows",
            ],
        ) if eq(p, "Microsoft.ProcessSimple") => {
            if let Some(e) = req.needs_api_version() {
                return e;
            }
            let Some(env) = m.environments.iter().find(|e| eq(&e.name, env)) else {
                return not_found("environment");
            };
            let items = m
                .flows
                .iter()
                .filter(|f| eq(&f.environment, &env.name))
                .map(|f| flow(m, f))
                .collect();
            (StatusCode::OK, req.page(items, "nextLink"))
        }
        (
            "api.flow.microsoft.com",
            [
                "providers",
                p,
                "scopes",
                "admin",
                "environments",
                env,
                "flows",
                id,
                "permissions",
            ],
        ) if eq(p, "Microsoft.ProcessSimple") => {
            if let Some(e) = req.needs_api_version() {
                return e;
            }
            match m
                .flows
                .iter()
                .find(|f| eq(&f.id, id) && eq(&f.environment, env))
            {
                Some(f) => (StatusCode::OK, req.page(flow_permissions(m, f), "nextLink")),
                None => not_found("flow"),
            }
        }
        ("graph.microsoft.com", ["v1.0", "users", key]) => {
            let user = m.principals.iter().find(|p| {
                p.kind == ModelKind::User
                    && (eq(&p.id, key) || p.upn.as_deref().is_some_and(|u| eq(u, key)))
            });
            match user {
                Some(p) => (
                    StatusCode::OK,
                    json!({"id": p.id, "userPrincipalName": p.upn, "accountEnabled": p.enabled, "displayName": p.name}),
                ),
                None => graph_not_found(key),
            }
        }
        ("graph.microsoft.com", ["v1.0", sp]) if sp.starts_with("servicePrincipals(appId=") => {
            let app_id = sp
                .trim_start_matches("servicePrincipals(appId=")
                .trim_end_matches(')')
                .trim_matches('\'');
            let found = m.principals.iter().find(|p| {
                p.kind == ModelKind::ServicePrincipal
                    && p.app_id.as_deref().is_some_and(|a| eq(a, app_id))
            });
            match found {
                Some(p) => (
                    StatusCode::OK,
                    json!({"id": p.id, "appId": p.app_id, "displayName": p.name}),
                ),
                None => graph_not_found(app_id),
            }
        }
        ("graph.microsoft.com", ["v1.0", "groups", id, "transitiveMembers"]) => {
            match m.principal(id).filter(|p| p.kind == ModelKind::Group) {
                Some(g) => {
                    let items = m
                        .transitive_members(&g.id)
                        .into_iter()
                        .map(directory_object)
                        .collect();
                    (StatusCode::OK, req.page(items, "@odata.nextLink"))
                }
                None => graph_not_found(id),
            }
        }
        _ => not_found(&format!("https://{}{}", req.host, req.path)),
    }
}

fn graph_not_found(key: &str) -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        json!({"error": {"code": "Request_ResourceNotFound", "message": format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present.")}}),
    )
}

fn type_name(p: Option<&ModelPrincipal>) -> &'static str {
    match p.map(|p| p.kind) {
        Some(ModelKind::Group) => "Group",
        Some(ModelKind::ServicePrincipal) => "ServicePrincipal",
        _ => "User",
    }
}

/// A principal object of the Power Apps API. Owner-like objects carry
/// `userPrincipalName`; role assignments carry only `email`.
fn pa_principal(m: &TenantModel, id: &str, with_upn: bool) -> Value {
    let p = m.principal(id);
    let mut v = json!({
        "id": id,
        "displayName": p.and_then(|p| p.name.clone()),
        "email": p.and_then(|p| p.upn.clone()),
        "type": type_name(p),
        "tenantId": m.tenant_id,
    });
    if with_upn && let Some(upn) = p.and_then(|p| p.upn.clone()) {
        v["userPrincipalName"] = json!(upn);
    }
    v
}

fn environment(m: &TenantModel, e: &model::ModelEnvironment) -> Value {
    let mut props = json!({
        "tenantId": m.tenant_id,
        "azureRegionHint": "westus",
        "displayName": e.display_name,
        "createdTime": e.created.map(|t| t.to_rfc3339()),
        "provisioningState": "Succeeded",
        "environmentSku": e.sku,
        "isDefault": e.default,
        "states": {"management": {"id": "NotSpecified"}, "runtime": {"id": "Enabled"}},
    });
    if let Some(url) = &e.dataverse_url {
        let domain = url
            .trim_start_matches("https://")
            .split('.')
            .next()
            .unwrap_or_default();
        props["linkedEnvironmentMetadata"] = json!({
            "domainName": domain,
            "instanceUrl": url.replace(".api.", "."),
            "instanceApiUrl": url,
            "instanceState": "Ready",
        });
    }
    json!({
        "id": format!("/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments/{}", e.name),
        "type": "Microsoft.BusinessAppPlatform/scopes/environments",
        "location": "unitedstates",
        "name": e.name,
        "properties": props,
    })
}

fn app(m: &TenantModel, a: &ModelApp) -> Value {
    let created_by = a.created_by.as_deref().unwrap_or(&a.owner);
    let modified_by = a.modified_by.as_deref().unwrap_or(created_by);
    let users = a
        .roles
        .iter()
        .filter(|r| type_name(m.principal(&r.principal)) != "Group")
        .count();
    let groups = a.roles.len() - users;
    let mut props = json!({
        "appVersion": a.modified.unwrap_or(a.created).to_rfc3339(),
        "displayName": a.name,
        "owner": pa_principal(m, &a.owner, true),
        "createdBy": pa_principal(m, created_by, true),
        "lastModifiedBy": pa_principal(m, modified_by, true),
        "createdTime": a.created.to_rfc3339(),
        "lastModifiedTime": a.modified.unwrap_or(a.created).to_rfc3339(),
        "environment": {"name": a.environment},
        "almMode": "Environment",
    });
    if !a.omit_share_counts {
        props["sharedUsersCount"] = json!(users + usize::from(a.tenant_share));
        props["sharedGroupsCount"] = json!(groups);
    }
    if let (Some(by), Some(at)) = (&a.published_by, a.published) {
        props["lastPublishedBy"] = pa_principal(m, by, true);
        props["lastPublishTime"] = json!(at.to_rfc3339());
    }
    json!({
        "name": a.id,
        "id": format!("/providers/Microsoft.PowerApps/scopes/admin/environments/{}/apps/{}", a.environment, a.id),
        "type": "Microsoft.PowerApps/scopes/admin/apps",
        "appType": "ClassicCanvasApp",
        "isAppComponentLibrary": a.component_library,
        "properties": props,
    })
}

fn app_permissions(m: &TenantModel, a: &ModelApp) -> Vec<Value> {
    let scope = format!("/providers/Microsoft.PowerApps/apps/{}", a.id);
    let one = |id: &str, role: &str, principal: Value| {
        json!({
            "name": id,
            "id": format!("{scope}/permissions/{id}"),
            "type": "Microsoft.PowerApps/apps/permissions",
            "properties": {"roleName": role, "principal": principal, "scope": scope, "createdOn": a.created.to_rfc3339()},
        })
    };
    let mut out = vec![one(&a.owner, "Owner", pa_principal(m, &a.owner, false))];
    for r in &a.roles {
        out.push(one(
            &r.principal,
            &r.role,
            pa_principal(m, &r.principal, false),
        ));
    }
    if a.tenant_share {
        out.push(one(
            &m.tenant_id,
            "CanView",
            json!({"type": "Tenant", "tenantId": m.tenant_id}),
        ));
    }
    out
}

fn flow(m: &TenantModel, f: &ModelFlow) -> Value {
    let mut props = json!({
        "apiId": "/providers/Microsoft.PowerApps/apis/shared_logicflows",
        "displayName": f.name,
        "state": f.state,
        "createdTime": f.created.to_rfc3339(),
        "lastModifiedTime": f.modified.unwrap_or(f.created).to_rfc3339(),
        "isManaged": false,
        "environment": {"name": f.environment},
    });
    if let Some(c) = &f.creator {
        let user_type = match m.principal(c).map(|p| p.kind) {
            Some(ModelKind::ServicePrincipal) => "ServicePrincipal",
            _ => "ActiveDirectory",
        };
        props["creator"] =
            json!({"tenantId": m.tenant_id, "objectId": c, "userId": c, "userType": user_type});
    }
    json!({
        "name": f.id,
        "id": format!("/providers/Microsoft.ProcessSimple/environments/{}/flows/{}", f.environment, f.id),
        "type": "Microsoft.ProcessSimple/environments/flows",
        "properties": props,
    })
}

fn flow_permissions(m: &TenantModel, f: &ModelFlow) -> Vec<Value> {
    let one = |id: &str, role: &str| {
        json!({
            "name": id,
            "id": format!("/providers/Microsoft.ProcessSimple/environments/{}/flows/{}/permissions/{id}", f.environment, f.id),
            "type": "Microsoft.ProcessSimple/environments/flows/permissions",
            "properties": {"roleName": role, "permissionType": "Principal", "principal": {"id": id, "type": type_name(m.principal(id))}},
        })
    };
    let mut out: Vec<Value> = f.creator.iter().map(|c| one(c, "Owner")).collect();
    out.extend(f.owners.iter().map(|o| one(o, "Owner")));
    out.extend(f.editors.iter().map(|e| one(e, "CanEdit")));
    out
}

fn directory_object(p: &ModelPrincipal) -> Value {
    let kind = match p.kind {
        ModelKind::User => "#microsoft.graph.user",
        ModelKind::ServicePrincipal => "#microsoft.graph.servicePrincipal",
        ModelKind::Group => "#microsoft.graph.group",
    };
    json!({"@odata.type": kind, "id": p.id, "userPrincipalName": p.upn, "appId": p.app_id})
}
