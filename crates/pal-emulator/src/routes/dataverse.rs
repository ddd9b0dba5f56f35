//! Dataverse Web API routes (`/api/data/v9.2/...`) on each environment's
//! own host (`org.api.crm.dynamics.com` and the like, the model's
//! `dataverse_url`): WhoAmI, systemusers, appmodules (and their unpublished
//! drafts), workflows, canvasapps, solutions, solutioncomponents,
//! msdyn_solutionhistories and importjobs, with `@odata.nextLink` paging;
//! an environment the model marks `dataverse_refuses` answers 403. Every
//! organisation has the built-in `SYSTEM` and `INTEGRATION` users (no Entra
//! object id); a model's `created_by = "SYSTEM"` names the first.

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{Value, json};

use super::{Answer, Req, eq, not_found};
use crate::model::{ModelEnvironment, ModelKind, ModelPrincipal, TenantModel};

/// The built-in users every organisation has: (name, systemuserid).
const PLATFORM_USERS: [(&str, &str); 2] = [
    ("SYSTEM", "5e5e5e5e-5157-4000-8000-000000000001"),
    ("INTEGRATION", "5e5e5e5e-5157-4000-8000-000000000002"),
];

/// The `systemuserid` the emulator gives a principal's Dataverse user (or
/// a built-in user, by name).
fn systemuser_id(principal: &str) -> String {
    if let Some((_, id)) = PLATFORM_USERS.iter().find(|(n, _)| *n == principal) {
        return id.to_string();
    }
    match principal.get(8..) {
        Some(rest) if principal.len() == 36 => format!("5e5e5e5e{rest}"),
        _ => format!("5e5e5e5e-{principal}"),
    }
}

pub(super) fn dataverse(m: &TenantModel, env: &ModelEnvironment, req: &Req, s: &[&str]) -> Answer {
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
            let users: Vec<Result<&ModelPrincipal, (&str, &str)>> = PLATFORM_USERS
                .into_iter()
                .map(Err)
                .chain(
                    m.principals
                        .iter()
                        .filter(|p| p.kind != ModelKind::Group)
                        .map(Ok),
                )
                .collect();
            let render = |p: Result<&ModelPrincipal, (&str, &str)>| match p {
                Ok(p) => json!({
                    "systemuserid": systemuser_id(&p.id),
                    "fullname": p.name,
                    "domainname": p.upn.clone().unwrap_or_default(),
                    "azureactivedirectoryobjectid": p.id,
                    "applicationid": p.app_id,
                    "isdisabled": !p.enabled,
                }),
                Err((name, id)) => json!({
                    "systemuserid": id,
                    "fullname": name,
                    "domainname": "",
                    "azureactivedirectoryobjectid": null,
                    "applicationid": null,
                    "isdisabled": false,
                }),
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
            // `category eq 5`, `category eq 6`, joined by `or`: the
            // categories asked for; no filter, every flow.
            .filter(|f| filter.is_empty() || categories(&filter).contains(&f.category))
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
                    "category": f.category,
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
            // `$expand=publisherid($select=...)`: the publisher, inline.
            let expand = req
                .param("$expand")
                .is_some_and(|e| e.contains("publisherid"));
            let with_publisher = |mut v: Value, unique: &str, friendly: &str| {
                if expand {
                    v["publisherid"] = json!({"uniquename": unique, "friendlyname": friendly});
                }
                v
            };
            let mut out = vec![with_publisher(
                json!({
                    "solutionid": "fd140aae-4df4-11dd-bd17-0019b9312238",
                    "uniquename": "Default",
                    "friendlyname": "Default Solution",
                    "ismanaged": false,
                    "version": "1.0",
                    "installedon": "2021-04-01T08:00:00Z",
                }),
                "DefaultPublisherorg",
                "Default Publisher for org",
            )];
            out.extend(m.solutions.iter().filter(|s| in_env(&s.environment)).map(|s| {
                let unique = s
                    .publisher
                    .clone()
                    .unwrap_or_else(|| format!("{}publisher", s.unique_name.to_ascii_lowercase()));
                let friendly = s.publisher_name.clone().unwrap_or_else(|| unique.clone());
                with_publisher(
                    json!({
                        "solutionid": s.id,
                        "uniquename": s.unique_name,
                        "friendlyname": s.unique_name,
                        "ismanaged": s.managed,
                        "version": s.version.as_ref().map_or(json!("1.0.0.0"), |v| serde_json::to_value(v).unwrap_or(Value::Null)),
                        "installedon": s.imports.first().map(|i| i.at.to_rfc3339()),
                    }),
                    &unique,
                    &friendly,
                )
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

/// The workflow categories a `$filter` of `category eq N` terms (joined by
/// `or`) asks for.
fn categories(filter: &str) -> Vec<u8> {
    let compact = filter.replace(' ', "");
    compact
        .split("categoryeq")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}
