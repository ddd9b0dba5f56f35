//! `pal-audit doctor`: one cheap read per API with the chosen credential, and
//! for each refusal the setup step that fixes it.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use crate::auth::{Claims, Secret, Tokens};
use crate::error::code;
use crate::http::{Ctx, HttpClient, HttpError, ValuePage};
use crate::inventory::{Environment, Product};
use crate::sources::{bap, customer_insights, flow, graph, management_partner, powerapps, powerbi};

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
            detail: e.to_string(),
            fix: Some(fix(&e)),
            needed: true,
        },
    }
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

/// Runs every check that `products` needs.
pub async fn run(
    http: &HttpClient,
    tokens: &Tokens,
    products: &[Product],
    ci_key: Option<&Secret>,
    ci_audience: &str,
) -> Vec<Check> {
    let app = app_id(tokens).await;
    let register = format!(
        "register the app for Power Platform admin, as a Power Platform admin: `New-PowerAppManagementApp -ApplicationId {app}` or PUT https://api.bap.microsoft.com/providers/Microsoft.BusinessAppPlatform/adminApplications/{app}?api-version=2020-10-01"
    );
    let mut out = Vec::new();
    let wants = |p: Product| products.contains(&p);
    let platform = wants(Product::PowerApps) || wants(Product::PowerAutomate);
    let mut envs: Vec<Environment> = Vec::new();
    if platform || wants(Product::CustomerInsights) {
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
            "api.bap.microsoft.com",
            detail,
            |_| register.clone(),
        ));
    }
    let first = envs.first();
    if wants(Product::PowerApps)
        && let Some(env) = first
    {
        let url = format!(
            "https://api.powerapps.com/providers/Microsoft.PowerApps/scopes/admin/environments/{}/apps?api-version=2016-11-01&$top=1",
            env.name
        );
        let r = http
            .get_json::<ValuePage<serde_json::Value>>(
                &Ctx::new(powerapps::SOURCE, powerapps::AUDIENCE),
                &url,
            )
            .await
            .map(|_| "apps can be listed".to_string());
        out.push(check(
            "Power Apps admin",
            env.display_name.clone(),
            r,
            |_| register.clone(),
        ));
    }
    if wants(Product::PowerAutomate)
        && let Some(env) = first
    {
        let url = format!(
            "https://api.flow.microsoft.com/providers/Microsoft.ProcessSimple/scopes/admin/environments/{}/v2/flows?api-version=2016-11-01&$top=1",
            env.name
        );
        let r = http
            .get_json::<ValuePage<serde_json::Value>>(&Ctx::new(flow::SOURCE, flow::AUDIENCE), &url)
            .await
            .map(|_| "flows can be listed".to_string());
        out.push(check(
            "Power Automate admin",
            env.display_name.clone(),
            r,
            |_| register.clone(),
        ));
    }
    if platform {
        for env in envs.iter().filter(|e| e.dataverse_api_url.is_some()) {
            let api = env.dataverse_api_url.as_deref().unwrap_or_default();
            let audience = env
                .dataverse_url
                .as_deref()
                .unwrap_or(api)
                .trim_end_matches('/');
            let url = format!("{}/api/data/v9.2/WhoAmI", api.trim_end_matches('/'));
            let r = http
                .get_json::<serde_json::Value>(&Ctx::new("dataverse", audience), &url)
                .await
                .map(|v| {
                    format!(
                        "signed in as system user {}",
                        v["UserId"].as_str().unwrap_or("?")
                    )
                });
            let name = env.display_name.clone();
            let app = app.clone();
            out.push(check("Dataverse", name.clone(), r, move |_| {
                format!(
                    "create an application user for app {app} in {name} (Power Platform admin center > {name} > Settings > Users + permissions > Application users) with a read role on app modules, workflows, solutions, solution components, canvas apps, solution history, import jobs and users"
                )
            }));
        }
    }
    if wants(Product::PowerBi) {
        let fix_pbi = |_: &HttpError| {
            "in the Fabric admin portal, enable \"Service principals can use read-only admin APIs\" for a security group that holds the app (and remove any Power BI admin-consent permissions from the app); a user needs the Fabric administrator role".to_string()
        };
        let r = http
            .get_json::<ValuePage<serde_json::Value>>(
                &Ctx::new(powerbi::SOURCE, powerbi::AUDIENCE),
                "https://api.powerbi.com/v1.0/myorg/admin/groups?$top=1",
            )
            .await
            .map(|_| "admin APIs answer".to_string());
        out.push(check("Power BI admin", "api.powerbi.com", r, fix_pbi));
        let r = http
            .get_json::<Vec<serde_json::Value>>(
                &Ctx::new(powerbi::SOURCE, powerbi::AUDIENCE),
                "https://api.powerbi.com/v1.0/myorg/admin/workspaces/modified?excludePersonalWorkspaces=false",
            )
            .await
            .map(|w| format!("scanner answers ({} workspaces)", w.len()));
        out.push(check("Power BI scanner", "api.powerbi.com", r, fix_pbi));
    }
    if wants(Product::CustomerInsights) {
        let fix_ci = |_: &HttpError| {
            "add the app as a user (Admin or Viewer) of each Customer Insights instance, and set PAL_AUDIT_CI_KEY to the API subscription key (Settings > Permissions > API access)".to_string()
        };
        match ci_key {
            None => out.push(Check {
                api: "Customer Insights",
                target: "api.ci.ai.dynamics.com".into(),
                status: Status::Failed,
                detail: "PAL_AUDIT_CI_KEY is not set".into(),
                fix: Some(fix_ci(&HttpError::BadUrl(String::new()))),
                needed: true,
            }),
            Some(key) => {
                let r = customer_insights::count_instances(http, key, ci_audience)
                    .await
                    .map(|n| format!("{n} instances"));
                out.push(check(
                    "Customer Insights",
                    "api.ci.ai.dynamics.com",
                    r,
                    fix_ci,
                ));
            }
        }
    }
    let r = http
        .get_json::<ValuePage<serde_json::Value>>(
            &Ctx::new(graph::SOURCE, graph::AUDIENCE),
            "https://graph.microsoft.com/v1.0/users?$top=1&$select=id",
        )
        .await
        .map(|_| "users can be read".to_string());
    out.push(check("Microsoft Graph", "graph.microsoft.com", r, |_| {
        "grant the app the Graph application permissions User.Read.All and GroupMember.Read.All, with admin consent".to_string()
    }));
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
    out.push(mp);
    out
}

/// 0 when everything an audit needs works; 3 when no token could be had at
/// all; 1 otherwise.
pub fn exit_code(checks: &[Check]) -> u8 {
    if checks
        .iter()
        .all(|c| c.status != Status::Works && c.detail.starts_with("no token"))
    {
        code::AUTH
    } else if checks.iter().any(|c| c.needed && c.status != Status::Works) {
        code::FINDINGS
    } else {
        code::OK
    }
}

pub fn render(checks: &[Check], width: u16) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .force_no_tty()
        .set_width(width);
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
