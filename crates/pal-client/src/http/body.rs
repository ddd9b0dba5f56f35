//! Response bodies: read under a size cap, and decoded as they arrive when
//! they are large, so a 50 MB page is never held whole next to its decoded
//! items. Small bodies (most of them) are buffered and decoded in one go,
//! which is faster.

use std::io::Read;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::rewrite::{self, Target};
use super::{HttpError, decode};
use pal_core::secrets as scrub;

/// Bodies above this many bytes are decoded while they arrive.
pub const STREAM_ABOVE: usize = 1 << 20;

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyFault {
    /// The connection broke or stalled mid-body: worth another attempt.
    Cut(String),
    /// Not worth another attempt (too large, not the JSON expected).
    Fatal(HttpError),
}

fn too_large(target: &Target, cap: u64) -> BodyFault {
    BodyFault::Fatal(HttpError::TooLarge {
        url: rewrite::display(&target.real),
        limit: cap,
    })
}

fn cut(e: reqwest::Error) -> BodyFault {
    BodyFault::Cut(format!(
        "the response body was cut short ({})",
        super::describe_reqwest(e)
    ))
}

/// The whole body, refused once it passes `cap` bytes.
pub async fn buffer(
    mut resp: reqwest::Response,
    target: &Target,
    cap: u64,
) -> Result<Bytes, BodyFault> {
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(too_large(target, cap));
    }
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(cut)? {
        if (buf.len() + chunk.len()) as u64 > cap {
            return Err(too_large(target, cap));
        }
        buf.extend_from_slice(&chunk);
    }
    // A server that echoes a secret keeps it: nothing after this sees it.
    Ok(match scrub::bytes(&buf) {
        std::borrow::Cow::Borrowed(_) => Bytes::from(buf),
        std::borrow::Cow::Owned(clean) => Bytes::from(clean),
    })
}

/// Decodes the body as `T`: from one buffer when it is small, else while it
/// arrives (on a blocking thread fed chunk by chunk). With `keep`, the raw
/// body is returned too (for `--record`).
pub async fn decode_body<T: DeserializeOwned + Send + 'static>(
    mut resp: reqwest::Response,
    target: &Target,
    cap: u64,
    keep: bool,
) -> Result<(T, Option<Bytes>), BodyFault> {
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(too_large(target, cap));
    }
    let mut head = Vec::new();
    loop {
        match resp.chunk().await.map_err(cut)? {
            None => {
                let head = scrub::bytes(&head).into_owned();
                let value = decode(target, &head).map_err(BodyFault::Fatal)?;
                return Ok((value, keep.then(|| Bytes::from(head))));
            }
            Some(chunk) => {
                if (head.len() + chunk.len()) as u64 > cap {
                    return Err(too_large(target, cap));
                }
                head.extend_from_slice(&chunk);
                if head.len() > STREAM_ABOVE {
                    break;
                }
            }
        }
    }
    // Large: hand the chunks to a decoder on a blocking thread as they come.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(8);
    let shown = rewrite::display(&target.real);
    let decoder = tokio::task::spawn_blocking(move || {
        let reader = std::io::BufReader::with_capacity(
            64 * 1024,
            ChannelReader {
                rx,
                current: Bytes::new(),
            },
        );
        let de = &mut serde_json::Deserializer::from_reader(reader);
        let value: T = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            let path = e.path().to_string();
            (path, e.into_inner())
        })?;
        de.end().map_err(|e| (".".to_string(), e))?;
        Ok(value)
    });
    let mut total = head.len() as u64;
    // Chunks are scrubbed as they pass, a secret cut between two included.
    let mut scrubber = scrub::Stream::default();
    let first = scrubber.push(&head);
    let mut kept = if keep { first.clone() } else { Vec::new() };
    let mut fault = None;
    // The decoder may stop early (bad JSON); then sending fails and reading ends.
    if tx.send(Ok(Bytes::from(first))).await.is_ok() {
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    total += chunk.len() as u64;
                    if total > cap {
                        fault = Some(too_large(target, cap));
                        let _ = tx.send(Err("the body passed the size cap".into())).await;
                        break;
                    }
                    let clean = scrubber.push(&chunk);
                    if keep {
                        kept.extend_from_slice(&clean);
                    }
                    if tx.send(Ok(Bytes::from(clean))).await.is_err() {
                        break;
                    }
                }
                Ok(None) => {
                    let rest = std::mem::take(&mut scrubber).finish();
                    if keep {
                        kept.extend_from_slice(&rest);
                    }
                    let _ = tx.send(Ok(Bytes::from(rest))).await;
                    break;
                }
                Err(e) => {
                    fault = Some(cut(e));
                    let _ = tx.send(Err("cut".into())).await;
                    break;
                }
            }
        }
    }
    drop(tx);
    let decoded = decoder
        .await
        .map_err(|e| BodyFault::Fatal(HttpError::Service(format!("{shown}: decoder: {e}"))))?;
    if let Some(f) = fault {
        return Err(f);
    }
    match decoded {
        Ok(v) => Ok((v, keep.then(|| Bytes::from(kept)))),
        Err((path, inner)) => {
            if inner.is_io() {
                return Err(BodyFault::Cut(format!(
                    "the response body was cut short ({inner})"
                )));
            }
            Err(BodyFault::Fatal(HttpError::Decode {
                url: shown,
                path: if path == "." {
                    "$".into()
                } else {
                    format!("$.{path}")
                },
                detail: inner.to_string(),
            }))
        }
    }
}

/// `io::Read` over chunks sent from the async side.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: Vec<u8>) -> reqwest::Response {
        reqwest::Response::from(axum::http::Response::new(body))
    }

    /// A large body is decoded while it arrives; what follows the value
    /// must be whitespace, as for a small one.
    #[tokio::test]
    async fn streamed_bodies_refuse_trailing_garbage() {
        let target = super::super::ApiBase::real()
            .target("https://api.flow.microsoft.com/x")
            .unwrap();
        let big = format!("[{}1]", "1,".repeat(STREAM_ABOVE));
        let ok = decode_body::<Vec<u8>>(
            response(format!("{big} \n").into_bytes()),
            &target,
            1 << 30,
            false,
        )
        .await
        .unwrap();
        assert_eq!(ok.0.len(), STREAM_ABOVE + 1);
        let err = decode_body::<Vec<u8>>(
            response(format!("{big} x").into_bytes()),
            &target,
            1 << 30,
            false,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, BodyFault::Fatal(HttpError::Decode { detail, .. }) if detail.contains("trailing")),
            "{err:?}"
        );
        let err = decode_body::<u8>(response(b"7 x".to_vec()), &target, 1 << 30, false)
            .await
            .unwrap_err();
        assert!(
            matches!(err, BodyFault::Fatal(HttpError::Decode { .. })),
            "{err:?}"
        );
    }
}
