//! `--api-base`: every outgoing URL, and every absolute URL that comes back
//! from an API, is sent to `BASE/HOST/PATH?QUERY` instead of
//! `https://HOST/PATH?QUERY`. Plain `http://` only for loopback.

use std::net::IpAddr;

use url::Url;

/// Where requests go: the real hosts, or a local stand-in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiBase {
    /// Without a trailing slash.
    base: Option<String>,
}

/// A request's destination after the rewrite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The Microsoft host the request is meant for: what limits and counts
    /// are keyed by, whatever the rewrite did.
    pub real_host: String,
    /// Where the request goes.
    pub url: Url,
    /// The Microsoft URL it stands for: what messages name.
    pub real: Url,
}

/// True for 127.0.0.0/8, ::1 and `localhost`.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl ApiBase {
    /// The real Microsoft hosts.
    pub fn real() -> Self {
        Self { base: None }
    }

    /// Validates `--api-base`: an absolute http(s) URL with no query; plain
    /// http only for a loopback host.
    pub fn parse(s: &str) -> Result<Self, String> {
        let u = Url::parse(s).map_err(|e| format!("--api-base {s:?} is not a URL: {e}"))?;
        let host = u.host_str().unwrap_or_default().to_string();
        match u.scheme() {
            "https" | "http" => {}
            other => return Err(format!("--api-base {s:?}: scheme {other:?} is not http(s)")),
        }
        // Every call, with its bearer token, goes to the base: only a server on
        // this machine may receive them (the emulator, a replay, a stand-in
        // behind a local tunnel).
        if !is_loopback_host(&host) {
            return Err(format!(
                "--api-base {s:?}: only loopback addresses are accepted (127.0.0.1, ::1, localhost), so tokens never leave this machine"
            ));
        }
        if u.query().is_some() || u.fragment().is_some() {
            return Err(format!(
                "--api-base {s:?} must not have a query or fragment"
            ));
        }
        Ok(Self {
            base: Some(u.as_str().trim_end_matches('/').to_string()),
        })
    }

    pub fn is_set(&self) -> bool {
        self.base.is_some()
    }

    /// With `--api-base`, that something accepts connections there, within a
    /// second: else every call would fail, each after its retries, and name
    /// the Microsoft host it stands for rather than the address tried.
    pub fn check_listening(&self) -> Result<(), String> {
        let Some(base) = &self.base else {
            return Ok(());
        };
        let u = Url::parse(base).map_err(|e| format!("--api-base {base}: {e}"))?;
        let addrs = u
            .socket_addrs(|| None)
            .map_err(|e| format!("--api-base {base}: {e}"))?;
        let mut last = None;
        for addr in &addrs {
            match std::net::TcpStream::connect_timeout(addr, std::time::Duration::from_secs(1)) {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(format!("{addr}: {e}")),
            }
        }
        Err(format!(
            "--api-base {base}: nothing answers there ({}); start the emulator (`pal-audit emulate`) or the stand-in first",
            last.unwrap_or_else(|| "no address".into())
        ))
    }

    /// True when requests go to a loopback address (what `static-token` needs).
    pub fn is_loopback(&self) -> bool {
        self.base
            .as_deref()
            .and_then(|b| Url::parse(b).ok())
            .and_then(|u| u.host_str().map(is_loopback_host))
            .unwrap_or(false)
    }

    /// Where a request for `url` goes. URLs already under the base (a next
    /// link the stand-in wrote itself) are used as they are.
    pub fn target(&self, url: &str) -> Result<Target, String> {
        let u = Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let Some(base) = &self.base else {
            if u.scheme() != "https" {
                return Err(format!("refusing plain {} to {}", u.scheme(), display(&u)));
            }
            return Ok(Target {
                real_host: u.host_str().unwrap_or_default().to_ascii_lowercase(),
                real: u.clone(),
                url: u,
            });
        };
        if let Some(rest) = url.strip_prefix(base.as_str())
            && rest.starts_with('/')
        {
            let host = rest[1..].split(['/', '?']).next().unwrap_or_default();
            let real = Url::parse(&format!("https://{}", &rest[1..])).unwrap_or_else(|_| u.clone());
            return Ok(Target {
                real_host: host.to_ascii_lowercase(),
                real,
                url: u,
            });
        }
        if u.scheme() != "https" {
            return Err(format!("refusing plain {} to {}", u.scheme(), display(&u)));
        }
        let host = u.host_str().unwrap_or_default().to_ascii_lowercase();
        let authority = match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let mut rewritten = format!("{base}/{authority}{}", u.path());
        if let Some(q) = u.query() {
            rewritten.push('?');
            rewritten.push_str(q);
        }
        let rewritten =
            Url::parse(&rewritten).map_err(|e| format!("cannot rewrite {url:?}: {e}"))?;
        Ok(Target {
            real_host: host,
            real: u,
            url: rewritten,
        })
    }
}

/// A URL for messages: query values are hidden (they can carry tokens, skip
/// tokens or filters with UPNs), but for `api-version`.
pub fn display(u: &Url) -> String {
    let mut s = format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default());
    if let Some(p) = u.port() {
        s.push_str(&format!(":{p}"));
    }
    s.push_str(u.path());
    let pairs: Vec<String> = u
        .query_pairs()
        .map(|(k, v)| {
            if k == "api-version" {
                format!("{k}={v}")
            } else {
                format!("{k}=...")
            }
        })
        .collect();
    if !pairs.is_empty() {
        s.push('?');
        s.push_str(&pairs.join("&"));
    }
    s
}

/// `display` for a string that may not parse.
pub fn display_str(url: &str) -> String {
    Url::parse(url).map_or_else(|_| "<invalid URL>".to_string(), |u| display(&u))
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPS: &str = "https://api.powerapps.com/providers/Microsoft.PowerApps/scopes/admin/environments/Default-1/apps?api-version=2016-11-01&$top=250";

    #[test]
    fn without_base_urls_are_unchanged() {
        let t = ApiBase::real().target(APPS).unwrap();
        assert_eq!(t.url.as_str(), APPS);
        assert_eq!(t.real_host, "api.powerapps.com");
        assert!(
            ApiBase::real()
                .target("http://api.powerapps.com/x")
                .is_err()
        );
    }

    #[test]
    fn real_hosts_move_under_the_base() {
        let b = ApiBase::parse("http://127.0.0.1:8080/").unwrap();
        let t = b.target(APPS).unwrap();
        assert_eq!(
            t.url.as_str(),
            "http://127.0.0.1:8080/api.powerapps.com/providers/Microsoft.PowerApps/scopes/admin/environments/Default-1/apps?api-version=2016-11-01&$top=250"
        );
        assert_eq!(t.real_host, "api.powerapps.com");
        // A next link the server already wrote under the base is kept.
        let again = b.target(t.url.as_str()).unwrap();
        assert_eq!(again, t);
        // Graph-style paths and a base with a path of its own.
        let b = ApiBase::parse("https://127.0.0.1:8443/tenant1").unwrap();
        let t = b
            .target("https://graph.microsoft.com/v1.0/servicePrincipals(appId='abc')?$select=id")
            .unwrap();
        assert_eq!(
            t.url.as_str(),
            "https://127.0.0.1:8443/tenant1/graph.microsoft.com/v1.0/servicePrincipals(appId='abc')?$select=id"
        );
    }

    #[test]
    fn only_loopback_bases() {
        assert!(ApiBase::parse("http://127.0.0.1:1").unwrap().is_loopback());
        assert!(ApiBase::parse("http://[::1]:1").unwrap().is_loopback());
        assert!(ApiBase::parse("http://localhost:1").unwrap().is_loopback());
        assert!(ApiBase::parse("http://10.0.0.1:1").is_err());
        assert!(ApiBase::parse("http://example.com").is_err());
        assert!(ApiBase::parse("https://example.com").is_err());
        assert!(
            ApiBase::parse("https://127.0.0.1:8443")
                .unwrap()
                .is_loopback()
        );
        assert!(ApiBase::parse("ftp://127.0.0.1").is_err());
        let b = ApiBase::parse("http://127.0.0.1:1").unwrap();
        assert!(b.target("http://api.powerapps.com/x").is_err());
    }

    #[test]
    fn display_hides_query_values() {
        let u = Url::parse("https://h/p?api-version=1&$skiptoken=SECRET&sig=abc").unwrap();
        assert_eq!(
            display(&u),
            "https://h/p?api-version=1&$skiptoken=...&sig=..."
        );
    }
}
