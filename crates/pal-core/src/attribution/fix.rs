//! Fixes: the rules' fix table made concrete with the resource's ids and our
//! PAL identity, for every finding that is not credited to us, and only where
//! our partner delivered (attribution-rules.md, "Fixes"): a customer's own
//! resource gets no fix, and nothing the evidence shows done is proposed.

use super::graph::AttributionGraph;
use super::text::{Fix, shared};
use super::{Finding, Flag, InvolvementRole, Options, Verdict};
use crate::inventory::{PrincipalId, Resource, ResourceKind};
use crate::links::LinkKind;

/// The fix of a resource none of our identities took part in.
pub const NOT_DELIVERED: &str = "no fix: not delivered by this partner";

pub fn fix_for(g: &AttributionGraph, res: &Resource, f: &Finding, opts: &Options) -> Option<Fix> {
    if f.first_party() && f.verdict != Verdict::Credited {
        return Some(Fix::new(shared(format_args!(
            "{NOT_DELIVERED}: platform-made (Microsoft's or the platform's own component), no partner's work"
        ))));
    }
    match f.verdict {
        Verdict::Credited => return None,
        Verdict::CreditedToOther | Verdict::Uncredited => {}
        // Unknown means "read more first", except where the rules name the fix.
        Verdict::Unknown if f.flags.contains(&Flag::GroupCoOwner) => {}
        Verdict::Unknown if f.reasons.iter().any(|r| r.contains("activity undecided")) => {}
        Verdict::Unknown if f.attributed.iter().any(|a| a.link_undecided) => {
            return Some(Fix::new(shared(format_args!(
                "Settle the undecided link first: run `pal-audit attest` as the identity named in the reasons (its live link is the newest evidence), or give each of its links-file rows a linked_at date; then audit again."
            ))));
        }
        Verdict::Unknown => {
            return Some(Fix::new(shared(format_args!(
                "No change can be planned while the verdict is unknown: fix what could not be read (see the reasons and the coverage section, or run `pal-audit doctor`), then audit again."
            ))));
        }
    }
    if f.flags.contains(&Flag::LinkedToOtherIdOfOurs) {
        let other = f.credited_partner_id.as_ref().map_or("", |p| p.as_str());
        return Some(Fix::new(shared(format_args!(
            "The deciding link names {other}, another ID of your organisation, not the associated ID {p}: re-link that identity to {p} (`pal-audit attest --link {p}` run as it, or `az managementpartner update --partner-id {p}`), then audit again.",
            p = opts.partner_id
        ))));
    }
    let ours = g.our_identities(&opts.partner_id);
    let (id, kind) = match ours.first() {
        Some((id, eff)) => (id, eff.kind),
        None => {
            return Some(Fix::new(shared(format_args!(
                "No identity is linked to partner {p}: link a dedicated service account first (run `pal-audit attest --link {p}` as it, or `az managementpartner create --partner-id {p}`), then re-run the audit.",
                p = opts.partner_id
            ))));
        }
    };
    let involved = f.involvement.as_deref().unwrap_or_default();
    if !super::involvement::delivered(involved) && f.verdict == Verdict::Unknown {
        // Undecided evidence cannot say the partner did not deliver it.
        return Some(Fix::new(shared(format_args!(
            "Decide first: none of your linked identities is known to take part in it, but the evidence is undecided: read the reasons, settle what is undecided, then audit again. If your partner delivered it, name its solution (`pal-audit fix --solution NAME`) or select it (`--resource ID`)."
        ))));
    }
    if !super::involvement::delivered(involved) {
        // Never add our identity to work the partner did not do.
        return Some(Fix::new(shared(format_args!(
            "{NOT_DELIVERED} (none of its linked identities owns, co-owns, created, imported, published or uses it). If it did deliver it, name its solution (`pal-audit fix --solution NAME`) or select it (`--resource ID`)."
        ))));
    }
    let has =
        |role: InvolvementRole, p: &PrincipalId| involved.iter().any(|i| i.is_direct(p, role));
    let latest = |role: InvolvementRole, p: &PrincipalId| {
        involved.iter().any(|i| i.is_direct(p, role) && i.latest)
    };
    // Written straight into the fix's text: "name (object id)".
    let name = Fix::value(g.name_of(id));
    let who = format_args!("{name} ({id})");
    // URLs and cmdlets take the environment name as the API spells it.
    let env = Fix::value(
        g.environment(&res.environment)
            .map_or(res.environment.as_str(), |e| e.name.as_str()),
    );
    let app = Fix::APP;
    let others = f
        .attributed
        .iter()
        .any(|a| a.partner_id.as_ref().is_some_and(|p| p != &opts.partner_id));
    let activity = if others {
        " Another partner's user is attributed too: the latest activity decides, so publish or modify the app as the identity afterwards."
    } else {
        ""
    };
    let solution = f.solution.as_deref().map(Fix::value);
    let managed = f.solution_managed == Some(true);
    let text = match res.kind {
        ResourceKind::CanvasApp
            if has(InvolvementRole::Owner, id) || has(InvolvementRole::CoOwner, id) =>
        {
            shared(format_args!(
                "Nothing to add: {who} already owns or co-owns the app directly. The latest activity decides between partners: publish or modify the app as {who}, then audit again."
            ))
        }
        // The tooling tables: a service principal becomes a co-owner only
        // through `pac` or build tools.
        ResourceKind::CanvasApp if kind == LinkKind::ServicePrincipal => shared(format_args!(
            "Add {who} as a co-owner (CanEdit) with the Power Platform CLI or build tools only (a service principal cannot be made a co-owner from the GUI or PowerShell), signed in to environment {env}.{activity}"
        )),
        // Canvas fixes name the app: the sentence is shared, the id put in
        // when it is shown.
        ResourceKind::CanvasApp => {
            let direct = if f.flags.contains(&Flag::GroupCoOwner) {
                " directly, not only through a group"
            } else {
                ""
            };
            return Some(Fix::for_app(
                &res.id,
                format_args!(
                    "Add {who} as a co-owner (CanEdit){direct}: enough for credit, the owner stays. POST https://api.powerapps.com/providers/Microsoft.PowerApps/scopes/admin/environments/{env}/apps/{app}/modifyPermissions?api-version=2016-11-01 with {{\"put\":[{{\"properties\":{{\"principal\":{{\"id\":\"{id}\",\"type\":\"User\"}},\"roleName\":\"CanEdit\",\"NotifyShareTargetOption\":\"DoNotNotify\"}}}}],\"delete\":[]}}, or `Set-AdminPowerAppRoleAssignment -EnvironmentName {env} -AppName {app} -PrincipalType User -PrincipalObjectId {id} -RoleName CanEdit -Notify DoNotNotify`, or share it with {name} as co-owner in Power Apps.{activity}"
                ),
            ));
        }
        ResourceKind::CloudFlow | ResourceKind::DesktopFlow | ResourceKind::ModelDrivenApp
            if managed && latest(InvolvementRole::Importer, id) =>
        {
            shared(format_args!(
                "Nothing to re-import: {who} imported managed solution {} last. Read the reasons for what else decides.",
                solution.as_deref().unwrap_or_default()
            ))
        }
        ResourceKind::CloudFlow if managed => shared(format_args!(
            "A flow's creator cannot change: re-import managed solution {} as {who} (`pac solution import` or build tools), or re-create the flow as {who}. Changing owners does not move credit.",
            solution.as_deref().unwrap_or_default()
        )),
        ResourceKind::CloudFlow => shared(format_args!(
            "A flow's creator cannot change and the flow is in no managed solution: re-create it as {who}. Changing owners does not move credit."
        )),
        // No API changes a desktop flow's creator or re-creates it: the
        // steps are a person's, in Power Automate for desktop.
        ResourceKind::DesktopFlow if managed => shared(format_args!(
            "A desktop flow's creator cannot change, and no API re-creates it: re-import managed solution {} as {who} (`pac solution import` or build tools), or re-create the desktop flow in Power Automate for desktop signed in as {who}. Changing owners does not move credit.",
            solution.as_deref().unwrap_or_default()
        )),
        ResourceKind::DesktopFlow => shared(format_args!(
            "A desktop flow's creator cannot change, no API re-creates it, and it is in no managed solution: re-create it in Power Automate for desktop signed in as {who}, or ship it in a managed solution imported as {who}. Changing owners does not move credit."
        )),
        ResourceKind::ModelDrivenApp if managed => shared(format_args!(
            "Re-import managed solution {} as {who} (`pac solution import` or build tools); there is no GUI or PowerShell path.",
            solution.as_deref().unwrap_or_default()
        )),
        ResourceKind::ModelDrivenApp => shared(format_args!(
            "The app is in no managed solution, so its creator decides and cannot change: re-create it as {who}, or ship it in a managed solution imported as {who} (`pac solution import`)."
        )),
        ResourceKind::Dataset if latest(InvolvementRole::Publisher, id) => shared(format_args!(
            "Nothing to do: {who} published the dataset last."
        )),
        ResourceKind::Dataset => shared(format_args!(
            "Republish the dataset as {who}, or take it over signed in as {who} (`Default.TakeOver` makes the caller the publisher)."
        )),
        ResourceKind::Instance if has(InvolvementRole::RoleHolder, id) => shared(format_args!(
            "Nothing to add: {who} already holds a role on the instance. Use the instance as {who} so it is the latest active user."
        )),
        ResourceKind::Instance => shared(format_args!(
            "Give {who} a role on the instance and use the instance as {who}."
        )),
    };
    Some(Fix::new(text))
}
