//! The emulator's routes: each real host and path, rendered from the tenant
//! model in the JSON shapes of api-reference.md, with the services' paging.
//!
//! This file is the dispatch: `route` (reads) and `write` match each
//! request's host and path to its service's handler, in the submodules, one
//! a service. Here too is what several services share: the request (`Req`,
//! with `$skiptoken` paging and the `api-version` check), the error answers,
//! the renderings of principals, hosts and UPNs, and the caller's `oid` read
//! off its bearer token.

mod bap;
mod customer_insights;
mod dataverse;
mod flow;
mod graph;
mod log_analytics;
pub(crate) mod management_activity;
mod management_partner;
mod powerapps;
mod powerbi;

use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

use super::Shared;
use super::model::{ModelKind, ModelPrincipal, TenantModel};

pub struct Req<'a> {
    pub method: &'a Method,
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub page_size: usize,
}

type Answer = (StatusCode, Value);

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
        self.page_with(items, |v| v, next_key)
    }

    /// One page of `items`, rendering only the page's own: a large list's
    /// every item rendered for each of its pages made a list call cost the
    /// emulator milliseconds.
    fn page_with<T>(&self, items: Vec<T>, render: impl Fn(T) -> Value, next_key: &str) -> Value {
        let skip: usize = self
            .param("$skiptoken")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let top: usize = self
            .param("$top")
            .and_then(|s| s.parse().ok())
            .unwrap_or(usize::MAX);
        let size = self.page_size.min(top).max(1);
        let total = items.len();
        let end = skip.saturating_add(size).min(total);
        let page: Vec<Value> = items
            .into_iter()
            .skip(skip)
            .take(end.saturating_sub(skip))
            .map(render)
            .collect();
        let mut body = json!({ "value": page });
        if end < total {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in self.query.iter().filter(|(k, _)| k != "$skiptoken") {
                q.append_pair(k, v);
            }
            q.append_pair("$skiptoken", &end.to_string());
            body[next_key] = json!(format!("https://{}{}?{}", self.host, self.path, q.finish()));
        }
        body
    }

    fn needs_api_version(&self) -> Option<Answer> {
        self.param("api-version").is_none().then(|| {
            (
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "MissingApiVersionParameter", "message": "The api-version query parameter (?api-version=) is required for all requests."}}),
            )
        })
    }
}

fn bad_request(message: &str) -> Answer {
    (
        StatusCode::BAD_REQUEST,
        json!({"error": {"code": "InvalidRequest", "message": message}}),
    )
}

fn not_found(what: &str) -> Answer {
    (
        StatusCode::NOT_FOUND,
        json!({"error": {"code": "NotFound", "message": format!("{what} was not found")}}),
    )
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Whether `url`'s host is `host`: read off the text, as every request asks
/// it of every environment (a URL parse for each cost the emulator more than
/// routing the request).
fn url_host_is(url: &str, host: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let name = authority.split_once(':').map_or(authority, |(h, _)| h);
    name.eq_ignore_ascii_case(host)
}

/// A path's segments, each percent-decoded.
pub fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

pub fn route(st: &Shared, req: &Req, seg: &[String]) -> Answer {
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    if *req.method != Method::GET
        && let Some(answer) = write(st, req, &s)
    {
        return answer;
    }
    let guard = st.model.read().expect("tenant model");
    let m = &*guard;
    if let Some(env) = m.environments.iter().find(|e| {
        e.dataverse_url
            .as_deref()
            .is_some_and(|u| url_host_is(u, req.host))
    }) {
        return dataverse::dataverse(m, env, req, &s);
    }
    if *req.method == Method::POST {
        return match (req.host, s.as_slice()) {
            ("api.powerbi.com", ["v1.0", "myorg", "admin", "workspaces", "getInfo"]) => {
                powerbi::scan_start(st, req)
            }
            ("graph.microsoft.com", ["v1.0", "$batch"]) => {
                drop(guard);
                graph::graph_batch(st, req)
            }
            (
                "api.loganalytics.io" | "api.loganalytics.azure.com",
                ["v1", "workspaces", workspace, "query"],
            ) => log_analytics::query(m, req, workspace),
            _ => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"error": {"code": "MethodNotAllowed", "message": "read-only emulator"}}),
            ),
        };
    }
    match (req.host, s.as_slice()) {
        ("api.bap.microsoft.com", ["providers", p, "scopes", "admin", "environments"])
            if eq(p, "Microsoft.BusinessAppPlatform") =>
        {
            bap::environments(m, req)
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
        ) if eq(p, "Microsoft.PowerApps") => powerapps::list_apps(m, req, env),
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
            ],
        ) if eq(p, "Microsoft.PowerApps") => powerapps::get_app(m, req, env, id),
        ("api.powerbi.com", ["v1.0", "myorg", "groups", ws, "datasets", ds]) => {
            powerbi::get_dataset(m, ws, ds)
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
        ) if eq(p, "Microsoft.PowerApps") => powerapps::get_app_permissions(m, req, env, id),
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
        ) if eq(p, "Microsoft.ProcessSimple") => flow::list_flows(m, req, env),
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
        ) if eq(p, "Microsoft.ProcessSimple") => flow::get_flow_permissions(m, req, env, id),
        ("graph.microsoft.com", ["v1.0", "me"]) => graph::me(m, req),
        ("graph.microsoft.com", ["v1.0", rest @ ..]) => graph::graph(m, req, rest),
        ("api.powerbi.com", ["v1.0", "myorg", "admin", rest @ ..]) => {
            powerbi::powerbi(st, m, req, rest)
        }
        ("management.azure.com", ["providers", p, "partners"])
            if eq(p, "Microsoft.ManagementPartner") =>
        {
            management_partner::get_partner(m, req)
        }
        ("api.ci.ai.dynamics.com", ["v1", rest @ ..]) => {
            customer_insights::customer_insights(m, req, rest)
        }
        _ => not_found(&format!("https://{}{}", req.host, req.path)),
    }
}

// --- Shared by the services' renderings ----------------------------------

fn type_name(p: Option<&ModelPrincipal>) -> &'static str {
    match p.map(|p| p.kind) {
        Some(ModelKind::Group) => "Group",
        Some(ModelKind::ServicePrincipal) => "ServicePrincipal",
        _ => "User",
    }
}

/// `https://org.api.crm4.dynamics.com` -> `https://org.crm4.dynamics.com`.
fn instance_url(api_url: &str) -> String {
    api_url.replacen(".api.", ".", 1)
}

fn upn_of(m: &TenantModel, id: &str) -> String {
    m.principal(id)
        .and_then(|p| p.upn.clone())
        .unwrap_or_else(|| id.to_string())
}

// --- Writes and the caller ---------------------------------------------------------

/// The object id in the caller's bearer token (a JWT; the emulator does not
/// check signatures). Decoded here, as a service would, never through the
/// client's own token code: a drift between them must show.
fn caller(req: &Req) -> Option<String> {
    use base64::Engine;
    let token = req
        .headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["oid"].as_str().map(str::to_ascii_lowercase)
}

fn no_caller() -> Answer {
    (
        StatusCode::UNAUTHORIZED,
        json!({"error": {"code": "InvalidAuthenticationToken", "message": "the token names no principal (oid)"}}),
    )
}

/// A 200 with an empty body (`Value::Null` is rendered as no body at all).
fn empty() -> Option<Answer> {
    Some((StatusCode::OK, Value::Null))
}

fn body(req: &Req) -> Value {
    serde_json::from_slice(req.body).unwrap_or(Value::Null)
}

/// The write endpoints. `None`: not a write this emulator knows.
fn write(st: &Shared, req: &Req, s: &[&str]) -> Option<Answer> {
    let mut guard = st.model.write().expect("tenant model");
    let m = &mut *guard;
    match (req.host, s) {
        ("management.azure.com", ["providers", p, "partners", partner])
            if eq(p, "Microsoft.ManagementPartner") =>
        {
            management_partner::write(m, req, partner)
        }
        (
            "api.powerapps.com",
            [
                "providers",
                _,
                "scopes",
                "admin",
                "environments",
                env,
                "apps",
                id,
                "modifyAppOwner",
            ],
        ) => powerapps::modify_app_owner(m, req, env, id),
        (
            "api.powerapps.com",
            [
                "providers",
                _,
                "scopes",
                "admin",
                "environments",
                env,
                "apps",
                id,
                "modifyPermissions",
            ],
        ) => powerapps::modify_permissions(m, req, env, id),
        (
            "api.flow.microsoft.com",
            [
                "providers",
                _,
                "scopes",
                "admin",
                "environments",
                env,
                "flows",
                id,
                "modifyPermissions",
            ],
        ) => flow::modify_permissions(m, req, env, id),
        (
            "api.powerbi.com",
            [
                "v1.0",
                "myorg",
                "groups",
                ws,
                "datasets",
                ds,
                "Default.TakeOver",
            ],
        ) => powerbi::take_over(m, req, ws, ds),
        (
            "api.ci.ai.dynamics.com",
            [
                "v1",
                "instances",
                id,
                "rbac",
                "principals",
                principal,
                "assign",
            ],
        ) => customer_insights::assign(m, req, id, principal),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urls_host_is_read_off_its_text() {
        assert!(url_host_is(
            "https://org1.api.crm.dynamics.com/",
            "org1.api.crm.dynamics.com"
        ));
        assert!(url_host_is(
            "https://ORG1.api.crm.dynamics.com",
            "org1.api.crm.dynamics.com"
        ));
        assert!(url_host_is(
            "https://org1.api.crm.dynamics.com:443/api?x=1",
            "org1.api.crm.dynamics.com"
        ));
        assert!(url_host_is(
            "https://u@org1.crm.dynamics.com/",
            "org1.crm.dynamics.com"
        ));
        assert!(!url_host_is(
            "https://org1.api.crm.dynamics.com/",
            "org11.api.crm.dynamics.com"
        ));
        assert!(!url_host_is(
            "https://org11.api.crm.dynamics.com/",
            "org1.api.crm.dynamics.com"
        ));
        assert!(!url_host_is("https://org1.api.crm.dynamics.com/", ""));
    }
}
