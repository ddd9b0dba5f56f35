//! The one table of the Microsoft APIs pal-audit speaks to: each one's
//! source name (as coverage and `--fault` name it), base URL, token
//! audience and api-version, as `../shared/docs/api-reference.md` gives
//! them. pal-client's modules read and write through these; `doctor` probes
//! them; the fix scripts print them. Dataverse is per environment: its base
//! is the environment's `instanceApiUrl` and its audience that URL's origin.

/// One API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The source's name in coverage, progress and `--fault` (`power-apps`).
    pub source: &'static str,
    /// The base URL its paths are under (no trailing slash).
    pub base: &'static str,
    /// The audience its tokens are issued for.
    pub audience: &'static str,
    /// Its `api-version` query value, for the APIs that take one.
    pub api_version: Option<&'static str>,
}

impl Endpoint {
    /// The host of [`Endpoint::base`].
    pub fn host(&self) -> &'static str {
        let rest = self.base.trim_start_matches("https://");
        rest.split('/').next().unwrap_or(rest)
    }
}

/// Power Platform environments (BAP admin).
pub const BAP: Endpoint = Endpoint {
    source: "bap",
    base: "https://api.bap.microsoft.com/providers/Microsoft.BusinessAppPlatform/scopes/admin",
    audience: "https://service.powerapps.com/",
    api_version: Some("2020-10-01"),
};

/// Power Apps admin: apps and their role assignments.
pub const POWER_APPS: Endpoint = Endpoint {
    source: "power-apps",
    base: "https://api.powerapps.com/providers/Microsoft.PowerApps/scopes/admin/environments",
    audience: "https://service.powerapps.com/",
    api_version: Some("2016-11-01"),
};

/// Power Automate admin: flows and their owners.
pub const FLOW: Endpoint = Endpoint {
    source: "power-automate",
    base: "https://api.flow.microsoft.com/providers/Microsoft.ProcessSimple/scopes/admin/environments",
    audience: "https://service.flow.microsoft.com/",
    api_version: Some("2016-11-01"),
};

/// Power BI REST (admin, scanner, activity events, take-over).
pub const POWER_BI: Endpoint = Endpoint {
    source: "power-bi",
    base: "https://api.powerbi.com/v1.0/myorg",
    audience: "https://analysis.windows.net/powerbi/api",
    api_version: None,
};

/// Customer Insights - Data. Its audience has two spellings [?]: this is
/// the default, the config key `ci_audience` the other.
pub const CUSTOMER_INSIGHTS: Endpoint = Endpoint {
    source: "customer-insights",
    base: "https://api.ci.ai.dynamics.com/v1",
    audience: "https://api.ci.ai.microsoft.com",
    api_version: None,
};

/// Microsoft Graph: users, service principals, group members.
pub const GRAPH: Endpoint = Endpoint {
    source: "graph",
    base: "https://graph.microsoft.com/v1.0",
    audience: "https://graph.microsoft.com",
    api_version: None,
};

/// ARM ManagementPartner: the signed-in identity's PAL link.
pub const MANAGEMENT_PARTNER: Endpoint = Endpoint {
    source: "management-partner",
    base: "https://management.azure.com/providers/Microsoft.ManagementPartner/partners",
    audience: "https://management.azure.com",
    api_version: Some("2018-02-01"),
};

/// Azure Monitor Log Analytics query API: the Customer Insights
/// diagnostics (`CIEventsAudit`, `CIEventsOperational`) in the workspace
/// they are sent to (`--ci-workspace`). `api.loganalytics.azure.com` is
/// documented as its successor; this one stays supported.
pub const LOG_ANALYTICS: Endpoint = Endpoint {
    source: "log-analytics",
    base: "https://api.loganalytics.io/v1",
    audience: "https://api.loganalytics.io",
    api_version: None,
};

/// Office 365 Management Activity API (`--audit-api`): the unified audit
/// log's `Audit.General` content (Power Apps and Power Automate records).
/// Paths go under `{base}/{tenant id}/activity/feed/`; its token needs the
/// application permission `ActivityFeed.Read` (docs/api-reference-notes.md).
pub const MANAGEMENT_ACTIVITY: Endpoint = Endpoint {
    source: "management-activity",
    base: "https://manage.office.com/api/v1.0",
    audience: "https://manage.office.com",
    api_version: None,
};

/// Dataverse's source name; its base and audience are per environment.
pub const DATAVERSE_SOURCE: &str = "dataverse";

/// Every fixed endpoint, for `doctor` and the documentation.
pub const ALL: &[Endpoint] = &[
    BAP,
    POWER_APPS,
    FLOW,
    POWER_BI,
    CUSTOMER_INSIGHTS,
    GRAPH,
    MANAGEMENT_PARTNER,
    LOG_ANALYTICS,
    MANAGEMENT_ACTIVITY,
];

/// An id put into a URL path: percent-encoded, so an id like `../apps/X`
/// stays one segment and cannot name another resource. Ids are also
/// validated where they are read ([`is_service_id`]): the URL parser treats
/// an encoded `..` as a real one.
pub fn seg(id: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(id, SEGMENT).to_string()
}

/// True for the ids the services give resources and environments: a GUID,
/// or `Default-<GUID>` (the default environment). Anything else in an id
/// field is refused as a gap: it is not what the service writes, and it
/// would be put into URLs.
pub fn is_service_id(id: &str) -> bool {
    let id = id.trim();
    let guid = id
        .get(..8)
        .filter(|head| head.eq_ignore_ascii_case("default-"))
        .map_or(id, |_| &id[8..]);
    crate::links::is_guid(guid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_the_bases_hosts() {
        assert_eq!(POWER_BI.host(), "api.powerbi.com");
        assert_eq!(MANAGEMENT_PARTNER.host(), "management.azure.com");
        assert_eq!(LOG_ANALYTICS.host(), "api.loganalytics.io");
        assert_eq!(MANAGEMENT_ACTIVITY.host(), "manage.office.com");
        assert!(
            ALL.iter()
                .all(|e| e.base.starts_with("https://") && !e.base.ends_with('/'))
        );
    }
}
