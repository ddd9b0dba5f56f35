//! Attribution: a pure function of (inventory, links, options) that gives one
//! finding per resource, following `docs/attribution-rules.md`. No I/O here.

mod first_party;
mod fix;
pub mod graph;
mod involvement;
mod rules;
pub mod text;

use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::inventory::{
    ActivitySource, EnvironmentId, Inventory, PrincipalId, Product, ResourceId, ResourceKind,
};
use crate::links::{Link, LinkKind, LinkSource, PartnerId};

pub use first_party::{FirstParty, FirstPartyOptions, MICROSOFT_PUBLISHERS};
pub use fix::NOT_DELIVERED;
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
    /// Platform-made components: which publishers are Microsoft's, and
    /// whether to show them (`--include-first-party`).
    pub first_party: FirstPartyOptions,
}

/// Who gets the PAL credit for one resource (attribution-rules.md,
/// "Verdicts"): exactly one per resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The decided partner is ours: the resource earns us credit.
    Credited,
    /// The decided partner is another one (or another ID of ours): the
    /// credit goes there.
    CreditedToOther,
    /// Every attributed user was read and none is linked: nobody gets the
    /// credit.
    Uncredited,
    /// Something needed could not be read, or the rules cannot decide: the
    /// reasons say which. Never counted as credited.
    Unknown,
}

impl Verdict {
    /// Every verdict, in the order reports list them.
    pub const ALL: [Verdict; 4] = [
        Verdict::Credited,
        Verdict::CreditedToOther,
        Verdict::Uncredited,
        Verdict::Unknown,
    ];
    /// The kebab-case name reports and `--fail-on` use.
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
    /// A canvas app's owner.
    Owner,
    /// A canvas app's direct co-owner (`CanEdit`).
    CoOwner,
    /// The creator of a flow or of a model-driven app.
    Creator,
    /// A dataset's publisher: `configuredBy`, or a publish event in the
    /// activity window.
    Publisher,
    /// The last PAL-linked importer of the managed solution the resource is
    /// in.
    Importer,
    /// A principal with activity on a Customer Insights instance in the
    /// activity window.
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
    /// The linked attributed users all name one partner: no activity needed.
    SinglePartner,
    /// The latest audit event of an attributed user (Power BI activity
    /// events, Customer Insights diagnostics).
    AuditEvents,
    /// The latest resource stamp (created, modified, published) of an
    /// attributed user, no audit event having decided.
    ResourceStamps,
    /// The last PAL-linked importer of the managed solution the resource is in.
    SolutionImport,
}

/// Something about a finding worth a look, whatever its verdict
/// (attribution-rules.md, "Flags"); some put a `credited` finding at risk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flag {
    /// Our credit rests on a person's account, not a service account or
    /// service principal: people leave.
    UserAccountLink,
    /// Our credit's deciding link is declared in a links file, not attested.
    DeclaredLinkOnly,
    /// Our credit's deciding attestation is older than the freshness window.
    StaleAttestation,
    /// A principal's links name more than one partner ID.
    ConflictingLinks,
    /// Flow: a linked principal owns it but did not create it, and so earns
    /// nothing.
    LinkedOwnerNotCreator,
    /// Canvas app: a linked principal is co-owner only through a group
    /// (the verdict is `unknown`).
    GroupCoOwner,
    /// Canvas app or flow in a managed solution: the product reading and
    /// the solution reading disagree (the verdict is `unknown`).
    OwnerChangedSinceImport,
    /// Solution component: an import newer than the deciding one was done
    /// by an unlinked principal.
    ImportedByUnlinkedAccount,
    /// Another partner's linked user shows later activity on a resource
    /// credited to us by a rule that does not weigh activity.
    OtherPartnerActivity,
    /// Activity would decide, and none was read.
    ActivityUnknown,
    /// An attributed user is disabled or deleted.
    OrphanedOwner,
    /// A link's principal could not be resolved (Graph failed) and could be
    /// an attributed user's or the deciding importer's (the verdict is
    /// `unknown`).
    LinkUnresolved,
    /// The import that would decide the solution reading has an importer
    /// that could not be read.
    ImporterUnknown,
    /// The decided partner is an ID given with `--our-other-id`: still
    /// `credited-to-other`; the fix re-links.
    LinkedToOtherIdOfOurs,
    /// The environment's type is known and is neither Production nor
    /// Default.
    NonProductionEnvironment,
    /// Platform-made (shipped in a Microsoft-published managed solution, or
    /// created by a platform account outside any partner's managed
    /// solution), shown only with `--include-first-party`: no partner's
    /// work, never counted in the summary nor failing the run.
    FirstParty,
}

impl Flag {
    /// The kebab-case name reports and `--fail-on flag:NAME` use.
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
            Self::FirstParty => "first-party",
        }
    }

    /// Every flag, in the order the rules list them (for `--fail-on
    /// flag:NAME` completion and checks over all flags).
    pub const ALL: [Flag; 16] = [
        Flag::UserAccountLink,
        Flag::DeclaredLinkOnly,
        Flag::StaleAttestation,
        Flag::ConflictingLinks,
        Flag::LinkedOwnerNotCreator,
        Flag::GroupCoOwner,
        Flag::OwnerChangedSinceImport,
        Flag::ImportedByUnlinkedAccount,
        Flag::OtherPartnerActivity,
        Flag::ActivityUnknown,
        Flag::OrphanedOwner,
        Flag::LinkUnresolved,
        Flag::ImporterUnknown,
        Flag::LinkedToOtherIdOfOurs,
        Flag::NonProductionEnvironment,
        Flag::FirstParty,
    ];

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

    /// The flag `as_str` names (exactly: kebab-case, no spaces); `None`
    /// for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }
}

/// One attributed user of a finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attributed {
    /// Its object id.
    pub principal_id: PrincipalId,
    /// Its UPN or display name, else the name a link gives it; `None` when
    /// nothing names it.
    pub principal_name: Option<Text>,
    /// Why it is an attributed user.
    pub role: AttributedRole,
    /// The partner its effective link names; `None` with no effective link
    /// (unlinked, ended by a `Deleted` attestation, or `link_undecided`).
    pub partner_id: Option<PartnerId>,
    /// Whether its effective link is attested or declared; `None` with no
    /// effective link.
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
    /// The resource's product.
    pub product: Product,
    /// The resource's kind.
    pub kind: ResourceKind,
    /// The resource's id as its API names it.
    pub resource_id: ResourceId,
    /// The resource's display name, else its id.
    pub resource_name: Text,
    /// Its environment: a dataset's workspace; an instance's Dataverse
    /// environment where known, else `customer-insights`.
    pub environment_id: EnvironmentId,
    /// The name of `environment_id` for people (a workspace's name for a
    /// dataset); the id when nothing names it.
    pub environment_name: Text,
    /// The unique name of the solution the resource is in, if any.
    pub solution: Option<String>,
    /// Who gets the credit.
    pub verdict: Verdict,
    /// The decided partner: set exactly when the verdict is `credited` or
    /// `credited-to-other`.
    pub credited_partner_id: Option<PartnerId>,
    /// The principals whose links decide the credit, per the product's
    /// rule, with their links.
    pub attributed: Vec<Attributed>,
    /// The signal that decided the partner; `None` when no partner was
    /// decided.
    pub decided_by: Option<DecidedBy>,
    /// The evidence for the verdict and flags, in sentences, with any
    /// choice the rules made.
    pub reasons: Vec<Text>,
    /// Its flags, sorted, each once.
    pub flags: Vec<Flag>,
    /// What to do to make the credit ours, or why nothing is proposed;
    /// `None` for a `credited` finding.
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
    /// With `decided_by: audit-events`, the source whose events decided
    /// (`audit-log`, `power-bi-activity`, `customer-insights-diagnostics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by_source: Option<ActivitySource>,
    /// Distinct active users in the activity window, when a source gives
    /// them for the whole window; absent when not known (never zero for
    /// unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// A finding's usage: how many distinct users were active on the resource
/// in the activity window, and where the number came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Distinct users (an unresolved user counts once, by UPN).
    pub active_users: u64,
    /// The source: `audit-log` (canvas apps: `LaunchPowerApp`),
    /// `power-bi-activity` (datasets: `ViewReport` of reports bound to
    /// it), `customer-insights-diagnostics` (instances: any event).
    pub source: ActivitySource,
    /// What was counted, in words.
    pub counted: String,
}

impl Finding {
    /// `credited`, with a flag that says the credit could be lost.
    pub fn at_risk(&self) -> bool {
        self.verdict == Verdict::Credited && self.flags.iter().any(|f| Flag::AT_RISK.contains(f))
    }

    /// A platform-made component shown with `--include-first-party`:
    /// nobody's delivery, so never counted, never credit lost, never fixed.
    pub fn first_party(&self) -> bool {
        self.flags.contains(&Flag::FirstParty)
    }
}

/// A link as the report lists it, resolved to an object id where possible.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkRow {
    /// The object id, or the UPN / id as given when it could not be resolved.
    pub principal_id: String,
    /// The principal's UPN or display name from the inventory, else the
    /// link's name or UPN for it; `None` when nothing names it.
    pub principal_name: Option<String>,
    /// The link's kind; `service-principal` whenever the inventory knows
    /// the principal as one.
    pub principal_kind: LinkKind,
    /// The partner the link names.
    pub partner_id: PartnerId,
    /// Attested or declared.
    pub source: LinkSource,
    /// When the link was made or last updated, where known (not when it
    /// was attested).
    pub linked_at: Option<DateTime<Utc>>,
    /// When `attest` read the link (attestations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attested_at: Option<DateTime<Utc>>,
    /// An attestation older than `--attestation-max-age` at the audit's
    /// time: the credit resting on it is flagged `stale-attestation`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
    /// Days from the link's evidence (an attestation's `attested_at`, a
    /// declared row's `linked_at`) to the time attestations are judged at;
    /// `None` when undated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_days: Option<i64>,
}

/// What attribution produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribution {
    /// Every active link, resolved where possible, sorted, each once.
    pub links: Vec<LinkRow>,
    /// Sorted by product, environment, resource name, resource id.
    pub findings: Vec<Finding>,
    /// Platform-made components found: left out of `findings`, or in them
    /// flagged `first-party` with `--include-first-party`.
    pub first_party: FirstParty,
}

/// Applies the rules to every resource of the inventory.
pub fn attribute(inventory: &Inventory, links: &[Link], options: &Options) -> Attribution {
    let graph = AttributionGraph::build(inventory, links, options.now);
    // Findings are made in the report's order, so a million of them are
    // never moved by a sort. Platform-made components are counted, and
    // left out unless asked for.
    let mut first_party = FirstParty {
        included: options.first_party.include,
        ..FirstParty::default()
    };
    let mut order = report_order(inventory);
    order.retain(|&i| {
        let res = graph.resource(i);
        if first_party::platform_made(&graph, res, &options.first_party).is_none() {
            return true;
        }
        first_party.components += 1;
        *first_party
            .by_product
            .entry(res.kind.product())
            .or_default() += 1;
        options.first_party.include
    });
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
    let mut links = graph.link_rows();
    for l in &mut links {
        let evidence = match l.source {
            LinkSource::Attested => l.attested_at,
            LinkSource::Declared => l.linked_at,
        };
        l.age_days = evidence.map(|at| (options.now - at).num_days());
        l.stale = l.source == LinkSource::Attested
            && l.attested_at
                .is_some_and(|at| options.now - at > options.attestation_max_age);
    }
    Attribution {
        links,
        findings,
        first_party,
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

#[cfg(test)]
mod flag_tests {
    use super::Flag;

    /// `Flag::ALL` is exactly the flags docs/attribution-rules.md's "Flags"
    /// table names, and each name parses back to its flag.
    #[test]
    fn all_is_every_flag_the_rules_name() {
        let rules = include_str!("../../../../docs/attribution-rules.md");
        let table = rules
            .split("## Flags")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .unwrap();
        let mut named: Vec<&str> = table
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        let mut all: Vec<&str> = Flag::ALL.iter().map(|f| f.as_str()).collect();
        for f in Flag::ALL {
            assert_eq!(Flag::parse(f.as_str()), Some(f));
        }
        named.sort_unstable();
        all.sort_unstable();
        assert_eq!(all, named);
    }
}
