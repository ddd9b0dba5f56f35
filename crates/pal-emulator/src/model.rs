//! The tenant model: one compact, human-editable TOML file (principals,
//! environments, canvas apps, cloud flows) that the emulator renders into
//! the real JSON shapes.
//! Over 600 lines because it is the whole tenant schema (one struct per
//! table of the TOML file, each checked), kept in one place for the people
//! who write tenants.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use pal_core::InputError;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantModel {
    pub tenant_id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `demo` judges attestation freshness at this time, so its output does
    /// not change as the calendar moves.
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
    /// The partner `demo` audits for.
    #[serde(default)]
    pub partner_id: Option<String>,
    #[serde(default)]
    pub principals: Vec<ModelPrincipal>,
    #[serde(default)]
    pub environments: Vec<ModelEnvironment>,
    #[serde(default)]
    pub apps: Vec<ModelApp>,
    #[serde(default)]
    pub flows: Vec<ModelFlow>,
    #[serde(default)]
    pub model_driven_apps: Vec<ModelDrivenApp>,
    #[serde(default)]
    pub solutions: Vec<ModelSolution>,
    #[serde(default)]
    pub workspaces: Vec<ModelWorkspace>,
    #[serde(default)]
    pub datasets: Vec<ModelDataset>,
    #[serde(default)]
    pub powerbi_activity: Vec<ModelPowerBiEvent>,
    #[serde(default)]
    pub instances: Vec<ModelInstance>,
    /// The Log Analytics workspace the instances' diagnostics go to: the
    /// query API answers for it alone (any workspace when unset).
    #[serde(default)]
    pub ci_workspace: Option<String>,
    /// Customer Insights diagnostics events, served by the Log Analytics
    /// query API as rows of `CIEventsAudit` / `CIEventsOperational`.
    #[serde(default)]
    pub ci_activity: Vec<ModelCiEvent>,
    /// PAL links as ManagementPartner holds them, one per principal.
    #[serde(default)]
    pub partner_links: Vec<ModelPartnerLink>,
    /// Whether the tenant's `Audit.General` subscription of the Management
    /// Activity API is enabled (`subscriptions/start` enables it).
    #[serde(default)]
    pub audit_subscription: bool,
    /// Unified audit log records (`AuditData` objects), served by the
    /// Management Activity API as `Audit.General` content blobs. Not in the
    /// TOML file: the Contoso tenant takes its audit-log export's records.
    #[serde(skip)]
    pub audit_records: Vec<serde_json::Value>,
    /// Positions by id, built on the first lookup, so a large tenant's
    /// per-item answers are not linear scans (the emulator must not be the
    /// bottleneck of a benchmark).
    #[serde(skip)]
    pub index: std::sync::OnceLock<ModelIndex>,
}

/// Each environment's positions in a list, in the list's order.
fn positions_by_environment<'a>(
    environments: impl Iterator<Item = &'a String>,
) -> std::collections::HashMap<String, Vec<usize>> {
    let mut out: std::collections::HashMap<String, Vec<usize>> = Default::default();
    for (i, env) in environments.enumerate() {
        out.entry(env.to_ascii_lowercase()).or_default().push(i);
    }
    out
}

/// The items of `list` in environment `env`: by the index while the list
/// has the length it was indexed at, by a scan otherwise.
fn in_environment<'a, T>(
    list: &'a [T],
    indexed_len: usize,
    positions: &std::collections::HashMap<String, Vec<usize>>,
    env: &str,
    environment: impl Fn(&T) -> &String,
) -> Vec<&'a T> {
    let here = |t: &&T| environment(t).eq_ignore_ascii_case(env);
    if list.len() != indexed_len {
        return list.iter().filter(here).collect();
    }
    positions
        .get(&env.to_ascii_lowercase())
        .map(|p| p.iter().filter_map(|i| list.get(*i)).filter(here).collect())
        .unwrap_or_default()
}

/// Positions of principals, apps and flows by lower-cased id (and
/// environment), and of each environment's apps and flows. A stale position
/// (the lists changed after it was built) is caught by checking the id, and
/// a list whose length moved is scanned instead.
#[derive(Clone, Debug, Default)]
pub struct ModelIndex {
    principals: std::collections::HashMap<String, usize>,
    apps: std::collections::HashMap<(String, String), usize>,
    flows: std::collections::HashMap<(String, String), usize>,
    apps_in: std::collections::HashMap<String, Vec<usize>>,
    flows_in: std::collections::HashMap<String, Vec<usize>>,
    /// The lengths of `apps` and `flows` when the index was built.
    lengths: (usize, usize),
}

#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPartnerLink {
    pub principal: String,
    pub partner_id: String,
    #[serde(default)]
    pub partner_name: Option<String>,
    #[serde(default = "active")]
    pub state: String,
    #[serde(default)]
    pub created: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated: Option<DateTime<Utc>>,
}

fn active() -> String {
    "Active".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDrivenApp {
    pub id: String,
    pub environment: String,
    pub name: String,
    pub unique_name: String,
    pub created_by: String,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub solution: Option<String>,
    /// A draft never published: only `RetrieveUnpublishedMultiple` lists it.
    #[serde(default)]
    pub unpublished: bool,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSolution {
    pub id: String,
    pub environment: String,
    pub unique_name: String,
    #[serde(default)]
    pub managed: bool,
    /// A number or a string, as the API may answer either.
    #[serde(default)]
    pub version: Option<toml::Value>,
    #[serde(default)]
    pub imports: Vec<ModelImport>,
    /// Its publisher's unique name; else a publisher of its own
    /// (`<unique_name>publisher`).
    #[serde(default)]
    pub publisher: Option<String>,
    /// Its publisher's friendly name; else the unique name.
    #[serde(default)]
    pub publisher_name: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelImport {
    pub by: String,
    pub at: DateTime<Utc>,
    /// False for a failed import (solution history says so).
    #[serde(default = "yes")]
    pub success: bool,
    /// False when no import job row exists for it (the importer is unknown).
    #[serde(default = "yes")]
    pub job: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelWorkspace {
    pub id: String,
    pub name: String,
    /// Last change; `admin/workspaces/modified?modifiedSince=` lists only
    /// workspaces changed after it (a workspace without one always counts).
    #[serde(default)]
    pub modified: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDataset {
    pub id: String,
    pub workspace: String,
    pub name: String,
    /// The publisher, a principal id of the model...
    #[serde(default)]
    pub configured_by: Option<String>,
    /// ...or a UPN no principal has (a deleted account).
    #[serde(default)]
    pub configured_by_upn: Option<String>,
    pub created: DateTime<Utc>,
    /// Answer with `ConfiguredBy` / `CreatedDate` instead of camelCase.
    #[serde(default)]
    pub pascal_case: bool,
    /// Leave the publisher out of the scan's user lists (Graph must resolve it).
    #[serde(default)]
    pub hide_graph_id: bool,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPowerBiEvent {
    pub dataset: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub activity: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInstance {
    pub id: String,
    pub name: String,
    /// The environment whose Dataverse the instance uses (`cdsOrgInfo`).
    #[serde(default)]
    pub environment: Option<String>,
    /// `instanceType` on `GET /instances` (`production`, `sandbox`,
    /// `trial`, ...); `production` when not given.
    #[serde(default)]
    pub instance_type: Option<String>,
    pub created_by: String,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub updated_by: Option<String>,
    #[serde(default)]
    pub updated: Option<DateTime<Utc>>,
    #[serde(default)]
    pub roles: Vec<ModelInstanceRole>,
    #[serde(default)]
    pub note: Option<String>,
}

/// One Customer Insights diagnostics event.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCiEvent {
    pub instance: String,
    /// The caller's object id.
    pub by: String,
    pub at: DateTime<Utc>,
    pub operation: String,
    /// `CIEventsAudit` (the default) or `CIEventsOperational`.
    #[serde(default = "audit_table")]
    pub table: String,
    /// Leave `CallerObjectId` empty: the user is known by UPN alone.
    #[serde(default)]
    pub upn_only: bool,
}

fn audit_table() -> String {
    "CIEventsAudit".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInstanceRole {
    pub principal: String,
    /// `user`, `app` or `group`.
    #[serde(rename = "type", default = "user_type")]
    pub kind: String,
    pub roles: Vec<String>,
}

fn user_type() -> String {
    "user".into()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    User,
    ServicePrincipal,
    Group,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrincipal {
    pub id: String,
    pub kind: ModelKind,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub upn: Option<String>,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Direct members, for groups (nested groups are expanded by the emulator).
    #[serde(default)]
    pub members: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEnvironment {
    /// The BAP `name`, e.g. `Default-<tenant id>` or a GUID.
    pub name: String,
    pub display_name: String,
    #[serde(default = "production")]
    pub sku: String,
    #[serde(default)]
    pub default: bool,
    /// Dataverse `instanceApiUrl`, when the environment has Dataverse.
    #[serde(default)]
    pub dataverse_url: Option<String>,
    /// Its Dataverse answers 403 to everything (no application user).
    #[serde(default)]
    pub dataverse_refuses: bool,
    #[serde(default)]
    pub created: Option<DateTime<Utc>>,
}

fn production() -> String {
    "Production".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRole {
    pub principal: String,
    /// `Owner`, `CanEdit` or `CanView`.
    pub role: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelApp {
    pub id: String,
    pub environment: String,
    pub name: String,
    pub owner: String,
    #[serde(default)]
    pub created_by: Option<String>,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub modified_by: Option<String>,
    #[serde(default)]
    pub modified: Option<DateTime<Utc>>,
    #[serde(default)]
    pub published_by: Option<String>,
    #[serde(default)]
    pub published: Option<DateTime<Utc>>,
    /// Role assignments besides the owner.
    #[serde(default)]
    pub roles: Vec<ModelRole>,
    /// Shared with everyone in the organization (a `Tenant` CanView).
    #[serde(default)]
    pub tenant_share: bool,
    #[serde(default)]
    pub component_library: bool,
    /// `appType` in the apps list: `ClassicCanvasApp` when left out;
    /// `CustomCanvasPage` for a custom page of a model-driven app.
    #[serde(default)]
    pub app_type: Option<String>,
    /// The solution (unique name) it is a component of.
    #[serde(default)]
    pub solution: Option<String>,
    /// Leave `sharedUsersCount`/`sharedGroupsCount` out of the list, as some
    /// answers do.
    #[serde(default)]
    pub omit_share_counts: bool,
    /// Free text: what branch of the rules this app exercises.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFlow {
    pub id: String,
    pub environment: String,
    pub name: String,
    /// Left out: the list gives no `creator`.
    #[serde(default)]
    pub creator: Option<String>,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub modified: Option<DateTime<Utc>>,
    #[serde(default = "started")]
    pub state: String,
    /// Owners besides the creator.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Co-owners with `CanEdit`.
    #[serde(default)]
    pub editors: Vec<String>,
    #[serde(default)]
    pub solution: Option<String>,
    /// Only Dataverse lists it; the Flow admin API leaves it out.
    #[serde(default)]
    pub dataverse_only: bool,
    /// Dataverse `workflow.category`: 5 a cloud flow (the default), 6 a
    /// desktop flow. A desktop flow is listed by Dataverse only, never by
    /// the Flow admin API's cloud flows.
    #[serde(default = "cloud_flow")]
    pub category: u8,
    /// The Flow API `name` differs from the Dataverse `workflowid`: it is the
    /// `workflowidunique` (give that id here).
    #[serde(default)]
    pub workflowid: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

fn cloud_flow() -> u8 {
    5
}

fn started() -> String {
    "Started".into()
}

impl TenantModel {
    /// Reads `DIR/tenant.toml`, or the file itself when given one.
    pub fn load(path: &Path) -> Result<Self, InputError> {
        let file = if path.is_dir() {
            path.join("tenant.toml")
        } else {
            path.to_path_buf()
        };
        let text = pal_core::input::read_text(&file, pal_core::input::MAX_INPUT)?;
        Self::parse(&file.display().to_string(), &text)
    }

    /// Parses and checks a model; `name` is used in error messages.
    pub fn parse(name: &str, text: &str) -> Result<Self, InputError> {
        let model: TenantModel = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!("{name}:{line}")
                })
                .unwrap_or_else(|| name.to_string());
            InputError::new(at, e.message().to_string())
        })?;
        model.check(name)?;
        Ok(model)
    }

    fn check(&self, name: &str) -> Result<(), InputError> {
        let envs: Vec<String> = self
            .environments
            .iter()
            .map(|e| e.name.to_ascii_lowercase())
            .collect();
        let known_env = |e: &str| envs.contains(&e.to_ascii_lowercase());
        for a in &self.apps {
            if !known_env(&a.environment) {
                return Err(InputError::new(
                    name,
                    format!("app {} names unknown environment {:?}", a.id, a.environment),
                ));
            }
            for r in &a.roles {
                if !matches!(r.role.as_str(), "Owner" | "CanEdit" | "CanView") {
                    return Err(InputError::new(
                        name,
                        format!(
                            "app {}: role {:?} is not Owner, CanEdit or CanView",
                            a.id, r.role
                        ),
                    ));
                }
            }
        }
        for f in &self.flows {
            if !known_env(&f.environment) {
                return Err(InputError::new(
                    name,
                    format!(
                        "flow {} names unknown environment {:?}",
                        f.id, f.environment
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Builds the positions by id now instead of on the first lookup.
    pub fn build_index(&self) {
        self.index();
    }

    fn index(&self) -> &ModelIndex {
        self.index.get_or_init(|| {
            let key = |s: &str| s.to_ascii_lowercase();
            ModelIndex {
                principals: self
                    .principals
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (key(&p.id), i))
                    .collect(),
                apps: self
                    .apps
                    .iter()
                    .enumerate()
                    .map(|(i, a)| ((key(&a.environment), key(&a.id)), i))
                    .collect(),
                flows: self
                    .flows
                    .iter()
                    .enumerate()
                    .map(|(i, f)| ((key(&f.environment), key(&f.id)), i))
                    .collect(),
                apps_in: positions_by_environment(self.apps.iter().map(|a| &a.environment)),
                flows_in: positions_by_environment(self.flows.iter().map(|f| &f.environment)),
                lengths: (self.apps.len(), self.flows.len()),
            }
        })
    }

    /// The canvas apps of environment `env`, in the model's order.
    pub fn apps_in<'a>(&'a self, env: &str) -> Vec<&'a ModelApp> {
        let index = self.index();
        in_environment(&self.apps, index.lengths.0, &index.apps_in, env, |a| {
            &a.environment
        })
    }

    /// The cloud flows of environment `env`, in the model's order.
    pub fn flows_in<'a>(&'a self, env: &str) -> Vec<&'a ModelFlow> {
        let index = self.index();
        in_environment(&self.flows, index.lengths.1, &index.flows_in, env, |f| {
            &f.environment
        })
    }

    pub fn principal(&self, id: &str) -> Option<&ModelPrincipal> {
        let hit = self
            .index()
            .principals
            .get(&id.to_ascii_lowercase())
            .and_then(|i| self.principals.get(*i))
            .filter(|p| p.id.eq_ignore_ascii_case(id));
        hit.or_else(|| {
            self.principals
                .iter()
                .find(|p| p.id.eq_ignore_ascii_case(id))
        })
    }

    /// The canvas app `id` of environment `env`.
    pub fn app(&self, env: &str, id: &str) -> Option<&ModelApp> {
        let eq =
            |a: &ModelApp| a.id.eq_ignore_ascii_case(id) && a.environment.eq_ignore_ascii_case(env);
        self.index()
            .apps
            .get(&(env.to_ascii_lowercase(), id.to_ascii_lowercase()))
            .and_then(|i| self.apps.get(*i))
            .filter(|a| eq(a))
            .or_else(|| self.apps.iter().find(|a| eq(a)))
    }

    /// The cloud flow `id` of environment `env`.
    pub fn flow(&self, env: &str, id: &str) -> Option<&ModelFlow> {
        let eq = |f: &ModelFlow| {
            f.id.eq_ignore_ascii_case(id) && f.environment.eq_ignore_ascii_case(env)
        };
        self.index()
            .flows
            .get(&(env.to_ascii_lowercase(), id.to_ascii_lowercase()))
            .and_then(|i| self.flows.get(*i))
            .filter(|f| eq(f))
            .or_else(|| self.flows.iter().find(|f| eq(f)))
    }

    /// Every user and service principal in a group, through nested groups.
    pub fn transitive_members(&self, group: &str) -> Vec<&ModelPrincipal> {
        let mut out: BTreeMap<String, &ModelPrincipal> = BTreeMap::new();
        let mut stack = vec![group.to_ascii_lowercase()];
        let mut seen = vec![];
        while let Some(g) = stack.pop() {
            if seen.contains(&g) {
                continue;
            }
            seen.push(g.clone());
            let Some(p) = self.principal(&g) else {
                continue;
            };
            for m in &p.members {
                if let Some(mp) = self.principal(m) {
                    out.insert(mp.id.to_ascii_lowercase(), mp);
                    if mp.kind == ModelKind::Group {
                        stack.push(mp.id.to_ascii_lowercase());
                    }
                }
            }
        }
        out.remove(&group.to_ascii_lowercase());
        out.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_line() {
        let err = TenantModel::parse("t.toml", "tenant_id = \"x\"\n\n[[apps]]\nid = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.toml:4:"), "{err}");
        let err = TenantModel::parse("t.toml", "tenant_id = \"x\"\nbogus = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.toml:2:"), "{err}");
    }

    #[test]
    fn an_environments_apps_come_in_the_models_order_even_after_the_list_grew() {
        let app = |id: &str, env: &str| {
            format!(
                "[[apps]]\nid = \"{id}\"\nenvironment = \"{env}\"\nname = \"n\"\nowner = \"o\"\ncreated = \"2026-01-01T00:00:00Z\"\n"
            )
        };
        let text = format!(
            "tenant_id = \"t\"\n{}{}{}{}{}",
            "[[environments]]\nname = \"e1\"\ndisplay_name = \"One\"\n",
            "[[environments]]\nname = \"e2\"\ndisplay_name = \"Two\"\n",
            app("a1", "E1"),
            app("a2", "e2"),
            app("a3", "e1")
        );
        let mut m = TenantModel::parse("t", &text).expect("a model");
        let ids = |m: &TenantModel, env: &str| -> Vec<String> {
            m.apps_in(env).iter().map(|a| a.id.clone()).collect()
        };
        assert_eq!(ids(&m, "e1"), ["a1", "a3"]);
        assert_eq!(ids(&m, "E2"), ["a2"]);
        assert!(ids(&m, "e3").is_empty());
        // Indexed above; an app added since is still listed.
        let mut extra = m.apps[0].clone();
        extra.id = "a4".into();
        m.apps.push(extra);
        assert_eq!(ids(&m, "e1"), ["a1", "a3", "a4"]);
    }

    #[test]
    fn nested_groups_expand() {
        let m = TenantModel::parse(
            "t",
            r#"tenant_id = "t"
[[principals]]
id = "g1"
kind = "group"
members = ["u1", "g2"]
[[principals]]
id = "g2"
kind = "group"
members = ["u2", "g1"]
[[principals]]
id = "u1"
kind = "user"
[[principals]]
id = "u2"
kind = "user"
"#,
        )
        .unwrap();
        let ids: Vec<&str> = m
            .transitive_members("G1")
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(ids, ["g2", "u1", "u2"]);
    }
}
