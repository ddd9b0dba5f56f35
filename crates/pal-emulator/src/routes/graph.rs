//! Microsoft Graph routes on `graph.microsoft.com` (`/v1.0`): `me` (the
//! caller of the bearer token), users, service principals (by id or
//! `appId`) and a group's transitive members, with `@odata.nextLink` paging;
//! and `POST /v1.0/$batch`, at most 20 requests, each answered as if sent
//! alone, a status fault injected on its own path included.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Answer, Req, caller, eq, route, segments};
use crate::Shared;
use crate::model::{ModelKind, ModelPrincipal, TenantModel};

pub(super) fn me(m: &TenantModel, req: &Req) -> Answer {
    match caller(req).and_then(|oid| m.principal(&oid).cloned()) {
        Some(p) if p.kind == ModelKind::User => (
            StatusCode::OK,
            json!({"id": p.id, "userPrincipalName": p.upn, "accountEnabled": p.enabled, "displayName": p.name}),
        ),
        _ => graph_not_found("me"),
    }
}

fn graph_not_found(key: &str) -> Answer {
    (
        StatusCode::NOT_FOUND,
        json!({"error": {"code": "Request_ResourceNotFound", "message": format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present.")}}),
    )
}

pub(super) fn graph(m: &TenantModel, req: &Req, s: &[&str]) -> Answer {
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
pub(super) fn graph_batch(st: &Shared, req: &Req) -> Answer {
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
                Some(crate::FaultKind::Status(s)) => (
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
