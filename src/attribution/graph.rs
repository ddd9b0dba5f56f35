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
    pub link: &'a Link,
    /// The kind, corrected by the inventory (a service principal is never a
    /// person's account, whatever a links file says).
    pub kind: LinkKind,
    /// The principal has active links to more than one partner ID.
    pub conflicting: bool,
}

pub struct AttributionGraph<'a> {
    pub inventory: &'a Inventory,
    pub links: &'a [Link],
    /// For each link, the object id it resolved to.
    resolved: Vec<Option<PrincipalId>>,
    /// Audit events by resource, so no rule scans them all.
    activity: HashMap<ResourceId, Vec<usize>>,
    /// Link edges by principal: a principal that owns thousands of resources
    /// has thousands of edges, and rules ask for its links at every one.
    links_by_principal: HashMap<PrincipalId, Vec<usize>>,
    /// The effective link of every linked principal, computed once.
    effective: HashMap<PrincipalId, EffectiveLink<'a>>,
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
    pub fn build(inventory: &'a Inventory, links: &'a [Link]) -> Self {
        let mut g = Self {
            inventory,
            links,
            resolved: Vec::with_capacity(links.len()),
            activity: HashMap::default(),
            links_by_principal: HashMap::default(),
            effective: HashMap::default(),
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
            g.activity.entry(a.resource.clone()).or_default().push(i);
        }
        for (i, link) in links.iter().enumerate() {
            let id = resolve(inventory, &link.principal);
            if let (Some(id), true) = (&id, link.active) {
                g.links_by_principal.entry(id.clone()).or_default().push(i);
            }
            g.resolved.push(id);
        }
        let linked: Vec<PrincipalId> = g.links_by_principal.keys().cloned().collect();
        for id in &linked {
            if let Some(e) = g.compute_effective_link(id) {
                g.effective.insert(id.clone(), e);
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

    /// The audit events recorded on a resource.
    pub fn activity_of(&self, id: &ResourceId) -> impl Iterator<Item = &'a Activity> + '_ {
        let all = &self.inventory.activity;
        self.activity
            .get(id)
            .into_iter()
            .flatten()
            .map(move |i| &all[*i])
    }

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

    pub fn display_name_of(&self, id: &PrincipalId) -> Option<&str> {
        self.names.get(id).map(|n| &**n)
    }

    /// The same name as a shared text, for a finding to hold.
    pub fn display_name_text(&self, id: &PrincipalId) -> Option<Text> {
        self.names.get(id).cloned()
    }

    /// Active links of a principal.
    pub fn links_of(&self, id: &PrincipalId) -> impl Iterator<Item = &'a Link> + '_ {
        let links = self.links;
        self.links_by_principal
            .get(id)
            .into_iter()
            .flatten()
            .map(move |i| &links[*i])
    }

    /// The deciding link of a principal (attribution-rules.md, "Link"): the
    /// newest active link wins; among links to that partner an attested one
    /// is preferred; more than one partner ID raises `conflicting-links`.
    pub fn effective_link(&self, id: &PrincipalId) -> Option<EffectiveLink<'a>> {
        self.effective.get(id).cloned()
    }

    fn compute_effective_link(&self, id: &PrincipalId) -> Option<EffectiveLink<'a>> {
        let links: Vec<&Link> = self.links_of(id).collect();
        // Ties are broken by fields, never by input order, so the same links
        // in another order give the same verdicts: the lower partner ID,
        // then the link's kind and where it came from.
        let tie = |a: &Link, b: &Link| {
            b.partner_id
                .cmp(&a.partner_id)
                .then_with(|| b.kind.cmp(&a.kind))
                .then_with(|| b.origin.cmp(&a.origin))
        };
        let newest = links.iter().copied().max_by(|a, b| {
            link_time(a)
                .cmp(&link_time(b))
                .then_with(|| source_rank(a).cmp(&source_rank(b)))
                .then_with(|| tie(a, b))
        })?;
        let link = links
            .iter()
            .copied()
            .filter(|l| l.partner_id == newest.partner_id)
            .max_by(|a, b| {
                source_rank(a)
                    .cmp(&source_rank(b))
                    .then_with(|| link_time(a).cmp(&link_time(b)))
                    .then_with(|| tie(a, b))
            })
            .unwrap_or(newest);
        let partners: BTreeSet<&PartnerId> = links.iter().map(|l| &l.partner_id).collect();
        let kind = match self.principal(id).map(|p| p.principal_type) {
            Some(PrincipalType::ServicePrincipal) => LinkKind::ServicePrincipal,
            _ => link.kind,
        };
        Some(EffectiveLink {
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
            )
                .cmp(&(
                    &b.principal_id,
                    &b.partner_id,
                    b.source,
                    b.principal_kind,
                    b.linked_at,
                    &b.principal_name,
                ))
        });
        rows.dedup();
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

fn link_time(l: &Link) -> Option<chrono::DateTime<chrono::Utc>> {
    l.linked_at.or(l.attested_at)
}

fn source_rank(l: &Link) -> u8 {
    match l.source {
        LinkSource::Attested => 1,
        LinkSource::Declared => 0,
    }
}
