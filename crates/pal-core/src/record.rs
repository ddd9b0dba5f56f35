//! `audit --record DIR`: every response the audit read (method, host, path,
//! query, status, `Retry-After`, body), in the order read, one file each, so
//! `emulate --replay DIR` can serve them back. Request headers (the token,
//! the Customer Insights key) are never kept. With `--redact`, addresses and
//! people's names are replaced by stable pseudonyms in every file alike.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::InputError;
use crate::output::OutputError;
use crate::output::write_atomic;
use crate::report::{addresses, pseudonym};

/// What the folder says of itself.
pub const MANIFEST: &str = "recording.json";
const FORMAT: &str = "pal-audit/recording/v1";

/// `recording.json`: what the recording is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `pal-audit/recording/v1`; `load` refuses any other.
    pub format: String,
    /// The pal-audit version that recorded it.
    pub tool_version: String,
    /// When the recording was saved.
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// How many responses it holds.
    pub responses: usize,
    /// Names and addresses were replaced; requests are matched after the
    /// same replacement.
    pub redacted: bool,
}

/// One response, as read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// Its place in the order read, from 1: its file is `NNNNNN.json`.
    pub seq: u64,
    /// The request's HTTP method.
    pub method: String,
    /// The request's host, lower-cased.
    pub host: String,
    /// The request's URL path (addresses replaced, when redacted).
    pub path: String,
    /// The request's query string, without `?`; empty when none
    /// (addresses replaced, when redacted).
    #[serde(default)]
    pub query: String,
    /// SHA-256 of the request body, for POSTs (a Graph `$batch`, a scan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_sha256: Option<String>,
    /// The response's HTTP status.
    pub status: u16,
    /// The response's `Retry-After` header as sent, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// The response's `NextPageUri` header, when it had one: the Management
    /// Activity API pages by it, not in the body, so a replay must send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_uri: Option<String>,
    /// The body as JSON when it is JSON, else as text.
    pub body: serde_json::Value,
}

impl Exchange {
    /// What a replay matches a request by.
    pub fn key(&self) -> String {
        key(
            &self.method,
            &self.host,
            &self.path,
            &self.query,
            self.request_sha256.as_deref(),
        )
    }
}

/// What a replay matches a request by: method (upper-cased), host
/// (lower-cased), path, query and body hash (`-` without a body).
pub fn key(method: &str, host: &str, path: &str, query: &str, sha: Option<&str>) -> String {
    format!(
        "{} {}{}?{} {}",
        method.to_ascii_uppercase(),
        host.to_ascii_lowercase(),
        path,
        query,
        sha.unwrap_or("-")
    )
}

/// The SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The responses of one audit, kept until they are saved.
#[derive(Debug, Default)]
pub struct Recorder {
    exchanges: Mutex<Vec<Exchange>>,
}

/// The response headers a recording keeps.
#[derive(Clone, Copy, Debug, Default)]
pub struct Headers<'a> {
    /// `Retry-After`, as sent.
    pub retry_after: Option<&'a str>,
    /// `NextPageUri` (or `NextPageUrl`), as sent.
    pub next_page_uri: Option<&'a str>,
}

/// A request as the recorder sees it.
pub struct Request<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The full URL, query included.
    pub url: &'a url::Url,
    /// The body sent, if any: only its SHA-256 is kept.
    pub body: Option<&'a [u8]>,
}

impl Recorder {
    /// Keeps the response to `req`, next in order: its status, the
    /// headers a replay needs (`Retry-After`, `NextPageUri`) and its body.
    pub fn record(&self, req: &Request<'_>, status: u16, headers: Headers<'_>, body: &[u8]) {
        let mut all = self.exchanges.lock().expect("recorder");
        let seq = all.len() as u64 + 1;
        all.push(Exchange {
            seq,
            method: req.method.to_string(),
            host: req.url.host_str().unwrap_or_default().to_ascii_lowercase(),
            path: req.url.path().to_string(),
            query: req.url.query().unwrap_or_default().to_string(),
            request_sha256: req.body.map(sha256_hex),
            status,
            retry_after: headers.retry_after.map(str::to_string),
            next_page_uri: headers.next_page_uri.map(str::to_string),
            body: serde_json::from_slice(body).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
            }),
        });
    }

    /// How many responses are kept.
    pub fn len(&self) -> usize {
        self.exchanges.lock().expect("recorder").len()
    }

    /// No response kept yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes `DIR/recording.json` and `DIR/NNNNNN.json` per response, each
    /// readable by its owner only. With `redact`, through `redact_exchange`.
    pub fn save(&self, dir: &Path, redact: bool) -> Result<usize, OutputError> {
        let all = self.exchanges.lock().expect("recorder").clone();
        std::fs::create_dir_all(dir).map_err(|source| OutputError::new(dir, source))?;
        for e in &all {
            let e = if redact {
                redact_exchange(e)
            } else {
                e.clone()
            };
            let text = serde_json::to_string_pretty(&e).expect("an exchange serializes");
            write_atomic(&dir.join(format!("{:06}.json", e.seq)), &text)?;
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            recorded_at: chrono::Utc::now(),
            responses: all.len(),
            redacted: redact,
        };
        write_atomic(
            &dir.join(MANIFEST),
            &serde_json::to_string_pretty(&manifest).expect("a manifest serializes"),
        )?;
        Ok(all.len())
    }
}

/// Removes the recording in `dir` (its manifest and `NNNNNN.json` files),
/// for `--record DIR --force`: an old recording's answers must not mix into
/// the new one's replay. Other files are left.
pub fn remove_recording(dir: &Path) -> Result<(), OutputError> {
    let err = |source| OutputError::new(dir, source);
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let path = entry.map_err(err)?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let numbered = name
            .strip_suffix(".json")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if (numbered || name == MANIFEST) && path.is_file() {
            std::fs::remove_file(&path).map_err(err)?;
        }
    }
    Ok(())
}

/// Reads a recording: its manifest and its responses by key, in order.
pub fn load(dir: &Path) -> Result<(Manifest, BTreeMap<String, Vec<Exchange>>), InputError> {
    let read_json = |path: &Path| -> Result<serde_json::Value, InputError> {
        let name = path.display().to_string();
        let text = crate::input::read_text(path, crate::input::MAX_INPUT)?;
        serde_json::from_str(&text)
            .map_err(|e| InputError::new(format!("{name}:{}", e.line()), e.to_string()))
    };
    let decode = |path: &Path| {
        let name = path.display().to_string();
        move |e| InputError::json(&name, e)
    };
    let mpath = dir.join(MANIFEST);
    let v = read_json(&mpath)?;
    let manifest: Manifest = serde_path_to_error::deserialize(v).map_err(decode(&mpath))?;
    if manifest.format != FORMAT {
        return Err(InputError::new(
            format!("{}: $.format", mpath.display()),
            format!("{:?} is not {FORMAT:?}", manifest.format),
        ));
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| InputError::new(dir.display().to_string(), format!("cannot read: {e}")))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name().is_some_and(|n| n != MANIFEST)
        })
        .collect();
    files.sort();
    let mut by_key: BTreeMap<String, Vec<Exchange>> = BTreeMap::new();
    let mut all = Vec::new();
    for f in files {
        let v = read_json(&f)?;
        let e: Exchange = serde_path_to_error::deserialize(v).map_err(decode(&f))?;
        all.push(e);
    }
    all.sort_by_key(|e| e.seq);
    for e in all {
        by_key.entry(e.key()).or_default().push(e);
    }
    Ok((manifest, by_key))
}

/// Names of people in the services' answers (Dataverse, Graph, Power BI).
const NAME_KEYS: &[&str] = &[
    "displayname",
    "fullname",
    "firstname",
    "lastname",
    "givenname",
    "surname",
    "yomifullname",
    "nickname",
];

/// Every address in `text` as a pseudonymous one.
pub fn redact_text(text: &str) -> String {
    let mut out = text.to_string();
    let mut found = addresses(text);
    found.sort_by_key(|a| std::cmp::Reverse(a.len()));
    for a in found {
        out = out.replace(&a, &format!("{}@redacted.invalid", pseudonym(&a)));
    }
    out
}

fn redact_value(v: &mut serde_json::Value, key: Option<&str>) {
    match v {
        serde_json::Value::String(s) => {
            *s = match key {
                Some(k) if NAME_KEYS.contains(&k.to_ascii_lowercase().as_str()) => pseudonym(s),
                _ => redact_text(s),
            };
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| redact_value(i, key)),
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                redact_value(v, Some(k));
            }
        }
        _ => {}
    }
}

/// The path and query with addresses replaced, percent-decoded first so an
/// encoded `@` is seen: what a redacted recording stores and matches by.
pub fn redact_target(path: &str, query: &str) -> (String, String) {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    (redact_text(&decode(path)), redact_text(&decode(query)))
}

fn redact_exchange(e: &Exchange) -> Exchange {
    // `next_page_uri` stays as sent: the service writes it (the tenant's
    // id and times, no names), and the replay matches the request it leads
    // to after the same redaction as any other.
    let mut e = e.clone();
    let (path, query) = redact_target(&e.path, &e.query);
    e.path = path;
    e.query = query;
    redact_value(&mut e.body, None);
    e
}

/// The key of a request in a redacted recording: its body hash is taken
/// after the same replacement.
pub fn redacted_sha(body: &[u8]) -> String {
    sha256_hex(redact_text(&String::from_utf8_lossy(body)).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_is_consistent_and_keeps_ids() {
        let mut v = serde_json::json!({
            "id": "a0000000-0000-4000-8000-000000000001",
            "userPrincipalName": "Ana.Costa@contoso.com",
            "fullname": "Ana Costa",
            "note": "shared by ana.costa@contoso.com",
            "value": [{"displayName": "Ana Costa"}]
        });
        redact_value(&mut v, None);
        let text = v.to_string();
        assert!(!text.to_lowercase().contains("ana"), "{text}");
        assert!(text.contains("a0000000-0000-4000-8000-000000000001"));
        assert_eq!(v["fullname"], v["value"][0]["displayName"]);
        assert_eq!(
            v["userPrincipalName"],
            format!("{}@redacted.invalid", pseudonym("ana.costa@contoso.com"))
        );
        let (path, _) = redact_target("/v1.0/users/ana.costa%40contoso.com", "");
        assert_eq!(
            path,
            format!(
                "/v1.0/users/{}@redacted.invalid",
                pseudonym("ana.costa@contoso.com")
            )
        );
    }

    #[test]
    fn a_saved_recording_loads_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let r = Recorder::default();
        let url = url::Url::parse("https://api.flow.microsoft.com/x?api-version=1").unwrap();
        let req = Request {
            method: "GET",
            url: &url,
            body: None,
        };
        let throttled = Headers {
            retry_after: Some("1"),
            ..Headers::default()
        };
        r.record(&req, 429, throttled, b"{}");
        let paged = Headers {
            next_page_uri: Some("https://api.flow.microsoft.com/x?page=2"),
            ..Headers::default()
        };
        r.record(&req, 200, paged, br#"{"value":[]}"#);
        assert_eq!(r.save(dir.path(), false).unwrap(), 2);
        let (m, by_key) = load(dir.path()).unwrap();
        assert_eq!(m.responses, 2);
        let list = &by_key[&key("GET", "api.flow.microsoft.com", "/x", "api-version=1", None)];
        assert_eq!(
            list.iter().map(|e| e.status).collect::<Vec<_>>(),
            [429, 200]
        );
        assert_eq!(list[0].retry_after.as_deref(), Some("1"));
        assert_eq!(
            list[1].next_page_uri.as_deref(),
            Some("https://api.flow.microsoft.com/x?page=2")
        );
        std::fs::write(dir.path().join("000002.json"), "{").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("000002.json:1"), "{err}");
    }
}
