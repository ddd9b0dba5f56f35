//! Customer Insights - Data (api.ci.ai.dynamics.com): instances, their
//! metadata (who created and last updated them) and role assignments; and the
//! exported diagnostics file (`--ci-activity`) that says who was active when.

use pal_core::endpoints;
use pal_core::fix::Outcome;
use serde_json::{Value, json};

use super::write;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::wire::opt_time;
use crate::auth::Secret;
use crate::http::{Ctx, HttpClient, HttpError};
use pal_core::InputError;
use pal_core::inventory::{
    Environment, EnvironmentId, Fact, PrincipalId, PrincipalType, Resource, ResourceId,
    ResourceKind, Role, RoleAssignment, Stamp, StampKind,
};

pub const SOURCE: &str = endpoints::CUSTOMER_INSIGHTS.source;
/// The token audience [?: `https://api.ci.ai.dynamics.com` also seen];
/// `ci_audience` in the config file changes it.
pub const DEFAULT_AUDIENCE: &str = endpoints::CUSTOMER_INSIGHTS.audience;
const BASE: &str = endpoints::CUSTOMER_INSIGHTS.base;
/// Where instances go that match no environment's Dataverse.
pub const NO_ENVIRONMENT: &str = "customer-insights";

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireInstance {
    pub instance_id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `trial`, `sandbox`, `production`, `pitchDemo`, `pov` (the client
    /// library's `InstanceInfo`, 2021 [?]); anything else is kept as given.
    #[serde(default)]
    pub instance_type: Option<String>,
}

/// `GET /instances` is a bare array; some answers wrap it in `value`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum InstanceList {
    Bare(Vec<WireInstance>),
    Wrapped { value: Vec<WireInstance> },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireInstanceMetadata {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub cds_org_info: Option<WireCdsOrgInfo>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub created_utc: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_by: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub updated_utc: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
pub struct WireCdsOrgInfo {
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireAssignment {
    pub principal_id: String,
    #[serde(default)]
    pub principal_type: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AssignmentList {
    Bare(Vec<WireAssignment>),
    Wrapped { value: Vec<WireAssignment> },
}

/// What the Customer Insights API gave.
#[derive(Debug, Default)]
pub struct CiRead {
    pub resources: Vec<Resource>,
    /// Instances whose metadata or roles could not be read.
    pub failures: Vec<String>,
    /// Instances whose stamps (`createdBy`, `updatedBy`) were not read: the
    /// metadata read failed.
    pub unread_stamps: Vec<(ResourceId, String)>,
}

/// A context that sends the API key (marked sensitive) with every request.
pub fn keyed_ctx(key: &Secret, audience: &str) -> Result<Ctx, HttpError> {
    let mut value = HeaderValue::from_str(key.expose())
        .map_err(|_| HttpError::BadUrl("PAL_AUDIT_CI_KEY is not a valid header value".into()))?;
    value.set_sensitive(true);
    Ok(Ctx::new(SOURCE, audience)
        .header(HeaderName::from_static("ocp-apim-subscription-key"), value))
}

/// How many instances the caller was added to (one cheap read).
pub async fn count_instances(
    http: &HttpClient,
    key: &Secret,
    audience: &str,
) -> Result<usize, HttpError> {
    let list: InstanceList = http
        .get_json(&keyed_ctx(key, audience)?, &format!("{BASE}/instances"))
        .await?;
    Ok(match list {
        InstanceList::Bare(v) | InstanceList::Wrapped { value: v } => v.len(),
    })
}

/// Reads every instance the caller was added to.
pub async fn read(
    http: &HttpClient,
    key: &Secret,
    audience: &str,
    environments: &[Environment],
) -> Result<CiRead, HttpError> {
    let ctx = keyed_ctx(key, audience)?;
    let list: InstanceList = http.get_json(&ctx, &format!("{BASE}/instances")).await?;
    let listed = match list {
        InstanceList::Bare(v) | InstanceList::Wrapped { value: v } => v,
    };
    // Ids go into URLs and name findings: a GUID each, listed once.
    let mut refused = Vec::new();
    let mut instances: Vec<WireInstance> = Vec::new();
    for i in listed {
        if !pal_core::links::is_guid(&i.instance_id) {
            refused.push(format!(
                "instance {:?} left out: its id is not a GUID",
                i.instance_id
            ));
        } else if let Some(known) = instances
            .iter()
            .find(|k| k.instance_id.eq_ignore_ascii_case(&i.instance_id))
        {
            if known != &i {
                refused.push(format!(
                    "instance {} is listed twice with different contents",
                    i.instance_id
                ));
                instances.retain(|k| !k.instance_id.eq_ignore_ascii_case(&i.instance_id));
            }
        } else {
            instances.push(i);
        }
    }
    let reads = futures::stream::iter(instances)
        .map(|i| {
            let ctx = ctx.clone();
            async move {
                let meta = http
                    .get_json::<WireInstanceMetadata>(
                        &ctx,
                        &format!("{BASE}/instances/{}", crate::http::seg(&i.instance_id)),
                    )
                    .await;
                let roles = http
                    .get_json::<AssignmentList>(
                        &ctx,
                        &format!(
                            "{BASE}/instances/{}/rbac/assignments",
                            crate::http::seg(&i.instance_id)
                        ),
                    )
                    .await;
                (i, meta, roles)
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let mut out = CiRead {
        failures: refused,
        ..CiRead::default()
    };
    for (instance, meta, roles) in reads {
        let name = meta
            .as_ref()
            .ok()
            .and_then(|m| m.name.clone())
            .or(instance.name.clone())
            .unwrap_or_else(|| instance.instance_id.clone());
        let roles = match roles {
            Ok(AssignmentList::Bare(v) | AssignmentList::Wrapped { value: v }) => Fact::Known(
                v.into_iter()
                    .filter(|a| !a.roles.is_empty())
                    .map(|a| RoleAssignment {
                        principal: PrincipalId::new(&a.principal_id),
                        principal_type: match a
                            .principal_type
                            .as_deref()
                            .map(str::to_ascii_lowercase)
                        {
                            Some(t) if t == "group" => PrincipalType::Group,
                            Some(t) if t == "app" || t == "application" => {
                                PrincipalType::ServicePrincipal
                            }
                            _ => PrincipalType::User,
                        },
                        role: Role::Member,
                    })
                    .collect(),
            ),
            Err(e) => {
                out.failures.push(format!("roles of {name}: {e}"));
                Fact::Unknown(format!("role assignments could not be read: {e}"))
            }
        };
        let mut stamps = Vec::new();
        let (mut environment, mut environment_name) = (
            EnvironmentId::new(NO_ENVIRONMENT),
            Some("Customer Insights".to_string()),
        );
        match meta {
            Ok(m) => {
                for (kind, by, at) in [
                    (StampKind::Created, &m.created_by, m.created_utc),
                    (StampKind::Modified, &m.updated_by, m.updated_utc),
                ] {
                    if let (Some(by), Some(at)) = (by.as_deref().filter(|b| !b.is_empty()), at) {
                        stamps.push(Stamp {
                            kind,
                            principal: PrincipalId::upn_placeholder(by),
                            at,
                        });
                    }
                }
                if let Some(env) = m
                    .cds_org_info
                    .and_then(|c| c.url)
                    .and_then(|u| environment_of(&u, environments))
                {
                    environment = env.id.clone();
                    environment_name = None;
                }
            }
            Err(e) => {
                out.failures.push(format!("metadata of {name}: {e}"));
                out.unread_stamps.push((
                    ResourceId::new(&instance.instance_id),
                    format!("the instance's metadata could not be read: {e}"),
                ));
            }
        }
        out.resources.push(Resource {
            id: ResourceId::new(&instance.instance_id),
            kind: ResourceKind::Instance,
            name: name.into(),
            environment,
            environment_name,
            solution: None,
            creator: Fact::Unknown("an instance has no creator rule".into()),
            roles,
            stamps,
            instance_type: instance
                .instance_type
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string),
            other_solutions: Vec::new(),
            platform_creator: None,
        });
    }
    Ok(out)
}

fn host(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .host_str()
        .map(|h| h.to_ascii_lowercase().replace(".api.", "."))
}

/// The environment whose Dataverse is the instance's `cdsOrgInfo.url`.
fn environment_of<'a>(url: &str, environments: &'a [Environment]) -> Option<&'a Environment> {
    let want = host(url)?;
    environments.iter().find(|e| {
        [&e.dataverse_url, &e.dataverse_api_url]
            .into_iter()
            .flatten()
            .any(|u| host(u).as_deref() == Some(want.as_str()))
    })
}

/// One record of the diagnostics export: who did what on which instance when.
#[derive(Clone, Debug, PartialEq)]
pub struct CiEvent {
    pub instance: ResourceId,
    pub caller: PrincipalId,
    pub at: DateTime<Utc>,
    pub operation: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent {
    #[serde(alias = "TimeGenerated", alias = "timeGenerated")]
    time: String,
    #[serde(default, alias = "OperationName")]
    operation_name: Option<String>,
    #[serde(default, alias = "Category")]
    category: Option<String>,
    #[serde(alias = "Properties")]
    properties: WireEventProperties,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEventProperties {
    #[serde(alias = "CallerObjectId")]
    caller_object_id: String,
    #[serde(alias = "InstanceId")]
    instance_id: String,
}

/// Parses a `CIEventsAudit` / `CIEventsOperational` export: a JSON array, or
/// one JSON object per line. Errors name the file and the line or JSON path.
pub fn parse_activity(name: &str, text: &str) -> Result<Vec<CiEvent>, InputError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let convert = |w: WireEvent, at: &str| -> Result<CiEvent, InputError> {
        let time = super::wire::parse_time(&w.time)
            .ok_or_else(|| InputError::new(at, format!("time {:?} is not a time", w.time)))?;
        Ok(CiEvent {
            instance: ResourceId::new(&w.properties.instance_id),
            caller: PrincipalId::new(&w.properties.caller_object_id),
            at: time,
            operation: w
                .operation_name
                .or(w.category)
                .unwrap_or_else(|| "activity".into()),
        })
    };
    if trimmed.starts_with('[') {
        let de = &mut serde_json::Deserializer::from_str(trimmed);
        let events: Vec<WireEvent> = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            InputError::new(format!("{name}: $.{}", e.path()), e.inner().to_string())
        })?;
        de.end()
            .map_err(|e| InputError::new(format!("{name}:{}", e.line()), e.to_string()))?;
        return events
            .into_iter()
            .enumerate()
            .map(|(i, w)| convert(w, &format!("{name}: $[{i}]")))
            .collect();
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        let at = format!("{name}:{}", i + 1);
        let de = &mut serde_json::Deserializer::from_str(line);
        let w: WireEvent = serde_path_to_error::deserialize(&mut *de)
            .map_err(|e| InputError::new(&at, format!("$.{}: {}", e.path(), e.inner())))?;
        de.end().map_err(|e| InputError::new(&at, e.to_string()))?;
        out.push(convert(w, &at)?);
    }
    Ok(out)
}

// Writes (`fix --apply`): each checks first, writes, and is judged by a
// re-read of the same resource.

/// A Customer Insights role-assignment list: the API has answered a bare
/// array and `{"value": [...]}` (the reader takes both); anything else is no
/// list, so nothing counts as already assigned.
fn assignment_list(v: &Value) -> &[Value] {
    v.as_array()
        .or_else(|| v["value"].as_array())
        .map_or(&[], Vec::as_slice)
}

/// Gives `id` (a service principal when `service_principal`) the
/// Contributor role on an instance.
pub async fn assign_contributor(
    http: &HttpClient,
    key: &Secret,
    audience: &str,
    instance: &str,
    id: &str,
    service_principal: bool,
) -> Result<Outcome, HttpError> {
    let ctx = keyed_ctx(key, audience)?;
    let uri = format!("{BASE}/instances/{instance}/rbac");
    let holds = |v: &Value| {
        assignment_list(v).iter().any(|a| {
            a["principalId"]
                .as_str()
                .is_some_and(|p| p.eq_ignore_ascii_case(id))
        })
    };
    let assignments = format!("{uri}/assignments");
    let before: Value = http.get_json(&ctx, &assignments).await?;
    if holds(&before) {
        return Ok(Outcome::AlreadyDone);
    }
    let kind = if service_principal { "app" } else { "user" };
    let body = json!({"principalId": id, "principalType": kind, "roles": ["Contributor"]});
    write::send(
        http,
        &ctx,
        reqwest::Method::PUT,
        &format!("{uri}/principals/{id}/assign"),
        Some(&body),
    )
    .await?;
    let after: Value = match write::reread(http, &ctx, &assignments).await {
        Ok(v) => v,
        Err(o) => return Ok(o),
    };
    Ok(if holds(&after) {
        Outcome::Changed
    } else {
        Outcome::Failed(
            "the role assignment was accepted, but it is not among the instance's assignments"
                .into(),
        )
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn instance_assignments_are_read_bare_or_wrapped_never_guessed() {
        use serde_json::{Value, json};
        let one = json!({"principalId": "x", "roles": ["Admin"]});
        assert_eq!(assignment_list(&json!([one.clone()])).len(), 1);
        assert_eq!(assignment_list(&json!({"value": [one]})).len(), 1);
        assert!(assignment_list(&json!({"error": {"code": "x"}})).is_empty());
        assert!(assignment_list(&Value::Null).is_empty());
    }

    use super::*;

    #[test]
    fn activity_as_array_or_lines() {
        let line = r#"{"time":"2026-11-01T10:00:00Z","category":"CIEventsAudit","operationName":"Segments.Create","properties":{"callerObjectId":"AB","instanceId":"I1"}}"#;
        let lines = parse_activity("a.jsonl", &format!("{line}\n\n{line}\n")).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].caller.as_str(), "ab");
        let array = parse_activity("a.json", &format!("[{line}]")).unwrap();
        assert_eq!(array, lines[..1]);
    }

    #[test]
    fn activity_errors_name_the_line_or_path() {
        let err = parse_activity("a.jsonl", "{\"time\":\"x\"}\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("a.jsonl:1"), "{err}");
        let err = parse_activity(
            "a.jsonl",
            "\n{\"time\":\"never\",\"properties\":{\"callerObjectId\":\"a\",\"instanceId\":\"b\"}}",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("a.jsonl:2"), "{err}");
        let err = parse_activity("a.json", "[{\"time\": 3}]")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("a.json: $.[0].time"), "{err}");
    }

    #[test]
    fn instances_find_their_environment() {
        let env = Environment {
            id: EnvironmentId::new("e1"),
            name: "e1".into(),
            display_name: "Sales".into(),
            sku: None,
            is_default: false,
            dataverse_api_url: Some("https://contososales.api.crm4.dynamics.com".into()),
            dataverse_url: Some("https://contososales.crm4.dynamics.com/".into()),
        };
        let envs = [env];
        assert!(environment_of("https://contososales.crm4.dynamics.com", &envs).is_some());
        assert!(environment_of("https://other.crm.dynamics.com", &envs).is_none());
    }
}
