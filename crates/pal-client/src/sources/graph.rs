//! Microsoft Graph (graph.microsoft.com): users by id or UPN, service
//! principals by application id, and groups' transitive members.

use futures::StreamExt;
use pal_core::endpoints;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::http::{Ctx, HttpClient, HttpError, ValuePage};
use pal_core::inventory::{Principal, PrincipalId, PrincipalType};

pub const SOURCE: &str = endpoints::GRAPH.source;
pub const AUDIENCE: &str = endpoints::GRAPH.audience;
const BASE: &str = endpoints::GRAPH.base;

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
    #[serde(default)]
    pub account_enabled: Option<bool>,
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
        p.enabled = w.account_enabled;
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

const USER_SELECT: &str = "$select=id,userPrincipalName,accountEnabled,displayName";
const SP_SELECT: &str = "$select=id,appId,displayName,accountEnabled";
/// Requests per `$batch`, Graph's documented maximum.
const BATCH: usize = 20;
/// Rounds for sub-requests Graph throttles inside a batch.
const BATCH_ROUNDS: u32 = 4;

#[derive(Debug, Serialize)]
struct BatchRequest {
    requests: Vec<BatchItem>,
}

#[derive(Debug, Serialize)]
struct BatchItem {
    id: String,
    method: &'static str,
    url: String,
}

#[derive(Debug, Deserialize)]
struct BatchResponse {
    responses: Vec<BatchItemResponse>,
}

#[derive(Debug, Deserialize)]
struct BatchItemResponse {
    id: String,
    status: u16,
    #[serde(default)]
    headers: std::collections::HashMap<String, String>,
    #[serde(default)]
    body: serde_json::Value,
}

/// The answer to one sub-request of a batch.
#[derive(Debug)]
pub enum Lookup<T> {
    Found(T),
    NotFound,
    Failed(String),
}

/// `$batch` requests, or group expansions, in flight at once (the host
/// limit still applies).
pub const BATCHES_IN_FLIGHT: usize = 8;

/// GETs many Graph URLs (relative to `/v1.0`) in `$batch` requests of 20,
/// retrying sub-requests Graph throttles. Answers come back in input order.
async fn batch_get(http: &HttpClient, urls: &[String]) -> Vec<Lookup<serde_json::Value>> {
    let mut out: Vec<Option<Lookup<serde_json::Value>>> = urls.iter().map(|_| None).collect();
    let mut pending: Vec<usize> = (0..urls.len()).collect();
    let policy = crate::http::RetryPolicy::default();
    for round in 1..=BATCH_ROUNDS {
        let mut retry = Vec::new();
        let mut wait = std::time::Duration::ZERO;
        // Batches go out together, within Graph's host limit; their answers
        // are merged in chunk order.
        let answers: Vec<(&[usize], Result<BatchResponse, HttpError>)> =
            futures::stream::iter(pending.chunks(BATCH))
                .map(|chunk| async move {
                    let body = BatchRequest {
                        requests: chunk
                            .iter()
                            .map(|i| BatchItem {
                                id: i.to_string(),
                                method: "GET",
                                url: urls[*i].clone(),
                            })
                            .collect(),
                    };
                    // A batch of GETs is safe to send again.
                    let answer = http
                        .post_json(&ctx(), &format!("{BASE}/$batch"), &body, true)
                        .await;
                    (chunk, answer)
                })
                .buffered(BATCHES_IN_FLIGHT)
                .collect()
                .await;
        for (chunk, answer) in answers {
            let answer = match answer {
                Ok(a) => a,
                Err(e) => {
                    for i in chunk {
                        out[*i] = Some(Lookup::Failed(e.to_string()));
                    }
                    continue;
                }
            };
            for r in answer.responses {
                let Some(i) = r.id.parse::<usize>().ok().filter(|i| chunk.contains(i)) else {
                    continue;
                };
                out[i] = Some(match r.status {
                    200..=299 => Lookup::Found(r.body),
                    404 => Lookup::NotFound,
                    s if crate::http::retry::is_retryable_status(s) && round < BATCH_ROUNDS => {
                        let ra = r
                            .headers
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                            .and_then(|(_, v)| {
                                crate::http::retry::parse_retry_after(
                                    v,
                                    std::time::SystemTime::now(),
                                )
                            });
                        wait = wait.max(policy.wait(round, ra));
                        retry.push(i);
                        continue;
                    }
                    s => Lookup::Failed(format!("HTTP {s} inside $batch")),
                });
            }
        }
        if retry.is_empty() {
            break;
        }
        tokio::time::sleep(wait).await;
        pending = retry;
    }
    out.into_iter()
        .map(|o| o.unwrap_or_else(|| Lookup::Failed("no answer in $batch".into())))
        .collect()
}

fn relative(segments: &[&str], query: &str) -> String {
    url(segments, query)
        .strip_prefix(BASE)
        .map(str::to_string)
        .unwrap_or_default()
}

fn decoded<T: serde::de::DeserializeOwned>(l: Lookup<serde_json::Value>) -> Lookup<Principal>
where
    Principal: From<T>,
{
    match l {
        Lookup::Found(v) => match serde_json::from_value::<T>(v) {
            Ok(w) => Lookup::Found(Principal::from(w)),
            Err(e) => Lookup::Failed(format!("cannot decode: {e}")),
        },
        Lookup::NotFound => Lookup::NotFound,
        Lookup::Failed(e) => Lookup::Failed(e),
    }
}

/// The signed-in user (`/me`).
pub async fn me(http: &HttpClient) -> Result<Principal, HttpError> {
    let u = format!("{BASE}/me?{USER_SELECT}");
    Ok(Principal::from(
        http.get_json::<WireUser>(&ctx(), &u).await?,
    ))
}

/// One service principal by application id; `None` when Graph has none.
pub async fn service_principal_of_app(
    http: &HttpClient,
    app_id: &str,
) -> Result<Option<Principal>, HttpError> {
    let u = format!("{BASE}/servicePrincipals(appId='{app_id}')?{SP_SELECT}");
    match http.get_json::<WireServicePrincipal>(&ctx(), &u).await {
        Ok(w) => Ok(Some(Principal::from(w))),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// GETs `urls` in batches and decodes each answer as `W`.
async fn lookup_all<W>(http: &HttpClient, urls: Vec<String>) -> Vec<Lookup<Principal>>
where
    W: serde::de::DeserializeOwned,
    Principal: From<W>,
{
    batch_get(http, &urls)
        .await
        .into_iter()
        .map(decoded::<W>)
        .collect()
}

/// Users by object id or UPN.
pub async fn users(http: &HttpClient, keys: &[String]) -> Vec<Lookup<Principal>> {
    let urls = keys
        .iter()
        .map(|k| relative(&["users", k], USER_SELECT))
        .collect();
    lookup_all::<WireUser>(http, urls).await
}

/// Service principals by application (client) id.
pub async fn service_principals_by_app_id(
    http: &HttpClient,
    app_ids: &[String],
) -> Vec<Lookup<Principal>> {
    let urls = app_ids
        .iter()
        .map(|a| format!("/servicePrincipals(appId='{a}')?{SP_SELECT}"))
        .collect();
    lookup_all::<WireServicePrincipal>(http, urls).await
}

/// Service principals by object id.
pub async fn service_principals(http: &HttpClient, ids: &[String]) -> Vec<Lookup<Principal>> {
    let urls = ids
        .iter()
        .map(|i| relative(&["servicePrincipals", i], SP_SELECT))
        .collect();
    lookup_all::<WireServicePrincipal>(http, urls).await
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

/// `doctor`: whether users can be read.
pub async fn probe(http: &HttpClient) -> Result<(), HttpError> {
    http.get_json::<ValuePage<serde_json::Value>>(
        &Ctx::new(SOURCE, AUDIENCE),
        &format!("{BASE}/users?$top=1&$select=id"),
    )
    .await
    .map(|_| ())
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
            serde_json::from_str(include_str!("../../api-samples/graph-user.json")).unwrap();
        let p = Principal::from(u);
        assert_eq!(p.upn.as_deref(), Some("svc-delivery@contoso.com"));
        assert_eq!(p.enabled, Some(true));
        let sp: WireServicePrincipal = serde_json::from_str(include_str!(
            "../../api-samples/graph-service-principal.json"
        ))
        .unwrap();
        assert_eq!(
            Principal::from(sp).principal_type,
            PrincipalType::ServicePrincipal
        );
        let page: ValuePage<WireDirectoryObject> = serde_json::from_str(include_str!(
            "../../api-samples/graph-transitive-members.json"
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
