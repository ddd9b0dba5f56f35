//! The per-product rules of attribution-rules.md: who the attributed users
//! are, which partner is decided (latest-partner rule), the verdict and flags.
//!
//! Over 600 lines on purpose: the rules are one decision per finding, and
//! every step of it (attributed users, unread facts, the solution reading,
//! the latest-partner rule, flags) reads the same borrowed context; split
//! apart they would pass it around and hide the order the contract gives.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::graph::{AttributionGraph, EffectiveLink};
use super::{Attributed, AttributedRole, DecidedBy, Finding, Flag, Options, Verdict, fix};
use crate::inventory::{
    ActivitySource, Fact, Import, PrincipalId, PrincipalType, Product, Resource, ResourceKind,
    Role, UnreadFact,
};
use crate::links::{Link, LinkKind, LinkSource, PartnerId, PrincipalRef};

/// A reason's text, shared with the findings that give the same one.
macro_rules! text {
    ($($arg:tt)*) => {
        super::text::shared(format_args!($($arg)*))
    };
}

/// The finding for resource `index` of the inventory.
pub fn finding(g: &AttributionGraph, index: usize, opts: &Options) -> Finding {
    let res = g.resource(index);
    let mut f = blank(g, res);
    let reading = solution_reading(g, res, opts, &mut f);
    match res.kind {
        ResourceKind::CanvasApp => canvas_app(g, res, opts, &mut f),
        ResourceKind::CloudFlow | ResourceKind::DesktopFlow => cloud_flow(g, res, opts, &mut f),
        ResourceKind::ModelDrivenApp => model_driven_app(g, res, opts, &mut f, &reading),
        ResourceKind::Dataset => dataset(g, res, opts, &mut f),
        ResourceKind::Instance => instance(g, res, opts, &mut f),
    }
    both_readings(g, res, &mut f, &reading);
    other_partner_activity(g, res, opts, &mut f);
    other_id_of_ours(opts, &mut f);
    non_production(g, res, &mut f);
    ended_links(g, &mut f);
    if opts.first_party.include
        && let Some(why) = super::first_party::platform_made(g, res, &opts.first_party)
    {
        f.flags.push(Flag::FirstParty);
        f.reasons.push(text!(
            "{why}: no partner's work, shown because of --include-first-party"
        ));
    }
    if !g.inventory.unread.is_empty() || !g.ambiguous_links().is_empty() {
        unread(g, res, opts, &mut f);
    }
    f.usage = usage(g, res);
    f.flags.sort();
    f.flags.dedup();
    f.involvement = Some(super::involvement::involvement(g, res, opts));
    f.fix = fix::fix_for(g, res, &f, opts);
    f
}

/// A resource credited to us by a rule that did not weigh activity (one
/// candidate partner, a creator, a solution import) on which another
/// partner's linked user shows later activity than any of ours: the credit
/// is at risk (attribution-rules.md, "Several partners"). Never raised for
/// our own partner's activity.
fn other_partner_activity(g: &AttributionGraph, res: &Resource, opts: &Options, f: &mut Finding) {
    if f.verdict != Verdict::Credited
        || matches!(
            f.decided_by,
            Some(DecidedBy::AuditEvents | DecidedBy::ResourceStamps)
        )
    {
        return;
    }
    let events = g
        .activity_of(&res.id)
        .map(|a| (&a.principal, a.at, a.action.as_str()));
    let stamps = g
        .stamps_of(res)
        .map(|s| (&s.principal, s.at, s.kind.verb()));
    let mut ours: Option<DateTime<Utc>> = None;
    let mut other: Option<(&PrincipalId, DateTime<Utc>, &str, PartnerId)> = None;
    for (p, at, what) in events.chain(stamps) {
        let Some(link) = g.effective_link(p) else {
            continue;
        };
        if link.link.partner_id == opts.partner_id {
            ours = ours.max(Some(at));
        } else if other.as_ref().is_none_or(|o| at > o.1) {
            other = Some((p, at, what, link.link.partner_id.clone()));
        }
    }
    if let Some((p, at, what, partner)) = other
        && ours.is_none_or(|o| at > o)
    {
        f.flags.push(Flag::OtherPartnerActivity);
        f.reasons.push(text!(
            "{} (linked to partner {partner}) shows activity on it ({what}, {}) later than any of our partner's users: the credit rests on a rule that does not weigh activity, and more activity of theirs could move it",
            g.name_of(p),
            at.to_rfc3339()
        ));
    }
}

/// Credit decided for a partner ID our organisation named as its own
/// (`--our-other-id`) but not the associated one: still another ID's credit,
/// flagged so the fix re-links instead of blaming another partner.
fn other_id_of_ours(opts: &Options, f: &mut Finding) {
    if f.verdict != Verdict::CreditedToOther {
        return;
    }
    let Some(partner) = &f.credited_partner_id else {
        return;
    };
    if opts.our_other_ids.contains(partner) {
        f.flags.push(Flag::LinkedToOtherIdOfOurs);
        f.reasons.push(text!(
            "partner {partner} is one of our own organisation's IDs (--our-other-id), not the associated ID {}: the credit goes to {partner}, not to {}",
            opts.partner_id,
            opts.partner_id
        ));
    }
}

/// The rule book counts production use for specializations: a resource in an
/// environment whose type is known and is neither Production nor Default is
/// flagged (an unknown type is not); so is a Customer Insights instance whose
/// `instanceType` is `sandbox` or `trial` (any other or no type: no flag).
fn non_production(g: &AttributionGraph, res: &Resource, f: &mut Finding) {
    if res.kind == ResourceKind::Instance
        && let Some(t) = res
            .instance_type
            .as_deref()
            .filter(|t| t.eq_ignore_ascii_case("sandbox") || t.eq_ignore_ascii_case("trial"))
    {
        f.flags.push(Flag::NonProductionEnvironment);
        f.reasons.push(text!(
            "the instance is of type {t}, not production: credit for specializations counts production use"
        ));
    }
    let Some(sku) = g
        .environment(&res.environment)
        .and_then(|e| e.sku.as_deref())
    else {
        return;
    };
    if sku.eq_ignore_ascii_case("Production") || sku.eq_ignore_ascii_case("Default") {
        return;
    }
    f.flags.push(Flag::NonProductionEnvironment);
    f.reasons.push(text!(
        "its environment is of type {sku}, not Production or Default: credit for specializations counts production use"
    ));
}

/// An attributed user shown unlinked although a links file declares a link:
/// the reasons say which newer `Deleted` attestation ended it.
fn ended_links(g: &AttributionGraph, f: &mut Finding) {
    for a in &f.attributed {
        if a.partner_id.is_some() {
            continue;
        }
        for l in g.ended_links(&a.principal_id) {
            f.reasons.push(text!(
                "{}'s link to partner {} ended: the attestation of {} (in {}) found it Deleted, newer than any evidence of a link",
                g.name_of(&a.principal_id),
                l.partner_id,
                l.attested_at.map_or_else(String::new, |t| t.to_rfc3339()),
                l.origin
            ));
        }
    }
}

fn blank(g: &AttributionGraph, res: &Resource) -> Finding {
    Finding {
        product: res.kind.product(),
        kind: res.kind,
        resource_id: res.id.clone(),
        resource_name: res.name.clone(),
        environment_id: res.environment.clone(),
        environment_name: match &res.environment_name {
            Some(name) => text!("{name}"),
            None => g
                .environment_name(&res.environment)
                .unwrap_or_else(|| text!("{}", res.environment)),
        },
        solution: res.solution.clone(),
        verdict: Verdict::Unknown,
        credited_partner_id: None,
        attributed: Vec::new(),
        decided_by: None,
        reasons: Vec::new(),
        flags: Vec::new(),
        fix: None,
        involvement: None,
        decided_by_source: None,
        usage: None,
        solution_managed: res
            .solution
            .as_deref()
            .and_then(|name| g.inventory.solution(&res.environment, name))
            .map(|s| s.managed),
    }
}

/// Canvas app: the owner and every co-owner (`CanEdit`) that is a user or a
/// service principal; several partners: the latest by activity.
fn canvas_app(g: &AttributionGraph, res: &Resource, opts: &Options, f: &mut Finding) {
    let roles = match &res.roles {
        Fact::Known(roles) => roles,
        Fact::Unknown(why) => {
            f.reasons.push(text!(
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
            _ if r.principal_type == PrincipalType::Tenant => f.reasons.push(text!(
                "the app is shared with the whole organization; a tenant-wide share never attributes"
            )),
            Role::Viewer => {
                if let Some(eff) = g.effective_link(&r.principal) {
                    f.reasons.push(text!(
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
        f.reasons.push(text!(
            "the app's owner was not reported, so its attributed users are unknown"
        ));
        return;
    }
    f.attributed = attributed_rows(g, &attributed);
    // Every canvas app has an owner: co-owners listed without one are a
    // partial role list, and the owner missing from it could be another
    // partner's, decided by activity.
    if !attributed.iter().any(|(_, r)| *r == AttributedRole::Owner) {
        f.reasons.push(text!(
            "the app's role list names co-owners but no owner, so it is incomplete; the owner (the app's properties in the Power Apps admin API) would settle it"
        ));
        return;
    }
    orphans(g, &attributed, f);
    // The unified audit log (launches and maker work) first, then the
    // stamps; without an audit log the app has no audit events.
    let mut audit = events(g, res);
    // A stamp after the end of the audit log's files is activity the log
    // could not show: it competes with the log's events.
    if let Some(end) = audit_log_window(g, res).and_then(|w| w.covered.map(|c| c.1)) {
        audit.extend(stamps(g, res).into_iter().filter(|s| s.at > end));
    }
    let signals = [
        (DecidedBy::AuditEvents, audit),
        (DecidedBy::ResourceStamps, stamps(g, res)),
    ];
    apply_decision(g, f, &attributed, &groups, &signals, opts, "the app");
    audit_log_unsettled(g, res, &attributed, f);
}

/// A canvas app decided between partners by activity, with an audit log
/// supplied: activity the log does not show could change the decision when
/// part of the window after the deciding signal is not covered by the
/// files, or when a user the log names could not be resolved and could be
/// an attributed user (one whose UPN is not known). Then `unknown`.
fn audit_log_unsettled(
    g: &AttributionGraph,
    res: &Resource,
    attributed: &[(PrincipalId, AttributedRole)],
    f: &mut Finding,
) {
    let Some(window) = audit_log_window(g, res) else {
        return;
    };
    if f.verdict != Verdict::Credited && f.verdict != Verdict::CreditedToOther {
        return;
    }
    let Some(decided_at) = deciding_time(g, res, f) else {
        return;
    };
    let files = window.files.join(", ");
    let mut unsettled = false;
    if let Some((a, b)) = window.gaps().into_iter().find(|(_, end)| *end > decided_at) {
        unsettled = true;
        f.reasons.push(text!(
            "the audit log ({files}) does not cover {} to {} of the activity window, after the deciding activity ({}): another partner's attributed user could have been active then. An export covering the whole window settles it",
            a.to_rfc3339(),
            b.to_rfc3339(),
            decided_at.to_rfc3339()
        ));
    }
    let no_upn: Vec<&PrincipalId> = attributed
        .iter()
        .map(|(p, _)| p)
        .filter(|p| {
            g.principal(p).is_none_or(|pr| {
                pr.upn.is_none() && pr.principal_type != PrincipalType::ServicePrincipal
            })
        })
        .collect();
    if !no_upn.is_empty()
        && let Some(a) = g
            .activity_of(&res.id)
            .filter(|a| a.principal.placeholder_upn().is_some() && a.at > decided_at)
            .max_by_key(|a| a.at)
    {
        unsettled = true;
        f.reasons.push(text!(
            "the audit log names {} ({}, {}) later than the deciding activity, and that user could not be resolved to an Entra object: it could be {}, whose UPN is not known. Resolving the user (Graph) settles it",
            a.principal.placeholder_upn().unwrap_or_default(),
            a.action,
            a.at.to_rfc3339(),
            no_upn
                .iter()
                .map(|p| g.name_of(p).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if unsettled {
        make_unknown(f);
    }
}

/// The unified audit log's window, when one was supplied for the
/// resource's kind.
fn audit_log_window<'a>(
    g: &AttributionGraph<'a>,
    res: &Resource,
) -> Option<&'a crate::inventory::ActivityWindow> {
    g.inventory
        .activity_windows
        .iter()
        .find(|w| w.source == ActivitySource::AuditLog && w.kinds.contains(&res.kind))
}

/// The time of the activity that decided between partners, when activity
/// did (`decided_by` audit events or stamps).
fn deciding_time(g: &AttributionGraph, res: &Resource, f: &Finding) -> Option<DateTime<Utc>> {
    let partners: BTreeSet<&PartnerId> = f
        .attributed
        .iter()
        .filter_map(|a| a.partner_id.as_ref())
        .collect();
    if partners.len() < 2 {
        return None;
    }
    let ours = |p: &PrincipalId| {
        f.attributed
            .iter()
            .any(|a| &a.principal_id == p && a.partner_id == f.credited_partner_id)
    };
    let log_end = audit_log_window(g, res).and_then(|w| w.covered.map(|c| c.1));
    match f.decided_by? {
        // The audit set: the events, and the stamps after the log's end.
        DecidedBy::AuditEvents => g
            .activity_of(&res.id)
            .filter(|a| ours(&a.principal))
            .map(|a| a.at)
            .chain(
                g.stamps_of(res)
                    .filter(|s| ours(&s.principal) && log_end.is_some_and(|end| s.at > end))
                    .map(|s| s.at),
            )
            .max(),
        DecidedBy::ResourceStamps => g
            .stamps_of(res)
            .filter(|s| ours(&s.principal))
            .map(|s| s.at)
            .max(),
        _ => None,
    }
}

/// Distinct active users of the resource in the activity window, when a
/// source gives them for the whole window (attribution-rules.md, "Usage").
fn usage(g: &AttributionGraph, res: &Resource) -> Option<super::Usage> {
    let (source, counted, users): (ActivitySource, &str, BTreeSet<&PrincipalId>) = match res.kind {
        ResourceKind::CanvasApp => {
            let window = audit_log_window(g, res)?;
            if !window.gaps().is_empty() {
                return None;
            }
            (
                ActivitySource::AuditLog,
                "users who launched it (LaunchPowerApp)",
                g.activity_of(&res.id)
                    .filter(|a| a.source == Some(ActivitySource::AuditLog))
                    .filter(|a| crate::audit_log::is_launch(&a.action))
                    .map(|a| &a.principal)
                    .collect(),
            )
        }
        ResourceKind::Dataset => {
            if activity_unread(g, res, Product::PowerBi).is_some() || !power_bi_read(g) {
                return None;
            }
            (
                ActivitySource::PowerBiActivity,
                "users who viewed a report bound to it (ViewReport)",
                g.activity_of(&res.id)
                    .filter(|a| a.action.eq_ignore_ascii_case("ViewReport"))
                    .map(|a| &a.principal)
                    .collect(),
            )
        }
        ResourceKind::Instance => {
            if activity_unread(g, res, Product::CustomerInsights).is_some() {
                return None;
            }
            (
                ActivitySource::CustomerInsightsDiagnostics,
                "users with any event on it",
                g.activity_of(&res.id).map(|a| &a.principal).collect(),
            )
        }
        ResourceKind::ModelDrivenApp | ResourceKind::CloudFlow | ResourceKind::DesktopFlow => {
            return None;
        }
    };
    Some(super::Usage {
        active_users: users.len() as u64,
        source,
        counted: counted.to_string(),
    })
}

/// Power BI's activity events were read for the whole window (the
/// collection records it as an activity window): an inventory without one
/// gives no dataset usage.
fn power_bi_read(g: &AttributionGraph) -> bool {
    g.inventory.activity_windows.iter().any(|w| {
        w.source == ActivitySource::PowerBiActivity
            && w.kinds.contains(&ResourceKind::Dataset)
            && w.gaps().is_empty()
    })
}

/// The resource's stamps as activity signals.
fn stamps(g: &AttributionGraph, res: &Resource) -> Vec<Signal> {
    g.stamps_of(res)
        .map(|s| Signal {
            principal: s.principal.clone(),
            at: s.at,
            what: s.kind.verb().to_string(),
            source: None,
        })
        .collect()
}

/// The resource's audit events as activity signals.
fn events(g: &AttributionGraph, res: &Resource) -> Vec<Signal> {
    g.activity_of(&res.id)
        .map(|a| Signal {
            principal: a.principal.clone(),
            at: a.at,
            what: a.action.clone(),
            source: a.source,
        })
        .collect()
}

/// Applies the latest-partner decision over `attributed` to the finding.
fn apply_decision(
    g: &AttributionGraph,
    f: &mut Finding,
    attributed: &[(PrincipalId, AttributedRole)],
    groups: &[PrincipalId],
    signals: &[(DecidedBy, Vec<Signal>)],
    opts: &Options,
    what: &str,
) {
    match decide(g, attributed, signals) {
        Decision::None => {
            if groups_block_uncredited(g, groups, f) {
                return;
            }
            f.verdict = Verdict::Uncredited;
            f.reasons.push(text!(
                "no attributed user is linked to a partner ({})",
                names(g, attributed)
            ));
        }
        Decision::Partner {
            partner,
            principal,
            by,
            latest,
        } => {
            credit(g, f, &partner, &principal, by, opts);
            if by == DecidedBy::AuditEvents {
                f.decided_by_source = latest.as_ref().and_then(|s| s.source);
            }
            if let Some(s) = latest {
                f.reasons.push(text!(
                    "several partners: {} {} {what} at {}, later than any other partner's attributed user, so partner {partner} is the latest ({})",
                    g.name_of(&principal),
                    if by == DecidedBy::ResourceStamps {
                        s.what.clone()
                    } else {
                        format!("was active ({}) on", s.what)
                    },
                    s.at.to_rfc3339(),
                    match (by, s.source) {
                        (DecidedBy::AuditEvents, Some(source)) =>
                            format!("audit events: {}", source.words()),
                        (DecidedBy::AuditEvents, None) => "audit events".to_string(),
                        _ => "resource stamps".to_string(),
                    }
                ));
            }
            conflicting(g, attributed, f);
        }
        Decision::Undecided {
            partners,
            no_activity,
        } => {
            f.reasons.push(text!(
                "several partners, activity undecided: attributed users are linked to partners {}, and {}",
                partners.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" and "),
                if no_activity {
                    format!("none of them shows activity on {what} (never guessing between partners)")
                } else {
                    "their latest activity is at the same time (never guessing between partners)".to_string()
                }
            ));
            if no_activity {
                f.flags.push(Flag::ActivityUnknown);
            }
            conflicting(g, attributed, f);
        }
        Decision::LinkUndecided => {
            f.reasons.push(text!(
                "which partner {what} is credited to, if any, depends on how an attributed user's undecided link settles"
            ));
            conflicting(g, attributed, f);
        }
    }
}

/// One attributed principal decides (flow creator, model-driven app creator
/// or importer, dataset publisher): its link or nothing.
fn single(
    g: &AttributionGraph,
    f: &mut Finding,
    principal: &PrincipalId,
    role: AttributedRole,
    opts: &Options,
    why_only: &'static str,
) {
    let attributed = vec![(principal.clone(), role)];
    f.attributed = attributed_rows(g, &attributed);
    orphans(g, &attributed, f);
    if let Some(ways) = g.undecided_link(principal) {
        f.flags.push(Flag::ConflictingLinks);
        f.reasons.push(undecided(g, principal, ways));
        return;
    }
    match g.effective_link(principal) {
        None => {
            f.verdict = Verdict::Uncredited;
            f.reasons
                .push(super::text::about(why_only, principal, role as u16, || {
                    text!(
                        "the {} {} is not linked to a partner; {why_only}",
                        role.words(),
                        g.name_of(principal)
                    )
                }));
        }
        Some(eff) => {
            let partner = eff.link.partner_id.clone();
            credit(g, f, &partner, principal, DecidedBy::SinglePartner, opts);
            conflicting(g, &attributed, f);
        }
    }
}

/// Cloud or desktop flow: the creator only; there is no latest-partner
/// choice.
fn cloud_flow(g: &AttributionGraph, res: &Resource, opts: &Options, f: &mut Finding) {
    let creator = match &res.creator {
        Fact::Known(c) => c.clone(),
        Fact::Unknown(why) => {
            f.reasons
                .push(text!("the flow's creator could not be read ({why})"));
            return;
        }
    };
    single(
        g,
        f,
        &creator,
        AttributedRole::Creator,
        opts,
        "a flow's credit follows its creator only",
    );
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
                    f.reasons.push(text!(
                        "{} is linked to partner {} and owns the flow but did not create it; owners earn no credit and the creator cannot change",
                        g.name_of(owner),
                        eff.link.partner_id
                    ));
                }
            }
        }
        Fact::Unknown(why) => f.reasons.push(text!(
            "the flow's owners were not read ({why}), so linked owners who are not the creator were not checked"
        )),
    }
}

/// Model-driven app: the creator, unless the managed solution it is in has a
/// solution reading: ownership of an app module moves only by import, so the
/// last PAL-linked importer decides (attribution-rules.md, "both readings").
fn model_driven_app(
    g: &AttributionGraph,
    res: &Resource,
    opts: &Options,
    f: &mut Finding,
    reading: &SolutionReading,
) {
    const WHY: &str = "a model-driven app has no co-owners: its creator, or the last linked importer of its managed solution, decides";
    match reading {
        SolutionReading::Partner { importer, .. } => {
            single(g, f, importer, AttributedRole::Importer, opts, WHY);
            f.decided_by = Some(DecidedBy::SolutionImport);
        }
        // The solution decides, and cannot: the creator would not settle it.
        SolutionReading::Undecided => {}
        SolutionReading::None => match &res.creator {
            Fact::Known(c) => single(g, f, c, AttributedRole::Creator, opts, WHY),
            Fact::Unknown(why) => f
                .reasons
                .push(text!("the app's creator could not be read ({why})")),
        },
    }
}

/// Power BI dataset: its publishers are `configuredBy` and every principal
/// with a publish event on it in the activity window; several partners: the
/// latest publish decides, then the stamps (the dataset's creation).
fn dataset(g: &AttributionGraph, res: &Resource, opts: &Options, f: &mut Finding) {
    let configured = match &res.creator {
        Fact::Known(p) => p.clone(),
        Fact::Unknown(why) => {
            f.reasons
                .push(text!("the dataset's publisher could not be read ({why})"));
            return;
        }
    };
    if let Some(why) = activity_unread(g, res, Product::PowerBi) {
        f.flags.push(Flag::ActivityUnknown);
        f.reasons.push(text!(
            "who else published the dataset in the activity window is not known ({why}): every publisher is an attributed user, so {} alone cannot decide",
            g.name_of(&configured)
        ));
        f.attributed = attributed_rows(g, &[(configured, AttributedRole::Publisher)]);
        return;
    }
    let publish: Vec<Signal> = events(g, res)
        .into_iter()
        .filter(|s| crate::inventory::is_publish(&s.what))
        .collect();
    let mut publishers: Vec<(PrincipalId, AttributedRole)> =
        vec![(configured.clone(), AttributedRole::Publisher)];
    for s in &publish {
        if !publishers.iter().any(|(p, _)| p == &s.principal) {
            publishers.push((s.principal.clone(), AttributedRole::Publisher));
        }
    }
    publishers[1..].sort();
    if publishers.len() == 1 {
        single(
            g,
            f,
            &configured,
            AttributedRole::Publisher,
            opts,
            "a dataset's credit follows its publishers",
        );
        return;
    }
    f.attributed = attributed_rows(g, &publishers);
    orphans(g, &publishers, f);
    let signals = [
        (DecidedBy::AuditEvents, publish),
        (DecidedBy::ResourceStamps, stamps(g, res)),
    ];
    apply_decision(g, f, &publishers, &[], &signals, opts, "the dataset");
}

/// Customer Insights instance: its active users, the principals with
/// activity on it in the window (a role is not needed, and not enough).
/// Without activity evidence: `uncredited` when no linked principal holds a
/// role (groups expanded), else `unknown` (attribution-rules.md).
fn instance(g: &AttributionGraph, res: &Resource, opts: &Options, f: &mut Finding) {
    if let Some(why) = activity_unread(g, res, Product::CustomerInsights) {
        instance_without_activity(g, res, f, why);
        return;
    }
    let events = events(g, res);
    let mut active: Vec<(PrincipalId, AttributedRole)> = Vec::new();
    for e in &events {
        if !active.iter().any(|(p, _)| p == &e.principal) {
            active.push((e.principal.clone(), AttributedRole::ActiveUser));
        }
    }
    active.sort();
    if active.is_empty() {
        f.verdict = Verdict::Uncredited;
        f.reasons.push(text!(
            "nobody was active on the instance in the activity window, so it has no attributed user"
        ));
        return;
    }
    f.reasons.push(text!(
        "{} active on the instance in the activity window",
        if active.len() == 1 {
            "1 principal was".to_string()
        } else {
            format!("{} principals were", active.len())
        }
    ));
    f.attributed = attributed_rows(g, &active);
    orphans(g, &active, f);
    let signals = [
        (DecidedBy::AuditEvents, events),
        (DecidedBy::ResourceStamps, stamps(g, res)),
    ];
    apply_decision(g, f, &active, &[], &signals, opts, "the instance");
}

/// An instance whose activity was not read: its role holders (groups
/// expanded) are who could be active.
fn instance_without_activity(g: &AttributionGraph, res: &Resource, f: &mut Finding, why: &str) {
    let roles = match &res.roles {
        Fact::Known(r) => r,
        Fact::Unknown(e) => {
            f.reasons.push(text!(
                "the instance's role holders could not be read ({e}), and its activity was not read ({why})"
            ));
            return;
        }
    };
    let mut holders: BTreeSet<&PrincipalId> = BTreeSet::new();
    let mut unexpanded: Vec<&PrincipalId> = Vec::new();
    for r in roles {
        if r.principal_type != PrincipalType::Group {
            holders.insert(&r.principal);
            continue;
        }
        match g.members_of(&r.principal) {
            Some(Fact::Known(members)) => holders.extend(members),
            _ => unexpanded.push(&r.principal),
        }
    }
    let mut could: Vec<String> = holders
        .iter()
        .filter_map(|p| match (g.effective_link(p), g.undecided_link(p)) {
            (Some(e), _) => Some(format!("{} (partner {})", g.name_of(p), e.link.partner_id)),
            (None, Some(_)) => Some(format!("{} (link undecided)", g.name_of(p))),
            (None, None) => None,
        })
        .collect();
    if could.is_empty() && unexpanded.is_empty() {
        f.verdict = Verdict::Uncredited;
        f.reasons.push(text!(
            "no linked principal holds a role on the instance, so none of its users can be an attributed one (its activity was not read: {why})"
        ));
        return;
    }
    f.flags.push(Flag::ActivityUnknown);
    could.extend(
        unexpanded
            .iter()
            .map(|group| format!("members of group {} (not expanded)", g.name_of(group))),
    );
    f.reasons.push(text!(
        "the instance's active users are not known ({why}); role holders who could be active: {}. Supply the instance's activity (--ci-activity or --ci-workspace) to settle it",
        could.join(", ")
    ));
}

/// Why the product's activity (of this resource) was not read, if it was not.
fn activity_unread<'a>(
    g: &AttributionGraph<'a>,
    res: &Resource,
    product: Product,
) -> Option<&'a str> {
    g.inventory
        .unread
        .iter()
        .find(|u| {
            matches!(&u.fact, UnreadFact::Activity { product: p } if *p == product)
                && u.resource.as_ref().is_none_or(|r| r == &res.id)
        })
        .map(|u| u.why.as_str())
}

/// The resource's managed solution, if it is in one.
fn managed_solution<'a>(
    g: &AttributionGraph<'a>,
    res: &Resource,
) -> Option<&'a crate::inventory::Solution> {
    let name = res.solution.as_deref()?;
    g.inventory
        .solution(&res.environment, name)
        .filter(|s| s.managed)
}

/// What the managed solution a component is in says (attribution-rules.md,
/// "the solution reading").
enum SolutionReading {
    /// Not in a managed solution, or no linked account ever imported it.
    None,
    /// The newest import that could decide has an importer nobody could read.
    Undecided,
    /// The last PAL-linked importer, and its partner.
    Partner {
        partner: PartnerId,
        importer: PrincipalId,
        solution: String,
    },
}

/// Walks the managed solution's successful imports from the newest: an
/// unreadable importer leaves the reading undecided; a linked one decides;
/// an unlinked one is flagged and the walk goes on to the older import.
fn solution_reading(
    g: &AttributionGraph,
    res: &Resource,
    opts: &Options,
    f: &mut Finding,
) -> SolutionReading {
    // A solution the component names but the environment's list lacks
    // could be managed, and imported by anyone.
    for name in res.solution.iter().chain(&res.other_solutions) {
        if g.inventory.solution(&res.environment, name).is_none() {
            f.reasons.push(text!(
                "it is in solution {name}, which the environment's solution list did not include: whether that solution is managed, and who imported it last, is unknown; reading the solution (solutions?$filter=uniquename eq '{name}') would settle it"
            ));
            return SolutionReading::Undecided;
        }
    }
    let mut reading = SolutionReading::None;
    for (n, sol) in weighed_solutions(g, res, opts).into_iter().enumerate() {
        let next = reading_of(g, sol, f);
        if n == 0 {
            reading = next;
            continue;
        }
        reading = match (reading, next) {
            (SolutionReading::Undecided, _) | (_, SolutionReading::Undecided) => {
                SolutionReading::Undecided
            }
            (SolutionReading::None, r) | (r, SolutionReading::None) => r,
            (
                a @ SolutionReading::Partner { .. },
                SolutionReading::Partner {
                    partner: b,
                    solution: b_solution,
                    ..
                },
            ) => {
                let SolutionReading::Partner {
                    partner: a_partner,
                    solution: a_solution,
                    ..
                } = &a
                else {
                    unreachable!("matched a Partner")
                };
                if *a_partner == b {
                    a
                } else {
                    f.reasons.push(text!(
                        "managed solutions {a_solution} and {b_solution} both hold it, and were last imported by accounts of different partners ({a_partner}, {b}): which solution's importer gets the credit cannot be told"
                    ));
                    SolutionReading::Undecided
                }
            }
        };
    }
    reading
}

/// The managed solutions whose readings count for a component: every one
/// that holds it (one can be layered on another), its `solution` first and
/// the others by name; Microsoft's left out when a partner's holds it too
/// (their imports are the platform's, and say nothing of partners).
fn weighed_solutions<'a>(
    g: &AttributionGraph<'a>,
    res: &Resource,
    opts: &Options,
) -> Vec<&'a crate::inventory::Solution> {
    let Some(first) = managed_solution(g, res) else {
        return Vec::new();
    };
    let mut others: Vec<&crate::inventory::Solution> = res
        .other_solutions
        .iter()
        .filter_map(|n| g.inventory.solution(&res.environment, n))
        .filter(|o| o.managed && !o.unique_name.eq_ignore_ascii_case(&first.unique_name))
        .collect();
    others.sort_by_key(|o| o.unique_name.to_ascii_lowercase());
    others.dedup_by_key(|o| o.unique_name.to_ascii_lowercase());
    let all: Vec<_> = std::iter::once(first).chain(others).collect();
    let partners: Vec<_> = all
        .iter()
        .copied()
        .filter(|s| !opts.first_party.microsoft_managed(s))
        .collect();
    if partners.is_empty() { all } else { partners }
}

/// One managed solution's reading: its successful imports walked from the
/// newest.
fn reading_of(
    g: &AttributionGraph,
    sol: &crate::inventory::Solution,
    f: &mut Finding,
) -> SolutionReading {
    let imports = match &sol.imports {
        Fact::Known(i) => i,
        Fact::Unknown(why) => {
            f.flags.push(Flag::ImporterUnknown);
            f.reasons.push(text!(
                "the import history of managed solution {} could not be read ({why}), so who imported it last is unknown",
                sol.unique_name
            ));
            return SolutionReading::Undecided;
        }
    };
    // From the newest time: imports at one instant are one step, since
    // which of them came last cannot be told (and the API's order must not
    // decide).
    for same_time in newest_first(imports) {
        let at = same_time[0].at.to_rfc3339();
        let mut linked: Vec<(&PrincipalId, &PartnerId)> = Vec::new();
        for import in same_time {
            match &import.importer {
                Fact::Unknown(why) => {
                    f.flags.push(Flag::ImporterUnknown);
                    f.reasons.push(text!(
                        "managed solution {} was imported at {at} by an account that could not be read ({why}): the solution reading is undecided; the import job's creator would settle it",
                        sol.unique_name
                    ));
                    return SolutionReading::Undecided;
                }
                Fact::Known(p) if g.undecided_link(p).is_some() => {
                    f.flags.push(Flag::ConflictingLinks);
                    f.reasons.push(text!(
                        "managed solution {} was imported at {at} by {}, whose link is undecided (conflicting evidence): the solution reading is undecided; `pal-audit attest` run as that identity would settle it",
                        sol.unique_name,
                        g.name_of(p)
                    ));
                    return SolutionReading::Undecided;
                }
                Fact::Known(p) => match g.effective_link(p) {
                    None => {
                        f.flags.push(Flag::ImportedByUnlinkedAccount);
                        f.reasons.push(text!(
                            "managed solution {} was imported at {at} by {}, who is not linked to a partner; an older import by a linked account decides, if any",
                            sol.unique_name,
                            g.name_of(p)
                        ));
                    }
                    Some(eff) => linked.push((p, &eff.link.partner_id)),
                },
            }
        }
        linked.sort();
        linked.dedup();
        let Some(&(importer, partner)) = linked.first() else {
            continue;
        };
        if linked.iter().any(|(_, other)| *other != partner) {
            f.reasons.push(text!(
                "managed solution {} was imported at the same time, {at}, by accounts linked to different partners ({}): which import came last cannot be told, so the solution reading is undecided",
                sol.unique_name,
                linked
                    .iter()
                    .map(|(p, partner)| format!("{} (partner {partner})", g.name_of(p)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            return SolutionReading::Undecided;
        }
        f.reasons.push(text!(
            "managed solution {} was last imported by a linked account at {at}: {} (partner {})",
            sol.unique_name,
            g.name_of(importer),
            partner
        ));
        return SolutionReading::Partner {
            partner: partner.clone(),
            importer: importer.clone(),
            solution: sol.unique_name.clone(),
        };
    }
    if !imports.is_empty() {
        f.reasons.push(text!(
            "no linked account imported managed solution {}: the solution gives no reading",
            sol.unique_name
        ));
    }
    SolutionReading::None
}

/// The importers the solution reading weighs: from the newest import to the
/// first linked importer, inclusive (older ones never decide).
fn walked_importers<'a>(
    g: &AttributionGraph<'a>,
    res: &Resource,
    opts: &Options,
) -> Vec<&'a PrincipalId> {
    let mut out = Vec::new();
    for sol in weighed_solutions(g, res, opts) {
        let Fact::Known(imports) = &sol.imports else {
            continue;
        };
        'walk: for same_time in newest_first(imports) {
            let mut decides = false;
            for import in same_time {
                let Fact::Known(p) = &import.importer else {
                    break 'walk;
                };
                out.push(p);
                decides |= g.effective_link(p).is_some() || g.undecided_link(p).is_some();
            }
            if decides {
                break;
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `imports` (oldest first) as groups of one instant, newest group first,
/// each group in a fixed order (unreadable importers first, then by id), so
/// the API's order shows in no flag or reason.
fn newest_first(imports: &[Import]) -> impl Iterator<Item = Vec<&Import>> {
    imports.chunk_by(|a, b| a.at == b.at).rev().map(|group| {
        let mut group: Vec<&Import> = group.iter().collect();
        group.sort_by(|a, b| match (&a.importer, &b.importer) {
            (Fact::Unknown(x), Fact::Unknown(y)) => x.cmp(y),
            (Fact::Unknown(_), Fact::Known(_)) => std::cmp::Ordering::Less,
            (Fact::Known(_), Fact::Unknown(_)) => std::cmp::Ordering::Greater,
            (Fact::Known(x), Fact::Known(y)) => x.cmp(y),
        });
        group
    })
}

/// A canvas app or flow with a solution reading: agreement decides; an
/// undecided solution reading or a disagreement is `unknown` (the rule
/// book's two statements disagree on this resource: choice).
fn both_readings(g: &AttributionGraph, res: &Resource, f: &mut Finding, reading: &SolutionReading) {
    match reading {
        SolutionReading::None => {}
        SolutionReading::Undecided => make_unknown(f),
        SolutionReading::Partner {
            partner,
            importer,
            solution,
        } => {
            if res.kind == ResourceKind::ModelDrivenApp {
                return;
            }
            let product = match f.verdict {
                Verdict::Credited | Verdict::CreditedToOther => f.credited_partner_id.clone(),
                _ => None,
            };
            if product.as_ref() == Some(partner) {
                f.reasons.push(text!(
                    "the solution reading agrees: {}, the last linked importer of {solution}, is linked to partner {partner}",
                    g.name_of(importer)
                ));
                return;
            }
            let who = if matches!(
                res.kind,
                ResourceKind::CloudFlow | ResourceKind::DesktopFlow
            ) {
                "its creator"
            } else {
                "its owner and co-owners"
            };
            f.flags.push(Flag::OwnerChangedSinceImport);
            f.reasons.push(text!(
                "the two readings disagree: the solution reading gives partner {partner} ({} last imported {solution} with a PAL link), the product reading gives {} ({who}); the rule book's statements disagree on this resource, so pal-audit does not choose (choice)",
                g.name_of(importer),
                product.map_or_else(|| "no partner".to_string(), |p| format!("partner {p}"))
            ));
            make_unknown(f);
        }
    }
}

/// Turns a decided verdict into `unknown`, saying so.
fn make_unknown(f: &mut Finding) {
    if f.verdict != Verdict::Unknown {
        f.reasons.push(text!(
            "so the verdict is unknown, not {}: a fact that could change it is missing or contradicted",
            f.verdict.as_str()
        ));
        f.verdict = Verdict::Unknown;
        f.credited_partner_id = None;
        f.decided_by = None;
        f.decided_by_source = None;
    }
}

/// Facts a failed read would have given (attribution-rules.md, "credit
/// needs evidence"): where one of them could change the verdict, the
/// verdict is `unknown` and the reason names the failed read and what
/// would settle it.
fn unread(g: &AttributionGraph, res: &Resource, opts: &Options, f: &mut Finding) {
    let mut unsettled = false;
    // Who decides this finding, for links that could be theirs.
    let deciders = deciders(g, res, opts, f);
    for u in &g.inventory.unread {
        if u.environment
            .as_ref()
            .is_some_and(|e| e != &res.environment)
            || u.resource.as_ref().is_some_and(|r| r != &res.id)
        {
            continue;
        }
        match &u.fact {
            UnreadFact::SolutionMembership { solution } => {
                let component = matches!(
                    res.kind,
                    ResourceKind::CanvasApp
                        | ResourceKind::ModelDrivenApp
                        | ResourceKind::CloudFlow
                        | ResourceKind::DesktopFlow
                );
                if !component || managed_solution(g, res).is_some() {
                    continue;
                }
                unsettled = true;
                f.reasons.push(text!(
                    "whether {} is in {} could not be read ({}); the last linked importer of a managed solution would decide instead: settle it by letting the audit read the environment's Dataverse solutions",
                    kind_words(res.kind),
                    solution.as_deref().map_or_else(
                        || "a managed solution".to_string(),
                        |s| format!("managed solution {s}")
                    ),
                    u.why
                ));
            }
            UnreadFact::Stamps => {
                // Stamps decide only between several partners.
                if f.decided_by != Some(DecidedBy::ResourceStamps)
                    && !f.flags.contains(&Flag::ActivityUnknown)
                {
                    continue;
                }
                unsettled = f.decided_by == Some(DecidedBy::ResourceStamps) || unsettled;
                f.reasons.push(text!(
                    "the resource's created and updated stamps were not read ({}): the latest partner by activity cannot be told",
                    u.why
                ));
            }
            // Read by the rules that weigh activity (dataset, instance).
            UnreadFact::Activity { .. } => {}
            UnreadFact::LinkPrincipal { reference, upn } => {
                let named: Vec<&Link> = g
                    .links
                    .iter()
                    .filter(|l| match &l.principal {
                        PrincipalRef::Upn(x) => *upn && x.eq_ignore_ascii_case(reference),
                        PrincipalRef::Id(x) => !*upn && x.as_str().eq_ignore_ascii_case(reference),
                    })
                    .collect();
                if named.is_empty() {
                    continue;
                }
                // Could the link be the link of a principal that decides?
                // Only if what would tell them apart (their UPN, their
                // application id) is unknown.
                let unnamed = |id: &PrincipalId| {
                    let p = g.principal(id);
                    let kind = p.map_or(PrincipalType::Unknown, |p| p.principal_type);
                    if *upn {
                        kind != PrincipalType::ServicePrincipal && p.is_none_or(|p| p.upn.is_none())
                    } else {
                        kind != PrincipalType::User && p.is_none_or(|p| p.app_id.is_none())
                    }
                };
                let could_be = could_be_theirs(g, &deciders, &named, unnamed);
                if could_be.is_empty() {
                    continue;
                }
                unsettled = true;
                f.flags.push(Flag::LinkUnresolved);
                f.reasons.push(text!(
                    "the link of {reference} could not be resolved ({}); it could be the link of {}, which would change the verdict: settle it by letting Graph resolve it (User.Read.All, Application.Read.All) or by naming the object id in the links file",
                    u.why,
                    could_be.join(", ")
                ));
            }
        }
    }
    // A links-file UPN that several objects share was resolved to none of
    // them: if one of them decides here, which is linked cannot be told.
    for (upn, ids) in g.ambiguous_links() {
        let named: Vec<&Link> = g
            .links
            .iter()
            .filter(|l| matches!(&l.principal, PrincipalRef::Upn(x) if x.eq_ignore_ascii_case(upn)))
            .collect();
        let could_be = could_be_theirs(g, &deciders, &named, |id| ids.contains(id));
        if could_be.is_empty() {
            continue;
        }
        unsettled = true;
        f.flags.push(Flag::LinkUnresolved);
        f.reasons.push(text!(
            "the links file names {upn}, which {} objects share ({}); it could be the link of {}, which would change the verdict: name the object id in the links file",
            ids.len(),
            ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            could_be.join(", ")
        ));
    }
    if unsettled {
        make_unknown(f);
    }
}

/// The principals whose link decides a finding, each described: its
/// attributed users; the importers the solution reading walks; an
/// instance's role holders (groups expanded) when its activity was not
/// read; and the members of an uncredited canvas app's co-owner groups,
/// one of whom linked makes it unknown (group-co-owner). Groups themselves
/// are never linked identities.
fn deciders(
    g: &AttributionGraph,
    res: &Resource,
    opts: &Options,
    f: &Finding,
) -> Vec<(PrincipalId, String)> {
    let mut out: Vec<(PrincipalId, String)> = f
        .attributed
        .iter()
        .map(|a| (a.principal_id.clone(), a.describe()))
        .collect();
    out.extend(walked_importers(g, res, opts).into_iter().map(|p| {
        (
            p.clone(),
            format!("{} (importer of its managed solution)", g.name_of(p)),
        )
    }));
    let roles = match &res.roles {
        Fact::Known(roles) => roles.as_slice(),
        Fact::Unknown(_) => &[],
    };
    let expanded =
        |r: &crate::inventory::RoleAssignment, what: &str| -> Vec<(PrincipalId, String)> {
            if r.principal_type != PrincipalType::Group {
                return vec![(
                    r.principal.clone(),
                    format!("{} ({what})", g.name_of(&r.principal)),
                )];
            }
            match g.members_of(&r.principal) {
                Some(Fact::Known(members)) => members
                    .iter()
                    .map(|m| {
                        (
                            m.clone(),
                            format!(
                                "{} ({what}, through group {})",
                                g.name_of(m),
                                g.name_of(&r.principal)
                            ),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            }
        };
    if res.kind == ResourceKind::Instance
        && activity_unread(g, res, Product::CustomerInsights).is_some()
    {
        for r in roles {
            out.extend(expanded(r, "role holder"));
        }
    }
    if res.kind == ResourceKind::CanvasApp && f.verdict == Verdict::Uncredited {
        for r in roles
            .iter()
            .filter(|r| r.role == Role::CoOwner && r.principal_type == PrincipalType::Group)
        {
            out.extend(expanded(r, "co-owner"));
        }
    }
    // Nested groups and other non-people a group expands to hold no link.
    out.retain(|(id, _)| {
        !matches!(
            g.principal(id).map(|p| p.principal_type),
            Some(PrincipalType::Group | PrincipalType::Tenant)
        )
    });
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// Which of `deciders` the links `named` could belong to (`could`): none
/// when those links are all `Deleted` attestations and the principal has no
/// link for them to take away.
fn could_be_theirs(
    g: &AttributionGraph,
    deciders: &[(PrincipalId, String)],
    named: &[&Link],
    could: impl Fn(&PrincipalId) -> bool,
) -> Vec<String> {
    let only_deleted = named.iter().all(|l| !l.active);
    deciders
        .iter()
        .filter(|(id, _)| {
            could(id)
                && (!only_deleted
                    || g.effective_link(id).is_some()
                    || g.undecided_link(id).is_some())
        })
        .map(|(_, described)| described.clone())
        .collect()
}

fn kind_words(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::CanvasApp => "the canvas app",
        ResourceKind::ModelDrivenApp => "the model-driven app",
        ResourceKind::CloudFlow => "the flow",
        ResourceKind::DesktopFlow => "the desktop flow",
        ResourceKind::Dataset => "the dataset",
        ResourceKind::Instance => "the instance",
    }
}

/// An activity signal: who did what when.
#[derive(Clone, Debug)]
struct Signal {
    principal: PrincipalId,
    at: DateTime<Utc>,
    what: String,
    /// The audit events' source; `None` for a stamp.
    source: Option<ActivitySource>,
}

enum Decision {
    /// No attributed user is linked.
    None,
    Partner {
        partner: PartnerId,
        principal: PrincipalId,
        by: DecidedBy,
        /// The deciding signal, when activity decided.
        latest: Option<Signal>,
    },
    Undecided {
        partners: BTreeSet<PartnerId>,
        no_activity: bool,
    },
    /// An attributed user's link is undecided, and how it settles would
    /// change the decision.
    LinkUndecided,
}

/// The latest-partner rule: with one candidate partner it decides alone;
/// with several, the first signal set (strongest first) in which a linked
/// attributed user has a signal decides by the latest one; a tie or no
/// signal at all is undecided. An attributed user whose link is undecided
/// (attribution-rules.md, "Links", rule 3) leaves the decision standing only
/// when every way its link could settle gives the same decision.
fn decide(
    g: &AttributionGraph,
    attributed: &[(PrincipalId, AttributedRole)],
    signal_sets: &[(DecidedBy, Vec<Signal>)],
) -> Decision {
    let undecided: Vec<(&PrincipalId, &[Option<PartnerId>])> = attributed
        .iter()
        .filter_map(|(p, _)| g.undecided_link(p).map(|ways| (p, ways)))
        .collect();
    if undecided.is_empty() {
        return decide_as(g, attributed, signal_sets, &[]);
    }
    // Every combination of ways, unless there are too many to try.
    let Some(count) = undecided
        .iter()
        .try_fold(1usize, |n, (_, ways)| n.checked_mul(ways.len()))
        .filter(|n| *n <= 64)
    else {
        return Decision::LinkUndecided;
    };
    let key = |d: &Decision| match d {
        Decision::None => (0, None),
        Decision::Partner { partner, .. } => (1, Some(partner.clone())),
        Decision::Undecided { .. } => (2, None),
        Decision::LinkUndecided => (3, None),
    };
    // A decision by a principal whose own link is undecided cannot be credited.
    let settled = |d: &Decision| match d {
        Decision::Partner { principal, .. } => g.effective_link(principal).is_some(),
        _ => true,
    };
    let mut agreed: Option<Decision> = None;
    let mut assumed = Vec::with_capacity(undecided.len());
    for combination in 0..count {
        let mut k = combination;
        assumed.clear();
        for (p, ways) in &undecided {
            assumed.push((*p, ways[k % ways.len()].clone()));
            k /= ways.len();
        }
        let d = decide_as(g, attributed, signal_sets, &assumed);
        match &mut agreed {
            Some(a) if key(a) != key(&d) => return Decision::LinkUndecided,
            Some(Decision::Undecided { partners, .. }) => {
                if let Decision::Undecided { partners: more, .. } = d {
                    partners.extend(more);
                }
            }
            Some(a) if !settled(a) => *a = d,
            Some(_) => {}
            None => agreed = Some(d),
        }
    }
    match agreed {
        Some(d) if settled(&d) => d,
        _ => Decision::LinkUndecided,
    }
}

/// A link's strength as `link_strength` gives it: lower is stronger.
type Strength = (u8, u8);

/// `decide`, with the links of some principals assumed (a partner, or none).
fn decide_as(
    g: &AttributionGraph,
    attributed: &[(PrincipalId, AttributedRole)],
    signal_sets: &[(DecidedBy, Vec<Signal>)],
    assumed: &[(&PrincipalId, Option<PartnerId>)],
) -> Decision {
    let mut by_partner: BTreeMap<PartnerId, Vec<(PrincipalId, Strength)>> = BTreeMap::new();
    for (p, _) in attributed {
        // An assumed link is the weakest: a principal with a settled link of
        // the same partner is named before it.
        let link = match assumed.iter().find(|(a, _)| *a == p) {
            Some((_, way)) => way.clone().map(|partner| (partner, (2, 2))),
            None => g
                .effective_link(p)
                .map(|e| (e.link.partner_id.clone(), link_strength(&e))),
        };
        if let Some((partner, strength)) = link {
            by_partner
                .entry(partner)
                .or_default()
                .push((p.clone(), strength));
        }
    }
    match by_partner.len() {
        0 => Decision::None,
        1 => {
            let (partner, mut principals) = by_partner.into_iter().next().expect("one partner");
            principals.sort_by_key(|(id, strength)| (*strength, id.clone()));
            Decision::Partner {
                partner,
                principal: principals.swap_remove(0).0,
                by: DecidedBy::SinglePartner,
                latest: None,
            }
        }
        _ => {
            let partners: BTreeSet<PartnerId> = by_partner.keys().cloned().collect();
            let partner_of = |p: &PrincipalId| {
                by_partner
                    .iter()
                    .find(|(_, ps)| ps.iter().any(|(x, _)| x == p))
                    .map(|(partner, _)| partner.clone())
            };
            for (by, signals) in signal_sets {
                let mut relevant: Vec<(&Signal, PartnerId)> = signals
                    .iter()
                    .filter_map(|s| partner_of(&s.principal).map(|p| (s, p)))
                    .collect();
                let Some(at) = relevant.iter().map(|(s, _)| s.at).max() else {
                    continue;
                };
                relevant.retain(|(s, _)| s.at == at);
                let winners: BTreeSet<&PartnerId> = relevant.iter().map(|(_, p)| p).collect();
                if winners.len() > 1 {
                    return Decision::Undecided {
                        partners,
                        no_activity: false,
                    };
                }
                relevant
                    .sort_by(|a, b| (&a.0.principal, &a.0.what).cmp(&(&b.0.principal, &b.0.what)));
                let (signal, partner) = relevant.swap_remove(0);
                return Decision::Partner {
                    partner,
                    principal: signal.principal.clone(),
                    by: *by,
                    latest: Some(signal.clone()),
                };
            }
            Decision::Undecided {
                partners,
                no_activity: true,
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
        .map(|a| a.role);
    let source = match eff.link.source {
        LinkSource::Attested => "attested",
        LinkSource::Declared => "declared",
    };
    // The sentence follows from the principal's link, its role and whether
    // the partner is ours: the key holds the last two.
    let variant = role.map_or(0, |r| r as u16 + 1) << 1 | u16::from(ours);
    f.reasons
        .push(super::text::about("credit", principal, variant, || {
            text!(
                "{} ({}) is linked to {} partner {partner} ({source} in {})",
                g.name_of(principal),
                role.map_or("attributed user", AttributedRole::words),
                if ours { "our" } else { "another" },
                eff.link.origin
            )
        }));
    // The link-quality flags speak of how safe *our* credit is; on another
    // partner's credit they would only be noise.
    if !ours {
        return;
    }
    if eff.kind == LinkKind::User {
        f.flags.push(Flag::UserAccountLink);
        f.reasons.push(text!(
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
        f.reasons.push(text!(
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
        if let Some(ways) = g.undecided_link(p) {
            f.flags.push(Flag::ConflictingLinks);
            f.reasons.push(undecided(g, p, ways));
        } else if g.effective_link(p).is_some_and(|e| e.conflicting) {
            let partners: BTreeSet<&str> = g.links_of(p).map(|l| l.partner_id.as_str()).collect();
            f.flags.push(Flag::ConflictingLinks);
            f.reasons.push(text!(
                "{} has links to several partner IDs ({}); the newest link counts",
                g.name_of(p),
                partners.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
}

/// Why a principal's link is undecided, and what would settle it.
fn undecided(
    g: &AttributionGraph,
    principal: &PrincipalId,
    ways: &[Option<PartnerId>],
) -> super::Text {
    let name = g.name_of(principal);
    text!(
        "the link evidence of {name} does not settle which partner it is linked to ({}): its newest evidence disagrees, or a links-file row naming another partner has no linked_at date; no ordering of partner IDs decides. Settle it by running `pal-audit attest` as {name}, or by giving each of its links-file rows a linked_at date",
        ways.iter()
            .map(|w| w.as_ref().map_or_else(
                || "no link (a Deleted attestation)".to_string(),
                |p| format!("partner {p}")
            ))
            .collect::<Vec<_>>()
            .join(" or ")
    )
}

fn orphans(g: &AttributionGraph, attributed: &[(PrincipalId, AttributedRole)], f: &mut Finding) {
    for (p, _) in attributed {
        let Some(principal) = g.principal(p) else {
            continue;
        };
        let state = if principal.deleted {
            "deleted"
        } else if principal.enabled == Some(false) {
            "disabled"
        } else {
            continue;
        };
        f.flags.push(Flag::OrphanedOwner);
        f.reasons.push(text!(
            "the attributed user {} is {state}: its usage, and the credit, will fade",
            g.name_of(p)
        ));
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
                // Sorted: Graph's member order must not show in the reason.
                let linked: Vec<String> = members
                    .iter()
                    .filter_map(|m| {
                        let partner = match g.effective_link(m) {
                            Some(e) => format!("partner {}", e.link.partner_id),
                            None if g.undecided_link(m).is_some() => "link undecided".into(),
                            None => return None,
                        };
                        Some(format!("{} ({partner})", g.name_of(m)))
                    })
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                if !linked.is_empty() {
                    blocked = true;
                    f.flags.push(Flag::GroupCoOwner);
                    f.reasons.push(text!(
                        "co-owner group {} contains linked principals {}; a group is not an attributed user, so only a direct co-owner would count",
                        g.name_of(group),
                        linked.join(", ")
                    ));
                }
            }
            Some(Fact::Unknown(why)) => {
                blocked = true;
                f.reasons.push(text!(
                    "co-owner group {} could not be expanded ({why}); a linked member would count only as a direct co-owner",
                    g.name_of(group)
                ));
            }
            None => {
                blocked = true;
                f.reasons.push(text!(
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
                principal_name: g.display_name_text(p),
                role: *role,
                partner_id: eff.as_ref().map(|e| e.link.partner_id.clone()),
                link_source: eff.as_ref().map(|e| e.link.source),
                link_undecided: g.undecided_link(p).is_some(),
            }
        })
        .collect()
}

fn names(g: &AttributionGraph, attributed: &[(PrincipalId, AttributedRole)]) -> String {
    attributed
        .iter()
        .map(|(p, r)| format!("{} as {}", g.name_of(p), r.words()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
