//! Collection: reads every source through the one HTTP pipeline into an
//! `Inventory`, recording a coverage row for each source and environment. A
//! source that fails for one environment is a gap; the audit goes on.

pub mod bap;
pub mod flow;
pub mod graph;
pub mod powerapps;
pub mod wire;

use std::collections::BTreeSet;

use futures::StreamExt;

use crate::auth::AuthError;
use crate::http::{HttpClient, HttpError};
use crate::inventory::{
    Coverage, CoverageStatus, Environment, Fact, Inventory, PrincipalId, PrincipalType,
};
use crate::links::{Link, LinkKind, PrincipalRef, is_guid};

/// What to read.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// `--environment`: ids or display names; empty for all.
    pub environments: Vec<String>,
    /// `--tenant`, when it is a tenant id.
    pub tenant_id: Option<String>,
    /// Environments read at once.
    pub environment_concurrency: usize,
}

/// Reads the tenant. Only a failure to authenticate for the very first call
/// is fatal (exit code 3); everything else becomes coverage.
pub async fn collect(
    http: &HttpClient,
    plan: &Plan,
    links: &[Link],
) -> Result<Inventory, AuthError> {
    let mut inv = Inventory {
        tenant_id: plan.tenant_id.clone(),
        ..Inventory::default()
    };
    let (environments, bap_tenant) = match bap::list_environments(http).await {
        Ok(read) => read,
        Err(HttpError::Auth(e)) => return Err(e),
        Err(e) => {
            inv.coverage.push(Coverage {
                source: bap::SOURCE.into(),
                environment_id: None,
                status: CoverageStatus::Failed,
                detail: format!("environments could not be listed: {e}"),
                requests: http.requests(bap::SOURCE, None),
            });
            return Ok(inv);
        }
    };
    if inv.tenant_id.is_none() {
        // BAP names the tenant; else the default environment is named
        // `Default-<tenant id>`.
        inv.tenant_id = bap_tenant.or_else(|| default_env_tenant(&environments));
    }
    let total = environments.len();
    let (chosen, unmatched) = choose(environments, &plan.environments);
    inv.coverage.push(Coverage {
        source: bap::SOURCE.into(),
        environment_id: None,
        status: if unmatched.is_empty() {
            CoverageStatus::Complete
        } else {
            CoverageStatus::Partial
        },
        detail: if unmatched.is_empty() {
            format!(
                "{} listed, {} audited",
                plural(total, "environment"),
                chosen.len()
            )
        } else {
            format!(
                "{} listed; no environment matches {}",
                plural(total, "environment"),
                unmatched.join(", ")
            )
        },
        requests: http.requests(bap::SOURCE, None),
    });

    let per_env = futures::stream::iter(chosen.iter())
        .map(|env| async move {
            let (apps, flows) = tokio::join!(
                powerapps::read_environment(http, env),
                flow::read_environment(http, env)
            );
            (env, apps, flows)
        })
        .buffer_unordered(plan.environment_concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    for (env, apps, flows) in per_env {
        let apps_cov = match apps {
            Ok(read) => {
                let detail = format!(
                    "{}, {} skipped; permissions read for {} (the others are shared with nobody)",
                    plural(read.resources.len(), "canvas app"),
                    plural(read.component_libraries, "component library"),
                    plural(read.permission_reads, "app")
                );
                let cov = partial_if(detail, &read.permission_failures, "permissions");
                inv.resources.extend(read.resources);
                read.principals
                    .into_iter()
                    .for_each(|p| inv.add_principal(p));
                cov
            }
            Err(e) => failed("canvas apps could not be listed", &e),
        };
        inv.coverage
            .push(with_env(apps_cov, powerapps::SOURCE, env, http));
        let flows_cov = match flows {
            Ok(read) => {
                let detail = format!(
                    "{}; owners read for each",
                    plural(read.resources.len(), "cloud flow")
                );
                let cov = partial_if(detail, &read.permission_failures, "owners");
                inv.resources.extend(read.resources);
                read.principals
                    .into_iter()
                    .for_each(|p| inv.add_principal(p));
                cov
            }
            Err(e) => failed("cloud flows could not be listed", &e),
        };
        inv.coverage
            .push(with_env(flows_cov, flow::SOURCE, env, http));
    }
    inv.environments = chosen;

    read_graph(http, &mut inv, links).await;
    Ok(inv)
}

/// `<tenant id>` from an environment named `Default-<tenant id>`.
fn default_env_tenant(environments: &[Environment]) -> Option<String> {
    environments.iter().find_map(|e| {
        let rest = e.name.get(8..).filter(|_| {
            e.name
                .get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("default-"))
        })?;
        is_guid(rest).then(|| rest.to_ascii_lowercase())
    })
}

/// Environments matching `--environment` (by id or display name, any case),
/// and the filters that matched nothing.
fn choose(all: Vec<Environment>, filters: &[String]) -> (Vec<Environment>, Vec<String>) {
    if filters.is_empty() {
        return (all, Vec::new());
    }
    let matches = |e: &Environment, f: &str| {
        e.id.as_str().eq_ignore_ascii_case(f) || e.display_name.eq_ignore_ascii_case(f)
    };
    let unmatched = filters
        .iter()
        .filter(|f| !all.iter().any(|e| matches(e, f)))
        .cloned()
        .collect();
    let chosen = all
        .into_iter()
        .filter(|e| filters.iter().any(|f| matches(e, f)))
        .collect();
    (chosen, unmatched)
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

/// Graph: expands co-owner groups, and resolves links the inventory cannot
/// resolve by itself (a UPN no resource names, a service principal's app id).
async fn read_graph(http: &HttpClient, inv: &mut Inventory, links: &[Link]) {
    let groups: BTreeSet<PrincipalId> = inv
        .resources
        .iter()
        .filter_map(|r| r.roles.known())
        .flatten()
        .filter(|r| r.principal_type == PrincipalType::Group)
        .map(|r| r.principal.clone())
        .collect();
    let mut upns = BTreeSet::new();
    let mut app_ids = BTreeSet::new();
    for link in links.iter().filter(|l| l.active) {
        match &link.principal {
            PrincipalRef::Upn(u) if inv.principal_by_upn(u).is_none() => {
                upns.insert(u.clone());
            }
            PrincipalRef::Id(id)
                if link.kind == LinkKind::ServicePrincipal
                    && !inv.principals.contains_key(id)
                    && inv.principal_by_app_id(id.as_str()).is_none() =>
            {
                app_ids.insert(id.clone());
            }
            _ => {}
        }
    }
    if groups.is_empty() && upns.is_empty() && app_ids.is_empty() {
        return;
    }
    let mut errors = Vec::new();
    let mut not_found = Vec::new();
    for group in &groups {
        match graph::transitive_members(http, group).await {
            Ok(members) => {
                let ids = members.iter().map(|m| m.id.clone()).collect();
                members.into_iter().for_each(|m| inv.add_principal(m));
                inv.group_members.insert(group.clone(), Fact::Known(ids));
            }
            Err(e) => {
                errors.push(format!("members of group {group}: {e}"));
                inv.group_members
                    .insert(group.clone(), Fact::Unknown(e.to_string()));
            }
        }
    }
    for upn in &upns {
        match graph::user(http, upn).await {
            Ok(Some(p)) => inv.add_principal(p),
            Ok(None) => not_found.push(upn.clone()),
            Err(e) => errors.push(format!("user {upn}: {e}")),
        }
    }
    for app_id in &app_ids {
        match graph::service_principal_by_app_id(http, app_id.as_str()).await {
            Ok(Some(p)) => inv.add_principal(p),
            // Not an app id: the GUID is an object id that no resource names.
            Ok(None) => {}
            Err(e) => errors.push(format!("service principal {app_id}: {e}")),
        }
    }
    let mut detail = format!(
        "{} expanded, {} and {} looked up",
        plural(groups.len(), "group"),
        plural(upns.len(), "UPN"),
        plural(app_ids.len(), "application id")
    );
    if !not_found.is_empty() {
        detail.push_str(&format!(
            "; not in the tenant, so their links apply to nothing: {}",
            not_found.join(", ")
        ));
    }
    let status = if errors.is_empty() {
        CoverageStatus::Complete
    } else {
        detail.push_str(&format!("; could not be read: {}", errors.join("; ")));
        CoverageStatus::Partial
    };
    inv.coverage.push(Coverage {
        source: graph::SOURCE.into(),
        environment_id: None,
        status,
        detail,
        requests: http.requests(graph::SOURCE, None),
    });
}

/// "1 app", "2 apps", "3 component libraries".
fn plural(n: usize, word: &str) -> String {
    match (n, word.strip_suffix('y')) {
        (1, _) => format!("1 {word}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {word}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::EnvironmentId;

    fn env(name: &str, display: &str) -> Environment {
        Environment {
            id: EnvironmentId::new(name),
            name: name.into(),
            display_name: display.into(),
            sku: None,
            is_default: false,
            dataverse_api_url: None,
        }
    }

    fn ids(envs: &[Environment]) -> Vec<EnvironmentId> {
        envs.iter().map(|e| e.id.clone()).collect()
    }

    #[test]
    fn the_default_environment_names_the_tenant() {
        let t = "7C1E5B2A-3D4F-4E6A-8B9C-0D1E2F3A4B5C";
        let envs = vec![env("abc", "x"), env(&format!("Default-{t}"), "Contoso")];
        assert_eq!(default_env_tenant(&envs), Some(t.to_ascii_lowercase()));
        assert_eq!(default_env_tenant(&[env("default-nope", "x")]), None);
        assert_eq!(default_env_tenant(&[env("dé", "x")]), None);
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(1, "app"), "1 app");
        assert_eq!(plural(0, "component library"), "0 component libraries");
        assert_eq!(plural(2, "UPN"), "2 UPNs");
    }

    #[test]
    fn environments_are_chosen_by_id_or_name() {
        let all = vec![env("Default-1", "Contoso"), env("abc", "Sales")];
        let (chosen, unmatched) = choose(all.clone(), &["sales".into(), "nope".into()]);
        assert_eq!(ids(&chosen), vec![EnvironmentId::new("abc")]);
        assert_eq!(unmatched, vec!["nope".to_string()]);
        let (chosen, _) = choose(all, &["DEFAULT-1".into()]);
        assert_eq!(chosen.len(), 1);
    }
}
