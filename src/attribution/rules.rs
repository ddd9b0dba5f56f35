//! The per-product rules of attribution-rules.md: who the attributed users
//! are, which partner is decided (latest-partner rule), the verdict and flags.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::graph::{AttributionGraph, EffectiveLink};
use super::{Attributed, AttributedRole, DecidedBy, Finding, Flag, Options, Verdict, fix};
use crate::inventory::{Fact, PrincipalId, PrincipalType, Resource, ResourceKind, Role};
use crate::links::{LinkKind, LinkSource, PartnerId};

/// The finding for resource `index` of the inventory.
pub fn finding(g: &AttributionGraph, index: usize, opts: &Options) -> Finding {
    let res = g.resource(index);
    let mut f = blank(g, res);
    match res.kind {
        ResourceKind::CanvasApp => canvas_app(g, res, opts, &mut f),
        ResourceKind::CloudFlow => cloud_flow(g, res, opts, &mut f),
        other => {
            f.verdict = Verdict::Unknown;
            f.reasons.push(format!(
                "{} resources are not attributed by this version of pal-audit",
                other.as_str()
            ));
        }
    }
    f.flags.sort();
    f.flags.dedup();
    f.fix = fix::fix_for(g, res, &f, opts);
    f
}

fn blank(g: &AttributionGraph, res: &Resource) -> Finding {
    Finding {
        product: res.kind.product(),
        kind: res.kind,
        resource_id: res.id.clone(),
        resource_name: res.name.clone(),
        environment_id: res.environment.clone(),
        environment_name: g
            .inventory
            .environment(&res.environment)
            .map_or_else(|| res.environment.to_string(), |e| e.display_name.clone()),
        solution: res.solution.clone(),
        verdict: Verdict::Unknown,
        credited_partner_id: None,
        attributed: Vec::new(),
        decided_by: None,
        reasons: Vec::new(),
        flags: Vec::new(),
        fix: None,
    }
}

/// Canvas app: the owner and every co-owner (`CanEdit`) that is a user or a
/// service principal; several partners: the latest by activity.
fn canvas_app(g: &AttributionGraph, res: &Resource, opts: &Options, f: &mut Finding) {
    let roles = match &res.roles {
        Fact::Known(roles) => roles,
        Fact::Unknown(why) => {
            f.reasons.push(format!(
                "the app's owner and co-owners could not be read ({why})"
            ));
            return;
        }
    };
    // Reasons follow a fixed order, whatever order the API listed roles in.
    let mut roles: Vec<&crate::inventory::RoleAssignment> = roles.iter().collect();
    roles.sort_by(|a, b| (a.role, &a.principal).cmp(&(b.role, &b.principal)));
    let mut attributed: Vec<(PrincipalId, AttributedRole)> = Vec::new();
    let mut groups: Vec<PrincipalId> = Vec::new();
    for r in roles {
        let attributes = !matches!(
            r.principal_type,
            PrincipalType::Group | PrincipalType::Tenant
        );
        match r.role {
            Role::Owner | Role::CoOwner if attributes => {
                let role = if r.role == Role::Owner {
                    AttributedRole::Owner
                } else {
                    AttributedRole::CoOwner
                };
                if !attributed.iter().any(|(p, _)| p == &r.principal) {
                    attributed.push((r.principal.clone(), role));
                }
            }
            Role::CoOwner if r.principal_type == PrincipalType::Group => {
                groups.push(r.principal.clone());
            }
            _ if r.principal_type == PrincipalType::Tenant => f.reasons.push(
                "the app is shared with the whole organization; a tenant-wide share never attributes"
                    .to_string(),
            ),
            Role::Viewer => {
                if let Some(eff) = g.effective_link(&r.principal) {
                    f.reasons.push(format!(
                        "{} is linked to partner {} but can only view the app; viewers are not attributed users",
                        g.name_of(&r.principal),
                        eff.link.partner_id
                    ));
                }
            }
            _ => {}
        }
    }
    // The owner first, then co-owners, each group in id order: a stable order
    // whatever order the API listed them in.
    attributed.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    if attributed.is_empty() {
        f.reasons
            .push("the app's owner was not reported, so its attributed users are unknown".into());
        return;
    }
    f.attributed = attributed_rows(g, &attributed);
    orphans(g, &attributed, f);
    match decide(g, &attributed, &res.stamps) {
        Decision::None => {
            if groups_block_uncredited(g, &groups, f) {
                return;
            }
            f.verdict = Verdict::Uncredited;
            f.reasons.push(format!(
                "no owner or co-owner is linked to a partner ({})",
                names(g, &attributed)
            ));
        }
        Decision::Partner {
            partner,
            principal,
            by,
        } => {
            credit(g, res, f, &partner, &principal, by, opts);
            conflicting(g, &attributed, f);
        }
        Decision::Undecided {
            partners,
            no_activity,
        } => {
            f.reasons.push(format!(
                "several partners, activity undecided: attributed users are linked to partners {}, and {}",
                partners.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" and "),
                if no_activity {
                    "none of them shows activity on the app (never guessing between partners)"
                } else {
                    "their latest activity is at the same time (never guessing between partners)"
                }
            ));
            if no_activity {
                f.flags.push(Flag::ActivityUnknown);
            }
            conflicting(g, &attributed, f);
        }
    }
}

/// Cloud flow: the creator only; there is no latest-partner choice.
fn cloud_flow(g: &AttributionGraph, res: &Resource, opts: &Options, f: &mut Finding) {
    let creator = match &res.creator {
        Fact::Known(c) => c.clone(),
        Fact::Unknown(why) => {
            f.reasons
                .push(format!("the flow's creator could not be read ({why})"));
            return;
        }
    };
    let attributed = vec![(creator.clone(), AttributedRole::Creator)];
    f.attributed = attributed_rows(g, &attributed);
    orphans(g, &attributed, f);
    match g.effective_link(&creator) {
        None => {
            f.verdict = Verdict::Uncredited;
            f.reasons.push(format!(
                "the creator {} is not linked to a partner; a flow's credit follows its creator only",
                g.name_of(&creator)
            ));
        }
        Some(eff) => {
            let partner = eff.link.partner_id.clone();
            credit(
                g,
                res,
                f,
                &partner,
                &creator,
                DecidedBy::SinglePartner,
                opts,
            );
            conflicting(g, &attributed, f);
        }
    }
    match &res.roles {
        Fact::Known(roles) => {
            let owners: BTreeSet<&PrincipalId> = roles
                .iter()
                .filter(|r| matches!(r.role, Role::Owner | Role::CoOwner))
                .map(|r| &r.principal)
                .filter(|p| **p != creator)
                .collect();
            for owner in owners {
                if let Some(eff) = g.effective_link(owner) {
                    f.flags.push(Flag::LinkedOwnerNotCreator);
                    f.reasons.push(format!(
                        "{} is linked to partner {} and owns the flow but did not create it; owners earn no credit and the creator cannot change",
                        g.name_of(owner),
                        eff.link.partner_id
                    ));
                }
            }
        }
        Fact::Unknown(why) => f.reasons.push(format!(
            "the flow's owners could not be read ({why}), so linked owners who are not the creator were not checked"
        )),
    }
}

/// The latest signal time and who (partner, principal) has a signal then.
type Latest = (DateTime<Utc>, Vec<(PartnerId, PrincipalId)>);

enum Decision {
    /// No attributed user is linked.
    None,
    Partner {
        partner: PartnerId,
        principal: PrincipalId,
        by: DecidedBy,
    },
    Undecided {
        partners: BTreeSet<PartnerId>,
        no_activity: bool,
    },
}

/// The latest-partner rule over attributed users and resource stamps.
fn decide(
    g: &AttributionGraph,
    attributed: &[(PrincipalId, AttributedRole)],
    stamps: &[crate::inventory::Stamp],
) -> Decision {
    let mut by_partner: BTreeMap<PartnerId, Vec<(PrincipalId, EffectiveLink)>> = BTreeMap::new();
    for (p, _) in attributed {
        if let Some(eff) = g.effective_link(p) {
            by_partner
                .entry(eff.link.partner_id.clone())
                .or_default()
                .push((p.clone(), eff));
        }
    }
    match by_partner.len() {
        0 => Decision::None,
        1 => {
            let (partner, mut principals) = by_partner.into_iter().next().expect("one partner");
            principals.sort_by_key(|(id, e)| (link_strength(e), id.clone()));
            Decision::Partner {
                partner,
                principal: principals.swap_remove(0).0,
                by: DecidedBy::SinglePartner,
            }
        }
        _ => {
            // The latest stamp by any linked attributed user decides.
            let mut latest: Option<Latest> = None;
            for s in stamps {
                let Some((partner, _)) = by_partner
                    .iter()
                    .find(|(_, ps)| ps.iter().any(|(p, _)| p == &s.principal))
                else {
                    continue;
                };
                let entry = (partner.clone(), s.principal.clone());
                match &mut latest {
                    Some((at, who)) if s.at == *at => who.push(entry),
                    Some((at, _)) if s.at < *at => {}
                    _ => latest = Some((s.at, vec![entry])),
                }
            }
            let partners: BTreeSet<PartnerId> = by_partner.keys().cloned().collect();
            match latest {
                None => Decision::Undecided {
                    partners,
                    no_activity: true,
                },
                Some((_, who)) => {
                    let winners: BTreeSet<&PartnerId> = who.iter().map(|(p, _)| p).collect();
                    if winners.len() > 1 {
                        Decision::Undecided {
                            partners,
                            no_activity: false,
                        }
                    } else {
                        let (partner, principal) = who.into_iter().min().expect("a winner");
                        Decision::Partner {
                            partner,
                            principal,
                            by: DecidedBy::ResourceStamps,
                        }
                    }
                }
            }
        }
    }
}

/// Lower is stronger: attested, dedicated identity, then a person's account.
fn link_strength(e: &EffectiveLink) -> (u8, u8) {
    (
        u8::from(e.link.source != LinkSource::Attested),
        u8::from(e.kind == LinkKind::User),
    )
}

/// Sets the verdict for a decided partner, with the flags of its deciding link.
fn credit(
    g: &AttributionGraph,
    res: &Resource,
    f: &mut Finding,
    partner: &PartnerId,
    principal: &PrincipalId,
    by: DecidedBy,
    opts: &Options,
) {
    let eff = g
        .effective_link(principal)
        .expect("a deciding principal is linked");
    let ours = partner == &opts.partner_id;
    f.verdict = if ours {
        Verdict::Credited
    } else {
        Verdict::CreditedToOther
    };
    f.credited_partner_id = Some(partner.clone());
    f.decided_by = Some(by);
    let role = f
        .attributed
        .iter()
        .find(|a| &a.principal_id == principal)
        .map_or("attributed user", |a| role_words(a.role));
    let source = match eff.link.source {
        LinkSource::Attested => "attested",
        LinkSource::Declared => "declared",
    };
    f.reasons.push(format!(
        "{} ({role}) is linked to {} partner {partner} ({source} in {})",
        g.name_of(principal),
        if ours { "our" } else { "another" },
        eff.link.origin
    ));
    if by == DecidedBy::ResourceStamps {
        let latest = res
            .stamps
            .iter()
            .filter(|s| &s.principal == principal)
            .max_by_key(|s| s.at)
            .map(|s| format!("{} the resource at {}", s.kind.verb(), s.at.to_rfc3339()))
            .unwrap_or_else(|| "has the latest activity".into());
        f.reasons.push(format!(
            "several partners: {} {latest}, later than any other partner's attributed user, so partner {partner} is the latest (resource stamps)",
            g.name_of(principal)
        ));
    }
    // The link-quality flags speak of how safe *our* credit is; on another
    // partner's credit they would only be noise.
    if !ours {
        return;
    }
    if eff.kind == LinkKind::User {
        f.flags.push(Flag::UserAccountLink);
        f.reasons.push(format!(
            "credit rests on a person's account ({}); a dedicated service account or service principal survives people leaving",
            g.name_of(principal)
        ));
    }
    if eff.link.source == LinkSource::Declared {
        f.flags.push(Flag::DeclaredLinkOnly);
    }
    if let Some(at) = eff.link.attested_at
        && eff.link.source == LinkSource::Attested
        && opts.now - at > opts.attestation_max_age
    {
        f.flags.push(Flag::StaleAttestation);
        f.reasons.push(format!(
            "the attestation was made {} days ago, more than the {} days allowed; run `pal-audit attest` again as {}",
            (opts.now - at).num_days(),
            opts.attestation_max_age.num_days(),
            g.name_of(principal)
        ));
    }
}

fn conflicting(
    g: &AttributionGraph,
    attributed: &[(PrincipalId, AttributedRole)],
    f: &mut Finding,
) {
    for (p, _) in attributed {
        if g.effective_link(p).is_some_and(|e| e.conflicting) {
            let partners: BTreeSet<&str> = g.links_of(p).map(|l| l.partner_id.as_str()).collect();
            f.flags.push(Flag::ConflictingLinks);
            f.reasons.push(format!(
                "{} has links to several partner IDs ({}); the newest link counts",
                g.name_of(p),
                partners.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
}

fn orphans(g: &AttributionGraph, attributed: &[(PrincipalId, AttributedRole)], f: &mut Finding) {
    for (p, _) in attributed {
        if g.principal(p).and_then(|p| p.enabled) == Some(false) {
            f.flags.push(Flag::OrphanedOwner);
            f.reasons
                .push(format!("the attributed user {} is disabled", g.name_of(p)));
        }
    }
}

/// Group co-owners (attribution-rules.md, choice): a group is not an attributed
/// user, but a linked member behind it makes "uncredited" the wrong word.
/// Returns true when the verdict must stay `unknown`.
fn groups_block_uncredited(g: &AttributionGraph, groups: &[PrincipalId], f: &mut Finding) -> bool {
    let mut blocked = false;
    for group in groups {
        match g.members_of(group) {
            Some(Fact::Known(members)) => {
                let linked: Vec<String> = members
                    .iter()
                    .filter_map(|m| {
                        g.effective_link(m)
                            .map(|e| format!("{} (partner {})", g.name_of(m), e.link.partner_id))
                    })
                    .collect();
                if !linked.is_empty() {
                    blocked = true;
                    f.flags.push(Flag::GroupCoOwner);
                    f.reasons.push(format!(
                        "co-owner group {} contains linked principals {}; a group is not an attributed user, so only a direct co-owner would count",
                        g.name_of(group),
                        linked.join(", ")
                    ));
                }
            }
            Some(Fact::Unknown(why)) => {
                blocked = true;
                f.reasons.push(format!(
                    "co-owner group {} could not be expanded ({why}); a linked member would count only as a direct co-owner",
                    g.name_of(group)
                ));
            }
            None => {
                blocked = true;
                f.reasons.push(format!(
                    "co-owner group {} was not expanded; a linked member would count only as a direct co-owner",
                    g.name_of(group)
                ));
            }
        }
    }
    blocked
}

fn attributed_rows(
    g: &AttributionGraph,
    attributed: &[(PrincipalId, AttributedRole)],
) -> Vec<Attributed> {
    attributed
        .iter()
        .map(|(p, role)| {
            let eff = g.effective_link(p);
            Attributed {
                principal_id: p.clone(),
                principal_name: g.display_name_of(p),
                role: *role,
                partner_id: eff.as_ref().map(|e| e.link.partner_id.clone()),
                link_source: eff.as_ref().map(|e| e.link.source),
            }
        })
        .collect()
}

fn names(g: &AttributionGraph, attributed: &[(PrincipalId, AttributedRole)]) -> String {
    attributed
        .iter()
        .map(|(p, r)| format!("{} as {}", g.name_of(p), role_words(*r)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn role_words(r: AttributedRole) -> &'static str {
    match r {
        AttributedRole::Owner => "owner",
        AttributedRole::CoOwner => "co-owner",
        AttributedRole::Creator => "creator",
        AttributedRole::Publisher => "publisher",
        AttributedRole::Importer => "importer",
        AttributedRole::ActiveUser => "active user",
    }
}

#[cfg(test)]
mod tests;
