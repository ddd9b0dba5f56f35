//! The emulator's routes: each real host and path, rendered from the tenant
//! model in the JSON shapes of api-reference.md, with the services' paging.

use axum::http::{HeaderMap, Method, StatusCode};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use super::Shared;
use super::model::{
    ModelApp, ModelDataset, ModelEnvironment, ModelFlow, ModelInstance, ModelKind, ModelPrincipal,
    TenantModel,
};

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
        return dataverse(m, env, req, &s);
    }
    if *req.method == Method::POST {
        return match (req.host, s.as_slice()) {
            ("api.powerbi.com", ["v1.0", "myorg", "admin", "workspaces", "getInfo"]) => {
                scan_start(st, req)
            }
            ("graph.microsoft.com", ["v1.0", "$batch"]) => {
                drop(guard);
                graph_batch(st, req)
            }
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
            let items = m.apps_in(&env.name);
            (
                StatusCode::OK,
                req.page_with(items, |a| app(m, a), "nextLink"),
            )
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
            ],
        ) if eq(p, "Microsoft.PowerApps") => {
            if let Some(e) = req.needs_api_version() {
                return e;
            }
            match m.app(env, id) {
                Some(a) => (StatusCode::OK, app(m, a)),
                None => not_found("app"),
            }
        }
        ("api.powerbi.com", ["v1.0", "myorg", "groups", ws, "datasets", ds]) => {
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
            match m.app(env, id) {
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
            let mut items = m.flows_in(&env.name);
            items.retain(|f| !f.dataverse_only);
            (
                StatusCode::OK,
                req.page_with(items, |f| flow(m, f), "nextLink"),
            )
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
            match m.flow(env, id) {
                Some(f) => (StatusCode::OK, req.page(flow_permissions(m, f), "nextLink")),
                None => not_found("flow"),
            }
        }
        ("graph.microsoft.com", ["v1.0", "me"]) => {
            match caller(req).and_then(|oid| m.principal(&oid).cloned()) {
                Some(p) if p.kind == ModelKind::User => (
                    StatusCode::OK,
                    json!({"id": p.id, "userPrincipalName": p.upn, "accountEnabled": p.enabled, "displayName": p.name}),
                ),
                _ => graph_not_found("me"),
            }
        }
        ("graph.microsoft.com", ["v1.0", rest @ ..]) => graph(m, req, rest),
        ("api.powerbi.com", ["v1.0", "myorg", "admin", rest @ ..]) => powerbi(st, m, req, rest),
        ("management.azure.com", ["providers", p, "partners"])
            if eq(p, "Microsoft.ManagementPartner") =>
        {
            if let Some(e) = req.needs_api_version() {
                return e;
            }
            let Some(oid) = caller(req) else {
                return no_caller();
            };
            match m.partner_links.iter().find(|l| eq(&l.principal, &oid)) {
                Some(l) => (StatusCode::OK, partner_json(m, l)),
                None => (
                    StatusCode::NOT_FOUND,
                    json!({"error": {"code": "NotFound", "message": "No partner link found for this principal."}}),
                ),
            }
        }
        ("api.ci.ai.dynamics.com", ["v1", rest @ ..]) => customer_insights(m, req, rest),
        _ => not_found(&format!("https://{}{}", req.host, req.path)),
    }
}

// --- Graph -------------------------------------------------------------------

fn graph_not_found(key: &str) -> Answer {
    (
        StatusCode::NOT_FOUND,
        json!({"error": {"code": "Request_ResourceNotFound", "message": format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present.")}}),
    )
}

fn graph(m: &TenantModel, req: &Req, s: &[&str]) -> Answer {
    match s {
        ["users"] => {
            let items = m
                .principals
                .iter()
                .filter(|p| p.kind == ModelKind::User)
                .map(|p| json!({"id": p.id}))
                .collect();
            (StatusCode::OK, req.page(items, "@odata.nextLink"))
        }
        ["users", key] => {
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
        [sp] if sp.starts_with("servicePrincipals(appId=") => {
            let app_id = sp
                .trim_start_matches("servicePrincipals(appId=")
                .trim_end_matches(')')
                .trim_matches('\'');
            let found = m.principals.iter().find(|p| {
                p.kind == ModelKind::ServicePrincipal
                    && p.app_id.as_deref().is_some_and(|a| eq(a, app_id))
            });
            match found {
                Some(p) => (StatusCode::OK, service_principal(p)),
                None => graph_not_found(app_id),
            }
        }
        ["servicePrincipals", id] => {
            match m
                .principals
                .iter()
                .find(|p| p.kind == ModelKind::ServicePrincipal && eq(&p.id, id))
            {
                Some(p) => (StatusCode::OK, service_principal(p)),
                None => graph_not_found(id),
            }
        }
        ["groups", id, "transitiveMembers"] => {
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
        _ => graph_not_found(req.path),
    }
}

fn service_principal(p: &ModelPrincipal) -> Value {
    json!({"id": p.id, "appId": p.app_id, "displayName": p.name, "accountEnabled": p.enabled})
}

/// `POST /v1.0/$batch`: each GET is answered as if sent alone.
fn graph_batch(st: &Shared, req: &Req) -> Answer {
    // Each sub-request takes the model's lock itself.
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return (
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "BadRequest", "message": "Invalid batch payload format."}}),
        );
    };
    let requests = body["requests"].as_array().cloned().unwrap_or_default();
    if requests.len() > 20 {
        return (
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "BadRequest", "message": "Number of batch requests exceeds 20."}}),
        );
    }
    let responses: Vec<Value> = requests
        .iter()
        .map(|r| {
            let id = r["id"].clone();
            let url = r["url"].as_str().unwrap_or_default();
            let (path, query) = url.split_once('?').unwrap_or((url, ""));
            let query: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            let full = format!("/v1.0{path}");
            let segments = segments(full.trim_start_matches('/'));
            let sub = Req {
                method: &Method::GET,
                host: "graph.microsoft.com",
                path: &full,
                query: &query,
                headers: req.headers,
                body: &[],
                page_size: req.page_size,
            };
            let (status, body) = match st
                .options
                .faults
                .pick(&format!("graph.microsoft.com{full}"))
            {
                Some(super::FaultKind::Status(s)) => (
                    StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    json!({"error": {"code": "Request_ResourceNotFound", "message": "injected fault"}}),
                ),
                _ => route(st, &sub, &segments),
            };
            json!({"id": id, "status": status.as_u16(), "headers": {"Content-Type": "application/json"}, "body": body})
        })
        .collect();
    (StatusCode::OK, json!({ "responses": responses }))
}

fn directory_object(p: &ModelPrincipal) -> Value {
    let kind = match p.kind {
        ModelKind::User => "#microsoft.graph.user",
        ModelKind::ServicePrincipal => "#microsoft.graph.servicePrincipal",
        ModelKind::Group => "#microsoft.graph.group",
    };
    json!({"@odata.type": kind, "id": p.id, "userPrincipalName": p.upn, "appId": p.app_id})
}

// --- BAP, Power Apps, Power Automate ----------------------------------------

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

fn environment(m: &TenantModel, e: &ModelEnvironment) -> Value {
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
            "uniqueName": format!("unq{domain}"),
            "instanceUrl": format!("{}/", instance_url(url)),
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

/// `https://org.api.crm4.dynamics.com` -> `https://org.crm4.dynamics.com`.
fn instance_url(api_url: &str) -> String {
    api_url.replacen(".api.", ".", 1)
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
        "almMode": if a.solution.is_some() { "Solution" } else { "Environment" },
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
        "appType": a.app_type.as_deref().unwrap_or("ClassicCanvasApp"),
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

/// The Flow API name: the `workflowidunique` when the model gives a
/// separate `workflowid`.
fn flow(m: &TenantModel, f: &ModelFlow) -> Value {
    let mut props = json!({
        "apiId": "/providers/Microsoft.PowerApps/apis/shared_logicflows",
        "displayName": f.name,
        "state": f.state,
        "createdTime": f.created.to_rfc3339(),
        "lastModifiedTime": f.modified.unwrap_or(f.created).to_rfc3339(),
        "isManaged": f.solution.is_some(),
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

// --- Dataverse ---------------------------------------------------------------

/// The `systemuserid` the emulator gives a principal's Dataverse user.
fn systemuser_id(principal: &str) -> String {
    match principal.get(8..) {
        Some(rest) if principal.len() == 36 => format!("5e5e5e5e{rest}"),
        _ => format!("5e5e5e5e-{principal}"),
    }
}

fn dataverse(m: &TenantModel, env: &ModelEnvironment, req: &Req, s: &[&str]) -> Answer {
    if env.dataverse_refuses {
        return (
            StatusCode::FORBIDDEN,
            json!({"error": {"code": "0x80072560", "message": "The user is not a member of the organization."}}),
        );
    }
    let ["api", "data", "v9.2", set, rest @ ..] = s else {
        return not_found(req.path);
    };
    let filter = req.param("$filter").unwrap_or_default().to_string();
    let in_env = |e: &str| eq(e, &env.name);
    if *set == "WhoAmI" {
        return (
            StatusCode::OK,
            json!({"BusinessUnitId": "b0000000-0000-4000-8000-0000000000bb", "UserId": "5e5e5e5e-0000-4000-8000-00000000a9b1", "OrganizationId": "0a000000-0000-4000-8000-0000000000aa"}),
        );
    }
    let items: Vec<Value> = match (*set, rest) {
        ("systemusers", []) => {
            // The tenant's every user, in each environment: rendered a page
            // at a time.
            let users = m
                .principals
                .iter()
                .filter(|p| p.kind != ModelKind::Group)
                .collect();
            let render = |p: &ModelPrincipal| {
                json!({
                    "systemuserid": systemuser_id(&p.id),
                    "fullname": p.name,
                    "domainname": p.upn.clone().unwrap_or_default(),
                    "azureactivedirectoryobjectid": p.id,
                    "applicationid": p.app_id,
                    "isdisabled": !p.enabled,
                })
            };
            return (
                StatusCode::OK,
                req.page_with(users, render, "@odata.nextLink"),
            );
        }
        ("appmodules", unpublished) => {
            let drafts = matches!(unpublished, [f] if f.starts_with("Microsoft.Dynamics.CRM.RetrieveUnpublishedMultiple"));
            if !unpublished.is_empty() && !drafts {
                return not_found(req.path);
            }
            m.model_driven_apps
                .iter()
                .filter(|a| in_env(&a.environment) && a.unpublished == drafts)
                .map(|a| {
                    json!({
                        "appmoduleid": a.id,
                        "uniquename": a.unique_name,
                        "name": a.name,
                        "ismanaged": a.solution.is_some(),
                        "publishedon": if a.unpublished { Value::Null } else { json!(a.created.to_rfc3339()) },
                        "createdon": a.created.to_rfc3339(),
                        "modifiedon": a.created.to_rfc3339(),
                        "_createdby_value": systemuser_id(&a.created_by),
                        "_modifiedby_value": systemuser_id(&a.created_by),
                    })
                })
                .collect()
        }
        ("workflows", []) => m
            .flows
            .iter()
            .filter(|f| in_env(&f.environment))
            // Every flow of the model is a cloud flow (category 5).
            .filter(|_| {
                filter.is_empty()
                    || filter
                        .replace(' ', "")
                        .contains("category eq 5".replace(' ', "").as_str())
            })
            .map(|f| {
                let creator = f.creator.as_deref().map(systemuser_id);
                let owner = f
                    .owners
                    .first()
                    .map(|o| systemuser_id(o))
                    .or(creator.clone());
                json!({
                    "workflowid": f.workflowid.clone().unwrap_or_else(|| f.id.clone()),
                    "workflowidunique": f.id,
                    "name": f.name,
                    "category": 5,
                    "statecode": 1,
                    "ismanaged": f.solution.is_some(),
                    "_ownerid_value": owner,
                    "_createdby_value": creator,
                    "_modifiedby_value": creator,
                    "createdon": f.created.to_rfc3339(),
                    "modifiedon": f.modified.unwrap_or(f.created).to_rfc3339(),
                })
            })
            .collect(),
        ("canvasapps", []) => m
            .apps
            .iter()
            .filter(|a| in_env(&a.environment))
            .map(|a| {
                json!({
                    "canvasappid": a.id,
                    "name": format!("contoso_{}", a.name.to_ascii_lowercase().replace(' ', "")),
                    "displayname": a.name,
                })
            })
            .collect(),
        ("solutions", []) => {
            let mut out = vec![json!({
                "solutionid": "fd140aae-4df4-11dd-bd17-0019b9312238",
                "uniquename": "Default",
                "friendlyname": "Default Solution",
                "ismanaged": false,
                "version": "1.0",
                "installedon": "2021-04-01T08:00:00Z",
            })];
            out.extend(m.solutions.iter().filter(|s| in_env(&s.environment)).map(|s| {
                json!({
                    "solutionid": s.id,
                    "uniquename": s.unique_name,
                    "friendlyname": s.unique_name,
                    "ismanaged": s.managed,
                    "version": s.version.as_ref().map_or(json!("1.0.0.0"), |v| serde_json::to_value(v).unwrap_or(Value::Null)),
                    "installedon": s.imports.first().map(|i| i.at.to_rfc3339()),
                })
            }));
            out
        }
        ("solutioncomponents", []) => {
            // `$filter=_solutionid_value eq {id}`
            let wanted = filter
                .split("eq")
                .nth(1)
                .map(|v| v.trim().trim_matches('\'').to_ascii_lowercase());
            let Some(sol) = m
                .solutions
                .iter()
                .find(|s| in_env(&s.environment) && Some(s.id.to_ascii_lowercase()) == wanted)
            else {
                return (StatusCode::OK, req.page(Vec::new(), "@odata.nextLink"));
            };
            let in_sol = |x: &Option<String>| x.as_deref().is_some_and(|x| eq(x, &sol.unique_name));
            let component = |id: &str, t: i64| json!({"objectid": id, "componenttype": t, "_solutionid_value": sol.id});
            let mut out: Vec<Value> = Vec::new();
            out.extend(
                m.apps
                    .iter()
                    .filter(|a| in_env(&a.environment) && in_sol(&a.solution))
                    .map(|a| component(&a.id, 300)),
            );
            out.extend(
                m.flows
                    .iter()
                    .filter(|f| in_env(&f.environment) && in_sol(&f.solution))
                    .map(|f| component(f.workflowid.as_deref().unwrap_or(&f.id), 29)),
            );
            out.extend(
                m.model_driven_apps
                    .iter()
                    .filter(|a| in_env(&a.environment) && in_sol(&a.solution))
                    .map(|a| component(&a.id, 80)),
            );
            out
        }
        ("msdyn_solutionhistories", []) => m
            .solutions
            .iter()
            .filter(|s| in_env(&s.environment))
            .flat_map(|s| {
                s.imports.iter().map(move |i| {
                    json!({
                        "msdyn_name": s.unique_name,
                        "msdyn_solutionversion": "1.0.0.0",
                        "msdyn_starttime": (i.at - Duration::minutes(3)).to_rfc3339(),
                        "msdyn_endtime": i.at.to_rfc3339(),
                        "msdyn_operation": 0,
                        "msdyn_suboperation": 1,
                        "msdyn_status": 1,
                        "msdyn_result": i.success,
                        "msdyn_ismanaged": s.managed,
                    })
                })
            })
            .collect(),
        ("importjobs", []) => m
            .solutions
            .iter()
            .filter(|s| in_env(&s.environment))
            .flat_map(|s| {
                s.imports.iter().filter(|i| i.job).map(move |i| {
                    json!({
                        "importjobid": format!("1b0b0b0b-0000-4000-8000-{:012}", i.at.timestamp()),
                        "solutionname": s.unique_name,
                        "startedon": (i.at - Duration::minutes(2)).to_rfc3339(),
                        "completedon": i.at.to_rfc3339(),
                        "_createdby_value": systemuser_id(&i.by),
                    })
                })
            })
            .collect(),
        _ => return not_found(req.path),
    };
    (StatusCode::OK, req.page(items, "@odata.nextLink"))
}

// --- Power BI ----------------------------------------------------------------

fn upn_of(m: &TenantModel, id: &str) -> String {
    m.principal(id)
        .and_then(|p| p.upn.clone())
        .unwrap_or_else(|| id.to_string())
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

fn scan_start(st: &Shared, req: &Req) -> Answer {
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

fn powerbi(st: &Shared, m: &TenantModel, req: &Req, s: &[&str]) -> Answer {
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

// --- Customer Insights ----------------------------------------------------------

fn customer_insights(m: &TenantModel, req: &Req, s: &[&str]) -> Answer {
    if req
        .headers
        .get("ocp-apim-subscription-key")
        .is_none_or(|v| v.is_empty())
    {
        return (
            StatusCode::UNAUTHORIZED,
            json!({"statusCode": 401, "message": "Access denied due to missing subscription key."}),
        );
    }
    let find = |id: &str| m.instances.iter().find(|i| eq(&i.id, id));
    match s {
        ["instances"] => (
            StatusCode::OK,
            Value::Array(
                m.instances
                    .iter()
                    .map(|i| json!({"instanceId": i.id, "name": i.name, "instanceType": "ci"}))
                    .collect(),
            ),
        ),
        ["instances", id] => match find(id) {
            Some(i) => (StatusCode::OK, instance(m, i)),
            None => not_found("instance"),
        },
        ["instances", id, "rbac", "assignments"] => match find(id) {
            Some(i) => (
                StatusCode::OK,
                Value::Array(
                    i.roles
                        .iter()
                        .map(|r| {
                            json!({"principalId": r.principal, "principalType": r.kind, "roles": r.roles, "instanceId": i.id})
                        })
                        .collect(),
                ),
            ),
            None => not_found("instance"),
        },
        _ => not_found(req.path),
    }
}

fn instance(m: &TenantModel, i: &ModelInstance) -> Value {
    let org = i
        .environment
        .as_deref()
        .and_then(|e| m.environments.iter().find(|x| eq(&x.name, e)))
        .and_then(|e| e.dataverse_url.as_deref())
        .map(instance_url);
    let at = |t: DateTime<Utc>| t.to_rfc3339();
    json!({
        "instanceId": i.id,
        "name": i.name,
        "provisioningState": "Active",
        "cdsOrgInfo": {"url": org},
        "createdBy": upn_of(m, &i.created_by),
        "createdUtc": at(i.created),
        "updatedBy": i.updated_by.as_deref().map(|u| upn_of(m, u)),
        "updatedUtc": i.updated.map(at),
    })
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

fn partner_json(m: &TenantModel, l: &super::model::ModelPartnerLink) -> Value {
    json!({
        "id": format!("/providers/microsoft.managementpartner/partners/{}", l.partner_id),
        "name": l.partner_id,
        "type": "Microsoft.ManagementPartner/partner",
        "etag": 1,
        "properties": {
            "partnerId": l.partner_id,
            "partnerName": l.partner_name,
            "tenantId": m.tenant_id,
            "objectId": l.principal,
            "version": 1,
            "createdTime": l.created.map(|t| t.to_rfc3339()),
            "updatedTime": l.updated.map(|t| t.to_rfc3339()),
            "state": l.state,
        },
    })
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
    let ok = |v: Value| Some((StatusCode::OK, v));
    match (req.host, s) {
        ("management.azure.com", ["providers", p, "partners", partner])
            if eq(p, "Microsoft.ManagementPartner") =>
        {
            if req.param("api-version").is_none() {
                return Some(req.needs_api_version().expect("missing"));
            }
            let Some(oid) = caller(req) else {
                return Some(no_caller());
            };
            if !partner.bytes().all(|b| b.is_ascii_digit()) {
                return Some((
                    StatusCode::BAD_REQUEST,
                    json!({"error": {"code": "BadRequest", "message": format!("'{partner}' is not a valid partner id")}}),
                ));
            }
            let now = Utc::now();
            let existing = m.partner_links.iter().position(|l| eq(&l.principal, &oid));
            match (req.method.as_str(), existing) {
                ("PUT", Some(_)) => Some((
                    StatusCode::CONFLICT,
                    json!({"error": {"code": "Conflict", "message": "A partner link already exists for this principal."}}),
                )),
                ("PUT", None) => {
                    m.partner_links.push(super::model::ModelPartnerLink {
                        principal: oid,
                        partner_id: partner.to_string(),
                        partner_name: Some(format!("Partner {partner}")),
                        state: "Active".into(),
                        created: Some(now),
                        updated: Some(now),
                    });
                    let l = m.partner_links.last().expect("just pushed").clone();
                    ok(partner_json(m, &l))
                }
                ("PATCH", Some(i)) => {
                    let l = &mut m.partner_links[i];
                    l.partner_id = partner.to_string();
                    l.partner_name = Some(format!("Partner {partner}"));
                    l.state = "Active".into();
                    l.updated = Some(now);
                    let l = l.clone();
                    ok(partner_json(m, &l))
                }
                ("DELETE", Some(i)) if eq(&m.partner_links[i].partner_id, partner) => {
                    m.partner_links.remove(i);
                    empty()
                }
                ("PATCH" | "DELETE", _) => Some(not_found("partner link")),
                _ => None,
            }
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
        ) => {
            let b = body(req);
            let Some(new_owner) = b["newAppOwner"].as_str() else {
                return Some((
                    StatusCode::BAD_REQUEST,
                    json!({"error": {"code": "InvalidRequest", "message": "newAppOwner is required"}}),
                ));
            };
            let app = m
                .apps
                .iter_mut()
                .find(|a| eq(&a.id, id) && eq(&a.environment, env))?;
            // A role change moves lastModifiedTime here [?]: delta audits
            // rely on it (docs/performance.md, "Delta audits").
            app.modified = Some(Utc::now());
            let old = std::mem::replace(&mut app.owner, new_owner.to_string());
            app.roles.retain(|r| !eq(&r.principal, new_owner));
            if let Some(role) = b["roleForOldAppOwner"].as_str()
                && !eq(&old, new_owner)
            {
                app.roles.push(super::model::ModelRole {
                    principal: old,
                    role: role.to_string(),
                });
            }
            // Void, as the admin connector declares it: an empty 200.
            empty()
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
                "modifyPermissions",
            ],
        ) => {
            // Shares the app: each `put` sets its principal's role (the
            // owner's is never changed here), each `delete` removes one.
            let b = body(req);
            let app = m
                .apps
                .iter_mut()
                .find(|a| eq(&a.id, id) && eq(&a.environment, env))?;
            app.modified = Some(Utc::now());
            for put in b["put"].as_array().into_iter().flatten() {
                let p = &put["properties"];
                let (Some(principal), Some(role)) =
                    (p["principal"]["id"].as_str(), p["roleName"].as_str())
                else {
                    return Some((
                        StatusCode::BAD_REQUEST,
                        json!({"error": {"code": "InvalidRequest", "message": "principal.id and roleName are required"}}),
                    ));
                };
                if eq(&app.owner, principal) {
                    continue;
                }
                app.roles.retain(|r| !eq(&r.principal, principal));
                app.roles.push(super::model::ModelRole {
                    principal: principal.to_string(),
                    role: role.to_string(),
                });
            }
            for del in b["delete"].as_array().into_iter().flatten() {
                if let Some(principal) = del["id"].as_str() {
                    app.roles.retain(|r| !eq(&r.principal, principal));
                }
            }
            // The admin connector declares the answer void, like
            // modifyAppOwner's.
            empty()
        }
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
        ) => {
            let b = body(req);
            let flow = m
                .flows
                .iter_mut()
                .find(|f| eq(&f.id, id) && eq(&f.environment, env))?;
            flow.modified = Some(Utc::now());
            for put in b["put"].as_array().into_iter().flatten() {
                if let Some(p) = put["properties"]["principal"]["id"].as_str() {
                    match put["properties"]["roleName"].as_str() {
                        Some("Owner") => flow.owners.push(p.to_string()),
                        _ => flow.editors.push(p.to_string()),
                    }
                }
            }
            empty()
        }
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
        ) => {
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
            m.powerbi_activity.push(super::model::ModelPowerBiEvent {
                dataset,
                by: oid,
                at,
                activity: "TakeOverDataset".into(),
            });
            // 200 with no body: the REST specification declares no schema.
            empty()
        }
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
        ) => {
            let b = body(req);
            let i = m.instances.iter_mut().find(|i| eq(&i.id, id))?;
            let roles: Vec<String> = b["roles"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_else(|| vec!["Viewer".into()]);
            i.roles.retain(|r| !eq(&r.principal, principal));
            i.roles.push(super::model::ModelInstanceRole {
                principal: principal.to_string(),
                kind: b["principalType"]
                    .as_str()
                    .unwrap_or("user")
                    .to_ascii_lowercase(),
                roles,
            });
            // No documented answer body: the write is checked by reading
            // the assignments back, so the emulator gives none.
            empty()
        }
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
