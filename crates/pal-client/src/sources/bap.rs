//! BAP (api.bap.microsoft.com): the tenant's Power Platform environments.

use pal_core::endpoints;
use serde::Deserialize;

use crate::http::{Ctx, HttpClient, HttpError, ValuePage};
use pal_core::inventory::{Environment, EnvironmentId};

pub const SOURCE: &str = endpoints::BAP.source;
pub const AUDIENCE: &str = endpoints::BAP.audience;
const ENVIRONMENTS: &str = "https://api.bap.microsoft.com/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?api-version=2020-10-01";

#[derive(Debug, PartialEq, Deserialize)]
pub struct WireEnvironment {
    pub name: String,
    #[serde(default)]
    pub properties: WireEnvironmentProperties,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireEnvironmentProperties {
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub environment_sku: Option<String>,
    #[serde(default)]
    pub is_default: Option<bool>,
    #[serde(default)]
    pub linked_environment_metadata: Option<WireLinkedMetadata>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireLinkedMetadata {
    #[serde(default)]
    pub instance_url: Option<String>,
    #[serde(default)]
    pub instance_api_url: Option<String>,
}

impl From<WireEnvironment> for Environment {
    fn from(w: WireEnvironment) -> Self {
        let p = w.properties;
        Environment {
            id: EnvironmentId::new(&w.name),
            display_name: p.display_name.unwrap_or_else(|| w.name.clone()),
            name: w.name,
            sku: p.environment_sku,
            is_default: p.is_default.unwrap_or(false),
            dataverse_api_url: p
                .linked_environment_metadata
                .as_ref()
                .and_then(|m| m.instance_api_url.clone().or(m.instance_url.clone()))
                .filter(|u| !u.is_empty()),
            dataverse_url: p
                .linked_environment_metadata
                .as_ref()
                .and_then(|m| m.instance_url.clone().or(m.instance_api_url.clone()))
                .filter(|u| !u.is_empty()),
        }
    }
}

/// The environments, the tenant id they name (`properties.tenantId`), and
/// the names of environments left out because their id is not one BAP
/// writes (a GUID or `Default-<GUID>`): it would go into every URL.
pub async fn list_environments(
    http: &HttpClient,
) -> Result<(Vec<Environment>, Option<String>, Vec<String>), HttpError> {
    let ctx = Ctx::new(SOURCE, AUDIENCE);
    let wire = http
        .get_all_by_id::<ValuePage<WireEnvironment>>(&ctx, ENVIRONMENTS, |e| {
            e.name.to_ascii_lowercase()
        })
        .await?;
    let tenant = wire
        .iter()
        .find_map(|w| w.properties.tenant_id.clone())
        .filter(|t| pal_core::links::is_guid(t))
        .map(|t| t.to_ascii_lowercase());
    let (valid, invalid): (Vec<WireEnvironment>, Vec<WireEnvironment>) = wire
        .into_iter()
        .partition(|w| crate::http::is_service_id(&w.name));
    Ok((
        valid.into_iter().map(Environment::from).collect(),
        tenant,
        invalid
            .into_iter()
            .map(|w| format!("{:?}", w.name))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_documented_sample() {
        let text = include_str!("../../api-samples/bap-environments.json");
        let page: ValuePage<WireEnvironment> = serde_json::from_str(text).unwrap();
        let envs: Vec<Environment> = page.value.into_iter().map(Environment::from).collect();
        assert_eq!(envs.len(), 2);
        assert!(envs[0].is_default);
        assert_eq!(envs[0].id.as_str(), envs[0].name.to_ascii_lowercase());
        assert!(
            envs[1]
                .dataverse_api_url
                .as_deref()
                .unwrap()
                .starts_with("https://")
        );
        assert!(envs[0].dataverse_api_url.is_none());
    }
}
