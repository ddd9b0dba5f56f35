//! Dynamics 365 Customer Insights routes on `api.ci.ai.dynamics.com`
//! (`/v1`): instances, one instance and its RBAC assignments, each read
//! refused (401) without an `Ocp-Apim-Subscription-Key` header; and the
//! `assign` write, which answers no body.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Answer, Req, body, empty, eq, instance_url, not_found, upn_of};
use crate::model::{ModelInstance, TenantModel};

pub(super) fn customer_insights(m: &TenantModel, req: &Req, s: &[&str]) -> Answer {
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
                    .map(|i| json!({"instanceId": i.id, "name": i.name, "instanceType": i.instance_type.as_deref().unwrap_or("production")}))
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

pub(super) fn assign(m: &mut TenantModel, req: &Req, id: &str, principal: &str) -> Option<Answer> {
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
    i.roles.push(crate::model::ModelInstanceRole {
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
