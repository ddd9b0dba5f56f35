//! Microsoft Graph (graph.microsoft.com): users by id or UPN, service
//! principals by application id, and groups' transitive members.

use serde::Deserialize;
use url::Url;

use crate::http::{Ctx, HttpClient, HttpError, ValuePage};
use crate::inventory::{Principal, PrincipalId, PrincipalType};

pub const SOURCE: &str = "graph";
pub const AUDIENCE: &str = "https://graph.microsoft.com";
const BASE: &str = "https://graph.microsoft.com/v1.0";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireUser {
    pub id: String,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub account_enabled: Option<bool>,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireServicePrincipal {
    pub id: String,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireDirectoryObject {
    #[serde(default, rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub id: String,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub app_id: Option<String>,
}

impl From<WireUser> for Principal {
    fn from(w: WireUser) -> Self {
        let mut p = Principal::new(PrincipalId::new(&w.id), PrincipalType::User);
        p.upn = w.user_principal_name.map(|u| u.to_ascii_lowercase());
        p.display_name = w.display_name;
        p.enabled = w.account_enabled;
        p
    }
}

impl From<WireServicePrincipal> for Principal {
    fn from(w: WireServicePrincipal) -> Self {
        let mut p = Principal::new(PrincipalId::new(&w.id), PrincipalType::ServicePrincipal);
        p.app_id = w.app_id.map(|a| a.to_ascii_lowercase());
        p.display_name = w.display_name;
        p
    }
}

impl From<WireDirectoryObject> for Principal {
    fn from(w: WireDirectoryObject) -> Self {
        let kind = match w.odata_type.as_deref() {
            Some("#microsoft.graph.user") => PrincipalType::User,
            Some("#microsoft.graph.servicePrincipal") => PrincipalType::ServicePrincipal,
            Some("#microsoft.graph.group") => PrincipalType::Group,
            _ => PrincipalType::Unknown,
        };
        let mut p = Principal::new(PrincipalId::new(&w.id), kind);
        p.upn = w.user_principal_name.map(|u| u.to_ascii_lowercase());
        p.app_id = w.app_id.map(|a| a.to_ascii_lowercase());
        p
    }
}

fn ctx() -> Ctx {
    Ctx::new(SOURCE, AUDIENCE)
}

/// `BASE/<segments>?query`, each segment escaped (guest UPNs carry `#EXT#`).
fn url(segments: &[&str], query: &str) -> String {
    let mut u = Url::parse(BASE).expect("a valid base");
    u.path_segments_mut().expect("an http URL").extend(segments);
    u.set_query(Some(query));
    u.into()
}

/// Maps "not found" to `None`.
fn found<T>(r: Result<T, HttpError>) -> Result<Option<T>, HttpError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A user by object id or UPN; `None` when Graph does not know it.
pub async fn user(http: &HttpClient, id_or_upn: &str) -> Result<Option<Principal>, HttpError> {
    let u = url(
        &["users", id_or_upn],
        "$select=id,userPrincipalName,accountEnabled,displayName",
    );
    Ok(found(http.get_json::<WireUser>(&ctx(), &u).await)?.map(Principal::from))
}

/// A service principal by its application (client) id.
pub async fn service_principal_by_app_id(
    http: &HttpClient,
    app_id: &str,
) -> Result<Option<Principal>, HttpError> {
    let u = format!("{BASE}/servicePrincipals(appId='{app_id}')?$select=id,appId,displayName");
    Ok(found(http.get_json::<WireServicePrincipal>(&ctx(), &u).await)?.map(Principal::from))
}

/// Every member of a group, through nested groups.
pub async fn transitive_members(
    http: &HttpClient,
    group: &PrincipalId,
) -> Result<Vec<Principal>, HttpError> {
    let u = url(
        &["groups", group.as_str(), "transitiveMembers"],
        "$select=id,userPrincipalName,appId",
    );
    let items = http
        .get_all::<ValuePage<WireDirectoryObject>>(&ctx(), &u)
        .await?;
    Ok(items.into_iter().map(Principal::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_escape_guest_upns() {
        assert_eq!(
            url(
                &["users", "ann_fabrikam.com#EXT#@contoso.com"],
                "$select=id"
            ),
            "https://graph.microsoft.com/v1.0/users/ann_fabrikam.com%23EXT%23@contoso.com?$select=id"
        );
    }

    #[test]
    fn decodes_the_documented_samples() {
        let u: WireUser =
            serde_json::from_str(include_str!("../../fixtures/api-samples/graph-user.json"))
                .unwrap();
        let p = Principal::from(u);
        assert_eq!(p.upn.as_deref(), Some("svc-delivery@contoso.com"));
        assert_eq!(p.enabled, Some(true));
        let sp: WireServicePrincipal = serde_json::from_str(include_str!(
            "../../fixtures/api-samples/graph-service-principal.json"
        ))
        .unwrap();
        assert_eq!(
            Principal::from(sp).principal_type,
            PrincipalType::ServicePrincipal
        );
        let page: ValuePage<WireDirectoryObject> = serde_json::from_str(include_str!(
            "../../fixtures/api-samples/graph-transitive-members.json"
        ))
        .unwrap();
        let kinds: Vec<PrincipalType> = page
            .value
            .into_iter()
            .map(|o| Principal::from(o).principal_type)
            .collect();
        assert_eq!(
            kinds,
            [
                PrincipalType::User,
                PrincipalType::ServicePrincipal,
                PrincipalType::Group
            ]
        );
        assert!(page.next_link.is_some());
    }
}
