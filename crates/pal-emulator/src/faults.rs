//! `--faults SPEC`: failures the emulator injects, so retries, gaps and exit
//! codes can be tested against real HTTP.
//!
//! SPEC is a comma-separated list of `KIND[:ARG][@MATCH][*COUNT]`:
//! - `429[:SECS]`: 429 with `Retry-After: SECS` (default 1);
//! - `429-date[:SECS]`: 429 with `Retry-After` as an HTTP date SECS ahead;
//! - `af429[:SECS]`: the Management Activity API's throttling answer, HTTP
//!   403 with error code `AF429`, with `Retry-After: SECS` when given
//!   (`af429:1@/subscriptions/content*2`); a content blob that fails for
//!   good is a status fault on its path (`500@/activity/feed/audit/*all`);
//! - `500`, `502`, `503`, `504`: that status; `400`, `401`, `403`, `404` too (with
//!   `@MATCH`, to refuse one API: `403@/admin/workspaces/getInfo*all`);
//! - `cut`: a 200 whose body stops half way (the connection is dropped);
//! - `slow:MS`: a 200 whose second half arrives MS milliseconds after the first;
//! - `malformed`: a 200 whose body is not JSON;
//! - `repeat-next`: a page whose next link is the page itself;
//! - `scan:STATUS`: Power BI's scanStatus answers STATUS (`Running`, `Failed`);
//! - `403-env:ENV`: 403 for every request naming environment ENV;
//! - `not-a-list[:SHAPE]`: a list request answered 200 with a body that is
//!   not a list: SHAPE `object` (`{}`, the default), `array` (`[]`), `error`
//!   (`{"error": ...}`) or `other` (`{"items": [...]}`);
//! - `redirect[:URL]`: a 302 to URL, by default to another Microsoft host on
//!   the emulator itself (`/attacker.example/steal`);
//! - `foreign-next`: a list page whose next link names a host that is not
//!   the API's (`https://attacker.example/...`);
//! - `foreign-dataverse`: the environments list gives every Dataverse
//!   environment `https://attacker.example` as its `instanceApiUrl` and
//!   `instanceUrl`;
//! - `replay-page`: a page whose next link is the page itself under another
//!   URL (an extra query parameter): its items come back a second time;
//! - `echo-secrets`: a list page whose first item's name, and an error
//!   answer's message, quote the request's bearer token and API key;
//! - `duplicate`: a list page whose first item is listed twice;
//!   `duplicate-changed`: twice, the second time with another name;
//! - `lost-write`: a write (any method but GET) answered with an empty 200
//!   that changes nothing, so only a re-read can tell it did not happen;
//! - `token-only`: a Power BI activity events page without `continuationUri`,
//!   only its (already percent-encoded) `continuationToken`;
//! - `partial-error`: a Log Analytics query answered 200 with its last row
//!   left out and a top-level `error` of code `PartialError`, as the query
//!   API reports a non-fatal failure (`partial-error@loganalytics`).
//!
//! Inside a Graph `$batch`, status faults apply to each inner request, so
//! `404@ID*all` makes one principal unknown.
//!
//! `@MATCH` limits a fault to requests whose `host/path` contains MATCH (any
//! case); `*COUNT` to the first COUNT of them (`*all` for every one,
//! `*first` for the first try of each distinct request: its retry succeeds).
//! The default count is 1, and `all` for `403-env`.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    Throttle { seconds: u64, as_date: bool },
    Af429 { seconds: Option<u64> },
    Status(u16),
    Cut,
    Slow(u64),
    Malformed,
    RepeatNext,
    ScanStatus(String),
    ForbiddenEnvironment(String),
    NotAList(String),
    Redirect(String),
    ForeignNext,
    ReplayPage,
    EchoSecrets,
    ForeignDataverse,
    Duplicate { changed: bool },
    LostWrite,
    TokenOnly,
    PartialError,
}

#[derive(Debug)]
pub struct Fault {
    pub kind: FaultKind,
    matcher: Option<String>,
    /// `None`: every matching request.
    limit: Option<u64>,
    used: AtomicU64,
    /// `*first`: the requests already faulted once.
    first_only: Option<std::sync::Mutex<std::collections::HashSet<String>>>,
}

#[derive(Debug, Default)]
pub struct Faults(Vec<Fault>);

impl Faults {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut faults = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (head, count) = match item.rsplit_once('*') {
                Some((h, c)) => (h, Some(c)),
                None => (item, None),
            };
            let (kind_arg, matcher) = match head.split_once('@') {
                Some((k, m)) => (k, Some(m.to_ascii_lowercase())),
                None => (head, None),
            };
            let (kind, arg) = match kind_arg.split_once(':') {
                Some((k, a)) => (k, Some(a)),
                None => (kind_arg, None),
            };
            let secs = |a: Option<&str>| -> Result<u64, String> {
                a.map_or(Ok(1), |a| {
                    a.parse()
                        .map_err(|_| format!("--faults {item:?}: {a:?} is not whole seconds"))
                })
            };
            let kind = match kind {
                "429" => FaultKind::Throttle {
                    seconds: secs(arg)?,
                    as_date: false,
                },
                "429-date" => FaultKind::Throttle {
                    seconds: secs(arg)?,
                    as_date: true,
                },
                "af429" => FaultKind::Af429 {
                    seconds: arg.map(|a| secs(Some(a))).transpose()?,
                },
                "400" | "401" | "403" | "404" | "500" | "502" | "503" | "504" => {
                    FaultKind::Status(kind.parse().expect("digits"))
                }
                "cut" => FaultKind::Cut,
                "slow" => FaultKind::Slow(
                    arg.ok_or_else(|| format!("--faults {item:?}: slow needs :MILLISECONDS"))?
                        .parse()
                        .map_err(|_| format!("--faults {item:?}: not whole milliseconds"))?,
                ),
                "malformed" => FaultKind::Malformed,
                "repeat-next" => FaultKind::RepeatNext,
                "scan" => FaultKind::ScanStatus(
                    arg.filter(|a| !a.is_empty())
                        .ok_or_else(|| format!("--faults {item:?}: scan needs :STATUS"))?
                        .to_string(),
                ),
                "403-env" => FaultKind::ForbiddenEnvironment(
                    arg.filter(|a| !a.is_empty())
                        .ok_or_else(|| format!("--faults {item:?}: 403-env needs :ENVIRONMENT"))?
                        .to_ascii_lowercase(),
                ),
                "not-a-list" => {
                    let shape = arg.unwrap_or("object");
                    if !matches!(shape, "object" | "array" | "error" | "other") {
                        return Err(format!(
                            "--faults {item:?}: not-a-list takes object, array, error or other"
                        ));
                    }
                    FaultKind::NotAList(shape.to_string())
                }
                "redirect" => {
                    FaultKind::Redirect(arg.unwrap_or("/attacker.example/steal").to_string())
                }
                "foreign-next" => FaultKind::ForeignNext,
                "lost-write" => FaultKind::LostWrite,
                "token-only" => FaultKind::TokenOnly,
                "partial-error" => FaultKind::PartialError,
                "replay-page" => FaultKind::ReplayPage,
                "echo-secrets" => FaultKind::EchoSecrets,
                "foreign-dataverse" => FaultKind::ForeignDataverse,
                "duplicate" => FaultKind::Duplicate { changed: false },
                "duplicate-changed" => FaultKind::Duplicate { changed: true },
                other => {
                    return Err(format!(
                        "--faults {item:?}: {other:?} is not one of 429, 429-date, af429, 400, 401, 403, 404, 500, 502, 503, 504, cut, slow, malformed, repeat-next, scan, 403-env, not-a-list, redirect, foreign-next, replay-page, echo-secrets, foreign-dataverse, duplicate, duplicate-changed, lost-write, token-only, partial-error"
                    ));
                }
            };
            let first_only = (count == Some("first")).then(std::sync::Mutex::default);
            let limit = match count {
                None if matches!(kind, FaultKind::ForbiddenEnvironment(_)) => None,
                None => Some(1),
                Some("all" | "first") => None,
                Some(c) => Some(c.parse().map_err(|_| {
                    format!("--faults {item:?}: count {c:?} is not a number or all")
                })?),
            };
            faults.push(Fault {
                kind,
                matcher,
                limit,
                used: AtomicU64::new(0),
                first_only,
            });
        }
        Ok(Self(faults))
    }

    /// The fault to inject for a request to `host/path`, if any. Counts it.
    pub fn pick(&self, host_path: &str) -> Option<FaultKind> {
        self.pick_request(host_path, host_path)
    }

    /// `pick`, where `request` names the request for `*first` (its path and
    /// query, and for a `$batch` each inner URL).
    pub fn pick_request(&self, host_path: &str, request: &str) -> Option<FaultKind> {
        let lower = host_path.to_ascii_lowercase();
        for f in &self.0 {
            let applies = match &f.kind {
                FaultKind::ForbiddenEnvironment(env) => {
                    lower.contains(&format!("/environments/{env}/"))
                        || lower.ends_with(&format!("/environments/{env}"))
                }
                FaultKind::ScanStatus(_) => lower.contains("/admin/workspaces/scanstatus/"),
                _ => true,
            } && f.matcher.as_deref().is_none_or(|m| lower.contains(m));
            if !applies {
                continue;
            }
            if let Some(seen) = &f.first_only {
                if seen.lock().expect("fault set").insert(request.to_string()) {
                    return Some(f.kind.clone());
                }
                continue;
            }
            let n = f.used.fetch_add(1, Ordering::SeqCst);
            if f.limit.is_none_or(|l| n < l) {
                return Some(f.kind.clone());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_counts() {
        let f = Faults::parse("429:2@/apps*2,cut,403-env:Sales").unwrap();
        let apps = "api.powerapps.com/providers/x/environments/e1/apps";
        assert_eq!(
            f.pick(apps),
            Some(FaultKind::Throttle {
                seconds: 2,
                as_date: false
            })
        );
        assert!(matches!(f.pick(apps), Some(FaultKind::Throttle { .. })));
        assert_eq!(f.pick(apps), Some(FaultKind::Cut));
        assert_eq!(f.pick(apps), None);
        let sales = "api.flow.microsoft.com/x/environments/SALES/v2/flows";
        assert_eq!(
            f.pick(sales),
            Some(FaultKind::ForbiddenEnvironment("sales".into()))
        );
        assert_eq!(
            f.pick(sales),
            Some(FaultKind::ForbiddenEnvironment("sales".into()))
        );
        let first = Faults::parse("503*first").unwrap();
        assert_eq!(
            first.pick_request("h/a", "GET h/a?x"),
            Some(FaultKind::Status(503))
        );
        assert_eq!(
            first.pick_request("h/a", "GET h/a?x"),
            None,
            "the retry passes"
        );
        assert_eq!(
            first.pick_request("h/a", "GET h/a?y"),
            Some(FaultKind::Status(503))
        );
        assert_eq!(
            Faults::parse("slow:250,scan:Running").unwrap().pick("h/a"),
            Some(FaultKind::Slow(250))
        );
        assert_eq!(
            Faults::parse("af429:2").unwrap().pick("h/a"),
            Some(FaultKind::Af429 { seconds: Some(2) })
        );
        assert!(Faults::parse("slow").is_err());
        assert!(Faults::parse("418").is_err());
        assert!(Faults::parse("403-env").is_err());
        assert!(Faults::parse("503*x").is_err());
    }
}
