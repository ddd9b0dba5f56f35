//! Power Apps admin routes on `api.powerapps.com` (`Microsoft.PowerApps`):
//! an environment's apps, one app and an app's permissions, with `nextLink`
//! paging and `api-version` required; and the writes `modifyAppOwner` and
//! `modifyPermissions`, which answer an empty 200 as the admin connector
//! declares them void.

use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Value, json};

use super::{Answer, Req, body, empty, eq, not_found, type_name};
use crate::model::{ModelApp, TenantModel};

pub(super) fn list_apps(m: &TenantModel, req: &Req, env: &str) -> Answer {
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

pub(super) fn get_app(m: &TenantModel, req: &Req, env: &str, id: &str) -> Answer {
    if let Some(e) = req.needs_api_version() {
        return e;
    }
    match m.app(env, id) {
        Some(a) => (StatusCode::OK, app(m, a)),
        None => not_found("app"),
    }
}

pub(super) fn get_app_permissions(m: &TenantModel, req: &Req, env: &str, id: &str) -> Answer {
    if let Some(e) = req.needs_api_version() {
        return e;
    }
    match m.app(env, id) {
        Some(a) => (StatusCode::OK, req.page(app_permissions(m, a), "nextLink")),
        None => not_found("app"),
    }
}

pub(super) fn modify_app_owner(
    m: &mut TenantModel,
    req: &Req,
    env: &str,
    id: &str,
) -> Option<Answer> {
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
        app.roles.push(crate::model::ModelRole {
            principal: old,
            role: role.to_string(),
        });
    }
    // Void, as the admin connector declares it: an empty 200.
    empty()
}

pub(super) fn modify_permissions(
    m: &mut TenantModel,
    req: &Req,
    env: &str,
    id: &str,
) -> Option<Answer> {
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
        let (Some(principal), Some(role)) = (p["principal"]["id"].as_str(), p["roleName"].as_str())
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
        app.roles.push(crate::model::ModelRole {
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
