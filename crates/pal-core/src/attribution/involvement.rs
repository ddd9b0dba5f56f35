//! Involvement: which of our partner's linked identities took part in a
//! resource, and how (owner, co-owner directly or through a group, creator,
//! importer of its managed solution, publisher, active user or role holder).
//!
//! A fix writes to a customer's tenant only where our partner delivered:
//! this is the evidence for it, computed here because only attribution has
//! the links and the graph, and carried on the finding for `fix` to read.

use serde::{Deserialize, Serialize};

use super::graph::AttributionGraph;
use super::{Options, Text};
use crate::inventory::{Fact, PrincipalId, PrincipalType, Resource, ResourceKind, Role, StampKind};

/// How one of our identities took part in a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvolvementRole {
    /// `Owner`, directly or (`through_group`) through a group.
    Owner,
    /// `CanEdit`, directly or (`through_group`) through a group.
    CoOwner,
    /// Created the resource (a dataset's creator counts as its publisher).
    Creator,
    /// Imported the managed solution the resource is in.
    Importer,
    /// Published the resource (a dataset's `configuredBy` or a publish
    /// event; a canvas app's last publish).
    Publisher,
    /// Active on the resource in the activity window.
    ActiveUser,
    /// Holds a role on a Customer Insights instance.
    RoleHolder,
}

impl InvolvementRole {
    /// Whether this role shows the partner delivered the resource. A role
    /// on an instance does not: the audit identity itself must hold one on
    /// every instance it reads, so every instance would look delivered; an
    /// instance is delivered by its active users (the contract's "Fixes").
    /// A role still tells a role assignment done.
    pub fn delivers(self) -> bool {
        self != Self::RoleHolder
    }

    /// The role in words: "owner", "co-owner", "role holder", ...
    pub fn words(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::CoOwner => "co-owner",
            Self::Creator => "creator",
            Self::Importer => "importer",
            Self::Publisher => "publisher",
            Self::ActiveUser => "active user",
            Self::RoleHolder => "role holder",
        }
    }
}

/// Whether any of `involved` shows the partner delivered the resource.
pub fn delivered(involved: &[Involvement]) -> bool {
    involved.iter().any(|i| i.role.delivers())
}

/// One of our identities involved in a resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Involvement {
    /// How it took part.
    pub role: InvolvementRole,
    /// The identity's object id.
    pub principal_id: PrincipalId,
    /// Its name for people; `None` when nothing names it.
    pub principal_name: Option<Text>,
    /// The group the role is held through, when not held directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through_group: Option<PrincipalId>,
    /// The latest of its kind: the managed solution's latest successful
    /// import (importer), the dataset's latest publish (publisher). What a
    /// fix would do is then already done.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub latest: bool,
}

impl Involvement {
    /// Whether `id` holds this role itself (not through a group).
    pub fn is_direct(&self, id: &PrincipalId, role: InvolvementRole) -> bool {
        self.role == role && self.through_group.is_none() && &self.principal_id == id
    }
}

/// Our identities' involvement in `res`, sorted by role, principal, group.
pub fn involvement(g: &AttributionGraph, res: &Resource, opts: &Options) -> Vec<Involvement> {
    let ours = |p: &PrincipalId| {
        g.effective_link(p)
            .is_some_and(|e| e.link.partner_id == opts.partner_id)
    };
    let mut out: Vec<Involvement> = Vec::new();
    let mut add = |role, p: &PrincipalId, group: Option<&PrincipalId>, latest| {
        out.push(Involvement {
            role,
            principal_id: p.clone(),
            principal_name: g.display_name_text(p),
            through_group: group.cloned(),
            latest,
        });
    };
    if let Fact::Known(roles) = &res.roles {
        for r in roles {
            let role = match (r.role, res.kind) {
                (Role::Owner, _) => InvolvementRole::Owner,
                (Role::CoOwner, _) => InvolvementRole::CoOwner,
                (Role::Member, _) => InvolvementRole::RoleHolder,
                // An instance's viewer holds a role; an app's viewer does not
                // take part in it.
                (Role::Viewer, ResourceKind::Instance) => InvolvementRole::RoleHolder,
                (Role::Viewer, _) => continue,
            };
            match r.principal_type {
                PrincipalType::Tenant => {}
                PrincipalType::Group => {
                    if let Some(Fact::Known(members)) = g.members_of(&r.principal) {
                        for m in members.iter().filter(|m| ours(m)) {
                            add(role, m, Some(&r.principal), false);
                        }
                    }
                }
                _ if ours(&r.principal) => add(role, &r.principal, None, false),
                _ => {}
            }
        }
    }
    match (&res.creator, res.kind) {
        (Fact::Known(p), ResourceKind::Dataset) if ours(p) => {
            add(InvolvementRole::Publisher, p, None, false)
        }
        (_, ResourceKind::Dataset) => {}
        (Fact::Known(p), _) if ours(p) => add(InvolvementRole::Creator, p, None, false),
        _ => {}
    }
    for s in g.stamps_of(res) {
        match s.kind {
            StampKind::Published if ours(&s.principal) => {
                add(InvolvementRole::Publisher, &s.principal, None, false)
            }
            StampKind::Created if ours(&s.principal) && res.kind != ResourceKind::Dataset => {
                add(InvolvementRole::Creator, &s.principal, None, false)
            }
            _ => {}
        }
    }
    // The managed solution's importers; the latest successful import's
    // importer, when ours, is marked.
    if let Some(sol) = res
        .solution
        .as_deref()
        .and_then(|name| g.inventory.solution(&res.environment, name))
        .filter(|s| s.managed)
        && let Fact::Known(imports) = &sol.imports
    {
        let last = imports.len().checked_sub(1);
        for (i, import) in imports.iter().enumerate() {
            if let Fact::Known(p) = &import.importer
                && ours(p)
            {
                add(InvolvementRole::Importer, p, None, Some(i) == last);
            }
        }
    }
    match res.kind {
        ResourceKind::Dataset => {
            // Publishers: `configuredBy` and every publish event; the latest
            // publish is the newest event's, else `configuredBy`'s.
            let publishes: Vec<_> = g.activity_of(&res.id).filter(|a| a.is_publish()).collect();
            // Two people publishing at the same instant: neither is the
            // latest, whatever order the events came in.
            let newest = publishes.iter().map(|a| a.at).max().map(|at| {
                let mut at_newest = publishes.iter().filter(|a| a.at == at);
                let first = at_newest.next().map(|a| &a.principal);
                first.filter(|f| at_newest.all(|a| &a.principal == *f))
            });
            for a in &publishes {
                if ours(&a.principal) {
                    add(InvolvementRole::Publisher, &a.principal, None, false);
                }
            }
            let latest = match newest {
                Some(newest) => newest,
                None => match &res.creator {
                    Fact::Known(p) => Some(p),
                    Fact::Unknown(_) => None,
                },
            };
            if let Some(p) = latest.filter(|p| ours(p)) {
                add(InvolvementRole::Publisher, p, None, true);
            }
        }
        ResourceKind::Instance => {
            for a in g.activity_of(&res.id) {
                if ours(&a.principal) {
                    add(InvolvementRole::ActiveUser, &a.principal, None, false);
                }
            }
        }
        _ => {}
    }
    // One row per (role, principal, group), `latest` if any said so.
    out.sort_by(|a, b| {
        (a.role, &a.principal_id, &a.through_group, !a.latest).cmp(&(
            b.role,
            &b.principal_id,
            &b.through_group,
            !b.latest,
        ))
    });
    out.dedup_by(|later, first| {
        later.role == first.role
            && later.principal_id == first.principal_id
            && later.through_group == first.through_group
    });
    out
}
