//! The domain model that sources fill in and attribution reads: typed ids,
//! principals, environments, resources, role assignments, stamps and coverage.
//!
//! Everything here is plain data (serde both ways), so attribution can run on a
//! saved or hand-built inventory without any I/O. Over 600 lines because it is
//! the whole model in one place, each type with its documentation.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Stored lower-case: the APIs return the same id in several casings
        /// (`Default-<tenant>` and `default-<tenant>`), and ids compare
        /// case-insensitively.
        /// Shared, not copied, when cloned: every finding and role names ids
        /// the inventory already holds.
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub struct $name(std::sync::Arc<str>);

        impl $name {
            /// The id trimmed and lower-cased, as every id is kept.
            pub fn new(id: impl AsRef<str>) -> Self {
                Self(id.as_ref().trim().to_ascii_lowercase().into())
            }
            /// The id as kept: trimmed, lower-case.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self::new(s)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.to_string()
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_newtype!(
    /// An Entra object id (user, service principal or group), or a tenant id
    /// for a tenant-wide share.
    PrincipalId
);
id_newtype!(
    /// A Power Platform environment's `name` as BAP returns it.
    EnvironmentId
);

impl PrincipalId {
    /// Stands for a principal known only by UPN until Graph resolves it;
    /// collection replaces every placeholder before attribution sees it.
    pub fn upn_placeholder(upn: &str) -> Self {
        Self::new(format!("upn:{upn}"))
    }

    /// The UPN of a placeholder.
    pub fn placeholder_upn(&self) -> Option<&str> {
        self.0.strip_prefix("upn:")
    }
}
id_newtype!(
    /// A resource id as its API names it: app `name`, flow `name`, ...
    ResourceId
);

/// What kind of Entra object a principal is, as far as the APIs told us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalType {
    /// A user account: a person's, or a service account.
    User,
    /// An application's service principal.
    ServicePrincipal,
    /// A group: holds roles for its (transitive) members, and is never an
    /// attributed user itself.
    Group,
    /// A tenant-wide share ("everyone in the organization").
    Tenant,
    /// A type no API gave, or one `from_api` does not recognise.
    Unknown,
}

impl PrincipalType {
    /// Maps the `type` strings of the Power Platform APIs. Unrecognised values
    /// become `Unknown` rather than an error, so a new casing or value does not
    /// break an audit.
    pub fn from_api(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "user" | "activedirectory" | "aaduser" => Self::User,
            "group" | "aadgroup" | "securitygroup" => Self::Group,
            "tenant" => Self::Tenant,
            "serviceprincipal" | "service-principal" | "application" | "app" => {
                Self::ServicePrincipal
            }
            _ => Self::Unknown,
        }
    }
}

/// An Entra principal, with whatever the sources learned about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    /// Its object id (a tenant id for a tenant-wide share).
    pub id: PrincipalId,
    /// What kind of object it is; `Unknown` until a source says.
    pub principal_type: PrincipalType,
    /// Its display name, when a source gave one.
    #[serde(default)]
    pub display_name: Option<String>,
    /// User principal name, for users.
    #[serde(default)]
    pub upn: Option<String>,
    /// Application (client) id, for service principals.
    #[serde(default)]
    pub app_id: Option<String>,
    /// `accountEnabled` from Graph (or `isdisabled` from Dataverse), when read.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Graph answered that no such object exists (any more).
    #[serde(default)]
    pub deleted: bool,
}

impl Principal {
    /// A principal known only by its id and type: nothing else read yet.
    pub fn new(id: PrincipalId, principal_type: PrincipalType) -> Self {
        Self {
            id,
            principal_type,
            display_name: None,
            upn: None,
            app_id: None,
            enabled: None,
            deleted: false,
        }
    }

    /// The best human name: UPN, else display name.
    pub fn name(&self) -> Option<&str> {
        self.upn.as_deref().or(self.display_name.as_deref())
    }

    /// Adds what `other` knows and `self` does not.
    pub fn merge(&mut self, other: &Principal) {
        if self.principal_type == PrincipalType::Unknown {
            self.principal_type = other.principal_type;
        }
        fill(&mut self.display_name, &other.display_name);
        fill(&mut self.upn, &other.upn);
        fill(&mut self.app_id, &other.app_id);
        if self.enabled.is_none() {
            self.enabled = other.enabled;
        }
        self.deleted |= other.deleted;
    }
}

fn fill(slot: &mut Option<String>, from: &Option<String>) {
    if slot.is_none() {
        slot.clone_from(from);
    }
}

/// A Power Platform environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// Its `name`, lower-cased: how resources and findings refer to it.
    pub id: EnvironmentId,
    /// The `name` exactly as BAP spelled it: what goes into URLs.
    pub name: String,
    /// BAP's `displayName`, else the `name`.
    pub display_name: String,
    /// BAP's `environmentSku` (Production, Default, Sandbox, Trial,
    /// Developer, Teams...); `None` when not given. A known type other than
    /// Production or Default raises `non-production-environment`.
    #[serde(default)]
    pub sku: Option<String>,
    /// BAP's `isDefault`: the tenant's default environment.
    #[serde(default)]
    pub is_default: bool,
    /// `linkedEnvironmentMetadata.instanceApiUrl`: set when the environment
    /// has Dataverse; requests go there.
    #[serde(default)]
    pub dataverse_api_url: Option<String>,
    /// `linkedEnvironmentMetadata.instanceUrl`: the token audience.
    #[serde(default)]
    pub dataverse_url: Option<String>,
}

/// A product whose resources can earn PAL credit; the order is the report's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Product {
    /// Power Apps: canvas and model-driven apps.
    PowerApps,
    /// Power Automate: cloud flows.
    PowerAutomate,
    /// Power BI: datasets (semantic models).
    PowerBi,
    /// Dynamics 365 Customer Insights: instances.
    CustomerInsights,
}

impl Product {
    /// Every product, in the report's order.
    pub const ALL: [Product; 4] = [
        Product::PowerApps,
        Product::PowerAutomate,
        Product::PowerBi,
        Product::CustomerInsights,
    ];

    /// The product `as_str` names, case-insensitively, surrounding spaces
    /// ignored; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The product's name for people.
    pub fn title(self) -> &'static str {
        match self {
            Self::PowerApps => "Power Apps",
            Self::PowerAutomate => "Power Automate",
            Self::PowerBi => "Power BI",
            Self::CustomerInsights => "Customer Insights",
        }
    }

    /// The kebab-case name (`power-apps`, ...) the report and the command
    /// line use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PowerApps => "power-apps",
            Self::PowerAutomate => "power-automate",
            Self::PowerBi => "power-bi",
            Self::CustomerInsights => "customer-insights",
        }
    }
}

/// A kind of resource that can earn credit; each belongs to one product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    /// A Power Apps canvas app: its owner and co-owners are attributed.
    CanvasApp,
    /// A model-driven app (a Dataverse app module): its creator, or the last
    /// linked importer of its managed solution, is attributed.
    ModelDrivenApp,
    /// A Power Automate cloud flow: its creator alone is attributed.
    CloudFlow,
    /// A Power Automate desktop flow (a Dataverse `workflow` of category
    /// 6): its creator alone is attributed, as for a cloud flow.
    DesktopFlow,
    /// A Power BI dataset (semantic model): its publishers are attributed.
    Dataset,
    /// A Customer Insights instance: its active users are attributed.
    Instance,
}

impl ResourceKind {
    /// The product the kind belongs to.
    pub fn product(self) -> Product {
        match self {
            Self::CanvasApp | Self::ModelDrivenApp => Product::PowerApps,
            Self::CloudFlow | Self::DesktopFlow => Product::PowerAutomate,
            Self::Dataset => Product::PowerBi,
            Self::Instance => Product::CustomerInsights,
        }
    }

    /// The kebab-case name (`canvas-app`, ...) reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CanvasApp => "canvas-app",
            Self::ModelDrivenApp => "model-driven-app",
            Self::CloudFlow => "cloud-flow",
            Self::DesktopFlow => "desktop-flow",
            Self::Dataset => "dataset",
            Self::Instance => "instance",
        }
    }
}

/// A role a principal holds on a resource, as the resource's API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// `Owner`: the owner of an app or flow.
    Owner,
    /// `CanEdit`: a co-owner.
    CoOwner,
    /// `CanView`: a user the resource is shared with; never attributes.
    Viewer,
    /// Any role on a Customer Insights instance (Admin, Contributor, Viewer...).
    Member,
}

impl Role {
    /// Maps the `roleName` strings of the Power Apps and Flow APIs.
    pub fn from_api(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "owner" => Some(Self::Owner),
            "canedit" => Some(Self::CoOwner),
            "canview" | "canviewwithshare" => Some(Self::Viewer),
            _ => None,
        }
    }
}

/// One principal's role on a resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleAssignment {
    /// Who holds the role.
    pub principal: PrincipalId,
    /// Its type as the resource's API gave it: a `Tenant` or `Group` holder
    /// is no attributed user.
    pub principal_type: PrincipalType,
    /// The role held.
    pub role: Role,
}

/// Something a source either read or could not read, with the reason.
///
/// Attribution never treats `Unknown` as an empty answer: that is how missing
/// data stays out of `credited`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fact<T> {
    /// Read: the value the source gave.
    Known(T),
    /// Not read, and why.
    Unknown(String),
}

impl<T> Fact<T> {
    /// The value, when it was read.
    pub fn known(&self) -> Option<&T> {
        match self {
            Self::Known(v) => Some(v),
            Self::Unknown(_) => None,
        }
    }
}

/// What a stamp records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StampKind {
    /// Its creation: activity too, the earliest one.
    Created,
    /// Its last modification.
    Modified,
    /// Its last publish (a canvas app's `lastPublishedBy`).
    Published,
}

impl StampKind {
    /// The stamp as a reason says it: "created", "last modified", "last
    /// published".
    pub fn verb(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Modified => "last modified",
            Self::Published => "last published",
        }
    }
}

/// A "who did what when" field on the resource itself (`lastModifiedBy` /
/// `lastModifiedTime`, ...): the weaker activity signal of the rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stamp {
    /// What was done.
    pub kind: StampKind,
    /// Who did it.
    pub principal: PrincipalId,
    /// When.
    pub at: DateTime<Utc>,
}

/// One resource that can earn credit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Its id as its API names it.
    pub id: ResourceId,
    /// What kind of resource it is, and so which rule applies.
    pub kind: ResourceKind,
    /// Its display name, else its id; shared with its finding.
    pub name: std::sync::Arc<str>,
    /// The Power Platform environment; for a dataset its workspace, for a
    /// Customer Insights instance its Dataverse environment where known.
    pub environment: EnvironmentId,
    /// The container's name when it is not an environment of the inventory
    /// (a Power BI workspace).
    #[serde(default)]
    pub environment_name: Option<String>,
    /// The solution (unique name) the resource belongs to, if any.
    #[serde(default)]
    pub solution: Option<String>,
    /// The creator: what decides a flow's credit.
    pub creator: Fact<PrincipalId>,
    /// Every role assignment, the owner included.
    pub roles: Fact<Vec<RoleAssignment>>,
    /// Who created, modified or published it, and when: the activity
    /// signal that decides between partners when no audit event does.
    #[serde(default)]
    pub stamps: Vec<Stamp>,
    /// A Customer Insights instance's `instanceType` as `GET /instances`
    /// gives it (`trial`, `sandbox`, `production`, ...); `None` when not
    /// given, and for every other kind. `sandbox` and `trial` raise
    /// `non-production-environment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Every solution (unique name) that holds the resource besides
    /// `solution`: a component can sit in several (a managed solution
    /// layered on another, an unmanaged one customising it). Empty in an
    /// inventory written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_solutions: Vec<String>,
    /// The platform account that created the resource (Dataverse's `SYSTEM`
    /// or `INTEGRATION` user, the Power Apps SYSTEM pseudo-user), by its
    /// name, when the source read the creator and it is one: no Entra
    /// principal, so no partner's work by itself. `None` when the creator
    /// is a principal or was not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_creator: Option<String>,
}

/// How much of what was asked of a source it gave. Anything but
/// `Complete` makes the audit incomplete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoverageStatus {
    /// Everything was read.
    Complete,
    /// Read, with gaps: the detail says what could not be read.
    Partial,
    /// Not read: the detail says why.
    Failed,
}

/// How much of one source (for one environment, where it applies) was read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// The source's name (`power-apps`, `graph`, ...; `audit` for an audit
    /// that was stopped).
    pub source: String,
    /// The environment read, for a per-environment source; `None` for a
    /// tenant-wide one.
    pub environment_id: Option<EnvironmentId>,
    /// How much was read.
    pub status: CoverageStatus,
    /// What was read, and what could not be and why, in words.
    pub detail: String,
    /// HTTP requests sent for it, retries included.
    pub requests: u64,
}

/// A solution of one environment, and who imported it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Solution {
    /// The environment it is installed in.
    pub environment: EnvironmentId,
    /// Its unique name: what `Resource::solution` holds.
    pub unique_name: String,
    /// Managed: its imports give the solution reading. An unmanaged one
    /// decides nothing.
    pub managed: bool,
    /// Successful imports of the managed solution, oldest first.
    pub imports: Fact<Vec<Import>>,
    /// Its publisher (`publisherid`), or why it was not read; a solution
    /// whose publisher was not read is never taken for Microsoft's.
    #[serde(default = "publisher_not_recorded")]
    pub publisher: Fact<Publisher>,
}

/// An inventory written before publishers were read: not read.
fn publisher_not_recorded() -> Fact<Publisher> {
    Fact::Unknown("the solution's publisher was not recorded".into())
}

/// A solution's publisher, as Dataverse's `publisher` table gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publisher {
    /// `uniquename`: what decides whether it is Microsoft (the friendly name
    /// is free text any maker sets).
    pub unique_name: String,
    /// `friendlyname`, for the reasons.
    #[serde(default)]
    pub friendly_name: Option<String>,
}

/// The SYSTEM pseudo-user of the Power Apps and Flow APIs (`lastModifiedBy`
/// and the like can name it): the platform, not a person
/// (`../shared/docs/api-reference.md`, "SYSTEM pseudo-user").
pub const SYSTEM_PSEUDO_USER: &str = "00000000-0000-0000-0000-5157eaa02fcd";

/// One successful import of a managed solution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Import {
    /// When it ended (the solution history row's end time, else its start).
    pub at: DateTime<Utc>,
    /// `createdby` of the matching import job, when one matched.
    pub importer: Fact<PrincipalId>,
}

/// An audit event: someone did something to a resource at a time (Power BI
/// activity events, Customer Insights diagnostics). The stronger activity
/// signal of the rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// The resource acted on.
    pub resource: ResourceId,
    /// Who acted.
    pub principal: PrincipalId,
    /// When.
    pub at: DateTime<Utc>,
    /// `Import`, `TakeOverDataset`, `ViewReport`, the CI operation,
    /// `LaunchPowerApp`, ...
    pub action: String,
    /// Where the event was read; `None` in an inventory written before it
    /// was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ActivitySource>,
}

/// Where audit events come from: what a finding's `decided_by_source` and
/// `usage.source` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActivitySource {
    /// Power BI's activity events (`admin/activityevents`).
    PowerBiActivity,
    /// Customer Insights diagnostics (`--ci-activity`).
    CustomerInsightsDiagnostics,
    /// The Microsoft 365 unified audit log (`--audit-log`).
    AuditLog,
}

impl ActivitySource {
    /// The source in words: "audit log", "Power BI activity", ...
    pub fn words(self) -> &'static str {
        match self {
            Self::PowerBiActivity => "Power BI activity",
            Self::CustomerInsightsDiagnostics => "Customer Insights diagnostics",
            Self::AuditLog => "audit log",
        }
    }
}

/// The span of the activity window a file-based activity source covers
/// (the unified audit log export): activity outside `covered` is not known.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityWindow {
    /// The source.
    pub source: ActivitySource,
    /// The kinds of resource whose activity it gives.
    pub kinds: Vec<ResourceKind>,
    /// The activity window asked for (`--activity-days` back from the
    /// audit's time).
    pub from: DateTime<Utc>,
    /// Its end: the audit's time.
    pub to: DateTime<Utc>,
    /// The part of the window the source covers, `None` when none: from its
    /// earliest to its latest record (clipped to the window).
    pub covered: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The files read, for the reasons.
    pub files: Vec<String>,
}

/// How close to the audit's time a file's last record must be for the file
/// to count as covering the window's end: the unified audit log itself
/// takes up to a day to show an event (research §2), so no reading of it,
/// live or exported, knows the last day for certain.
pub const AUDIT_LOG_END_SLACK: chrono::Duration = chrono::Duration::hours(24);

impl ActivityWindow {
    /// The parts of the window the source does not cover, oldest first.
    pub fn gaps(&self) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        match self.covered {
            None => vec![(self.from, self.to)],
            Some((a, b)) => {
                let mut out = Vec::new();
                if a > self.from {
                    out.push((self.from, a));
                }
                if b + AUDIT_LOG_END_SLACK < self.to {
                    out.push((b, self.to));
                }
                out
            }
        }
    }
}

/// The Power BI activities that publish a dataset (its publishers are
/// `configuredBy` and whoever did one of these): a rule's fact, kept with the
/// model so attribution needs no source.
pub const PUBLISH_ACTIVITIES: &[&str] = &[
    "Import",
    "ImportArtifactStart",
    "ImportArtifactEnd",
    "TakeOverDataset",
];

/// Whether a Power BI activity publishes (or takes over) a dataset.
pub fn is_publish(action: &str) -> bool {
    PUBLISH_ACTIVITIES
        .iter()
        .any(|p| p.eq_ignore_ascii_case(action))
}

impl Activity {
    /// A Power BI publish (or take-over) of the dataset.
    pub fn is_publish(&self) -> bool {
        is_publish(&self.action)
    }
}

/// A fact no read gave because the read failed. Rules treat it as unknown,
/// never as absent: a refused `solutioncomponents` read does not mean "in no
/// solution", a link Graph could not resolve is not "no link".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unread {
    /// The fact left unknown.
    pub fact: UnreadFact,
    /// Every resource of this environment, when set.
    #[serde(default)]
    pub environment: Option<EnvironmentId>,
    /// This resource only, when set.
    #[serde(default)]
    pub resource: Option<ResourceId>,
    /// The failed read, for the finding's reasons.
    pub why: String,
}

/// A kind of fact a failed read would have given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnreadFact {
    /// Which managed solution `name` holds (unknown: the components of one
    /// of the environment's managed solutions were not read).
    SolutionMembership {
        /// The managed solution whose components were not read; `None`
        /// when the environment's Dataverse could not be read at all.
        solution: Option<String>,
    },
    /// The resource's who-did-what-when stamps.
    Stamps,
    /// The object a link names by UPN (`upn: true`) or application id.
    LinkPrincipal {
        /// The UPN or application id as the link gives it.
        reference: String,
        /// `reference` is a UPN; else an application id.
        upn: bool,
    },
    /// The product's activity in the window (audit events): who was active,
    /// and who published, is not known.
    Activity {
        /// The product whose audit events were not read.
        product: Product,
    },
}

/// What a delta audit reused instead of reading again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reuse {
    /// The previous audit's report time.
    pub since: Option<DateTime<Utc>>,
    /// Canvas apps whose permissions were not read again.
    pub app_permissions: u64,
    /// Flows whose owners were not read again.
    pub flow_owners: u64,
    /// Power BI workspaces not scanned again.
    pub workspaces: u64,
}

/// Everything read from the tenant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// The tenant's id: the one the audit was given, else BAP's, else the
    /// default environment's; `None` when nothing gave it.
    pub tenant_id: Option<String>,
    /// The environments audited (those `--environment` chose).
    pub environments: Vec<Environment>,
    /// Every principal the sources named, by object id.
    pub principals: BTreeMap<PrincipalId, Principal>,
    /// Every resource listed: one finding each.
    pub resources: Vec<Resource>,
    /// Transitive members of the groups that hold a role on some resource.
    #[serde(default)]
    pub group_members: BTreeMap<PrincipalId, Fact<Vec<PrincipalId>>>,
    /// The solutions read from the environments' Dataverse, system ones
    /// (`Default`, `Active`, ...) left out.
    #[serde(default)]
    pub solutions: Vec<Solution>,
    /// Audit events read for the activity window.
    #[serde(default)]
    pub activity: Vec<Activity>,
    /// What part of the activity window each activity source covers: the
    /// files of `--audit-log`; Power BI's activity events when every day of
    /// the window was read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activity_windows: Vec<ActivityWindow>,
    /// One row per source, per environment where it applies: what was read.
    pub coverage: Vec<Coverage>,
    /// Facts that failed reads would have given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unread: Vec<Unread>,
    /// A delta audit: what was taken from the previous audit's cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse: Option<Reuse>,
}

impl Inventory {
    /// Records a principal, merging with what is already known of it.
    pub fn add_principal(&mut self, p: Principal) {
        self.principals
            .entry(p.id.clone())
            .and_modify(|known| known.merge(&p))
            .or_insert(p);
    }

    /// Adds resources, their principal ids made the inventory's own: a
    /// service account named by the roles of thousands of resources is then
    /// one allocation, not one per role (add the principals first).
    pub fn add_resources(&mut self, resources: impl IntoIterator<Item = Resource>) {
        for mut r in resources {
            let own = |id: &mut PrincipalId| {
                if let Some((known, _)) = self.principals.get_key_value(&*id) {
                    *id = known.clone();
                }
            };
            if let Fact::Known(c) = &mut r.creator {
                own(c);
            }
            if let Fact::Known(roles) = &mut r.roles {
                roles.iter_mut().for_each(|a| own(&mut a.principal));
            }
            r.stamps.iter_mut().for_each(|s| own(&mut s.principal));
            self.resources.push(r);
        }
    }

    /// The solution of `env` with this unique name (case-insensitive).
    pub fn solution(&self, env: &EnvironmentId, unique_name: &str) -> Option<&Solution> {
        self.solutions
            .iter()
            .find(|s| &s.environment == env && s.unique_name.eq_ignore_ascii_case(unique_name))
    }

    /// The environment with this id (the first, should an id repeat).
    pub fn environment(&self, id: &EnvironmentId) -> Option<&Environment> {
        self.environments.iter().find(|e| &e.id == id)
    }

    /// The principal whose UPN matches, case-insensitively.
    pub fn principal_by_upn(&self, upn: &str) -> Option<&Principal> {
        self.principals.values().find(|p| {
            p.upn
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(upn))
        })
    }

    /// Every principal with this UPN (any case), by id: more than one and a
    /// link naming the UPN cannot tell which is meant.
    pub fn principals_by_upn(&self, upn: &str) -> Vec<&Principal> {
        let mut all: Vec<&Principal> = self
            .principals
            .values()
            .filter(|p| {
                p.upn
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(upn))
            })
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// The service principal whose application id matches.
    pub fn principal_by_app_id(&self, app_id: &str) -> Option<&Principal> {
        self.principals.values().find(|p| {
            p.app_id
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(app_id))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_case_insensitively() {
        assert_eq!(
            EnvironmentId::new("Default-ABC"),
            EnvironmentId::new("default-abc")
        );
        let p: PrincipalId = serde_json::from_str("\"AB-CD\"").unwrap();
        assert_eq!(p.as_str(), "ab-cd");
    }

    #[test]
    fn added_resources_share_the_inventory_ids_of_their_principals() {
        let mut inv = Inventory::default();
        inv.add_principal(Principal::new(PrincipalId::new("P1"), PrincipalType::User));
        // The same id read again for this resource: another allocation.
        let creator = PrincipalId::new("p1");
        let resource = Resource {
            id: ResourceId::new("app"),
            kind: ResourceKind::CanvasApp,
            name: "App".into(),
            environment: EnvironmentId::new("env"),
            environment_name: None,
            solution: None,
            creator: Fact::Known(creator.clone()),
            roles: Fact::Known(vec![
                RoleAssignment {
                    principal: creator.clone(),
                    principal_type: PrincipalType::User,
                    role: Role::Owner,
                },
                RoleAssignment {
                    principal: PrincipalId::new("unknown-to-the-inventory"),
                    principal_type: PrincipalType::User,
                    role: Role::CoOwner,
                },
            ]),
            stamps: vec![Stamp {
                kind: StampKind::Modified,
                principal: creator.clone(),
                at: Utc::now(),
            }],
            instance_type: None,
            other_solutions: Vec::new(),
            platform_creator: None,
        };
        inv.add_resources([resource]);
        let own = inv.principals.keys().next().unwrap();
        let r = &inv.resources[0];
        let shares = |id: &PrincipalId| std::sync::Arc::ptr_eq(&id.0, &own.0);
        assert!(shares(r.creator.known().unwrap()));
        let roles = r.roles.known().unwrap();
        assert!(shares(&roles[0].principal));
        assert!(shares(&r.stamps[0].principal));
        // An id the inventory does not know stays as read.
        assert_eq!(roles[1].principal.as_str(), "unknown-to-the-inventory");
        assert!(!std::sync::Arc::ptr_eq(&creator.0, &own.0));
    }

    #[test]
    fn api_types_map_leniently() {
        assert_eq!(PrincipalType::from_api("User"), PrincipalType::User);
        assert_eq!(
            PrincipalType::from_api("ServicePrincipal"),
            PrincipalType::ServicePrincipal
        );
        assert_eq!(PrincipalType::from_api("Martian"), PrincipalType::Unknown);
        assert_eq!(Role::from_api("CanEdit"), Some(Role::CoOwner));
        assert_eq!(Role::from_api("canview"), Some(Role::Viewer));
    }
}
