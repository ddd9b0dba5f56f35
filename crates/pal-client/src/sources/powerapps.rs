//! Power Apps admin API (api.powerapps.com): canvas apps per environment, and
//! the role assignments (owner, co-owners, viewers) of shared apps.

use pal_core::endpoints;
use pal_core::fix::Outcome;
use serde_json::{Value, json};

use super::write;
use futures::StreamExt;
use serde::Deserialize;

use super::wire::{WirePrincipal, opt_time};
use crate::cache::{Cache, CachedRoles};
use crate::http::{Ctx, HttpClient, HttpError, ValuePage};
use pal_core::inventory::{
    Environment, Fact, Principal, Resource, ResourceId, ResourceKind, Role, RoleAssignment,
    SYSTEM_PSEUDO_USER, Stamp, StampKind,
};

pub const SOURCE: &str = endpoints::POWER_APPS.source;
pub const AUDIENCE: &str = endpoints::POWER_APPS.audience;
const BASE: &str = endpoints::POWER_APPS.base;

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireApp {
    pub name: String,
    /// Top level in the answers recorded publicly; `properties.appType` is
    /// read too.
    #[serde(default)]
    pub app_type: Option<String>,
    #[serde(default)]
    pub is_app_component_library: Option<bool>,
    #[serde(default)]
    pub properties: WireAppProperties,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireAppProperties {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub app_type: Option<String>,
    #[serde(default)]
    pub owner: Option<WirePrincipal>,
    #[serde(default)]
    pub created_by: Option<WirePrincipal>,
    #[serde(default)]
    pub last_modified_by: Option<WirePrincipal>,
    #[serde(default)]
    pub last_published_by: Option<WirePrincipal>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_time: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, deserialize_with = "opt_time")]
    pub last_modified_time: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, deserialize_with = "opt_time")]
    pub last_publish_time: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub shared_users_count: Option<i64>,
    #[serde(default)]
    pub shared_groups_count: Option<i64>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub struct WireRoleAssignment {
    #[serde(default)]
    pub properties: WireRoleProperties,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireRoleProperties {
    #[serde(default)]
    pub role_name: Option<String>,
    #[serde(default)]
    pub principal: WirePrincipal,
}

/// What an item of the apps list is, by its `appType`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppKind {
    /// `ClassicCanvasApp`, or no `appType` at all (older answers).
    Canvas,
    /// `CustomCanvasPage`: a page of a model-driven app, which the
    /// model-driven app's own finding covers; no canvas app of its own.
    CustomPage,
    /// A value this version does not know: kept as a canvas app (dropping it
    /// could hide an app that earns credit) and named in the coverage.
    Unknown(String),
}

impl AppKind {
    pub fn of(app: &WireApp) -> Self {
        match app
            .app_type
            .as_deref()
            .or(app.properties.app_type.as_deref())
            .map(str::trim)
        {
            None | Some("") => Self::Canvas,
            Some(t) if t.eq_ignore_ascii_case("ClassicCanvasApp") => Self::Canvas,
            Some(t) if t.eq_ignore_ascii_case("CustomCanvasPage") => Self::CustomPage,
            // Bounded: the value ends up in the report's coverage text.
            Some(t) => Self::Unknown(t.chars().take(64).collect()),
        }
    }
}

/// What one environment's apps gave.
#[derive(Debug, Default)]
pub struct AppsRead {
    pub resources: Vec<Resource>,
    pub principals: Vec<Principal>,
    pub component_libraries: usize,
    /// Custom pages (`CustomCanvasPage`) the list gave, left out.
    pub custom_pages: usize,
    /// Apps kept as canvas apps whose `appType` this version does not know,
    /// by that value.
    pub unknown_types: std::collections::BTreeMap<String, usize>,
    pub permission_reads: usize,
    /// Apps whose role assignments could not be read, with the error.
    pub permission_failures: Vec<String>,
    /// Permissions read (or reused) by app, for the next delta audit.
    pub cache: Vec<(ResourceId, CachedRoles)>,
    /// Apps whose permissions came from the previous audit's cache.
    pub reused: usize,
}

fn apps_url(env: &Environment) -> String {
    format!(
        "{BASE}/{}/apps?api-version=2016-11-01&$top=250",
        crate::http::seg(&env.name)
    )
}

fn permissions_url(env: &Environment, app: &str) -> String {
    format!(
        "{BASE}/{}/apps/{}/permissions?api-version=2016-11-01",
        crate::http::seg(&env.name),
        crate::http::seg(app)
    )
}

/// Reads the canvas apps of one environment. A failed list is an error (the
/// caller records a coverage gap); a failed permissions read leaves that
/// app's roles unknown and the rest goes on.
/// With `previous`, an app whose `lastModifiedTime` has not moved since
/// takes its permissions from the cache instead.
pub async fn read_environment(
    http: &HttpClient,
    env: &Environment,
    previous: Option<&Cache>,
) -> Result<AppsRead, HttpError> {
    let ctx = Ctx::new(SOURCE, AUDIENCE).env(&env.id);
    let apps = http
        .get_all_by_id::<ValuePage<WireApp>>(&ctx, &apps_url(env), |a| a.name.to_ascii_lowercase())
        .await?;
    let mut out = AppsRead::default();
    let mut pending = Vec::new();
    for app in apps {
        if !crate::http::is_service_id(&app.name) {
            out.permission_failures
                .push(format!("app {:?} left out: its id is not a GUID", app.name));
            continue;
        }
        // Component libraries hold components for other apps; nobody runs
        // them, so they have no users to credit.
        if app.is_app_component_library == Some(true) {
            out.component_libraries += 1;
            continue;
        }
        match AppKind::of(&app) {
            AppKind::Canvas => {}
            AppKind::CustomPage => {
                out.custom_pages += 1;
                continue;
            }
            AppKind::Unknown(t) => *out.unknown_types.entry(t).or_default() += 1,
        }
        let p = &app.properties;
        for w in [
            &p.owner,
            &p.created_by,
            &p.last_modified_by,
            &p.last_published_by,
        ]
        .into_iter()
        .flatten()
        {
            out.principals.extend(w.to_principal());
        }
        let owner = p.owner.as_ref().and_then(WirePrincipal::to_principal);
        // An app shared with nobody (both counters present and zero) has no
        // role assignment besides its owner, which the list already names: its
        // permissions call would only repeat it. Skipping it is the largest
        // request saving of an audit (most apps are never shared). When a
        // counter is missing, or the owner is, the call is made.
        let unshared = p.shared_users_count == Some(0) && p.shared_groups_count == Some(0);
        let roles = match (&owner, unshared) {
            (Some(o), true) => Some(Fact::Known(vec![RoleAssignment {
                principal: o.id.clone(),
                principal_type: o.principal_type,
                role: Role::Owner,
            }])),
            _ => None,
        };
        let resource = to_resource(
            &app,
            env,
            roles.clone().unwrap_or(Fact::Unknown(String::new())),
        );
        let mut resource = resource;
        if roles.is_none() {
            match previous.and_then(|c| {
                c.roles_if_unchanged(&resource.id, p.last_modified_time)
                    .map(|r| (c, r))
            }) {
                Some((c, cached)) => {
                    resource.roles = Fact::Known(cached.roles.clone());
                    out.principals.extend(c.principals_of(&cached.roles));
                    out.cache.push((resource.id.clone(), cached.clone()));
                    out.reused += 1;
                }
                None => pending.push((
                    out.resources.len(),
                    app.name.clone(),
                    owner,
                    p.last_modified_time,
                )),
            }
        }
        out.resources.push(resource);
    }
    out.permission_reads = pending.len();
    let reads = futures::stream::iter(pending)
        .map(|(index, app, owner, modified)| {
            let ctx = ctx.clone();
            async move {
                let url = permissions_url(env, &app);
                let result = http
                    .get_all::<ValuePage<WireRoleAssignment>>(&ctx, &url)
                    .await;
                (index, owner, modified, result)
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    for (index, owner, modified, result) in reads {
        let resource = &mut out.resources[index];
        match result {
            Ok(assignments) => {
                let mut roles = Vec::new();
                let mut principals = Vec::new();
                for a in &assignments {
                    let Some(role) = a.properties.role_name.as_deref().and_then(Role::from_api)
                    else {
                        continue;
                    };
                    let Some(p) = a.properties.principal.to_principal() else {
                        continue;
                    };
                    roles.push(RoleAssignment {
                        principal: p.id.clone(),
                        principal_type: p.principal_type,
                        role,
                    });
                    principals.push(p);
                }
                // The list's owner counts even if the permissions omit it.
                if let Some(o) = owner
                    && !roles
                        .iter()
                        .any(|r| r.role == Role::Owner && r.principal == o.id)
                {
                    roles.push(RoleAssignment {
                        principal: o.id.clone(),
                        principal_type: o.principal_type,
                        role: Role::Owner,
                    });
                }
                out.cache
                    .extend(CachedRoles::read(&resource.id, modified, &roles));
                out.principals.extend(principals);
                resource.roles = Fact::Known(roles);
            }
            Err(e) => {
                out.permission_failures
                    .push(format!("{}: {e}", resource.name));
                resource.roles = Fact::Unknown(format!("permissions could not be read: {e}"));
            }
        }
    }
    Ok(out)
}

fn to_resource(app: &WireApp, env: &Environment, roles: Fact<Vec<RoleAssignment>>) -> Resource {
    let p = &app.properties;
    let id_of = |w: &Option<WirePrincipal>| {
        w.as_ref()
            .and_then(WirePrincipal::to_principal)
            .map(|p| p.id)
    };
    // The stamps the rules name for canvas apps: creation is activity too,
    // the earliest one (rules v2).
    let mut stamps = Vec::new();
    for (kind, who, at) in [
        (StampKind::Created, &p.created_by, p.created_time),
        (
            StampKind::Modified,
            &p.last_modified_by,
            p.last_modified_time,
        ),
        (
            StampKind::Published,
            &p.last_published_by,
            p.last_publish_time,
        ),
    ] {
        if let (Some(principal), Some(at)) = (id_of(who), at) {
            stamps.push(Stamp {
                kind,
                principal,
                at,
            });
        }
    }
    Resource {
        id: ResourceId::new(&app.name),
        kind: ResourceKind::CanvasApp,
        name: p
            .display_name
            .clone()
            .unwrap_or_else(|| app.name.clone())
            .into(),
        environment: env.id.clone(),
        environment_name: None,
        solution: None,
        creator: id_of(&p.created_by).map_or_else(
            || Fact::Unknown("the app list gives no createdBy".into()),
            Fact::Known,
        ),
        roles,
        stamps,
        instance_type: None,
        other_solutions: Vec::new(),
        // The SYSTEM pseudo-user is the platform, not a person.
        platform_creator: id_of(&p.created_by)
            .filter(|c| c.as_str() == SYSTEM_PSEUDO_USER)
            .map(|_| "SYSTEM".to_string()),
    }
}

// Writes (`fix --apply`): each checks first, writes, and is judged by a
// re-read of the same resource.

/// Makes `id` a co-owner (`CanEdit`) of a canvas app with
/// `modifyPermissions` ([`pal_core::fix::co_owner_body`]); the owner stays.
pub async fn add_co_owner(
    http: &HttpClient,
    environment: &str,
    app: &str,
    id: &str,
) -> Result<Outcome, HttpError> {
    let ctx = Ctx::new(SOURCE, AUDIENCE);
    let uri = format!("{BASE}/{environment}/apps/{app}");
    let permissions = format!("{uri}/permissions?api-version=2016-11-01");
    // Owner or CanEdit: either already makes it a co-owner or more.
    let holds = |v: &Value| {
        v["value"].as_array().into_iter().flatten().any(|a| {
            a["properties"]["principal"]["id"]
                .as_str()
                .is_some_and(|p| p.eq_ignore_ascii_case(id))
                && matches!(
                    a["properties"]["roleName"].as_str(),
                    Some("CanEdit" | "Owner")
                )
        })
    };
    let before: Value = http.get_json(&ctx, &permissions).await?;
    if holds(&before) {
        return Ok(Outcome::AlreadyDone);
    }
    let body = pal_core::fix::co_owner_body(id);
    write::send(
        http,
        &ctx,
        reqwest::Method::POST,
        &format!("{uri}/modifyPermissions?api-version=2016-11-01"),
        Some(&body),
    )
    .await?;
    let after: Value = match write::reread(http, &ctx, &permissions).await {
        Ok(v) => v,
        Err(o) => return Ok(o),
    };
    Ok(if holds(&after) {
        Outcome::Changed
    } else {
        Outcome::Failed("the co-owner role did not appear".into())
    })
}

/// Makes `id` the owner of a canvas app with `modifyAppOwner`, the old
/// owner kept as co-owner (`CanEdit`).
pub async fn set_owner(
    http: &HttpClient,
    environment: &str,
    app: &str,
    id: &str,
) -> Result<Outcome, HttpError> {
    let ctx = Ctx::new(SOURCE, AUDIENCE);
    let uri = format!("{BASE}/{environment}/apps/{app}");
    let read = format!("{uri}?api-version=2016-11-01");
    let owner = |v: &Value| {
        v["properties"]["owner"]["id"]
            .as_str()
            .map(str::to_ascii_lowercase)
    };
    let before: Value = http.get_json(&ctx, &read).await?;
    if owner(&before).as_deref() == Some(id) {
        return Ok(Outcome::AlreadyDone);
    }
    let body = json!({"newAppOwner": id, "roleForOldAppOwner": "CanEdit"});
    write::send(
        http,
        &ctx,
        reqwest::Method::POST,
        &format!("{uri}/modifyAppOwner?api-version=2016-11-01"),
        Some(&body),
    )
    .await?;
    let after: Value = match write::reread(http, &ctx, &read).await {
        Ok(v) => v,
        Err(o) => return Ok(o),
    };
    Ok(match owner(&after) {
        Some(o) if o == id => Outcome::Changed,
        o => Outcome::Failed(format!(
            "the owner change was accepted, but the app's owner is still {}",
            o.as_deref().unwrap_or("unnamed")
        )),
    })
}

/// `doctor`: whether the admin API lists the apps of `environment`.
pub async fn probe(http: &HttpClient, environment: &str) -> Result<(), HttpError> {
    let url = format!(
        "{BASE}/{}/apps?api-version=2016-11-01&$top=1",
        crate::http::seg(environment)
    );
    http.get_json::<ValuePage<serde_json::Value>>(&Ctx::new(SOURCE, AUDIENCE), &url)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pal_core::inventory::PrincipalType;

    #[test]
    fn decodes_the_documented_samples() {
        let page: ValuePage<WireApp> =
            serde_json::from_str(include_str!("../../api-samples/powerapps-apps.json")).unwrap();
        assert!(page.next_link.is_some());
        let app = &page.value[0];
        assert_eq!(app.app_type.as_deref(), Some("ClassicCanvasApp"));
        assert_eq!(app.properties.shared_users_count, Some(3));
        let owner = app
            .properties
            .owner
            .as_ref()
            .unwrap()
            .to_principal()
            .unwrap();
        assert_eq!(owner.upn.as_deref(), Some("svc-delivery@contoso.com"));
        assert_eq!(page.value[1].is_app_component_library, Some(true));
        assert_eq!(AppKind::of(app), AppKind::Canvas);

        let env = Environment {
            id: "default-x".into(),
            name: "Default-X".into(),
            display_name: "x".into(),
            sku: None,
            is_default: true,
            dataverse_api_url: None,
            dataverse_url: None,
        };
        let r = to_resource(app, &env, Fact::Known(vec![]));
        let kinds: Vec<StampKind> = r.stamps.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            vec![StampKind::Created, StampKind::Modified],
            "created and modified; no lastPublishedBy in the sample"
        );
        assert!(apps_url(&env).contains("/environments/Default-X/apps?"));

        let perms: ValuePage<WireRoleAssignment> =
            serde_json::from_str(include_str!("../../api-samples/powerapps-permissions.json"))
                .unwrap();
        let tenant = perms.value[2].properties.principal.to_principal().unwrap();
        assert_eq!(tenant.principal_type, PrincipalType::Tenant);
        assert_eq!(tenant.id.as_str(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
        assert_eq!(
            Role::from_api(perms.value[1].properties.role_name.as_deref().unwrap()),
            Some(Role::CoOwner)
        );
    }

    #[test]
    fn only_classic_canvas_apps_are_canvas_apps() {
        let of = |v: serde_json::Value| AppKind::of(&serde_json::from_value(v).unwrap());
        assert_eq!(
            of(serde_json::json!({"name": "a", "appType": "ClassicCanvasApp"})),
            AppKind::Canvas
        );
        assert_eq!(of(serde_json::json!({"name": "a"})), AppKind::Canvas);
        assert_eq!(
            of(serde_json::json!({"name": "a", "appType": "CustomCanvasPage"})),
            AppKind::CustomPage
        );
        assert_eq!(
            of(serde_json::json!({"name": "a", "properties": {"appType": "customcanvaspage"}})),
            AppKind::CustomPage
        );
        assert_eq!(
            of(serde_json::json!({"name": "a", "appType": "FutureThing"})),
            AppKind::Unknown("FutureThing".into())
        );
    }
}
