//! Which hosts may receive each audience's token. A next link, a
//! `continuationUri` or an environment's `instanceApiUrl` comes from a
//! server's answer: the token is chosen by the API being read, so without
//! this list any https host named in an answer would receive it.
//!
//! Checked on the Microsoft URL a request stands for, before any token is
//! attached, with or without `--api-base`.

use url::Url;

/// True when a request to `url` may carry a token for `audience`.
pub fn may_receive(audience: &str, url: &Url) -> bool {
    let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
        return false;
    };
    if url.scheme() != "https" || !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    let aud = audience.trim_end_matches('/').to_ascii_lowercase();
    // The Flow admin list's next link was seen on a regional host with a
    // port of its own [?]; every other API is on the default port.
    let default_port = url.port().is_none_or(|p| p == 443);
    match aud.as_str() {
        "https://service.powerapps.com" => {
            default_port && matches!(host.as_str(), "api.bap.microsoft.com" | "api.powerapps.com")
        }
        "https://service.flow.microsoft.com" => {
            host == "api.flow.microsoft.com" || is_subdomain(&host, "api.flow.microsoft.com")
        }
        // activity events' continuationUri names a cluster host under the
        // audience's own domain (`wabi-...-redirect.analysis.windows.net`).
        "https://analysis.windows.net/powerbi/api" => {
            default_port
                && (host == "api.powerbi.com" || is_subdomain(&host, "analysis.windows.net"))
        }
        "https://api.ci.ai.microsoft.com" | "https://api.ci.ai.dynamics.com" => {
            default_port && host == "api.ci.ai.dynamics.com"
        }
        "https://graph.microsoft.com" => default_port && host == "graph.microsoft.com",
        "https://management.azure.com" => default_port && host == "management.azure.com",
        // Log Analytics' query API, on its documented host and its successor.
        "https://api.loganalytics.io" => {
            default_port
                && matches!(
                    host.as_str(),
                    "api.loganalytics.io" | "api.loganalytics.azure.com"
                )
        }
        // The Management Activity API: content blobs' `contentUri` and the
        // `NextPageUri` header name this same host.
        "https://manage.office.com" => default_port && host == "manage.office.com",
        // Dataverse: the audience is the environment's own URL; its token
        // goes to that organisation's hosts only (`org.crm4.dynamics.com`
        // and its Web API host `org.api.crm4.dynamics.com`).
        other => default_port && dataverse_host_of(other).is_some_and(|org| same_org(&org, &host)),
    }
}

fn is_subdomain(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .is_some_and(|head| head.len() > 1 && head.ends_with('.'))
}

/// `org.crm4.dynamics.com` for a Dataverse audience, else `None`.
fn dataverse_host_of(audience: &str) -> Option<String> {
    let u = Url::parse(audience).ok()?;
    let host = u.host_str()?.to_ascii_lowercase();
    (u.scheme() == "https" && is_dataverse(&host)).then_some(host)
}

/// `<org>.crm<N>.dynamics.com` or `<org>.api.crm<N>.dynamics.com`.
fn is_dataverse(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    let region_ok = |l: &str| {
        l.strip_prefix("crm")
            .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
    };
    let org_ok =
        |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    match n {
        4 => org_ok(labels[0]) && region_ok(labels[1]) && labels[2..] == ["dynamics", "com"],
        5 => {
            org_ok(labels[0])
                && labels[1] == "api"
                && region_ok(labels[2])
                && labels[3..] == ["dynamics", "com"]
        }
        _ => false,
    }
}

/// Both hosts are Dataverse hosts of one organisation.
fn same_org(audience_host: &str, host: &str) -> bool {
    let base = |h: &str| h.replacen(".api.", ".", 1);
    is_dataverse(host) && base(audience_host) == base(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(audience: &str, url: &str) -> bool {
        may_receive(audience, &Url::parse(url).unwrap())
    }

    #[test]
    fn each_token_goes_to_its_own_hosts_only() {
        let pa = "https://service.powerapps.com/";
        assert!(ok(pa, "https://api.bap.microsoft.com/providers/x"));
        assert!(ok(pa, "https://api.powerapps.com/providers/x"));
        assert!(!ok(pa, "https://graph.microsoft.com/v1.0"));
        assert!(!ok(pa, "https://api.powerapps.com.evil.example/x"));
        assert!(!ok(pa, "https://api.powerapps.com:8443/x"));
        assert!(!ok(pa, "http://api.powerapps.com/x"));
        assert!(!ok(pa, "https://user@api.powerapps.com/x"));

        let flow = "https://service.flow.microsoft.com/";
        assert!(ok(flow, "https://api.flow.microsoft.com/x"));
        assert!(ok(flow, "https://emea.api.flow.microsoft.com:11777/x"));
        assert!(!ok(flow, "https://evilapi.flow.microsoft.com/x"));
        assert!(!ok(flow, "https://api.flow.microsoft.com.example/x"));

        let pbi = "https://analysis.windows.net/powerbi/api";
        assert!(ok(pbi, "https://api.powerbi.com/v1.0/myorg/admin/groups"));
        assert!(ok(
            pbi,
            "https://wabi-us-redirect.analysis.windows.net/v1.0/x"
        ));
        assert!(!ok(pbi, "https://analysis.windows.net.example/x"));
        assert!(!ok(pbi, "https://example.com/x"));

        assert!(ok(
            "https://api.ci.ai.microsoft.com",
            "https://api.ci.ai.dynamics.com/v1/instances"
        ));
        assert!(!ok(
            "https://api.ci.ai.microsoft.com",
            "https://example.com/v1/instances"
        ));
        assert!(ok(
            "https://graph.microsoft.com",
            "https://graph.microsoft.com/v1.0/users"
        ));
        assert!(!ok(
            "https://graph.microsoft.com",
            "https://graph.microsoft.com.example/v1.0"
        ));
        assert!(ok(
            "https://management.azure.com",
            "https://management.azure.com/providers/x"
        ));
        let la = "https://api.loganalytics.io";
        assert!(ok(la, "https://api.loganalytics.io/v1/workspaces/w/query"));
        assert!(ok(
            la,
            "https://api.loganalytics.azure.com/v1/workspaces/w/query"
        ));
        assert!(!ok(la, "https://api.loganalytics.io.example/v1"));
        let o365 = "https://manage.office.com";
        assert!(ok(
            o365,
            "https://manage.office.com/api/v1.0/t/activity/feed/audit/x"
        ));
        assert!(!ok(o365, "https://manage.office.com.example/api"));
        assert!(!ok(
            o365,
            "https://example.com/api/v1.0/t/activity/feed/audit/x"
        ));
        assert!(!ok(
            "https://graph.microsoft.com",
            "https://manage.office.com/api/v1.0/t/activity/feed/subscriptions/list"
        ));
        assert!(!ok(la, "https://api.loganalytics.io:8443/v1"));
        assert!(!ok(
            "https://graph.microsoft.com",
            "https://api.loganalytics.io/v1/workspaces/w/query"
        ));
    }

    #[test]
    fn a_dataverse_token_stays_with_its_organisation() {
        let aud = "https://contoso.crm4.dynamics.com";
        assert!(ok(
            aud,
            "https://contoso.api.crm4.dynamics.com/api/data/v9.2/appmodules"
        ));
        assert!(ok(
            aud,
            "https://contoso.crm4.dynamics.com/api/data/v9.2/appmodules"
        ));
        assert!(ok(
            "https://contoso.api.crm.dynamics.com/",
            "https://contoso.api.crm.dynamics.com/api"
        ));
        assert!(!ok(aud, "https://fabrikam.api.crm4.dynamics.com/api"));
        assert!(!ok(
            aud,
            "https://contoso.api.crm4.dynamics.com.example/api"
        ));
        assert!(!ok(aud, "https://contoso.crm4.dynamics.com:444/api"));
        // An audience that is no Dataverse host gives no host at all.
        assert!(!ok("https://evil.example", "https://evil.example/api"));
        assert!(!ok(
            "https://x.crmz.dynamics.com",
            "https://x.crmz.dynamics.com/api"
        ));
    }
}
