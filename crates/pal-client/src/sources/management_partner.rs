//! ARM ManagementPartner (management.azure.com): the PAL link of whoever
//! holds the token. Read, create (PUT), move (PATCH) and delete it.

use pal_core::endpoints;
use serde::Deserialize;
use serde_json::Value;

use crate::http::{Ctx, HttpClient, HttpError};
use pal_core::links::PartnerId;

pub const SOURCE: &str = endpoints::MANAGEMENT_PARTNER.source;
pub const AUDIENCE: &str = endpoints::MANAGEMENT_PARTNER.audience;
const BASE: &str = endpoints::MANAGEMENT_PARTNER.base;
const API: &str = "api-version=2018-02-01";

#[derive(Debug, Deserialize)]
pub struct WirePartner {
    #[serde(default)]
    pub properties: WirePartnerProperties,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WirePartnerProperties {
    #[serde(default)]
    pub partner_id: Option<String>,
    #[serde(default)]
    pub partner_name: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub object_id: Option<String>,
    /// A number or a string [?].
    #[serde(default)]
    pub version: Option<Value>,
    #[serde(default)]
    pub created_time: Option<String>,
    #[serde(default)]
    pub updated_time: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

fn ctx() -> Ctx {
    Ctx::new(SOURCE, AUDIENCE)
}

/// The caller's link; `None` when there is none (404).
pub async fn get(http: &HttpClient) -> Result<Option<WirePartner>, HttpError> {
    match http
        .get_json::<WirePartner>(&ctx(), &format!("{BASE}?{API}"))
        .await
    {
        Ok(p) => Ok(Some(p)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates the link (PUT); 409 when one exists already.
pub async fn create(http: &HttpClient, partner: &PartnerId) -> Result<WirePartner, HttpError> {
    let url = format!("{BASE}/{partner}?{API}");
    http.send_json(
        &ctx(),
        reqwest::Method::PUT,
        &url,
        &serde_json::json!({}),
        true,
    )
    .await
}

/// Moves the link to another partner ID (PATCH).
pub async fn update(http: &HttpClient, partner: &PartnerId) -> Result<WirePartner, HttpError> {
    let url = format!("{BASE}/{partner}?{API}");
    http.send_json(
        &ctx(),
        reqwest::Method::PATCH,
        &url,
        &serde_json::json!({}),
        false,
    )
    .await
}

/// Deletes the link.
pub async fn delete(http: &HttpClient, partner: &str) -> Result<(), HttpError> {
    let url = format!("{BASE}/{partner}?{API}");
    http.send(&ctx(), reqwest::Method::DELETE, &url, None, true)
        .await
        .map(|_| ())
}
