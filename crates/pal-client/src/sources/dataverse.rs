//! Dataverse Web API (each environment's `instanceApiUrl`): model-driven apps,
//! solution-aware cloud flows, system users (to Entra ids), solutions, their
//! components, and who imported each managed solution.

use pal_core::endpoints;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::Value;

use super::wire::opt_time;
use crate::http::{Ctx, HttpClient, HttpError, ValuePage};
use pal_core::inventory::{
    Environment, Fact, Import, Principal, PrincipalId, PrincipalType, Publisher, Resource,
    ResourceId, ResourceKind, Solution,
};

pub const SOURCE: &str = endpoints::DATAVERSE_SOURCE;

/// Solution component types the rules care about.
pub const COMPONENT_WORKFLOW: i64 = 29;
pub const COMPONENT_APP_MODULE: i64 = 80;
pub const COMPONENT_CANVAS_APP: i64 = 300;

/// Solutions every environment has; their components are not deliverables.
const SYSTEM_SOLUTIONS: &[&str] = &["Default", "Active", "Basic", "System"];

/// The built-in users of every Dataverse organisation that are no Entra
/// principal (`fullname`, with no `azureactivedirectoryobjectid`): what they
/// create is the platform's own (`workflow.createdby` is SYSTEM for
/// imported flows too, so it decides only outside any solution).
const PLATFORM_USERS: &[&str] = &["SYSTEM", "INTEGRATION"];

/// An import job matches a solution history row that started within this
/// much of it (the two tables are written by different steps of one import).
const IMPORT_MATCH_SLACK: i64 = 5;

#[derive(Debug, PartialEq, Deserialize)]
pub struct WireSystemUser {
    pub systemuserid: String,
    #[serde(default)]
    pub fullname: Option<String>,
    #[serde(default)]
    pub domainname: Option<String>,
    #[serde(default)]
    pub azureactivedirectoryobjectid: Option<String>,
    #[serde(default)]
    pub applicationid: Option<String>,
    #[serde(default)]
    pub isdisabled: Option<bool>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub struct WireAppModule {
    pub appmoduleid: String,
    #[serde(default)]
    pub uniquename: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "_createdby_value")]
    pub created_by: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub struct WireWorkflow {
    pub workflowid: String,
    #[serde(default)]
    pub workflowidunique: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "_ownerid_value")]
    pub owner: Option<String>,
    #[serde(default, rename = "_createdby_value")]
    pub created_by: Option<String>,
    /// 5 a cloud flow, 6 a desktop flow (`workflow_category`).
    #[serde(default)]
    pub category: Option<Value>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub struct WireSolution {
    pub solutionid: String,
    pub uniquename: String,
    #[serde(default)]
    pub ismanaged: Option<Value>,
    /// A number or a string, depending on the answer [?].
    #[serde(default)]
    pub version: Option<Value>,
    /// `$expand=publisherid(...)`: the solution's publisher.
    #[serde(default)]
    pub publisherid: Option<WirePublisher>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub struct WirePublisher {
    #[serde(default)]
    pub uniquename: Option<String>,
    #[serde(default)]
    pub friendlyname: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub struct WireComponent {
    pub objectid: String,
    #[serde(default)]
    pub componenttype: Option<Value>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub struct WireCanvasApp {
    pub canvasappid: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub struct WireHistory {
    #[serde(default)]
    pub msdyn_name: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub msdyn_starttime: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "opt_time")]
    pub msdyn_endtime: Option<DateTime<Utc>>,
    #[serde(default)]
    pub msdyn_operation: Option<Value>,
    #[serde(default)]
    pub msdyn_status: Option<Value>,
    #[serde(default)]
    pub msdyn_result: Option<Value>,
    #[serde(default)]
    pub msdyn_ismanaged: Option<Value>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub struct WireImportJob {
    #[serde(default)]
    pub solutionname: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub startedon: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "opt_time")]
    pub completedon: Option<DateTime<Utc>>,
    #[serde(default, rename = "_createdby_value")]
    pub created_by: Option<String>,
}

/// An integer that may come as a number or a string.
fn int(v: &Option<Value>) -> Option<i64> {
    match v.as_ref()? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean that may come as a boolean, a number or a string.
fn boolean(v: &Option<Value>) -> Option<bool> {
    match v.as_ref()? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Dataverse `workflow.category` of a cloud flow ("Modern Flow").
pub const CATEGORY_CLOUD_FLOW: i64 = 5;
/// Dataverse `workflow.category` of a desktop flow.
pub const CATEGORY_DESKTOP_FLOW: i64 = 6;

/// A cloud or desktop flow that Dataverse lists.
#[derive(Debug, Clone)]
pub struct DataverseFlow {
    /// A desktop flow (category 6): never in the Flow admin API's list.
    pub desktop: bool,
    pub workflowid: String,
    pub workflowidunique: Option<String>,
    pub name: String,
    pub creator: Fact<PrincipalId>,
    /// The platform user (`SYSTEM`, `INTEGRATION`) that created it.
    pub platform_creator: Option<String>,
    pub owner: Option<PrincipalId>,
}

/// What one environment's Dataverse gave.
#[derive(Debug, Default)]
pub struct DataverseRead {
    pub model_driven_apps: Vec<Resource>,
    pub flows: Vec<DataverseFlow>,
    pub solutions: Vec<Solution>,
    /// (component type, object id lower-case, solution unique name).
    pub components: Vec<(i64, String, String)>,
    /// canvasappid -> canvas app `name`, both lower-case.
    pub canvas_apps: BTreeMap<String, String>,
    pub principals: Vec<Principal>,
    /// Parts that could not be read (the rest was).
    pub partial: Vec<String>,
    /// Managed solutions whose components could not be read, and why: any
    /// component of the environment may be in one of them.
    pub unread_components: Vec<(String, String)>,
}

fn ctx(env: &Environment, audience: &str) -> Ctx {
    let h = |v: &'static str| HeaderValue::from_static(v);
    Ctx::new(SOURCE, audience.trim_end_matches('/'))
        .env(&env.id)
        .header(HeaderName::from_static("odata-maxversion"), h("4.0"))
        .header(HeaderName::from_static("odata-version"), h("4.0"))
        .header(
            HeaderName::from_static("prefer"),
            h("odata.maxpagesize=5000"),
        )
}

/// Reads one environment's Dataverse. The first read failing (401, 403, 404,
/// or anything retries did not mend) is an error, which the caller records as
/// a gap for that environment.
pub async fn read_environment(
    http: &HttpClient,
    env: &Environment,
) -> Result<DataverseRead, HttpError> {
    let (Some(api), Some(audience)) = (&env.dataverse_api_url, env.dataverse_url.as_deref()) else {
        return Ok(DataverseRead::default());
    };
    let base = format!("{}/api/data/v9.2", api.trim_end_matches('/'));
    let ctx = ctx(env, audience);
    let get = |set: &str| format!("{base}/{}", set.replace(' ', "%20"));
    let mut out = DataverseRead::default();

    let users: Vec<WireSystemUser> = http
        .get_all::<ValuePage<_>>(
            &ctx,
            &get("systemusers?$select=systemuserid,fullname,domainname,azureactivedirectoryobjectid,applicationid,isdisabled"),
        )
        .await?;
    // systemuserid -> Entra object id
    let mut entra: HashMap<String, PrincipalId> = HashMap::new();
    // systemuserid -> the platform user's name
    let mut platform: HashMap<String, String> = HashMap::new();
    for u in &users {
        if let Some(name) = platform_user(u) {
            platform.insert(u.systemuserid.to_ascii_lowercase(), name);
        }
        let Some(aad) = u
            .azureactivedirectoryobjectid
            .as_deref()
            .filter(|a| !a.is_empty())
        else {
            continue;
        };
        let id = PrincipalId::new(aad);
        entra.insert(u.systemuserid.to_ascii_lowercase(), id.clone());
        let kind = if u.applicationid.as_deref().is_some_and(|a| !a.is_empty()) {
            PrincipalType::ServicePrincipal
        } else {
            PrincipalType::User
        };
        let mut p = Principal::new(id, kind);
        p.display_name.clone_from(&u.fullname);
        if kind == PrincipalType::User {
            p.upn = u
                .domainname
                .as_deref()
                .filter(|d| d.contains('@'))
                .map(str::to_ascii_lowercase);
        } else {
            p.app_id = u.applicationid.as_deref().map(str::to_ascii_lowercase);
        }
        out.principals.push(p);
    }
    let platform_of = |systemuser: &Option<String>| {
        systemuser
            .as_deref()
            .and_then(|s| platform.get(&s.to_ascii_lowercase()).cloned())
    };
    let to_entra = |systemuser: &Option<String>, what: &str| -> Fact<PrincipalId> {
        match systemuser.as_deref() {
            None | Some("") => Fact::Unknown(format!("{what} is not set")),
            Some(s) => entra.get(&s.to_ascii_lowercase()).cloned().map_or_else(
                || Fact::Unknown(format!("{what} system user {s} has no Entra object id")),
                Fact::Known,
            ),
        }
    };

    let app_select = "$select=appmoduleid,uniquename,name,ismanaged,publishedon,createdon,modifiedon,_createdby_value,_modifiedby_value";
    let mut apps: Vec<WireAppModule> = http
        .get_all_by_id::<ValuePage<_>>(
            &ctx,
            &get(&format!("appmodules?{app_select}")),
            |a: &WireAppModule| a.appmoduleid.to_ascii_lowercase(),
        )
        .await?;
    // Drafts that were never published are apps too. Not every server
    // answers this function: a refusal is noted, not a gap.
    match http
        .get_all::<ValuePage<WireAppModule>>(
            &ctx,
            &get(&format!(
                "appmodules/Microsoft.Dynamics.CRM.RetrieveUnpublishedMultiple()?{app_select}"
            )),
        )
        .await
    {
        Ok(drafts) => {
            for d in drafts {
                if !apps
                    .iter()
                    .any(|a| a.appmoduleid.eq_ignore_ascii_case(&d.appmoduleid))
                {
                    apps.push(d);
                }
            }
        }
        Err(e) => tracing::info!("unpublished app modules not read: {e}"),
    }
    for a in &apps {
        out.model_driven_apps.push(Resource {
            id: ResourceId::new(&a.appmoduleid),
            kind: ResourceKind::ModelDrivenApp,
            name: a
                .name
                .clone()
                .or_else(|| a.uniquename.clone())
                .unwrap_or_else(|| a.appmoduleid.clone())
                .into(),
            environment: env.id.clone(),
            environment_name: None,
            solution: None,
            creator: to_entra(&a.created_by, "the app module's createdby"),
            roles: Fact::Known(Vec::new()),
            stamps: Vec::new(),
            instance_type: None,
            other_solutions: Vec::new(),
            platform_creator: platform_of(&a.created_by),
        });
    }

    let workflows: Vec<WireWorkflow> = http
        .get_all_by_id::<ValuePage<_>>(
            &ctx,
            &get("workflows?$filter=category eq 5 or category eq 6&$select=workflowid,workflowidunique,name,category,statecode,ismanaged,_ownerid_value,_createdby_value,_modifiedby_value,createdon,modifiedon"),
            |w: &WireWorkflow| w.workflowid.to_ascii_lowercase(),
        )
        .await?;
    for w in workflows {
        let desktop = match int(&w.category) {
            Some(CATEGORY_DESKTOP_FLOW) => true,
            // Asked for 5 or 6; a row without its category is the cloud
            // flow it always was.
            Some(CATEGORY_CLOUD_FLOW) | None => false,
            Some(other) => {
                tracing::info!(
                    "workflow {} of category {other} left out: not a flow",
                    w.workflowid
                );
                continue;
            }
        };
        out.flows.push(DataverseFlow {
            desktop,
            name: w.name.clone().unwrap_or_else(|| w.workflowid.clone()),
            creator: to_entra(&w.created_by, "the workflow's createdby"),
            platform_creator: platform_of(&w.created_by),
            owner: w
                .owner
                .as_deref()
                .and_then(|o| entra.get(&o.to_ascii_lowercase()).cloned()),
            workflowid: w.workflowid.to_ascii_lowercase(),
            workflowidunique: w.workflowidunique.map(|u| u.to_ascii_lowercase()),
        });
    }

    let canvas: Vec<WireCanvasApp> = http
        .get_all::<ValuePage<_>>(
            &ctx,
            &get("canvasapps?$select=canvasappid,name,displayname"),
        )
        .await?;
    for c in canvas {
        out.canvas_apps.insert(
            c.canvasappid.to_ascii_lowercase(),
            c.name.unwrap_or_default().to_ascii_lowercase(),
        );
    }

    let solutions: Vec<WireSolution> = http
        .get_all::<ValuePage<_>>(
            &ctx,
            &get("solutions?$select=solutionid,uniquename,friendlyname,ismanaged,version,installedon&$expand=publisherid($select=uniquename,friendlyname)"),
        )
        .await?;
    let deliverables: Vec<&WireSolution> = solutions
        .iter()
        .filter(|s| {
            !SYSTEM_SOLUTIONS
                .iter()
                .any(|x| x.eq_ignore_ascii_case(&s.uniquename))
        })
        .collect();
    for s in &deliverables {
        if !pal_core::links::is_guid(&s.solutionid) {
            let why = format!(
                "solution {} left out: its id {:?} is not a GUID",
                s.uniquename, s.solutionid
            );
            if boolean(&s.ismanaged).unwrap_or(true) {
                out.unread_components
                    .push((s.uniquename.clone(), why.clone()));
            }
            out.partial.push(why);
            continue;
        }
        let url = get(&format!(
            "solutioncomponents?$filter=_solutionid_value eq {}&$select=objectid,componenttype",
            s.solutionid
        ));
        match http.get_all::<ValuePage<WireComponent>>(&ctx, &url).await {
            Ok(components) => {
                for c in components {
                    if let Some(t) = int(&c.componenttype)
                        && matches!(
                            t,
                            COMPONENT_WORKFLOW | COMPONENT_APP_MODULE | COMPONENT_CANVAS_APP
                        )
                    {
                        out.components.push((
                            t,
                            c.objectid.to_ascii_lowercase(),
                            s.uniquename.clone(),
                        ));
                    }
                }
            }
            Err(e) => {
                let why = format!("components of solution {}: {e}", s.uniquename);
                // An unmanaged solution's components decide nothing.
                if boolean(&s.ismanaged).unwrap_or(true) {
                    out.unread_components
                        .push((s.uniquename.clone(), why.clone()));
                }
                out.partial.push(why);
            }
        }
    }

    let imports = read_imports(http, &ctx, &get, &to_entra).await;
    for s in deliverables {
        let managed = boolean(&s.ismanaged).unwrap_or(false);
        let imports = match (&imports, managed) {
            (_, false) => Fact::Known(Vec::new()),
            (Ok(all), true) => Fact::Known(
                all.get(&s.uniquename.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or_default(),
            ),
            (Err(e), true) => Fact::Unknown(e.clone()),
        };
        let publisher = match s.publisherid.as_ref() {
            Some(WirePublisher {
                uniquename: Some(u),
                friendlyname,
            }) if !u.trim().is_empty() => Fact::Known(Publisher {
                unique_name: u.trim().to_string(),
                friendly_name: friendlyname.clone(),
            }),
            _ => Fact::Unknown(format!(
                "the solutions answer gave no publisher unique name for {}",
                s.uniquename
            )),
        };
        out.solutions.push(Solution {
            environment: env.id.clone(),
            unique_name: s.uniquename.clone(),
            managed,
            imports,
            publisher,
        });
    }
    if let Err(e) = imports {
        out.partial.push(e);
    }
    Ok(out)
}

/// The name of a built-in platform user (`PLATFORM_USERS`): no Entra
/// object id, and the built-in `fullname`.
fn platform_user(u: &WireSystemUser) -> Option<String> {
    let no_entra = u
        .azureactivedirectoryobjectid
        .as_deref()
        .is_none_or(|a| a.trim().is_empty() || a.trim() == "00000000-0000-0000-0000-000000000000");
    let name = u.fullname.as_deref()?.trim();
    (no_entra && PLATFORM_USERS.iter().any(|p| p.eq_ignore_ascii_case(name)))
        .then(|| name.to_ascii_uppercase())
}

/// Successful managed imports per solution (lower-case unique name), oldest
/// first, each with the `createdby` of the import job that ran it.
async fn read_imports(
    http: &HttpClient,
    ctx: &Ctx,
    get: &impl Fn(&str) -> String,
    to_entra: &impl Fn(&Option<String>, &str) -> Fact<PrincipalId>,
) -> Result<HashMap<String, Vec<Import>>, String> {
    let histories: Vec<WireHistory> = http
        .get_all::<ValuePage<_>>(
            ctx,
            &get("msdyn_solutionhistories?$select=msdyn_name,msdyn_solutionversion,msdyn_starttime,msdyn_endtime,msdyn_operation,msdyn_suboperation,msdyn_status,msdyn_result,msdyn_ismanaged"),
        )
        .await
        .map_err(|e| format!("solution history: {e}"))?;
    let jobs: Vec<WireImportJob> = http
        .get_all::<ValuePage<_>>(
            ctx,
            &get("importjobs?$select=importjobid,solutionname,startedon,completedon,_createdby_value"),
        )
        .await
        .map_err(|e| format!("import jobs: {e}"))?;
    let slack = Duration::minutes(IMPORT_MATCH_SLACK);
    let mut out: HashMap<String, Vec<Import>> = HashMap::new();
    for h in histories {
        let successful_import = int(&h.msdyn_operation) == Some(0)
            && int(&h.msdyn_status) == Some(1)
            && boolean(&h.msdyn_result) == Some(true)
            && boolean(&h.msdyn_ismanaged) != Some(false);
        let (Some(name), Some(start)) = (h.msdyn_name.as_deref(), h.msdyn_starttime) else {
            continue;
        };
        if !successful_import {
            continue;
        }
        let end = h.msdyn_endtime.unwrap_or(start);
        let job = jobs.iter().find(|j| {
            j.solutionname
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
                && j.startedon
                    .is_some_and(|t| t >= start - slack && t <= end + slack)
        });
        let importer = match job {
            Some(j) => to_entra(&j.created_by, "the import job's createdby"),
            None => Fact::Unknown(format!(
                "no import job matches the import of {name} at {}",
                start.to_rfc3339()
            )),
        };
        out.entry(name.to_ascii_lowercase())
            .or_default()
            .push(Import { at: end, importer });
    }
    for imports in out.values_mut() {
        imports.sort_by_key(|i| i.at);
    }
    Ok(out)
}

/// `doctor`: the system user the sign-in is in the environment whose Web
/// API is at `api` (its token audience `audience`).
pub async fn who_am_i(http: &HttpClient, api: &str, audience: &str) -> Result<String, HttpError> {
    let url = format!("{}/api/data/v9.2/WhoAmI", api.trim_end_matches('/'));
    http.get_json::<serde_json::Value>(&Ctx::new(SOURCE, audience), &url)
        .await
        .map(|v| v["UserId"].as_str().unwrap_or("?").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_flags_in_any_shape() {
        assert_eq!(int(&Some(Value::from(29))), Some(29));
        assert_eq!(int(&Some(Value::from("300"))), Some(300));
        assert_eq!(boolean(&Some(Value::from(true))), Some(true));
        assert_eq!(boolean(&Some(Value::from("False"))), Some(false));
        assert_eq!(boolean(&Some(Value::from(1))), Some(true));
        let s: WireSolution = serde_json::from_str(
            r#"{"solutionid":"1","uniquename":"a","version":"1.0.0.1","ismanaged":true}"#,
        )
        .unwrap();
        assert!(s.version.is_some());
        let s: WireSolution = serde_json::from_str(
            r#"{"solutionid":"1","uniquename":"a","version":2,"ismanaged":false}"#,
        )
        .unwrap();
        assert!(s.version.is_some());
    }
}
