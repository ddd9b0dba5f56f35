//! Wire pieces several APIs share: lenient timestamps and the principal
//! object of the Power Apps admin API.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};

use pal_core::inventory::{Principal, PrincipalId, PrincipalType};

/// Parses the timestamps these APIs send: RFC 3339 with any number of
/// fractional digits, or without a zone (Power BI's `CreationTime`), read as UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// `Option<DateTime<Utc>>` from a string field; an unreadable time is `None`
/// (a missing activity signal), never a failed page.
pub fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    Ok(raw.as_deref().and_then(parse_time))
}

/// A principal object in the Power Apps admin API (`owner`, `createdBy`,
/// `principal` of a role assignment).
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WirePrincipal {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

impl WirePrincipal {
    pub fn principal_type(&self) -> PrincipalType {
        self.kind
            .as_deref()
            .map_or(PrincipalType::Unknown, PrincipalType::from_api)
    }

    /// The domain principal, when the object carries an id. A tenant-wide
    /// share carries only `tenantId`, which then stands as its id.
    pub fn to_principal(&self) -> Option<Principal> {
        let kind = self.principal_type();
        let id =
            self.id
                .as_deref()
                .filter(|s| !s.is_empty())
                .or(if kind == PrincipalType::Tenant {
                    self.tenant_id.as_deref()
                } else {
                    None
                })?;
        let mut p = Principal::new(PrincipalId::new(id), kind);
        p.display_name.clone_from(&self.display_name);
        // Only `userPrincipalName` is a UPN; `email` often looks like one but
        // need not be the same, so it never resolves a link.
        p.upn = self
            .user_principal_name
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(str::to_ascii_lowercase);
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_shape_seen() {
        assert!(parse_time("2026-03-01T10:00:00Z").is_some());
        assert!(parse_time("2026-03-01T10:00:00.1234567Z").is_some());
        assert!(parse_time("2026-03-01T10:00:00+02:00").is_some());
        assert_eq!(
            parse_time("2026-03-01T10:00:00.5").unwrap().to_rfc3339(),
            "2026-03-01T10:00:00.500+00:00"
        );
        assert_eq!(parse_time("yesterday"), None);
    }
}
