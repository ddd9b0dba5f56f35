//! Power Automate admin API v2 (api.flow.microsoft.com): cloud flows per
//! environment with their creator, and each flow's owners.

use futures::StreamExt;
use pal_core::endpoints;
use serde::Deserialize;

use super::wire::opt_time;
use crate::cache::{Cache, CachedRoles};
use crate::http::{Ctx, HttpClient, HttpError, ValuePage};
use pal_core::inventory::{
    Environment, Fact, Principal, PrincipalId, PrincipalType, Resource, ResourceId, ResourceKind,
    Role, RoleAssignment,
};

pub const SOURCE: &str = endpoints::FLOW.source;
pub const AUDIENCE: &str = endpoints::FLOW.audience;
const BASE: &str = endpoints::FLOW.base;

#[derive(Debug, PartialEq, Deserialize)]
pub struct WireFlow {
    pub name: String,
    #[serde(default)]
    pub properties: WireFlowProperties,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireFlowProperties {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_time: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, deserialize_with = "opt_time")]
    pub last_modified_time: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub is_managed: Option<bool>,
    #[serde(default)]
    pub creator: Option<WireCreator>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireCreator {
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub object_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub user_type: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub struct WirePermission {
    #[serde(default)]
    pub properties: WirePermissionProperties,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WirePermissionProperties {
    #[serde(default)]
    pub role_name: Option<String>,
    #[serde(default)]
    pub permission_type: Option<String>,
    #[serde(default)]
    pub principal: Option<WireFlowPrincipal>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct WireFlowPrincipal {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// What one environment's flows gave.
#[derive(Debug, Default)]
pub struct FlowsRead {
    pub resources: Vec<Resource>,
    pub principals: Vec<Principal>,
    /// Flows whose owners could not be read, with the error.
    pub permission_failures: Vec<String>,
    /// Owners read (or reused) by flow, for the next delta audit.
    pub cache: Vec<(ResourceId, CachedRoles)>,
    /// Flows whose owners came from the previous audit's cache.
    pub reused: usize,
}

fn flows_url(env: &Environment) -> String {
    format!(
        "{BASE}/{}/v2/flows?api-version=2016-11-01&$top=250",
        crate::http::seg(&env.name)
    )
}

fn permissions_url(env: &Environment, flow: &str) -> String {
    format!(
        "{BASE}/{}/flows/{}/permissions?api-version=2016-11-01",
        crate::http::seg(&env.name),
        crate::http::seg(flow)
    )
}

impl WireCreator {
    fn principal(&self) -> Option<Principal> {
        let id = self
            .object_id
            .as_deref()
            .or(self.user_id.as_deref())
            .filter(|s| !s.is_empty())?;
        // `userType` is `ActiveDirectory` for users; anything naming an
        // application is a service principal.
        let kind = match self.user_type.as_deref().map(str::to_ascii_lowercase) {
            Some(t) if t.contains("serviceprincipal") || t.contains("application") => {
                PrincipalType::ServicePrincipal
            }
            _ => PrincipalType::User,
        };
        Some(Principal::new(PrincipalId::new(id), kind))
    }
}

/// Reads the cloud flows of one environment and every flow's owners (needed
/// to raise `linked-owner-not-creator`). A failed list is an error; a failed
/// owners read leaves that flow's owners unknown. `read_owners` false skips
/// every owners call (`--no-flow-owners`); flows whose creator is in `ours`
/// (linked to our partner) skip theirs: the creator alone credits them. With
/// `previous`, a flow whose `lastModifiedTime` has not moved since takes its
/// owners from the cache.
pub async fn read_environment(
    http: &HttpClient,
    env: &Environment,
    read_owners: bool,
    ours: &std::collections::BTreeSet<PrincipalId>,
    previous: Option<&Cache>,
) -> Result<FlowsRead, HttpError> {
    let ctx = Ctx::new(SOURCE, AUDIENCE).env(&env.id);
    let flows = http
        .get_all_by_id::<ValuePage<WireFlow>>(&ctx, &flows_url(env), |f| {
            f.name.to_ascii_lowercase()
        })
        .await?;
    let mut out = FlowsRead::default();
    let (flows, invalid): (Vec<WireFlow>, Vec<WireFlow>) = flows
        .into_iter()
        .partition(|f| crate::http::is_service_id(&f.name));
    for f in invalid {
        out.permission_failures
            .push(format!("flow {:?} left out: its id is not a GUID", f.name));
    }
    for flow in &flows {
        let creator = flow
            .properties
            .creator
            .as_ref()
            .and_then(WireCreator::principal);
        out.resources.push(Resource {
            id: ResourceId::new(&flow.name),
            kind: ResourceKind::CloudFlow,
            name: flow
                .properties
                .display_name
                .clone()
                .unwrap_or_else(|| flow.name.clone())
                .into(),
            environment: env.id.clone(),
            environment_name: None,
            solution: None,
            creator: creator.as_ref().map_or_else(
                || Fact::Unknown("the flow list gives no creator.objectId".into()),
                |c| Fact::Known(c.id.clone()),
            ),
            roles: Fact::Unknown(String::new()),
            // A flow has one creator: no latest-partner choice, no stamps needed.
            stamps: Vec::new(),
            instance_type: None,
            other_solutions: Vec::new(),
            platform_creator: None,
        });
        out.principals.extend(creator);
    }
    if !read_owners {
        for r in &mut out.resources {
            r.roles = Fact::Unknown("--no-flow-owners".into());
        }
        return Ok(out);
    }
    let mut wanted = Vec::new();
    for (index, flow) in flows.iter().enumerate() {
        match &out.resources[index].creator {
            Fact::Known(c) if ours.contains(c) => {
                out.resources[index].roles = Fact::Unknown(
                    "the creator is linked to our partner, so owners change nothing".into(),
                );
            }
            _ => match previous.and_then(|c| {
                c.roles_if_unchanged(&out.resources[index].id, flow.properties.last_modified_time)
                    .map(|r| (c, r))
            }) {
                Some((c, cached)) => {
                    out.resources[index].roles = Fact::Known(cached.roles.clone());
                    out.principals.extend(c.principals_of(&cached.roles));
                    out.cache
                        .push((out.resources[index].id.clone(), cached.clone()));
                    out.reused += 1;
                }
                None => wanted.push((index, flow)),
            },
        }
    }
    let reads = futures::stream::iter(wanted)
        .map(|(index, flow): (usize, &WireFlow)| {
            let ctx = ctx.clone();
            async move {
                let url = permissions_url(env, &flow.name);
                (
                    index,
                    flow.properties.last_modified_time,
                    http.get_all::<ValuePage<WirePermission>>(&ctx, &url).await,
                )
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    for (index, modified, result) in reads {
        let resource = &mut out.resources[index];
        match result {
            Ok(permissions) => {
                let mut roles = Vec::new();
                let mut principals = Vec::new();
                for p in permissions {
                    let props = p.properties;
                    // Connection delegations are not people or apps.
                    if props
                        .permission_type
                        .as_deref()
                        .is_some_and(|t| !t.eq_ignore_ascii_case("Principal"))
                    {
                        continue;
                    }
                    let (Some(role), Some(principal)) = (
                        props.role_name.as_deref().and_then(Role::from_api),
                        props.principal,
                    ) else {
                        continue;
                    };
                    let Some(id) = principal.id.filter(|i| !i.is_empty()) else {
                        continue;
                    };
                    let kind = principal
                        .kind
                        .as_deref()
                        .map_or(PrincipalType::Unknown, PrincipalType::from_api);
                    let id = PrincipalId::new(id);
                    principals.push(Principal::new(id.clone(), kind));
                    roles.push(RoleAssignment {
                        principal: id,
                        principal_type: kind,
                        role,
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
                resource.roles = Fact::Unknown(format!("owners could not be read: {e}"));
            }
        }
    }
    Ok(out)
}

/// `doctor`: whether the admin API lists the flows of `environment`.
pub async fn probe(http: &HttpClient, environment: &str) -> Result<(), HttpError> {
    let url = format!(
        "{BASE}/{}/v2/flows?api-version=2016-11-01&$top=1",
        crate::http::seg(environment)
    );
    http.get_json::<ValuePage<serde_json::Value>>(&Ctx::new(SOURCE, AUDIENCE), &url)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_documented_samples() {
        let page: ValuePage<WireFlow> =
            serde_json::from_str(include_str!("../../api-samples/flow-flows.json")).unwrap();
        let creator = page.value[0]
            .properties
            .creator
            .as_ref()
            .unwrap()
            .principal()
            .unwrap();
        assert_eq!(creator.id.as_str(), "a0000000-0000-4000-8000-000000000001");
        assert_eq!(creator.principal_type, PrincipalType::User);
        assert!(page.value[1].properties.creator.is_none());
        let sp = WireCreator {
            object_id: Some("X".into()),
            user_type: Some("ServicePrincipal".into()),
            ..Default::default()
        };
        assert_eq!(
            sp.principal().unwrap().principal_type,
            PrincipalType::ServicePrincipal
        );

        let perms: ValuePage<WirePermission> =
            serde_json::from_str(include_str!("../../api-samples/flow-permissions.json")).unwrap();
        assert_eq!(perms.value.len(), 3);
        assert_eq!(
            perms.value[2].properties.permission_type.as_deref(),
            Some("AuthorizationDelegate")
        );
    }
}
