//! The delta-audit cache: what an audit read that a later audit may reuse
//! (the role assignments of apps and flows, keyed by `lastModifiedTime`, and
//! each Power BI workspace's datasets), saved beside a report and read back
//! by `audit --since REPORT --cache DIR`; and, for every audit given
//! `--cache DIR`, whole past UTC days of Power BI activity events
//! (`ActivityDays`), which do not change once the day is over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use pal_core::InputError;
/// Defined with the inventory it describes; the cache fills it.
pub use pal_core::inventory::Reuse;
use pal_core::inventory::{Principal, PrincipalId, Resource, ResourceId, RoleAssignment};
use pal_core::output::OutputError;
use pal_core::report::Report;

/// 2: the principals named by cached roles are kept once for the whole cache.
const VERSION: u32 = 2;
const FILE: &str = "pal-audit-cache.json";

/// The role assignments read for one app or flow, and the
/// `lastModifiedTime` they were read at. The principals they name are in
/// `Cache::principals`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedRoles {
    pub modified: DateTime<Utc>,
    pub roles: Vec<RoleAssignment>,
}

impl CachedRoles {
    /// The cache entry for roles just read, if the item had a
    /// `lastModifiedTime` to key them by.
    pub fn read(
        id: &ResourceId,
        modified: Option<DateTime<Utc>>,
        roles: &[RoleAssignment],
    ) -> Option<(ResourceId, Self)> {
        modified.map(|modified| {
            (
                id.clone(),
                Self {
                    modified,
                    roles: roles.to_vec(),
                },
            )
        })
    }
}

/// One Power BI workspace's datasets and the principals the scan named.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CachedWorkspace {
    pub resources: Vec<Resource>,
    pub principals: Vec<Principal>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cache {
    pub version: u32,
    pub tenant_id: Option<String>,
    /// When the audit that wrote it started reading: changes after this are
    /// what a delta audit must see.
    pub read_from: Option<DateTime<Utc>>,
    /// `generated_at` of the report written with it, so `--since` can check
    /// that the cache and the report belong together.
    pub report_generated_at: Option<DateTime<Utc>>,
    /// Apps and flows whose role assignments were read, by resource id.
    pub roles: BTreeMap<ResourceId, CachedRoles>,
    /// Power BI workspaces read through the scanner, by workspace id.
    pub workspaces: BTreeMap<String, CachedWorkspace>,
    /// What the app and flow reads said of the principals they named, once
    /// per principal (a service account owns thousands of them).
    #[serde(default)]
    pub principals: BTreeMap<PrincipalId, Principal>,
}

impl Cache {
    pub fn new(tenant_id: Option<String>, read_from: DateTime<Utc>) -> Self {
        Self {
            version: VERSION,
            tenant_id,
            read_from: Some(read_from),
            ..Self::default()
        }
    }

    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    /// The cache saved in `dir`, whichever audit saved it.
    pub fn load(dir: &Path) -> Result<Self, InputError> {
        let path = Self::path(dir);
        let name = path.display().to_string();
        let text = pal_core::input::read_text(&path, pal_core::input::MAX_REPORT).map_err(|e| {
            InputError::new(
                &name,
                format!("{}; run a full audit with --cache first", e.message),
            )
        })?;
        let cache: Cache = pal_core::input::parse_json(&name, &text)?;
        if cache.version != VERSION {
            return Err(InputError::new(
                format!("{name}: $.version"),
                format!(
                    "version {} is not {VERSION}; run a full audit with --cache to write a new one",
                    cache.version
                ),
            ));
        }
        Ok(cache)
    }

    /// The cache in `dir` that the audit which wrote `report` saved; an error
    /// names the file and says why they do not belong together.
    pub fn load_for(dir: &Path, report: &Report) -> Result<Self, InputError> {
        let cache = Self::load(dir)?;
        let name = Self::path(dir).display().to_string();
        if cache.report_generated_at != Some(report.generated_at) {
            return Err(InputError::new(
                &name,
                format!(
                    "it was saved by the audit of {}, not by the one that wrote the report of {}",
                    cache
                        .report_generated_at
                        .map_or_else(|| "an unknown time".into(), |t| t.to_rfc3339()),
                    report.generated_at.to_rfc3339()
                ),
            ));
        }
        if cache
            .tenant_id
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case(&report.tenant_id))
        {
            return Err(InputError::new(
                format!("{name}: $.tenant_id"),
                format!("the cache is of another tenant than {}", report.tenant_id),
            ));
        }
        Ok(cache)
    }

    /// Writes the cache atomically, readable by its owner only (it holds UPNs).
    pub fn save(&self, dir: &Path) -> Result<(), OutputError> {
        std::fs::create_dir_all(dir).map_err(|source| OutputError::new(dir, source))?;
        pal_core::output::write_atomic_with(&Self::path(dir), |w| {
            serde_json::to_writer(w, self).map_err(std::io::Error::from)
        })
    }

    /// Keeps what a read said of `principal`, merged with what earlier
    /// reads said.
    pub fn add_principal(&mut self, principal: &Principal) {
        match self.principals.get_mut(&principal.id) {
            Some(known) => known.merge(principal),
            None => {
                self.principals
                    .insert(principal.id.clone(), principal.clone());
            }
        }
    }

    /// The principals `roles` name, as the audit that cached them knew them.
    pub fn principals_of<'a>(
        &'a self,
        roles: &'a [RoleAssignment],
    ) -> impl Iterator<Item = Principal> + 'a {
        roles
            .iter()
            .filter_map(|r| self.principals.get(&r.principal).cloned())
    }

    /// The roles read for `id` if its `lastModifiedTime` has not moved.
    pub fn roles_if_unchanged(
        &self,
        id: &ResourceId,
        modified: Option<DateTime<Utc>>,
    ) -> Option<&CachedRoles> {
        let modified = modified?;
        self.roles.get(id).filter(|c| c.modified == modified)
    }
}

/// One Power BI activity event as kept in a day's file: only what the audit
/// uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayEvent {
    pub at: DateTime<Utc>,
    pub activity: String,
    /// The UPN the service gave.
    pub user: String,
    pub dataset: String,
}

/// 1: the first layout.
const DAY_VERSION: u32 = 1;
/// Learn: most Power BI audit events show up within 30 minutes, some only
/// after 60. A day is kept once it ended at least twice that long ago.
const DAY_SETTLES_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(2);

#[derive(Debug, Serialize, Deserialize)]
struct DayFile {
    version: u32,
    tenant_id: Option<String>,
    day: NaiveDate,
    events: Vec<DayEvent>,
}

/// Whole past UTC days of Power BI activity events, one file a day under
/// `DIR/powerbi-activity/TENANT/YYYY-MM-DD.json`. Each query of a day spends
/// one of the tenant's 200 activity queries an hour; a day that is over
/// gives the same events every time, so it is read once. A file that cannot
/// be read or does not parse is ignored with a warning and the day read
/// again: the cache can cost a query, never an audit.
#[derive(Clone, Debug)]
pub struct ActivityDays {
    dir: PathBuf,
    tenant: Option<String>,
}

impl ActivityDays {
    /// The days kept in `cache_dir` for `tenant` (a tenant id; any other
    /// text, or none, shares one `unknown-tenant` folder).
    pub fn new(cache_dir: &Path, tenant: Option<&str>) -> Self {
        let tenant = tenant
            .filter(|t| pal_core::links::is_guid(t))
            .map(str::to_ascii_lowercase);
        let folder = tenant.clone().unwrap_or_else(|| "unknown-tenant".into());
        Self {
            dir: cache_dir.join("powerbi-activity").join(folder),
            tenant,
        }
    }

    fn path(&self, day: NaiveDate) -> PathBuf {
        self.dir.join(format!("{day}.json"))
    }

    /// Whether `day` is over long enough, on the real clock `now`, for its
    /// events to be complete.
    pub fn settled(day: NaiveDate, now: DateTime<Utc>) -> bool {
        day.succ_opt()
            .and_then(|next| next.and_hms_opt(0, 0, 0))
            .is_some_and(|end| end.and_utc() + DAY_SETTLES_AFTER <= now)
    }

    /// The events kept for `day`: `Ok(None)` when none are, `Err(why)` when
    /// its file is there but unusable (the caller warns and reads the day).
    pub fn load(&self, day: NaiveDate) -> Result<Option<Vec<DayEvent>>, String> {
        let path = self.path(day);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let file: DayFile =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if file.version != DAY_VERSION || file.day != day || file.tenant_id != self.tenant {
            return Err(format!(
                "{}: not this version's file for {day} of this tenant",
                path.display()
            ));
        }
        Ok(Some(file.events))
    }

    /// Keeps `day`'s events, atomically (a file is whole or absent), readable
    /// by its owner only (it holds UPNs).
    pub fn save(&self, day: NaiveDate, events: &[DayEvent]) -> Result<(), OutputError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| OutputError::new(&self.dir, source))?;
        let file = DayFile {
            version: DAY_VERSION,
            tenant_id: self.tenant.clone(),
            day,
            events: events.to_vec(),
        };
        pal_core::output::write_atomic_with(&self.path(day), |w| {
            serde_json::to_writer(w, &file).map_err(std::io::Error::from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pal_core::inventory::{PrincipalType, Role};

    #[test]
    fn activity_days_are_kept_once_settled_and_bad_files_are_refused() {
        let day: NaiveDate = "2026-11-12".parse().unwrap();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert!(!ActivityDays::settled(day, at("2026-11-12T23:00:00Z")));
        assert!(!ActivityDays::settled(day, at("2026-11-13T01:59:59Z")));
        assert!(ActivityDays::settled(day, at("2026-11-13T02:00:00Z")));

        let dir = tempfile::tempdir().unwrap();
        let t = "7c1e5b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c";
        let days = ActivityDays::new(dir.path(), Some(t));
        assert_eq!(days.load(day), Ok(None));
        let events = vec![DayEvent {
            at: at("2026-11-12T08:00:00Z"),
            activity: "ViewReport".into(),
            user: "a@b.c".into(),
            dataset: "d1".into(),
        }];
        days.save(day, &events).unwrap();
        assert_eq!(days.load(day), Ok(Some(events.clone())));
        // Another tenant's folder holds nothing of it.
        let other = ActivityDays::new(dir.path(), Some("00000000-0000-4000-8000-000000000001"));
        assert_eq!(other.load(day), Ok(None));
        // A file cut short, or of another day, is refused, naming the file.
        let path = days.path(day);
        std::fs::write(&path, "{\"version\":1,\"day\"").unwrap();
        assert!(days.load(day).unwrap_err().contains("2026-11-12.json"));
        days.save(day, &events).unwrap();
        std::fs::copy(&path, days.path(day.succ_opt().unwrap())).unwrap();
        assert!(days.load(day.succ_opt().unwrap()).is_err());
    }

    #[test]
    fn roles_are_reused_only_when_the_modified_time_is_the_same() {
        let mut c = Cache::new(None, Utc::now());
        let t: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        let id = ResourceId::new("app-1");
        c.roles.insert(
            id.clone(),
            CachedRoles {
                modified: t,
                roles: vec![RoleAssignment {
                    principal: PrincipalId::new("p"),
                    principal_type: PrincipalType::User,
                    role: Role::Owner,
                }],
            },
        );
        assert!(c.roles_if_unchanged(&id, Some(t)).is_some());
        assert!(
            c.roles_if_unchanged(&id, Some(t + chrono::Duration::seconds(1)))
                .is_none()
        );
        assert!(c.roles_if_unchanged(&id, None).is_none());
        assert!(
            c.roles_if_unchanged(&ResourceId::new("other"), Some(t))
                .is_none()
        );
    }

    #[test]
    fn principals_are_kept_once_and_given_back_for_the_roles_that_name_them() {
        let mut c = Cache::new(None, Utc::now());
        let mut named = Principal::new(PrincipalId::new("p"), PrincipalType::User);
        named.display_name = Some("Pat".into());
        c.add_principal(&Principal::new(
            PrincipalId::new("p"),
            PrincipalType::Unknown,
        ));
        c.add_principal(&named);
        c.add_principal(&Principal::new(PrincipalId::new("q"), PrincipalType::User));
        assert_eq!(c.principals.len(), 2);
        let roles = [RoleAssignment {
            principal: PrincipalId::new("p"),
            principal_type: PrincipalType::User,
            role: Role::Owner,
        }];
        let given: Vec<Principal> = c.principals_of(&roles).collect();
        assert_eq!(given.len(), 1);
        // Merged as the inventory merges: what a later read added is kept.
        assert_eq!(given[0].display_name.as_deref(), Some("Pat"));
        assert_eq!(given[0].principal_type, PrincipalType::User);
    }

    #[test]
    fn a_cache_of_another_version_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Cache::new(None, Utc::now());
        c.version = 1;
        c.save(dir.path()).unwrap();
        let err = Cache::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("$.version"), "{err}");
        assert!(err.contains("run a full audit with --cache"), "{err}");
    }

    #[test]
    fn a_cache_from_another_audit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Cache::new(Some("t1".into()), Utc::now());
        c.report_generated_at = Some("2026-11-01T00:00:00Z".parse().unwrap());
        c.save(dir.path()).unwrap();
        let mut report = Report::new(
            &pal_core::inventory::Inventory::default(),
            pal_core::attribution::Attribution {
                links: vec![],
                findings: vec![],
                first_party: Default::default(),
            },
            pal_core::links::PartnerId::parse("1").unwrap(),
            pal_core::report::Scope::default(),
            Utc::now(),
        );
        report.tenant_id = "t1".into();
        report.generated_at = "2026-11-02T00:00:00Z".parse().unwrap();
        let err = Cache::load_for(dir.path(), &report)
            .unwrap_err()
            .to_string();
        assert!(err.contains("pal-audit-cache.json"), "{err}");
        assert!(err.contains("not by the one that wrote"), "{err}");
        report.generated_at = "2026-11-01T00:00:00Z".parse().unwrap();
        assert!(Cache::load_for(dir.path(), &report).is_ok());
        report.tenant_id = "t2".into();
        assert!(Cache::load_for(dir.path(), &report).is_err());
    }
}
