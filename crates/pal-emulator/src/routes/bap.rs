//! BAP routes on `api.bap.microsoft.com`: the admin list of environments
//! (`Microsoft.BusinessAppPlatform`), with `nextLink` paging and
//! `api-version` required; an environment with Dataverse carries its
//! `linkedEnvironmentMetadata`.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Answer, Req, instance_url};
use crate::model::{ModelEnvironment, TenantModel};

pub(super) fn environments(m: &TenantModel, req: &Req) -> Answer {
    if let Some(e) = req.needs_api_version() {
        return e;
    }
    let items = m.environments.iter().map(|e| environment(m, e)).collect();
    (StatusCode::OK, req.page(items, "nextLink"))
}

fn environment(m: &TenantModel, e: &ModelEnvironment) -> Value {
    let mut props = json!({
        "tenantId": m.tenant_id,
        "azureRegionHint": "westus",
        "displayName": e.display_name,
        "createdTime": e.created.map(|t| t.to_rfc3339()),
        "provisioningState": "Succeeded",
        "environmentSku": e.sku,
        "isDefault": e.default,
        "states": {"management": {"id": "NotSpecified"}, "runtime": {"id": "Enabled"}},
    });
    if let Some(url) = &e.dataverse_url {
        let domain = url
            .trim_start_matches("https://")
            .split('.')
            .next()
            .unwrap_or_default();
        props["linkedEnvironmentMetadata"] = json!({
            "domainName": domain,
            "uniqueName": format!("unq{domain}"),
            "instanceUrl": format!("{}/", instance_url(url)),
            "instanceApiUrl": url,
            "instanceState": "Ready",
        });
    }
    json!({
        "id": format!("/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments/{}", e.name),
        "type": "Microsoft.BusinessAppPlatform/scopes/environments",
        "location": "unitedstates",
        "name": e.name,
        "properties": props,
    })
}
