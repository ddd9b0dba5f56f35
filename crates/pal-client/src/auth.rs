//! Credentials (azure_identity, or a static token for loopback), one cached
//! token per audience, and `Secret`, which never prints its value.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_core::credentials::TokenCredential;
use serde::{Deserialize, Serialize};

/// A token, key or password. `Debug` and `Display` never show the value, so a
/// secret inside any struct, log line or error stays hidden.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value is remembered as a secret for the whole process, so that
    /// a server echoing it back cannot get it into any output
    /// (`secrets`).
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        pal_core::secrets::register(&value);
        Self(value)
    }
    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `--auth`: how pal-audit signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    /// The signed-in Azure CLI account (`az login`).
    #[default]
    AzureCli,
    /// AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET.
    ClientSecret,
    /// AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH (PKCS#12),
    /// optional AZURE_CLIENT_CERTIFICATE_PASSWORD.
    ClientCertificate,
    /// Azure managed identity; AZURE_CLIENT_ID picks a user-assigned one.
    ManagedIdentity,
    /// Federated credentials in pipelines: AZURE_TENANT_ID, AZURE_CLIENT_ID,
    /// AZURE_FEDERATED_TOKEN_FILE.
    WorkloadIdentity,
    /// PAL_AUDIT_TOKEN, for the emulator or a stand-in server on loopback only.
    StaticToken,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("--auth {kind} needs the environment variable {var}")]
    MissingVariable {
        kind: &'static str,
        var: &'static str,
    },
    #[error("cannot read the client certificate {path}: {detail}")]
    Certificate { path: String, detail: String },
    #[error("cannot set up the {kind} credential: {detail}")]
    Setup { kind: &'static str, detail: String },
    #[error("no token for {audience}: {detail}")]
    Token { audience: String, detail: String },
}

/// A source of tokens: azure_identity, or one static token.
#[derive(Clone)]
pub enum Credential {
    Static(Secret),
    Azure(Arc<dyn TokenCredential>),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(_) => f.write_str("Credential::Static(<redacted>)"),
            Self::Azure(_) => f.write_str("Credential::Azure"),
        }
    }
}

fn env(kind: &'static str, var: &'static str) -> Result<String, AuthError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(AuthError::MissingVariable { kind, var }),
    }
}

fn setup(kind: &'static str) -> impl Fn(azure_core::Error) -> AuthError {
    move |e| AuthError::Setup {
        kind,
        detail: e.to_string(),
    }
}

impl Credential {
    /// Builds the credential for `kind` from the usual `AZURE_*` variables.
    /// `tenant` (`--tenant`) wins over `AZURE_TENANT_ID`.
    pub fn from_env(kind: AuthKind, tenant: Option<&str>) -> Result<Self, AuthError> {
        use azure_identity::*;
        let tenant_for = |k: &'static str| -> Result<String, AuthError> {
            match tenant {
                Some(t) => Ok(t.to_string()),
                None => env(k, "AZURE_TENANT_ID"),
            }
        };
        crate::tls::ensure();
        let cred: Arc<dyn TokenCredential> = match kind {
            AuthKind::StaticToken => {
                return Ok(Self::Static(Secret::new(env(
                    "static-token",
                    "PAL_AUDIT_TOKEN",
                )?)));
            }
            AuthKind::AzureCli => AzureCliCredential::new(Some(AzureCliCredentialOptions {
                tenant_id: tenant.map(str::to_string),
                ..Default::default()
            }))
            .map_err(setup("azure-cli"))?,
            AuthKind::ClientSecret => {
                const K: &str = "client-secret";
                ClientSecretCredential::new(
                    &tenant_for(K)?,
                    env(K, "AZURE_CLIENT_ID")?,
                    azure_core::credentials::Secret::new(
                        Secret::new(env(K, "AZURE_CLIENT_SECRET")?).0,
                    ),
                    None,
                )
                .map_err(setup(K))?
            }
            AuthKind::ClientCertificate => {
                const K: &str = "client-certificate";
                let path = env(K, "AZURE_CLIENT_CERTIFICATE_PATH")?;
                let bytes = pal_core::input::read_bytes(path.as_ref(), pal_core::input::MAX_INPUT)
                    .map_err(|e| AuthError::Certificate {
                        path: path.clone(),
                        detail: e.to_string(),
                    })?;
                let options = ClientCertificateCredentialOptions {
                    password: std::env::var("AZURE_CLIENT_CERTIFICATE_PASSWORD")
                        .ok()
                        .map(|p| azure_core::credentials::Secret::new(Secret::new(p).0)),
                    ..Default::default()
                };
                ClientCertificateCredential::new(
                    tenant_for(K)?,
                    env(K, "AZURE_CLIENT_ID")?,
                    azure_core::credentials::SecretBytes::new(bytes),
                    Some(options),
                )
                .map_err(|e| AuthError::Certificate {
                    path,
                    detail: format!("{e} (a PKCS#12 .pfx file with its private key is expected)"),
                })?
            }
            AuthKind::ManagedIdentity => {
                let options = ManagedIdentityCredentialOptions {
                    user_assigned_id: std::env::var("AZURE_CLIENT_ID")
                        .ok()
                        .filter(|v| !v.is_empty())
                        .map(UserAssignedId::ClientId),
                    ..Default::default()
                };
                ManagedIdentityCredential::new(Some(options)).map_err(setup("managed-identity"))?
            }
            AuthKind::WorkloadIdentity => {
                let options = WorkloadIdentityCredentialOptions {
                    tenant_id: tenant.map(str::to_string),
                    ..Default::default()
                };
                WorkloadIdentityCredential::new(Some(options))
                    .map_err(setup("workload-identity"))?
            }
        };
        Ok(Self::Azure(cred))
    }
}

struct Cached {
    token: Secret,
    /// When to fetch a new one; `None` for a static token.
    refresh_at: Option<Instant>,
}

/// One token per audience, cached until five minutes before it expires.
pub struct Tokens {
    credential: Credential,
    cache: tokio::sync::Mutex<HashMap<String, Cached>>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

/// Tokens are renewed this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

impl Tokens {
    pub fn new(credential: Credential) -> Self {
        Self {
            credential,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The token for `audience` (api-reference.md's table). The scope asked
    /// for is `<audience>/.default`, kept verbatim: for an audience with a
    /// trailing slash (`https://service.powerapps.com/`) that gives the
    /// documented `//.default` form, so the token's `aud` keeps its slash.
    pub async fn token(&self, audience: &str) -> Result<Secret, AuthError> {
        // Held across the fetch on purpose: concurrent requests wait for one
        // token instead of all asking Entra at once.
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(audience)
            && c.refresh_at.is_none_or(|t| Instant::now() < t)
        {
            return Ok(c.token.clone());
        }
        let fresh = match &self.credential {
            Credential::Static(s) => Cached {
                token: s.clone(),
                refresh_at: None,
            },
            Credential::Azure(cred) => {
                let scope = format!("{audience}/.default");
                let t = cred.get_token(&[scope.as_str()], None).await.map_err(|e| {
                    AuthError::Token {
                        audience: audience.to_string(),
                        detail: describe_azure_error(&e),
                    }
                })?;
                let now = time_now_unix();
                let left = (t.expires_on.unix_timestamp() - now).max(0) as u64;
                let valid = Duration::from_secs(left).saturating_sub(REFRESH_MARGIN);
                Cached {
                    token: Secret::new(t.token.secret()),
                    refresh_at: Some(Instant::now() + valid),
                }
            }
        };
        let token = fresh.token.clone();
        cache.insert(audience.to_string(), fresh);
        Ok(token)
    }

    /// Forgets the cached token of `audience` (after a 401), so the next
    /// request fetches a new one.
    pub async fn invalidate(&self, audience: &str) {
        self.cache.lock().await.remove(audience);
    }
}

/// Who a token belongs to: its claims, read without checking the signature
/// (the service that accepted the token already did).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claims {
    /// The object id of the user or service principal.
    pub oid: Option<String>,
    pub tid: Option<String>,
    /// `upn`, `preferred_username` or `unique_name`, for users.
    pub upn: Option<String>,
    /// `appid` or `azp`: the application the token was issued to.
    pub app_id: Option<String>,
    /// `idtyp` is `app` for an application's own token.
    pub app_only: bool,
}

impl Claims {
    /// Decodes the payload of a JWT; `None` when the token is not one.
    pub fn of(token: &Secret) -> Option<Self> {
        use base64::Engine;
        let payload = token.expose().split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let upn = text("upn")
            .or_else(|| text("preferred_username"))
            .or_else(|| text("unique_name"))
            .filter(|u| u.contains('@'));
        Some(Self {
            oid: text("oid").map(|o| o.to_ascii_lowercase()),
            tid: text("tid").map(|t| t.to_ascii_lowercase()),
            app_only: text("idtyp").as_deref() == Some("app") || upn.is_none(),
            upn: upn.map(|u| u.to_ascii_lowercase()),
            app_id: text("appid")
                .or_else(|| text("azp"))
                .map(|a| a.to_ascii_lowercase()),
        })
    }
}

fn time_now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The credential error with its causes: the Entra error code (`AADSTS...`)
/// and HTTP status are what a user needs to fix a sign-in.
fn describe_azure_error(e: &azure_core::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let s = Secret::new("hunter2-token");
        assert_eq!(format!("{s}"), "<redacted>");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credential::Static(s.clone())).contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-token");
    }

    #[test]
    fn claims_come_from_the_payload() {
        use base64::Engine;
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let token = format!(
            "{}.{}.sig",
            enc(r#"{"alg":"none"}"#),
            enc(r#"{"oid":"ABC","tid":"T","upn":"Svc@Contoso.com","appid":"04b07795"}"#)
        );
        let c = Claims::of(&Secret::new(token)).unwrap();
        assert_eq!(c.oid.as_deref(), Some("abc"));
        assert_eq!(c.upn.as_deref(), Some("svc@contoso.com"));
        assert!(!c.app_only);
        let app = format!("x.{}.y", enc(r#"{"oid":"S","idtyp":"app","appid":"A1"}"#));
        assert!(Claims::of(&Secret::new(app)).unwrap().app_only);
        assert_eq!(Claims::of(&Secret::new("not-a-jwt")), None);
    }

    #[tokio::test]
    async fn static_tokens_serve_every_audience() {
        let t = Tokens::new(Credential::Static(Secret::new("abc")));
        assert_eq!(
            t.token("https://graph.microsoft.com")
                .await
                .unwrap()
                .expose(),
            "abc"
        );
        t.invalidate("https://graph.microsoft.com").await;
        assert_eq!(
            t.token("https://graph.microsoft.com")
                .await
                .unwrap()
                .expose(),
            "abc"
        );
        assert!(!format!("{t:?}").contains("abc"));
    }
}
