//! `pal-audit doctor`: one cheap read per API with the chosen credential, and
//! for each refusal the setup step that fixes it.

use crate::error::{Error, Outcome};
use pal_client::auth::{AuthKind, Claims, Secret, Tokens};
use pal_client::http::{HttpClient, HttpError};
use pal_client::sources::{
    bap, customer_insights, dataverse, flow, graph, log_analytics, management_activity,
    management_partner, powerapps, powerbi,
};
use pal_core::endpoints;
use pal_core::inventory::{Environment, Product};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Works,
    Refused,
    Failed,
}

/// One row of the doctor's table.
#[derive(Debug)]
pub struct Check {
    pub api: &'static str,
    pub target: String,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
    /// An audit needs it (ManagementPartner only serves `attest`).
    pub needed: bool,
}

fn check(
    api: &'static str,
    target: impl Into<String>,
    result: Result<String, HttpError>,
    fix: impl Fn(&HttpError) -> String,
) -> Check {
    let target = target.into();
    match result {
        Ok(detail) => Check {
            api,
            target,
            status: Status::Works,
            detail,
            fix: None,
            needed: true,
        },
        Err(e) => Check {
            api,
            target,
            status: if e.is_denied() || matches!(e, HttpError::Auth(_)) {
                Status::Refused
            } else {
                Status::Failed
            },
            // No answer is no setup step: the API-specific fix would send
            // an admin to change permissions that were never asked for.
            fix: Some(match &e {
                HttpError::Transport { url, .. } => format!(
                    "{} did not answer (or the connection failed): check that this machine reaches it (proxy, firewall, --api-base), then run doctor again",
                    host_of(url)
                ),
                // An answer that is not the API's (a proxy's page, a wrong
                // --api-base) is no permission to grant either.
                HttpError::Decode { url, .. } => format!(
                    "what answered for {} is not that API (a proxy or captive portal in between, or a wrong --api-base): check where requests to it go",
                    host_of(url)
                ),
                _ => fix(&e),
            }),
            detail: e.to_string(),
            needed: true,
        },
    }
}

/// `https://host/path` -> `host`.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// The application the credential signs in as, for the setup steps.
async fn app_id(tokens: &Tokens) -> String {
    match tokens.token(bap::AUDIENCE).await {
        Ok(t) => Claims::of(&t)
            .and_then(|c| if c.app_only { c.app_id } else { None })
            .unwrap_or_else(|| "<client id>".into()),
        Err(_) => "<client id>".into(),
    }
}

/// Gets one token (for the Power Platform admin API) before any check: when
/// none can be had, every check would fail alike, so the error says how to
/// sign in instead (exit 3). For the Azure CLI, it tells a missing `az`
/// from one not signed in.
pub async fn sign_in(tokens: &Tokens, auth: AuthKind, tenant: Option<&str>) -> Result<(), Error> {
    let Err(e) = tokens.token(bap::AUDIENCE).await else {
        return Ok(());
    };
    let e = e.to_string();
    let login = format!(
        "az login{}",
        tenant.map(|t| format!(" --tenant {t}")).unwrap_or_default()
    );
    let hint = match auth {
        AuthKind::AzureCli if e.contains("not found") || e.contains("wasn't found") => format!(
            "the Azure CLI (az) is not installed or not on PATH: install it (https://learn.microsoft.com/cli/azure/install-azure-cli), then sign in with `{login}`; or choose another --auth"
        ),
        AuthKind::AzureCli => format!(
            "the Azure CLI (az) could not give a token: sign in with `{login}` (as an account that may read the tenant), or choose another --auth"
        ),
        _ => {
            "check the credential's AZURE_* variables and that it may sign in to the tenant".into()
        }
    };
    Err(Error::SignIn(format!("cannot sign in: {hint}\n  ({e})")))
}

/// Runs every check that `products` needs.
pub async fn run(
    http: &HttpClient,
    tokens: &Tokens,
    products: &[Product],
    ci_key: Option<&Secret>,
    ci_audience: &str,
    ci_workspace: Option<&str>,
    audit_api: Option<Option<&str>>,
) -> Vec<Check> {
    let app = app_id(tokens).await;
    let register = format!(
        "register the app for Power Platform admin, as a Power Platform admin: `New-PowerAppManagementApp -ApplicationId {app}` or PUT https://api.bap.microsoft.com/providers/Microsoft.BusinessAppPlatform/adminApplications/{app}?api-version=2020-10-01"
    );
    let wants = |p: Product| products.contains(&p);
    let platform = wants(Product::PowerApps) || wants(Product::PowerAutomate);
    // The checks of different APIs run side by side: an API that does not
    // answer costs its own checks' time once, not every later check's.
    let platform_checks = async {
        let mut out = Vec::new();
        let mut envs: Vec<Environment> = Vec::new();
        if !(platform || wants(Product::CustomerInsights)) {
            return (out, envs);
        }
        let detail = match bap::list_environments(http).await {
            Ok((e, _, _)) => {
                let d = format!("{} environments", e.len());
                envs = e;
                Ok(d)
            }
            Err(e) => Err(e),
        };
        out.push(check(
            "BAP (environments)",
            endpoints::BAP.host(),
            detail,
            |_| register.clone(),
        ));
        let first = envs.first();
        let apps = async {
            match first {
                Some(env) if wants(Product::PowerApps) => {
                    let r = powerapps::probe(http, &env.name)
                        .await
                        .map(|()| "apps can be listed".to_string());
                    Some(check(
                        "Power Apps admin",
                        env.display_name.clone(),
                        r,
                        |_| register.clone(),
                    ))
                }
                _ => None,
            }
        };
        let flows = async {
            match first {
                Some(env) if wants(Product::PowerAutomate) => {
                    let r = flow::probe(http, &env.name)
                        .await
                        .map(|()| "flows can be listed".to_string());
                    Some(check(
                        "Power Automate admin",
                        env.display_name.clone(),
                        r,
                        |_| register.clone(),
                    ))
                }
                _ => None,
            }
        };
        let dataverse = futures::future::join_all(
            envs.iter()
                .filter(|e| platform && e.dataverse_api_url.is_some())
                .map(|env| dataverse_check(http, env, &app)),
        );
        let (apps, flows, dataverse) = tokio::join!(apps, flows, dataverse);
        out.extend(apps);
        out.extend(flows);
        out.extend(dataverse);
        (out, envs)
    };
    let power_bi = async {
        if !wants(Product::PowerBi) {
            return Vec::new();
        }
        let fix_pbi = |_: &HttpError| {
            "in the Fabric admin portal, enable \"Service principals can use read-only admin APIs\" for a security group that holds the app (and remove any Power BI admin-consent permissions from the app); a user needs the Fabric administrator role".to_string()
        };
        let (admin, scanner) =
            tokio::join!(powerbi::probe_admin(http), powerbi::probe_scanner(http));
        vec![
            check(
                "Power BI admin",
                endpoints::POWER_BI.host(),
                admin.map(|()| "admin APIs answer".to_string()),
                fix_pbi,
            ),
            check(
                "Power BI scanner",
                endpoints::POWER_BI.host(),
                scanner.map(|n| format!("scanner answers ({n} workspaces)")),
                fix_pbi,
            ),
        ]
    };
    let customer_insights = async {
        if !wants(Product::CustomerInsights) {
            return None;
        }
        let fix_ci = |_: &HttpError| {
            "add the app as a user (Admin or Viewer) of each Customer Insights instance, and set PAL_AUDIT_CI_KEY to the API subscription key (Settings > Permissions > API access)".to_string()
        };
        Some(match ci_key {
            None => Check {
                api: "Customer Insights",
                target: endpoints::CUSTOMER_INSIGHTS.host().into(),
                status: Status::Failed,
                detail: "PAL_AUDIT_CI_KEY is not set".into(),
                fix: Some(fix_ci(&HttpError::BadUrl(String::new()))),
                needed: true,
            },
            Some(key) => {
                let r = customer_insights::count_instances(http, key, ci_audience)
                    .await
                    .map(|n| format!("{n} instances"));
                check(
                    "Customer Insights",
                    endpoints::CUSTOMER_INSIGHTS.host(),
                    r,
                    fix_ci,
                )
            }
        })
    };
    // Only with --ci-workspace: without it activity comes from a file, or
    // is said to be unknown.
    let workspace = async {
        let ws = ci_workspace.filter(|_| wants(Product::CustomerInsights))?;
        let r = log_analytics::probe(http, ws)
            .await
            .map(|n| format!("CIEventsAudit and CIEventsOperational can be queried ({n} rows of the last day read)"));
        Some(check(
            "Log Analytics (CI activity)",
            format!("workspace {ws}"),
            r,
            |e| {
                match e {
                HttpError::Status { status: 400, .. } => "send the Customer Insights diagnostics to this workspace (Customer Insights > Settings > System > Diagnostics, destination Log Analytics): the CIEventsAudit or CIEventsOperational table is missing".to_string(),
                _ => format!("give the app the Log Analytics Reader role on the workspace (Azure portal > the workspace > Access control (IAM)); its token audience is {}", endpoints::LOG_ANALYTICS.audience),
            }
            },
        ))
    };
    let graph = async {
        let r = graph::probe(http)
            .await
            .map(|()| "users can be read".to_string());
        check("Microsoft Graph", endpoints::GRAPH.host(), r, |_| {
            "grant the app the Graph application permissions User.Read.All and GroupMember.Read.All, with admin consent".to_string()
        })
    };
    let partner = async {
        let r = management_partner::get(http).await.map(|p| match p {
            Some(p) => format!(
                "this identity is linked to partner {}",
                p.properties.partner_id.unwrap_or_default()
            ),
            None => "reachable; this identity has no PAL link".to_string(),
        });
        let mut mp = check(
            "ManagementPartner (attest)",
            "management.azure.com",
            r,
            |_| {
                "sign in to the customer's tenant as the identity itself (`az login --tenant <tenant>`); only `attest` needs this API".to_string()
            },
        );
        mp.needed = false;
        mp
    };
    let ((mut out, envs), power_bi, customer_insights, workspace, graph, partner) = tokio::join!(
        platform_checks,
        power_bi,
        customer_insights,
        workspace,
        graph,
        partner
    );
    out.extend(power_bi);
    out.extend(customer_insights);
    out.extend(workspace);
    // Only with --audit-api: the Management Activity API's subscription
    // list needs ActivityFeed.Read, and the audit needs the subscription.
    // Its URLs may need the default environment's tenant, so it comes last.
    if let Some(tenant) = audit_api {
        out.push(audit_api_check(http, tokens, tenant, &envs).await);
    }
    out.push(graph);
    out.push(partner);
    out
}

/// Dataverse's WhoAmI in one environment, as the app's application user.
async fn dataverse_check(http: &HttpClient, env: &Environment, app: &str) -> Check {
    let api = env.dataverse_api_url.as_deref().unwrap_or_default();
    let audience = env
        .dataverse_url
        .as_deref()
        .unwrap_or(api)
        .trim_end_matches('/');
    let r = dataverse::who_am_i(http, api, audience)
        .await
        .map(|user| format!("signed in as system user {user}"));
    let name = env.display_name.clone();
    check("Dataverse", name.clone(), r, move |_| {
        format!(
            "create an application user for app {app} in {name} (Power Platform admin center > {name} > Settings > Users + permissions > Application users) with a read role on app modules, workflows, solutions, solution components, canvas apps, solution history, import jobs and users"
        )
    })
}

/// The Management Activity API: the permission and the subscription. Its
/// URLs need the tenant's id: `--tenant` when it is one, else the default
/// environment's, else the token's.
async fn audit_api_check(
    http: &HttpClient,
    tokens: &Tokens,
    tenant: Option<&str>,
    envs: &[Environment],
) -> Check {
    let api = "Management Activity API (audit log)";
    let permission = format!(
        "grant the app the application permission ActivityFeed.Read of Office 365 Management APIs (Entra admin center > App registrations > API permissions > Add a permission > Office 365 Management APIs > Application permissions), with admin consent; its token audience is {}",
        endpoints::MANAGEMENT_ACTIVITY.audience
    );
    let from_env = envs
        .iter()
        .find_map(|e| {
            e.name
                .get(8..)
                .filter(|_| e.name.to_ascii_lowercase().starts_with("default-"))
        })
        .filter(|t| pal_core::links::is_guid(t))
        .map(str::to_string);
    let tenant = match tenant.filter(|t| pal_core::links::is_guid(t)) {
        Some(t) => Some(t.to_string()),
        None => match from_env {
            Some(t) => Some(t),
            None => tokens
                .token(management_activity::AUDIENCE)
                .await
                .ok()
                .and_then(|t| Claims::of(&t))
                .and_then(|c| c.tid),
        },
    };
    let Some(tenant) = tenant else {
        return Check {
            api,
            target: endpoints::MANAGEMENT_ACTIVITY.host().into(),
            status: Status::Failed,
            detail: "the tenant id is not known".into(),
            fix: Some("pass --tenant with the tenant's id (a GUID)".into()),
            needed: true,
        };
    };
    let mut c = check(
        api,
        format!("tenant {tenant}"),
        management_activity::probe(http, &tenant).await,
        |_| permission.clone(),
    );
    if c.status == Status::Works {
        if management_activity::probe_enabled(&c.detail) {
            c.detail = format!(
                "ActivityFeed.Read works; the {} subscription is enabled",
                management_activity::CONTENT_TYPE
            );
        } else {
            c.status = Status::Failed;
            c.detail = format!(
                "ActivityFeed.Read works; the {} subscription is not enabled ({})",
                management_activity::CONTENT_TYPE,
                c.detail
            );
            c.fix = Some("run `pal-audit audit --audit-api --start-audit-subscription` once (content appears up to 12 hours later)".into());
        }
    }
    c
}

/// Clean when everything an audit needs works; no sign-in when no token
/// could be had at all; findings otherwise.
pub fn outcome(checks: &[Check]) -> Outcome {
    if checks
        .iter()
        .all(|c| c.status != Status::Works && c.detail.starts_with("no token"))
    {
        Outcome::AuthFailed
    } else if checks.iter().any(|c| c.needed && c.status != Status::Works) {
        Outcome::Findings
    } else {
        Outcome::Clean
    }
}

/// The checks as a table, fitted to `width` (the terminal's, as
/// `term::table_width_here` gives it), or unwrapped when `None` (piped).
pub fn render(checks: &[Check], width: Option<u16>) -> String {
    let mut t = crate::term::plain_table(width);
    t.set_header(["API", "target", "status", "detail", "to fix"]);
    for c in checks {
        t.add_row(vec![
            c.api.to_string(),
            c.target.clone(),
            match c.status {
                Status::Works => "works",
                Status::Refused => "refused",
                Status::Failed => "failed",
            }
            .to_string(),
            c.detail.clone(),
            c.fix.clone().unwrap_or_default(),
        ]);
    }
    let missing = checks
        .iter()
        .filter(|c| c.needed && c.status != Status::Works)
        .count();
    format!(
        "{t}\n{}\n",
        if missing == 0 {
            "Everything an audit needs works.".to_string()
        } else {
            format!("{missing} of what an audit needs does not work: see \"to fix\".")
        }
    )
}
