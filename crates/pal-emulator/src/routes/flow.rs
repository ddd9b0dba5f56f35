//! Power Automate admin routes on `api.flow.microsoft.com`
//! (`Microsoft.ProcessSimple`): an environment's flows (v2; flows only
//! Dataverse knows are left out) and a flow's permissions, with `nextLink`
//! paging and `api-version` required; and the `modifyPermissions` write.

use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Value, json};

use super::{Answer, Req, body, empty, eq, not_found, type_name};
use crate::model::{ModelFlow, ModelKind, TenantModel};

pub(super) fn list_flows(m: &TenantModel, req: &Req, env: &str) -> Answer {
    if let Some(e) = req.needs_api_version() {
        return e;
    }
    let Some(env) = m.environments.iter().find(|e| eq(&e.name, env)) else {
        return not_found("environment");
    };
    let mut items = m.flows_in(&env.name);
    items.retain(|f| !f.dataverse_only && f.category == 5);
    (
        StatusCode::OK,
        req.page_with(items, |f| flow(m, f), "nextLink"),
    )
}

pub(super) fn get_flow_permissions(m: &TenantModel, req: &Req, env: &str, id: &str) -> Answer {
    if let Some(e) = req.needs_api_version() {
        return e;
    }
    match m.flow(env, id) {
        Some(f) => (StatusCode::OK, req.page(flow_permissions(m, f), "nextLink")),
        None => not_found("flow"),
    }
}

pub(super) fn modify_permissions(
    m: &mut TenantModel,
    req: &Req,
    env: &str,
    id: &str,
) -> Option<Answer> {
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
