//! Merging what the APIs answered into the inventory: each environment's
//! canvas apps, flows and Dataverse, and Customer Insights, each with its
//! coverage row; then the UPN placeholders, once Graph has answered.
//! Over 600 lines because each merge keeps its coverage row beside the data
//! it describes: split by product, the rule "every gap is said" would be
//! spread over files.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::customer_insights::{self, CiEvent};
use super::log_analytics;
use super::{EnvironmentRead, Plan, dataverse, flow, global, plural, powerapps};
use crate::cache::Cache;
use crate::http::{HttpClient, HttpError};
use pal_core::inventory::{
    ActivitySource, Coverage, CoverageStatus, Environment, Fact, Inventory, PrincipalId,
    PrincipalType, Product, Resource, ResourceId, ResourceKind, Role, RoleAssignment, Unread,
    UnreadFact,
};

/// Adds one environment's reads to the inventory, with their coverage.
pub(super) fn merge_environment(
    http: &HttpClient,
    plan: &Plan,
    inv: &mut Inventory,
    next: &mut Cache,
    reuse: &mut pal_core::inventory::Reuse,
    env: &Environment,
    read: EnvironmentRead,
) {
    let apps_wanted = plan.products.contains(&Product::PowerApps);
    let flows_wanted = plan.products.contains(&Product::PowerAutomate);
    let EnvironmentRead { apps, flows, dv } = read;
    if let Some(apps) = apps {
        let cov = match apps {
            Ok(read) => {
                let mut detail = format!(
                    "{}, {} skipped; permissions read for {} (the others are shared with nobody)",
                    plural(read.resources.len(), "canvas app"),
                    plural(read.component_libraries, "component library"),
                    plural(read.permission_reads, "app")
                );
                if read.reused > 0 {
                    detail.push_str(&format!(
                        "; reused for {} unchanged since the previous audit",
                        plural(read.reused, "app")
                    ));
                }
                if read.custom_pages > 0 {
                    detail.push_str(&format!(
                        "; {} left out (parts of model-driven apps, audited with them)",
                        plural(read.custom_pages, "custom page")
                    ));
                }
                if !read.unknown_types.is_empty() {
                    let types: Vec<String> = read
                        .unknown_types
                        .iter()
                        .map(|(t, n)| format!("{n} {t:?}"))
                        .collect();
                    detail.push_str(&format!(
                        "; kept as canvas apps though their appType is not ClassicCanvasApp: {}",
                        types.join(", ")
                    ));
                }
                reuse.app_permissions += read.reused as u64;
                if plan.keep_cache {
                    next.roles.extend(read.cache);
                    read.principals.iter().for_each(|p| next.add_principal(p));
                }
                let cov = partial_if(detail, &read.permission_failures, "permissions");
                read.principals
                    .into_iter()
                    .for_each(|p| inv.add_principal(p));
                inv.add_resources(read.resources);
                cov
            }
            Err(e) => failed("canvas apps could not be listed", &e),
        };
        inv.coverage
            .push(with_env(cov, powerapps::SOURCE, env, http));
    }
    if let Some(flows) = flows {
        let cov = match flows {
            Ok(read) => {
                reuse.flow_owners += read.reused as u64;
                if plan.keep_cache {
                    next.roles.extend(read.cache);
                    read.principals.iter().for_each(|p| next.add_principal(p));
                }
                let detail = if plan.flow_owners && read.reused > 0 {
                    format!(
                        "{}; owners read for each (reused for {} unchanged since the previous audit)",
                        plural(read.resources.len(), "cloud flow"),
                        read.reused
                    )
                } else if plan.flow_owners {
                    format!(
                        "{}; owners read for each",
                        plural(read.resources.len(), "cloud flow")
                    )
                } else {
                    format!(
                        "{}; owners not read (--no-flow-owners): linked-owner-not-creator cannot be raised",
                        plural(read.resources.len(), "cloud flow")
                    )
                };
                let cov = partial_if(detail, &read.permission_failures, "owners");
                read.principals
                    .into_iter()
                    .for_each(|p| inv.add_principal(p));
                inv.add_resources(read.resources);
                cov
            }
            Err(e) => failed("cloud flows could not be listed", &e),
        };
        inv.coverage.push(with_env(cov, flow::SOURCE, env, http));
    }
    if let Some(dv) = dv {
        let cov = match dv {
            Ok(read) => {
                for (solution, why) in &read.unread_components {
                    inv.unread.push(Unread {
                        fact: UnreadFact::SolutionMembership {
                            solution: Some(solution.clone()),
                        },
                        environment: Some(env.id.clone()),
                        resource: None,
                        why: why.clone(),
                    });
                }
                merge_dataverse(inv, env, read, apps_wanted, flows_wanted)
            }
            Err(e) => {
                // The environment's canvas apps and flows are still listed:
                // which managed solution holds them is what is missing.
                inv.unread.push(Unread {
                    fact: UnreadFact::SolutionMembership { solution: None },
                    environment: Some(env.id.clone()),
                    resource: None,
                    why: format!("Dataverse could not be read: {e}"),
                });
                failed(
                    "Dataverse could not be read (model-driven apps, solution flows and solution imports of this environment are missing)",
                    &e,
                )
            }
        };
        inv.coverage
            .push(with_env(cov, dataverse::SOURCE, env, http));
    }
}

/// Adds what Dataverse knows: model-driven apps, flows only Dataverse lists,
/// solutions and their imports, and which solution each resource is in.
fn merge_dataverse(
    inv: &mut Inventory,
    env: &Environment,
    read: dataverse::DataverseRead,
    apps_wanted: bool,
    flows_wanted: bool,
) -> (CoverageStatus, String) {
    read.principals
        .into_iter()
        .for_each(|p| inv.add_principal(p));
    // The solution of a component: a managed one when it is in several.
    let managed: BTreeSet<String> = read
        .solutions
        .iter()
        .filter(|s| s.managed)
        .map(|s| s.unique_name.to_ascii_lowercase())
        .collect();
    let mut solution_of: BTreeMap<(i64, String), String> = BTreeMap::new();
    // Every solution of each component: the one above and the others.
    let mut solutions_of: BTreeMap<(i64, String), Vec<String>> = BTreeMap::new();
    for (kind, object, solution) in &read.components {
        let key = (*kind, object.clone());
        let all = solutions_of.entry(key.clone()).or_default();
        if !all.iter().any(|s| s.eq_ignore_ascii_case(solution)) {
            all.push(solution.clone());
        }
        let better = solution_of
            .get(&key)
            .is_none_or(|s| !managed.contains(&s.to_ascii_lowercase()));
        if better {
            solution_of.insert(key, solution.clone());
        }
    }
    // Sets a resource's solution and the other solutions that hold it.
    let place = |r: &mut Resource, key: (i64, String)| {
        r.solution = solution_of.get(&key).cloned();
        r.other_solutions = solutions_of
            .get(&key)
            .into_iter()
            .flatten()
            .filter(|s| r.solution.as_ref() != Some(*s))
            .cloned()
            .collect();
    };
    let model_driven = read.model_driven_apps.len();
    if apps_wanted {
        for mut app in read.model_driven_apps {
            let key = (dataverse::COMPONENT_APP_MODULE, app.id.to_string());
            place(&mut app, key);
            inv.add_resources([app]);
        }
    }
    let mut dataverse_only = 0;
    // Lookups by id, so the merge stays linear at any size.
    let canvas_by_name: BTreeMap<&str, &str> = read
        .canvas_apps
        .iter()
        .map(|(cid, name)| (name.as_str(), cid.as_str()))
        .collect();
    let workflow_by_id: BTreeMap<&str, &str> = read
        .flows
        .iter()
        .filter(|f| !f.desktop)
        .flat_map(|f| {
            [Some(f.workflowid.as_str()), f.workflowidunique.as_deref()]
                .into_iter()
                .flatten()
                .map(move |k| (k, f.workflowid.as_str()))
        })
        .collect();
    let platform_by_id: BTreeMap<&str, String> = read
        .flows
        .iter()
        .filter_map(|f| Some((f.workflowid.as_str(), f.platform_creator.clone()?)))
        .collect();
    for r in inv.resources.iter_mut().filter(|r| r.environment == env.id) {
        match r.kind {
            // canvasappid is the Power Apps app name [?]; the canvas app's
            // Dataverse `name` is the fallback.
            ResourceKind::CanvasApp => {
                let id = r.id.to_string();
                let canvas_id = if read.canvas_apps.contains_key(&id) {
                    id
                } else {
                    canvas_by_name
                        .get(id.as_str())
                        .map_or(id.clone(), |c| c.to_string())
                };
                place(r, (dataverse::COMPONENT_CANVAS_APP, canvas_id));
            }
            ResourceKind::CloudFlow => {
                let id = r.id.to_string();
                let workflow = workflow_by_id
                    .get(id.as_str())
                    .map_or(id.clone(), |w| w.to_string());
                // The Flow list's creator, when it gave one, wins over
                // Dataverse's createdby.
                if r.creator.known().is_none() {
                    r.platform_creator = platform_by_id.get(workflow.as_str()).cloned();
                }
                place(r, (dataverse::COMPONENT_WORKFLOW, workflow));
            }
            _ => {}
        }
    }
    let listed_flows: BTreeSet<String> = inv
        .resources
        .iter()
        .filter(|r| r.kind == ResourceKind::CloudFlow && r.environment == env.id)
        .map(|r| r.id.to_string())
        .collect();
    let desktop_flows = read.flows.iter().filter(|f| f.desktop).count();
    if flows_wanted {
        for f in &read.flows {
            // The admin list may lack solution-aware flows [?]: match the
            // Flow API name with workflowid or workflowidunique. A desktop
            // flow is listed by Dataverse only.
            let listed = !f.desktop
                && (listed_flows.contains(&f.workflowid)
                    || f.workflowidunique
                        .as_ref()
                        .is_some_and(|u| listed_flows.contains(u)));
            if listed {
                continue;
            }
            if !f.desktop {
                dataverse_only += 1;
            }
            let mut flow = Resource {
                id: ResourceId::new(&f.workflowid),
                kind: if f.desktop {
                    ResourceKind::DesktopFlow
                } else {
                    ResourceKind::CloudFlow
                },
                name: f.name.as_str().into(),
                environment: env.id.clone(),
                environment_name: None,
                solution: None,
                creator: f.creator.clone(),
                roles: Fact::Known(
                    f.owner
                        .iter()
                        .map(|o| RoleAssignment {
                            principal: o.clone(),
                            principal_type: PrincipalType::Unknown,
                            role: Role::Owner,
                        })
                        .collect(),
                ),
                stamps: Vec::new(),
                instance_type: None,
                other_solutions: Vec::new(),
                platform_creator: f.platform_creator.clone(),
            };
            place(
                &mut flow,
                (dataverse::COMPONENT_WORKFLOW, f.workflowid.clone()),
            );
            inv.add_resources([flow]);
        }
    }
    let detail = format!(
        "{}, {} ({dataverse_only} listed only here), {}, {} ({} managed)",
        plural(model_driven, "model-driven app"),
        plural(read.flows.len() - desktop_flows, "solution flow"),
        plural(desktop_flows, "desktop flow"),
        plural(read.solutions.len(), "solution"),
        managed.len()
    );
    inv.solutions.extend(read.solutions);
    partial_if(detail, &read.partial, "parts")
}

pub(super) fn merge_customer_insights(
    http: &HttpClient,
    plan: &Plan,
    inv: &mut Inventory,
    events: &mut Vec<(ResourceId, PrincipalId, DateTime<Utc>, String)>,
    read: Option<Result<customer_insights::CiRead, HttpError>>,
    activity: Option<Result<log_analytics::ActivityRead, HttpError>>,
) {
    let Some(read) = read else {
        inv.coverage.push(global(
            customer_insights::SOURCE,
            CoverageStatus::Failed,
            "not read: set PAL_AUDIT_CI_KEY to the Customer Insights API subscription key, or leave customer-insights out of --products".into(),
            http,
        ));
        return;
    };
    let since = plan.activity_since();
    let mut take = |from: &[CiEvent]| -> usize {
        let recent: Vec<&CiEvent> = from.iter().filter(|e| e.at >= since).collect();
        events.extend(recent.iter().map(|e| {
            (
                e.instance.clone(),
                e.caller.clone(),
                e.at,
                e.operation.clone(),
            )
        }));
        recent.len()
    };
    let unread = |why: String| Unread {
        fact: UnreadFact::Activity {
            product: Product::CustomerInsights,
        },
        environment: None,
        resource: None,
        why,
    };
    match read {
        Ok(read) => {
            let mut detail = plural(read.resources.len(), "instance");
            match (&plan.ci_activity, activity) {
                (Some(activity), _) => {
                    let n = take(activity);
                    detail.push_str(&format!(
                        "; {} from --ci-activity in the last {} days",
                        plural(n, "activity record"),
                        plan.activity_days
                    ));
                }
                (None, Some(activity)) => {
                    // The workspace's own coverage row says how it was read;
                    // a gap there is activity not read, never nobody active.
                    let (status, la_detail) = match activity {
                        Ok(a) => {
                            let n = take(&a.events);
                            detail.push_str(&format!(
                                "; {} from Log Analytics (--ci-workspace) in the last {} days",
                                plural(n, "activity record"),
                                plan.activity_days
                            ));
                            let mut la = format!(
                                "{} of CIEventsAudit and CIEventsOperational in the last {} days",
                                plural(a.rows, "row"),
                                plan.activity_days
                            );
                            if a.skipped > 0 {
                                la.push_str(&format!(
                                    " ({} naming no user or no instance, left out)",
                                    plural(a.skipped, "row")
                                ));
                            }
                            match a.partial {
                                None => (CoverageStatus::Complete, la),
                                Some(why) => {
                                    inv.unread.push(unread(format!(
                                        "the Log Analytics answer is partial: {why}"
                                    )));
                                    (CoverageStatus::Partial, format!("{la}; partial: {why}"))
                                }
                            }
                        }
                        Err(e) => {
                            detail.push_str("; activity could not be read from Log Analytics");
                            inv.unread.push(unread(format!(
                                "the activity could not be read from Log Analytics: {e}"
                            )));
                            (
                                CoverageStatus::Failed,
                                format!("Customer Insights activity could not be read: {e}"),
                            )
                        }
                    };
                    inv.coverage
                        .push(global(log_analytics::SOURCE, status, la_detail, http));
                }
                (None, None) => {
                    detail.push_str(
                        "; no --ci-activity or --ci-workspace: who is active is not known",
                    );
                    inv.unread.push(unread(
                        "no activity was supplied (--ci-activity or --ci-workspace)".into(),
                    ));
                }
            }
            let cov = partial_if(detail, &read.failures, "parts");
            inv.unread
                .extend(read.unread_stamps.into_iter().map(|(id, why)| Unread {
                    fact: UnreadFact::Stamps,
                    environment: None,
                    resource: Some(id),
                    why,
                }));
            inv.add_resources(read.resources);
            inv.coverage
                .push(global(customer_insights::SOURCE, cov.0, cov.1, http));
        }
        Err(e) => inv.coverage.push(global(
            customer_insights::SOURCE,
            CoverageStatus::Failed,
            format!("instances could not be read: {e}"),
            http,
        )),
    }
}

/// UPNs that sources could not turn into object ids themselves.
pub(super) fn placeholder_upns(inv: &Inventory) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut note = |id: &PrincipalId| {
        if let Some(upn) = id.placeholder_upn() {
            out.insert(upn.to_string());
        }
    };
    for r in &inv.resources {
        if let Fact::Known(c) = &r.creator {
            note(c);
        }
        r.stamps.iter().for_each(|s| note(&s.principal));
    }
    inv.activity.iter().for_each(|a| note(&a.principal));
    out
}

/// Replaces every UPN placeholder by the object id Graph or the inventory
/// gave; a UPN nobody knows leaves the creator unknown and drops the signal.
pub(super) fn resolve_placeholders(inv: &mut Inventory) {
    let upns: BTreeMap<String, PrincipalId> = inv
        .principals
        .values()
        .filter_map(|p| p.upn.clone().map(|u| (u, p.id.clone())))
        .collect();
    let lookup = |id: &PrincipalId| -> Result<PrincipalId, String> {
        match id.placeholder_upn() {
            None => Ok(id.clone()),
            Some(upn) => upns
                .get(&upn.to_ascii_lowercase())
                .cloned()
                .ok_or_else(|| upn.to_string()),
        }
    };
    for r in &mut inv.resources {
        if let Fact::Known(c) = &r.creator {
            r.creator = match lookup(c) {
                Ok(id) => Fact::Known(id),
                Err(upn) => Fact::Unknown(format!(
                    "{upn} could not be resolved to an Entra object (not found in Graph)"
                )),
            };
        }
        r.stamps.retain_mut(|s| match lookup(&s.principal) {
            Ok(id) => {
                s.principal = id;
                true
            }
            Err(_) => false,
        });
    }
    // An event whose principal Graph failed to look up (not: found absent)
    // is not dropped silently: its resource's activity is partly unread.
    let failed: BTreeSet<String> = inv
        .unread
        .iter()
        .filter_map(|u| match &u.fact {
            UnreadFact::LinkPrincipal {
                reference,
                upn: true,
            } => Some(reference.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let mut unread = Vec::new();
    inv.activity.retain_mut(|a| match lookup(&a.principal) {
        Ok(id) => {
            a.principal = id;
            true
        }
        // The unified audit log's user nobody knows is kept, unresolved:
        // still a user of the app, and possibly an attributed one.
        Err(_) if a.source == Some(ActivitySource::AuditLog) => true,
        Err(upn) => {
            if failed.contains(&upn.to_ascii_lowercase()) {
                unread.push(Unread {
                    fact: UnreadFact::Activity {
                        product: Product::PowerBi,
                    },
                    environment: None,
                    resource: Some(a.resource.clone()),
                    why: format!(
                        "the {} event of {upn} could not be tied to an Entra object (Graph failed)",
                        a.action
                    ),
                });
            }
            false
        }
    });
    inv.unread.extend(unread);
}

fn partial_if(detail: String, failures: &[String], what: &str) -> (CoverageStatus, String) {
    if failures.is_empty() {
        (CoverageStatus::Complete, detail)
    } else {
        (
            CoverageStatus::Partial,
            format!(
                "{detail}; {what} of {} could not be read: {}",
                failures.len(),
                failures.join("; ")
            ),
        )
    }
}

fn failed(what: &str, e: &HttpError) -> (CoverageStatus, String) {
    (CoverageStatus::Failed, format!("{what}: {e}"))
}

fn with_env(
    (status, detail): (CoverageStatus, String),
    source: &str,
    env: &Environment,
    http: &HttpClient,
) -> Coverage {
    Coverage {
        source: source.into(),
        environment_id: Some(env.id.clone()),
        status,
        detail,
        requests: http.requests(source, Some(&env.id)),
    }
}
