//! Attribution: a pure function of (inventory, links, options) that gives one
//! finding per resource, following `docs/attribution-rules.md`. No I/O here.

mod fix;
pub mod graph;
mod involvement;
mod rules;
pub mod text;

use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::inventory::{EnvironmentId, Inventory, PrincipalId, Product, ResourceId, ResourceKind};
use crate::links::{Link, LinkKind, LinkSource, PartnerId};

pub use graph::AttributionGraph;
pub use involvement::{Involvement, InvolvementRole, delivered};
pub use text::{Fix, Text};

/// What attribution needs besides the data.
#[derive(Clone, Debug)]
pub struct Options {
    /// Our partner.
    pub partner_id: PartnerId,
    /// The time attestation freshness is judged at.
    pub now: DateTime<Utc>,
    /// Older attestations raise `stale-attestation`.
    pub attestation_max_age: Duration,
    /// Other partner IDs of our own organisation (`--our-other-id`): a link
    /// naming one is `linked-to-other-id-of-ours`, not another partner.
    pub our_other_ids: Vec<PartnerId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Credited,
    CreditedToOther,
    Uncredited,
    Unknown,
}

impl Verdict {
    pub const ALL: [Verdict; 4] = [
        Verdict::Credited,
        Verdict::CreditedToOther,
        Verdict::Uncredited,
        Verdict::Unknown,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credited => "credited",
            Self::CreditedToOther => "credited-to-other",
            Self::Uncredited => "uncredited",
            Self::Unknown => "unknown",
        }
    }
}

/// The role that made a principal an attributed user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttributedRole {
    Owner,
    CoOwner,
    Creator,
    Publisher,
    Importer,
    ActiveUser,
}

impl AttributedRole {
    /// The role in words: "owner", "co-owner", "active user", ...
    pub fn words(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::CoOwner => "co-owner",
            Self::Creator => "creator",
            Self::Publisher => "publisher",
            Self::Importer => "importer",
            Self::ActiveUser => "active user",
        }
    }
}

/// The signal that decided between partners (or that only one was a candidate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecidedBy {
    SinglePartner,
    AuditEvents,
    ResourceStamps,
    /// The last PAL-linked importer of the managed solution the resource is in.
    SolutionImport,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flag {
    UserAccountLink,
    DeclaredLinkOnly,
    StaleAttestation,
    ConflictingLinks,
    LinkedOwnerNotCreator,
    GroupCoOwner,
    OwnerChangedSinceImport,
    ImportedByUnlinkedAccount,
    OtherPartnerActivity,
    ActivityUnknown,
    OrphanedOwner,
    LinkUnresolved,
    ImporterUnknown,
    LinkedToOtherIdOfOurs,
    NonProductionEnvironment,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserAccountLink => "user-account-link",
            Self::DeclaredLinkOnly => "declared-link-only",
            Self::StaleAttestation => "stale-attestation",
            Self::ConflictingLinks => "conflicting-links",
            Self::LinkedOwnerNotCreator => "linked-owner-not-creator",
            Self::GroupCoOwner => "group-co-owner",
            Self::OwnerChangedSinceImport => "owner-changed-since-import",
            Self::ImportedByUnlinkedAccount => "imported-by-unlinked-account",
            Self::OtherPartnerActivity => "other-partner-activity",
            Self::ActivityUnknown => "activity-unknown",
            Self::OrphanedOwner => "orphaned-owner",
            Self::LinkUnresolved => "link-unresolved",
            Self::ImporterUnknown => "importer-unknown",
            Self::LinkedToOtherIdOfOurs => "linked-to-other-id-of-ours",
            Self::NonProductionEnvironment => "non-production-environment",
        }
    }

    /// The flags that put a `credited` finding at risk (attribution-rules.md,
    /// "Verdicts"): reports count such findings apart from plain `credited`.
    pub const AT_RISK: [Flag; 7] = [
        Flag::StaleAttestation,
        Flag::OrphanedOwner,
        Flag::UserAccountLink,
        Flag::DeclaredLinkOnly,
        Flag::OtherPartnerActivity,
        Flag::ConflictingLinks,
        Flag::NonProductionEnvironment,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }
}

/// One attributed user of a finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attributed {
    pub principal_id: PrincipalId,
    pub principal_name: Option<Text>,
    pub role: AttributedRole,
    pub partner_id: Option<PartnerId>,
    pub link_source: Option<LinkSource>,
    /// Its link evidence does not settle to one partner or none (rules v2,
    /// "Links: which evidence wins", rule 3); `partner_id` is then empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub link_undecided: bool,
}

impl Attributed {
    /// "name (role, partner 123)", "name (role, link undecided)" or
    /// "name (role, unlinked)".
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, {})",
            self.principal_name
                .as_deref()
                .unwrap_or(self.principal_id.as_str()),
            self.role.words(),
            self.link_words()
        )
    }

    /// "partner 123", "link undecided" or "unlinked".
    pub fn link_words(&self) -> String {
        match &self.partner_id {
            Some(p) => format!("partner {p}"),
            None if self.link_undecided => "link undecided".to_string(),
            None => "unlinked".to_string(),
        }
    }
}

/// The verdict for one resource, with its evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub product: Product,
    pub kind: ResourceKind,
    pub resource_id: ResourceId,
    pub resource_name: Text,
    pub environment_id: EnvironmentId,
    pub environment_name: Text,
    pub solution: Option<String>,
    pub verdict: Verdict,
    pub credited_partner_id: Option<PartnerId>,
    pub attributed: Vec<Attributed>,
    pub decided_by: Option<DecidedBy>,
    pub reasons: Vec<Text>,
    pub flags: Vec<Flag>,
    pub fix: Option<Fix>,
    /// Which of our partner's linked identities took part in the resource,
    /// and how: where a fix may write. `None` in a report written before it
    /// was recorded (read as "not involved").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub involvement: Option<Vec<Involvement>>,
    /// Whether `solution` is a managed solution; `None` when the resource is
    /// in none, or which kind it is was not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution_managed: Option<bool>,
}

impl Finding {
    /// `credited`, with a flag that says the credit could be lost.
    pub fn at_risk(&self) -> bool {
        self.verdict == Verdict::Credited && self.flags.iter().any(|f| Flag::AT_RISK.contains(f))
    }
}

/// A link as the report lists it, resolved to an object id where possible.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkRow {
    /// The object id, or the UPN / id as given when it could not be resolved.
    pub principal_id: String,
    pub principal_name: Option<String>,
    pub principal_kind: LinkKind,
    pub partner_id: PartnerId,
    pub source: LinkSource,
    pub linked_at: Option<DateTime<Utc>>,
}

/// What attribution produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribution {
    pub links: Vec<LinkRow>,
    /// Sorted by product, environment, resource name, resource id.
    pub findings: Vec<Finding>,
}

/// Applies the rules to every resource of the inventory.
pub fn attribute(inventory: &Inventory, links: &[Link], options: &Options) -> Attribution {
    let graph = AttributionGraph::build(inventory, links);
    // Findings are made in the report's order, so a million of them are
    // never moved by a sort.
    let order = report_order(inventory);
    let findings: Vec<Finding> = if order.len() < 4096 {
        // A small tenant is not worth the threads.
        text::scope(|| {
            order
                .iter()
                .map(|&i| rules::finding(&graph, i, options))
                .collect()
        })
    } else {
        // Each finding depends on the graph alone: a large tenant is split
        // across the cores, each finding written straight into its place
        // (no per-thread parts copied together after).
        // Each of the pool's threads shares the texts it makes between all
        // the findings it makes, and forgets them after.
        let mut all = Vec::new();
        rayon::broadcast(|_| text::forget());
        order
            .par_iter()
            .with_min_len(1024)
            .map(|&i| rules::finding(&graph, i, options))
            .collect_into_vec(&mut all);
        rayon::broadcast(|_| text::forget());
        all
    };
    Attribution {
        links: graph.link_rows(),
        findings,
    }
}

/// The inventory's resource indices in the report's order: product,
/// environment, resource name (as `to_lowercase` compares it), resource id. The keys are
/// small and borrow nothing: environments by rank, the first 16 bytes of the
/// lower-cased name inline, the rest compared only when those are equal, so
/// a million keys sort without chasing a pointer per comparison. Equal keys
/// keep the inventory's order, as the stable sort does.
fn report_order(inventory: &Inventory) -> Vec<usize> {
    let resources = &inventory.resources;
    let mut env_rank: rustc_hash::FxHashMap<&str, u32> = resources
        .iter()
        .map(|r| (r.environment.as_str(), 0))
        .collect();
    let mut envs: Vec<&str> = env_rank.keys().copied().collect();
    envs.sort_unstable();
    for (rank, e) in envs.iter().enumerate() {
        env_rank.insert(e, rank as u32);
    }
    // Names that are not ASCII are lower-cased once; ASCII ones fold as read.
    let folded: Vec<Option<String>> = resources
        .par_iter()
        .map(|r| (!r.name.is_ascii()).then(|| r.name.to_lowercase()))
        .collect();
    let name = |i: usize| folded[i].as_deref().unwrap_or(&resources[i].name);
    let mut keys: Vec<(u8, u32, u128, u32)> = resources
        .par_iter()
        .enumerate()
        .map(|(i, r)| {
            let mut head = [0u8; 16];
            for (slot, b) in head.iter_mut().zip(name(i).bytes()) {
                *slot = b.to_ascii_lowercase();
            }
            (
                r.kind.product() as u8,
                env_rank[r.environment.as_str()],
                u128::from_be_bytes(head),
                i as u32,
            )
        })
        .collect();
    keys.par_sort_unstable_by(|a, b| {
        (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)).then_with(|| {
            let (x, y) = (a.3 as usize, b.3 as usize);
            fold_cmp(name(x), name(y))
                .then_with(|| resources[x].id.cmp(&resources[y].id))
                .then(x.cmp(&y))
        })
    });
    keys.into_iter().map(|k| k.3 as usize).collect()
}

/// Compares two names as their `to_lowercase()` would compare, for names
/// that are ASCII or already lower-cased (which have no ASCII capitals left
/// to fold).
fn fold_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for (x, y) in a.iter().zip(b) {
        match x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()) {
            std::cmp::Ordering::Equal => {}
            unequal => return unequal,
        }
    }
    a.len().cmp(&b.len())
}
