//! Fixes: the rules' fix table made concrete with the resource's ids and our
//! PAL identity, for every finding that is not credited to us.

use super::graph::AttributionGraph;
use super::text::{Fix, shared};
use super::{Finding, Flag, Options, Verdict};
use crate::inventory::{Resource, ResourceKind};
use crate::links::LinkKind;

pub fn fix_for(g: &AttributionGraph, res: &Resource, f: &Finding, opts: &Options) -> Option<Fix> {
    match f.verdict {
        Verdict::Credited => return None,
        Verdict::CreditedToOther | Verdict::Uncredited => {}
        // Unknown means "read more first", except where the rules name the fix.
        Verdict::Unknown if f.flags.contains(&Flag::GroupCoOwner) => {}
        Verdict::Unknown if f.reasons.iter().any(|r| r.contains("activity undecided")) => {
            return Some(Fix::new(shared(format_args!(
                "Several partners' users are attributed and no activity decides between them: work on the resource (publish, modify, use it) as your PAL identity so it has the latest activity, or ask the customer to remove the other partner's role; then audit again."
            ))));
        }
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
    // Written straight into the fix's text: "name (object id)".
    let name = Fix::value(g.name_of(id));
    let who = format_args!("{name} ({id})");
    // URLs and cmdlets take the environment name as the API spells it.
    let env = Fix::value(
        g.environment(&res.environment)
            .map_or(res.environment.as_str(), |e| e.name.as_str()),
    );
    let app = Fix::APP;
    let text = match res.kind {
        // Canvas fixes name the app: the sentence is shared, the id put in
        // when it is shown.
        ResourceKind::CanvasApp if f.flags.contains(&Flag::GroupCoOwner) => {
            return Some(Fix::for_app(
                &res.id,
                format_args!(
                    "Add {who} as a direct co-owner (CanEdit) of the app, not only through a group: share the app with it as co-owner in Power Apps, or `Set-AdminPowerAppRoleAssignment -EnvironmentName {env} -AppName {app} -PrincipalType User -PrincipalObjectId {id} -RoleName CanEdit`."
                ),
            ));
        }
        ResourceKind::CanvasApp if kind == LinkKind::ServicePrincipal => shared(format_args!(
            "Make {who} the owner with the Power Platform CLI or build tools (a service principal cannot be made owner from the GUI or PowerShell): `pac canvas` / solution import as the service principal into environment {env}, keeping the current owner as co-owner."
        )),
        ResourceKind::CanvasApp => {
            return Some(Fix::for_app(
                &res.id,
                format_args!(
                    "Make {who} the owner, keeping the current owner as co-owner: POST https://api.powerapps.com/providers/Microsoft.PowerApps/scopes/admin/environments/{env}/apps/{app}/modifyAppOwner?api-version=2016-11-01 with {{\"newAppOwner\":\"{id}\",\"roleForOldAppOwner\":\"CanEdit\"}} (or `Set-AdminPowerAppOwner -EnvironmentName {env} -AppName {app} -AppOwner {id}`)."
                ),
            ));
        }
        ResourceKind::CloudFlow => shared(format_args!(
            "A flow's creator cannot change: re-create the flow as {who}, or import it inside a managed solution with {who}. Changing owners (`Set-AdminFlowOwnerRole`) does not move credit."
        )),
        ResourceKind::ModelDrivenApp => shared(format_args!(
            "Re-import the managed solution as {who} (`pac solution import` or build tools); there is no GUI or PowerShell path."
        )),
        ResourceKind::Dataset => shared(format_args!(
            "Republish the dataset as {who}, or take it over as {who} (`Default.TakeOver`)."
        )),
        ResourceKind::Instance => shared(format_args!(
            "Give {who} a role on the instance and use the instance as {who}."
        )),
    };
    Some(Fix::new(text))
}
