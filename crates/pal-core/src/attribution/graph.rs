//! The attribution graph: partners, principals (users, service principals,
//! groups) and resources, joined by link, role, creator and membership
//! relations, kept as the indexes the rules ask of it: links by principal,
//! each linked principal's effective link, audit events by resource,
//! environments by id. Role, creator and membership relations are read from
//! the inventory itself, which holds them per resource and per group.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap as HashMap;

use super::{LinkRow, Text};
use crate::inventory::{
    Activity, Environment, EnvironmentId, Fact, Inventory, Principal, PrincipalId, PrincipalType,
    Resource, ResourceId,
};
use crate::links::{Link, LinkKind, LinkSource, PartnerId, PrincipalRef};

/// The link that decides for one principal, and what else is known of its links.
#[derive(Clone, Debug)]
pub struct EffectiveLink<'a> {
    /// The deciding evidence: among the links naming the winning partner
    /// and newer than any evidence saying otherwise, an attested one, else
    /// the newest.
    pub link: &'a Link,
    /// The kind, corrected by the inventory (a service principal is never a
    /// person's account, whatever a links file says).
    pub kind: LinkKind,
    /// The principal has active links to more than one partner ID.
    pub conflicting: bool,
}

/// What the evidence of one principal's links settles to.
enum Settled<'a> {
    Link(EffectiveLink<'a>),
    /// A `Deleted` attestation won.
    NoLink,
    /// The evidence cannot tell: each way it could be settled, a partner or
    /// (`None`) no link.
    Undecided(Vec<Option<PartnerId>>),
}

/// The inventory and the links, indexed for the rules (see the module head).
pub struct AttributionGraph<'a> {
    /// The inventory attribution reads.
    pub inventory: &'a Inventory,
    /// Every link read, `Deleted` attestations included, in input order.
    pub links: &'a [Link],
    /// For each link, the object id it resolved to.
    resolved: Vec<Option<PrincipalId>>,
    /// The audit's time: activity and stamps after it are left out.
    now: chrono::DateTime<chrono::Utc>,
    /// Links naming a UPN that several objects share, with those objects:
    /// resolved to none of them (which one is linked cannot be told).
    ambiguous: Vec<(String, Vec<PrincipalId>)>,
    /// Audit events by resource, so no rule scans them all.
    activity: HashMap<ResourceId, Vec<usize>>,
    /// Link edges by principal, `Deleted` attestations included: a principal
    /// that owns thousands of resources has thousands of edges, and rules ask
    /// for its links at every one.
    links_by_principal: HashMap<PrincipalId, Vec<usize>>,
    /// The effective link of every linked principal, computed once.
    effective: HashMap<PrincipalId, EffectiveLink<'a>>,
    /// Principals whose link evidence is undecided, and how it could settle.
    undecided: HashMap<PrincipalId, Vec<Option<PartnerId>>>,
    /// Environments by id: every finding names its environment.
    environments: HashMap<&'a EnvironmentId, &'a Environment>,
    /// Each environment's display name as a finding holds it, made once.
    environment_names: HashMap<&'a EnvironmentId, Text>,
    /// Principals by id, hashed: rules look principals up several times a
    /// finding, and the inventory's ordered map compares ids all the way down.
    principals: HashMap<&'a PrincipalId, &'a Principal>,
    /// Each named principal's name for people, made once: the inventory's
    /// UPN or display name, else what a link calls it.
    names: HashMap<PrincipalId, Text>,
    /// `our_identities`, computed once: every finding's fix asks for it.
    ours: std::sync::OnceLock<Vec<(PrincipalId, EffectiveLink<'a>)>>,
}

impl<'a> AttributionGraph<'a> {
    /// Resolves each link's principal, settles each linked principal's
    /// effective link, and builds the indexes. Activity and stamps after
    /// `now` (the audit's time: `--as-of` in the past) are left out: they
    /// are not in the window, and would decide what had not happened yet.
    pub fn build(
        inventory: &'a Inventory,
        links: &'a [Link],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let mut g = Self {
            inventory,
            links,
            resolved: Vec::with_capacity(links.len()),
            ambiguous: Vec::new(),
            now,
            activity: HashMap::default(),
            links_by_principal: HashMap::default(),
            effective: HashMap::default(),
            undecided: HashMap::default(),
            environment_names: inventory
                .environments
                .iter()
                .rev()
                .map(|e| (&e.id, Text::from(e.display_name.as_str())))
                .collect(),
            principals: inventory.principals.iter().collect(),
            names: HashMap::default(),
            // Reversed, so the first of a repeated id is the one kept.
            environments: inventory
                .environments
                .iter()
                .rev()
                .map(|e| (&e.id, e))
                .collect(),
            ours: std::sync::OnceLock::new(),
        };
        for (i, a) in inventory.activity.iter().enumerate() {
            if a.at <= now {
                g.activity.entry(a.resource.clone()).or_default().push(i);
            }
        }
        for (i, link) in links.iter().enumerate() {
            if let PrincipalRef::Upn(upn) = &link.principal {
                let named = inventory.principals_by_upn(upn);
                if named.len() > 1 {
                    let ids = named.iter().map(|p| p.id.clone()).collect();
                    if !g.ambiguous.iter().any(|(u, _)| u.eq_ignore_ascii_case(upn)) {
                        g.ambiguous.push((upn.clone(), ids));
                    }
                    g.resolved.push(None);
                    continue;
                }
            }
            let id = resolve(inventory, &link.principal);
            if let Some(id) = &id {
                g.links_by_principal.entry(id.clone()).or_default().push(i);
            }
            g.resolved.push(id);
        }
        let linked: Vec<PrincipalId> = g.links_by_principal.keys().cloned().collect();
        for id in &linked {
            match g.settle(id) {
                Settled::Link(e) => {
                    g.effective.insert(id.clone(), e);
                }
                Settled::Undecided(ways) => {
                    g.undecided.insert(id.clone(), ways);
                }
                Settled::NoLink => {}
            }
        }
        let names: HashMap<PrincipalId, Text> = inventory
            .principals
            .keys()
            .chain(&linked)
            .filter_map(|id| {
                let name = inventory
                    .principals
                    .get(id)
                    .and_then(Principal::name)
                    .or_else(|| g.link_name(id))?;
                Some((id.clone(), Text::from(name)))
            })
            .collect();
        g.names = names;
        g
    }

    /// Links whose UPN several objects share: the UPN and those objects.
    pub fn ambiguous_links(&self) -> &[(String, Vec<PrincipalId>)] {
        &self.ambiguous
    }

    /// A resource's created and modified stamps up to the audit's time
    /// (`--as-of` in the past leaves later ones out, as it does events).
    pub fn stamps_of<'r>(
        &self,
        res: &'r Resource,
    ) -> impl Iterator<Item = &'r crate::inventory::Stamp> + use<'r> {
        let now = self.now;
        res.stamps.iter().filter(move |s| s.at <= now)
    }

    /// The audit events recorded on a resource.
    pub fn activity_of(&self, id: &ResourceId) -> impl Iterator<Item = &'a Activity> + '_ {
        let all = &self.inventory.activity;
        self.activity
            .get(id)
            .into_iter()
            .flatten()
            .map(move |i| &all[*i])
    }

    /// Resource `index` of the inventory.
    pub fn resource(&self, index: usize) -> &'a Resource {
        &self.inventory.resources[index]
    }

    /// An environment of the inventory (the first, should an id repeat).
    pub fn environment(&self, id: &EnvironmentId) -> Option<&'a Environment> {
        self.environments.get(id).copied()
    }

    /// The display name of `environment()`, shared by its findings.
    pub fn environment_name(&self, id: &EnvironmentId) -> Option<Text> {
        self.environment_names.get(id).cloned()
    }

    /// A principal of the inventory, by object id.
    pub fn principal(&self, id: &PrincipalId) -> Option<&'a Principal> {
        self.principals.get(id).copied()
    }

    /// A name for people to read: UPN, display name, or the object id.
    /// Borrowed, never made: rules name principals in almost every finding.
    pub fn name_of<'s>(&'s self, id: &'s PrincipalId) -> &'s str {
        self.display_name_of(id).unwrap_or(id.as_str())
    }

    /// The name a link gives its principal, when the inventory has none.
    fn link_name(&self, id: &PrincipalId) -> Option<&'a str> {
        self.links_of(id)
            .find_map(|l| match (&l.principal_name, &l.principal) {
                (Some(n), _) => Some(n.as_str()),
                (None, PrincipalRef::Upn(u)) => Some(u.as_str()),
                _ => None,
            })
    }

    /// The principal's UPN or display name, else what a link calls it;
    /// `None` when nothing names it.
    pub fn display_name_of(&self, id: &PrincipalId) -> Option<&str> {
        self.names.get(id).map(|n| &**n)
    }

    /// The same name as a shared text, for a finding to hold.
    pub fn display_name_text(&self, id: &PrincipalId) -> Option<Text> {
        self.names.get(id).cloned()
    }

    /// Active links of a principal.
    pub fn links_of(&self, id: &PrincipalId) -> impl Iterator<Item = &'a Link> + '_ {
        self.all_links_of(id).filter(|l| l.active)
    }

    /// Every link of a principal, `Deleted` attestations included.
    fn all_links_of(&self, id: &PrincipalId) -> impl Iterator<Item = &'a Link> + '_ {
        let links = self.links;
        self.links_by_principal
            .get(id)
            .into_iter()
            .flatten()
            .map(move |i| &links[*i])
    }

    /// The deciding link of a principal (attribution-rules.md, "Links: which
    /// evidence wins"), when its evidence decides one; `None` when it has no
    /// link, a `Deleted` attestation won, or the evidence is undecided.
    pub fn effective_link(&self, id: &PrincipalId) -> Option<EffectiveLink<'a>> {
        self.effective.get(id).cloned()
    }

    /// When a principal's link evidence cannot tell which partner it is linked
    /// to: each way it could settle, a partner or (`None`) no link, sorted.
    pub fn undecided_link(&self, id: &PrincipalId) -> Option<&[Option<PartnerId>]> {
        self.undecided.get(id).map(Vec::as_slice)
    }

    /// The `Deleted` attestations that ended a principal's links: the newest
    /// evidence of a principal with no link, when it is that; several when
    /// several share the newest time, sorted by partner and file so the
    /// reasons never depend on the order the evidence was read in.
    pub fn ended_links(&self, id: &PrincipalId) -> Vec<&'a Link> {
        if self.effective.contains_key(id) || self.undecided.contains_key(id) {
            return Vec::new();
        }
        let Some(newest) = self.all_links_of(id).filter_map(evidence_time).max() else {
            return Vec::new();
        };
        let mut ended: Vec<&'a Link> = self
            .all_links_of(id)
            .filter(|l| evidence_time(l) == Some(newest) && !l.active)
            .collect();
        ended.sort_by(|a, b| (&a.partner_id, &a.origin).cmp(&(&b.partner_id, &b.origin)));
        ended.dedup_by(|a, b| (&a.partner_id, &a.origin) == (&b.partner_id, &b.origin));
        ended
    }

    /// Rules 1-3 of "Links: which evidence wins": the newest evidence wins
    /// (an attestation's `attested_at`, a declared row's `linked_at`; an
    /// undated row is older than any attestation); a winning `Deleted`
    /// attestation is no link; evidence that disagrees at the newest time, or
    /// an undated row naming another partner with no attestation to date it
    /// against, is undecided. No ordering of partner IDs ever decides.
    fn settle(&self, id: &PrincipalId) -> Settled<'a> {
        let links: Vec<&'a Link> = self.all_links_of(id).collect();
        // What a piece of evidence says: a partner, or no link.
        let says = |l: &Link| l.active.then(|| l.partner_id.clone());
        let newest = links.iter().filter_map(|l| evidence_time(l)).max();
        let mut ways: BTreeSet<Option<PartnerId>> = links
            .iter()
            .filter(|l| evidence_time(l) == newest)
            .map(|l| says(l))
            .collect();
        // Undated rows are older than any attestation; without one, a row
        // naming another partner could be newer than the newest dated row.
        let attested = links
            .iter()
            .any(|l| l.source == LinkSource::Attested && evidence_time(l).is_some());
        if !attested {
            ways.extend(
                links
                    .iter()
                    .filter(|l| evidence_time(l).is_none())
                    .map(|l| says(l)),
            );
        }
        if ways.len() > 1 {
            return Settled::Undecided(ways.into_iter().collect());
        }
        let Some(Some(partner)) = ways.into_iter().next() else {
            return Settled::NoLink;
        };
        // The deciding link: among the evidence for that partner newer than
        // any evidence saying otherwise, an attested one is preferred, then
        // the newest. Ties are broken by fields, never by input order, so the
        // same links in another order give the same verdicts.
        let floor = links
            .iter()
            .filter(|l| says(l).as_ref() != Some(&partner))
            .filter_map(|l| evidence_time(l))
            .max();
        let Some(link) = links
            .iter()
            .copied()
            .filter(|l| l.active && l.partner_id == partner)
            .filter(|l| floor.is_none() || evidence_time(l) > floor)
            .max_by(|a, b| {
                source_rank(a)
                    .cmp(&source_rank(b))
                    .then_with(|| evidence_time(a).cmp(&evidence_time(b)))
                    .then_with(|| b.kind.cmp(&a.kind))
                    .then_with(|| b.origin.cmp(&a.origin))
            })
        else {
            return Settled::NoLink;
        };
        let partners: BTreeSet<&PartnerId> = links
            .iter()
            .filter(|l| l.active)
            .map(|l| &l.partner_id)
            .collect();
        let kind = match self.principal(id).map(|p| p.principal_type) {
            Some(PrincipalType::ServicePrincipal) => LinkKind::ServicePrincipal,
            _ => link.kind,
        };
        Settled::Link(EffectiveLink {
            link,
            kind,
            conflicting: partners.len() > 1,
        })
    }

    /// Transitive members of a group, when Graph was read for it.
    pub fn members_of(&self, group: &PrincipalId) -> Option<&'a Fact<Vec<PrincipalId>>> {
        self.inventory.group_members.get(group)
    }

    /// Principals linked to our partner, best first: attested before declared,
    /// dedicated identities before people's accounts. Used to name the PAL
    /// identity in fixes.
    pub fn our_identities(&self, partner: &PartnerId) -> &[(PrincipalId, EffectiveLink<'a>)] {
        self.ours.get_or_init(|| self.rank_identities(partner))
    }

    fn rank_identities(&self, partner: &PartnerId) -> Vec<(PrincipalId, EffectiveLink<'a>)> {
        let mut ours: Vec<(PrincipalId, EffectiveLink<'a>)> = self
            .effective
            .iter()
            .filter(|(_, eff)| &eff.link.partner_id == partner)
            .map(|(id, eff)| (id.clone(), eff.clone()))
            .collect();
        ours.sort_by_key(|(id, e)| {
            (
                std::cmp::Reverse(source_rank(e.link)),
                e.kind == LinkKind::User,
                id.clone(),
            )
        });
        ours
    }

    /// The report's `links` section: every active link, resolved where possible.
    pub fn link_rows(&self) -> Vec<LinkRow> {
        let mut rows: Vec<LinkRow> = self
            .links
            .iter()
            .zip(&self.resolved)
            .filter(|(l, _)| l.active)
            .map(|(l, id)| LinkRow {
                principal_id: id
                    .as_ref()
                    .map_or_else(|| l.principal.to_string(), |i| i.to_string()),
                principal_name: id
                    .as_ref()
                    .and_then(|i| self.principal(i))
                    .and_then(Principal::name)
                    .map(str::to_string)
                    .or_else(|| l.principal_name.clone())
                    .or_else(|| match &l.principal {
                        PrincipalRef::Upn(u) => Some(u.clone()),
                        PrincipalRef::Id(_) => None,
                    }),
                principal_kind: match id.as_ref().and_then(|i| self.principal(i)) {
                    Some(p) if p.principal_type == PrincipalType::ServicePrincipal => {
                        LinkKind::ServicePrincipal
                    }
                    _ => l.kind,
                },
                partner_id: l.partner_id.clone(),
                source: l.source,
                linked_at: l.linked_at,
                attested_at: l.attested_at,
                stale: false,
                age_days: None,
            })
            .collect();
        // Every field orders, so the links' input order never shows.
        rows.sort_by(|a, b| {
            (
                &a.principal_id,
                &a.partner_id,
                a.source,
                a.principal_kind,
                a.linked_at,
                &a.principal_name,
                std::cmp::Reverse(a.attested_at),
            )
                .cmp(&(
                    &b.principal_id,
                    &b.partner_id,
                    b.source,
                    b.principal_kind,
                    b.linked_at,
                    &b.principal_name,
                    std::cmp::Reverse(b.attested_at),
                ))
        });
        // One row per link; of several attestations of it, the newest.
        rows.dedup_by(|later, first| {
            LinkRow {
                attested_at: first.attested_at,
                ..later.clone()
            } == *first
        });
        rows
    }
}

/// A link's principal as an object id: a GUID is an object id, or a service
/// principal's application id when the inventory knows that app id; a UPN is
/// matched case-insensitively against the principals the sources reported.
fn resolve(inventory: &Inventory, principal: &PrincipalRef) -> Option<PrincipalId> {
    match principal {
        PrincipalRef::Id(id) => Some(
            inventory
                .principal_by_app_id(id.as_str())
                .filter(|_| !inventory.principals.contains_key(id))
                .map_or_else(|| id.clone(), |p| p.id.clone()),
        ),
        PrincipalRef::Upn(upn) => inventory.principal_by_upn(upn).map(|p| p.id.clone()),
    }
}

/// The time of a piece of link evidence: when an attestation observed the
/// live link, when a declared row says the link was made; `None` for an
/// undated row.
fn evidence_time(l: &Link) -> Option<chrono::DateTime<chrono::Utc>> {
    match l.source {
        LinkSource::Attested => l.attested_at,
        LinkSource::Declared => l.linked_at,
    }
}

fn source_rank(l: &Link) -> u8 {
    match l.source {
        LinkSource::Attested => 1,
        LinkSource::Declared => 0,
    }
}
