//! What every write of `fix --apply` shares: the write sent with its
//! answer's body ignored, and the re-read that judges it.

use pal_core::fix::Outcome;
use serde_json::Value;

use crate::http::{Ctx, HttpClient, HttpError};

/// Sends one write and ignores its answer's body: the services answer 200
/// with none (`Default.TakeOver` declares no schema, `modifyAppOwner` is
/// void) or with one no specification describes. Only the status counts;
/// whether the write took effect is what the re-read after it shows.
pub(crate) async fn send(
    http: &HttpClient,
    ctx: &Ctx,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
) -> Result<(), HttpError> {
    let bytes = body.map(|b| serde_json::to_vec(b).expect("request bodies always serialize"));
    // Only a PUT (the role assignment) is safe to send again on a retry.
    let idempotent = method == reqwest::Method::PUT;
    http.send(ctx, method, url, bytes.as_deref(), idempotent)
        .await
        .map(|_| ())
}

/// The re-read after a write that was answered 2xx: its failure is said as
/// such, since the write may well have taken effect.
pub(crate) async fn reread<T: serde::de::DeserializeOwned + Send + 'static>(
    http: &HttpClient,
    ctx: &Ctx,
    url: &str,
) -> Result<T, Outcome> {
    http.get_json(ctx, url).await.map_err(|e| {
        Outcome::Failed(format!(
            "the change was accepted, but reading it back failed ({e}): check it by hand"
        ))
    })
}
