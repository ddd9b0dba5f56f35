//! `pal-audit fix`: from a report, the steps that make the PAL identity the
//! attributed user: a script to review and run (pwsh or bash), or the same
//! steps through the APIs (`--apply`, in pal-client), each guarded and
//! checked by a re-read. The plan and the scripts are here; the writes are
//! pal-client's. The plan is one function deciding, per finding, a step, a
//! manual instruction or why nothing is written: its length is its cases.

use std::path::Path;

use serde_json::{Value, json};

use crate::attribution::{AttributedRole, Finding, Flag, InvolvementRole, Verdict};
use crate::error::InputError;
use crate::inventory::{PrincipalId, ResourceKind};
use crate::links::{LinkKind, LinkSource, is_guid};
use crate::report::Report;

mod script;
#[cfg(test)]
mod tests;

pub use script::{Shell, script};
use script::{clean, label};

/// What one step changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `modifyPermissions`: the PAL identity becomes a co-owner (`CanEdit`),
    /// the owner unchanged. The default for a canvas app.
    CanvasCoOwner {
        /// The app's environment id, encoded as one URL segment.
        environment: String,
        /// The app's id, encoded as one URL segment.
        app: String,
    },
    /// `modifyAppOwner`, the old owner kept as co-owner (`CanEdit`): only
    /// with `--take-ownership`.
    CanvasOwner {
        /// The app's environment id, encoded as one URL segment.
        environment: String,
        /// The app's id, encoded as one URL segment.
        app: String,
    },
    /// `Default.TakeOver`, run as the PAL identity.
    TakeOver {
        /// The dataset's workspace id, encoded as one URL segment.
        workspace: String,
        /// The dataset's id, encoded as one URL segment.
        dataset: String,
    },
    /// A role on the Customer Insights instance.
    InstanceRole {
        /// The instance's id, encoded as one URL segment.
        instance: String,
    },
}

/// Who a step must run signed in as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SignIn {
    /// An administrator of the tenant (Power Platform administrator; for an
    /// instance, its administrator with the API key).
    Admin,
    /// The PAL identity itself: the call makes its caller the publisher.
    Identity,
}

impl Action {
    /// Who must be signed in to run it: the PAL identity for a take-over,
    /// an administrator for the rest.
    pub fn sign_in(&self) -> SignIn {
        match self {
            Action::TakeOver { .. } => SignIn::Identity,
            _ => SignIn::Admin,
        }
    }
}

/// One write the plan makes, for one finding.
#[derive(Clone, Debug)]
pub struct Step {
    /// The finding it fixes, as the report gives it.
    pub finding: Finding,
    /// The write.
    pub action: Action,
}

/// A finding no API call can fix, and what to do instead; or one whose fix
/// the evidence shows done already.
#[derive(Clone, Debug)]
pub struct Manual {
    /// The finding, as the report gives it.
    pub finding: Finding,
    /// What to do by hand, or why nothing is to be done, in words.
    pub what: String,
}

/// The PAL identity the fixes make the attributed user.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Its object id.
    pub id: PrincipalId,
    /// Its UPN or display name as the report's links give it; `None` when
    /// they give none.
    pub name: Option<String>,
    /// Its link's kind: a service principal is written to as one.
    pub kind: LinkKind,
}

/// What the user names as delivered by the partner, and how far to go.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// `--solution`: resources in these solutions count as delivered.
    pub solutions: Vec<String>,
    /// `--resource`: these resources (id or name) count as delivered.
    pub resources: Vec<String>,
    /// `--environment`: only resources in these environments (id or name)
    /// are planned.
    pub environments: Vec<String>,
    /// `--take-ownership`: change a canvas app's owner instead of adding a
    /// co-owner.
    pub take_ownership: bool,
}

impl PlanOptions {
    fn in_scope(&self, f: &Finding) -> bool {
        self.environments.is_empty()
            || self.environments.iter().any(|e| {
                e.eq_ignore_ascii_case(f.environment_id.as_str())
                    || e.eq_ignore_ascii_case(&f.environment_name)
            })
    }

    /// Named with `--resource`: the user's explicit choice.
    fn named(&self, f: &Finding) -> bool {
        self.resources.iter().any(|r| {
            r.eq_ignore_ascii_case(f.resource_id.as_str())
                || r.eq_ignore_ascii_case(&f.resource_name)
        })
    }

    /// In a managed solution named with `--solution`: an unmanaged one
    /// says nothing about who delivered it.
    fn in_solution(&self, f: &Finding) -> bool {
        f.solution_managed == Some(true)
            && f.solution
                .as_deref()
                .is_some_and(|s| self.solutions.iter().any(|n| n.eq_ignore_ascii_case(s)))
    }

    fn selected(&self, f: &Finding) -> bool {
        self.named(f) || self.in_solution(f)
    }

    /// Every `--environment`, `--solution` and `--resource` value names
    /// something in the report, a `--solution` a managed solution, and a
    /// resource's name exactly one resource (in the chosen environments): a
    /// value that matches nothing would be silently ignored, and a name
    /// shared by resources would write to all of them.
    pub fn check(&self, report: &Report) -> Result<(), String> {
        let all = &report.findings;
        for e in &self.environments {
            if !all.iter().any(|f| {
                e.eq_ignore_ascii_case(f.environment_id.as_str())
                    || e.eq_ignore_ascii_case(&f.environment_name)
            }) {
                return Err(format!(
                    "--environment {e:?} names no environment of the report (give its id or name)"
                ));
            }
        }
        for n in &self.solutions {
            let in_it: Vec<&Finding> = all
                .iter()
                .filter(|f| {
                    f.solution
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case(n))
                })
                .collect();
            if in_it.is_empty() {
                return Err(format!("--solution {n:?} names no solution of the report"));
            }
            if !in_it.iter().any(|f| f.solution_managed == Some(true)) {
                return Err(format!(
                    "--solution {n:?} is not a managed solution: an unmanaged one says nothing about who delivered its components; select them with --resource"
                ));
            }
        }
        for r in &self.resources {
            let scoped = all.iter().filter(|f| self.in_scope(f));
            if scoped
                .clone()
                .any(|f| r.eq_ignore_ascii_case(f.resource_id.as_str()))
            {
                continue;
            }
            let by_name: Vec<&Finding> = scoped
                .filter(|f| r.eq_ignore_ascii_case(&f.resource_name))
                .collect();
            match by_name.len() {
                1 => {}
                0 => {
                    return Err(format!(
                        "--resource {r:?} names no resource of the report{} (give its id or name)",
                        if self.environments.is_empty() {
                            ""
                        } else {
                            " in the chosen environments"
                        }
                    ));
                }
                _ => {
                    let list: Vec<String> = by_name
                        .iter()
                        .map(|f| format!("  {} [{}]", clean(&label(f)), f.resource_id))
                        .collect();
                    return Err(format!(
                        "--resource {r:?} names {} resources; give the id of the one meant, or narrow with --environment:\n{}",
                        by_name.len(),
                        list.join("\n")
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What `fix` does for a report: the writes it can make, and every other
/// finding in scope not credited to us, sorted by why it gets no write.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The PAL identity the steps make the attributed user.
    pub identity: Identity,
    /// Writes, admin steps first, then the identity's own.
    pub steps: Vec<Step>,
    /// Findings no write of the plan fixes, with what to do by hand.
    pub manual: Vec<Manual>,
    /// Nothing to write: the evidence shows it done.
    pub done: Vec<Manual>,
    /// Resources none of our identities took part in, and not selected:
    /// never written to.
    pub not_delivered: Vec<Finding>,
    /// `unknown` findings none of our identities is known to have taken
    /// part in: the evidence was unread or undecided, so whether we
    /// delivered is not known either. Never written to; decided first.
    pub decide_first: Vec<Finding>,
    /// What the plan could not know, said to the user.
    pub notes: Vec<String>,
}

pub use crate::attribution::NOT_DELIVERED;

/// How an undecided resource with no known involvement is listed.
pub const DECIDE_FIRST: &str =
    "decide first: unread or undecided evidence, so not known whether this partner delivered it";

/// Reads a report file; errors name the file and the JSON path.
pub fn read_report(path: &Path) -> Result<Report, InputError> {
    let name = path.display().to_string();
    let text = crate::input::read_text(path, crate::input::MAX_REPORT)?;
    parse_report(&name, &text)
}

/// Parses a report's text; errors name `name` and the line or JSON path.
pub fn parse_report(name: &str, text: &str) -> Result<Report, InputError> {
    let report: Report = crate::input::parse_json(name, text)?;
    if report.schema != crate::report::SCHEMA {
        return Err(InputError::new(
            format!("{name}: $.schema"),
            format!("{:?} is not {:?}", report.schema, crate::report::SCHEMA),
        ));
    }
    Ok(report)
}

/// Refuses a report for `fix` whose tenant id is no GUID, or whose ids that
/// go into a URL or a script are not the services' format: a hand-edited
/// report could otherwise put text of its choice into them. Errors name
/// `name` and the JSON path.
pub fn check_ids(report: &Report, name: &str) -> Result<(), InputError> {
    // `is_service_id` trims: a strict id has nothing to trim.
    let strict = |s: &str| s == s.trim() && crate::endpoints::is_service_id(s);
    let bad = |path: String, what: &str, value: &str| {
        InputError::new(
            format!("{name}: {path}"),
            format!("{value:?} is not {what}"),
        )
    };
    if !is_guid(&report.tenant_id) {
        return Err(bad(
            "$.tenant_id".into(),
            "a tenant id (GUID)",
            &report.tenant_id,
        ));
    }
    for (i, f) in report.findings.iter().enumerate() {
        if !is_guid(f.resource_id.as_str()) {
            return Err(bad(
                format!("$.findings[{i}].resource_id"),
                "a resource id (GUID)",
                f.resource_id.as_str(),
            ));
        }
        // An instance's "environment" is no id (`customer-insights`, or
        // the environment it is bound to): it goes into no URL or command.
        if f.kind != ResourceKind::Instance && !strict(f.environment_id.as_str()) {
            return Err(bad(
                format!("$.findings[{i}].environment_id"),
                "an environment or workspace id (GUID, or Default-GUID)",
                f.environment_id.as_str(),
            ));
        }
    }
    Ok(())
}

/// `--as`: an object id or a UPN of a link to the report's partner; without
/// it, the best identity linked to the report's partner (attested, then not
/// a person's account). Only a link says the principal is ours and what
/// kind it is (a service principal is written to as one): a principal with
/// no link to our partner is refused.
pub fn identity(report: &Report, as_principal: Option<&str>) -> Result<Identity, String> {
    let mut ours = report
        .links
        .iter()
        .filter(|l| l.partner_id == report.partner_id && is_guid(&l.principal_id));
    let found = match as_principal {
        Some(p) if is_guid(p) => ours.find(|l| l.principal_id.eq_ignore_ascii_case(p)),
        Some(upn) => ours.find(|l| {
            l.principal_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(upn))
        }),
        None => ours.min_by_key(|l| {
            (
                l.source != LinkSource::Attested,
                l.principal_kind == LinkKind::User,
                l.principal_id.clone(),
            )
        }),
    };
    found
        .map(|l| Identity {
            id: PrincipalId::new(&l.principal_id),
            name: l.principal_name.clone(),
            kind: l.principal_kind,
        })
        .ok_or_else(|| match as_principal {
            Some(p) => format!(
                "--as {p:?}: no link of the report to partner {} names it: give the object id or UPN of an identity linked to partner {} (link it first: `pal-audit attest --link {}` run as it)",
                report.partner_id, report.partner_id, report.partner_id
            ),
            None => format!(
                "the report names no identity linked to partner {}: give one with --as OBJECT-ID",
                report.partner_id
            ),
        })
}

/// Refuses a report written with `--redact`: its names are pseudonyms, so
/// a plan from it would name nobody real. Reports from before the marker
/// are recognised by their links' names, all pseudonyms.
pub fn refuse_redacted(report: &Report, name: &str) -> Result<(), String> {
    let pseudonym = |n: &str| {
        n.len() == 10 && n.starts_with("p-") && n[2..].bytes().all(|b| b.is_ascii_hexdigit())
    };
    let names: Vec<&str> = report
        .links
        .iter()
        .filter_map(|l| l.principal_name.as_deref())
        .collect();
    if report.redacted || (!names.is_empty() && names.iter().all(|n| pseudonym(n))) {
        return Err(format!(
            "{name} is a redacted report (--redact): its names are pseudonyms, so no fix can be planned from it; audit again without --redact"
        ));
    }
    Ok(())
}

/// The steps for every finding that is not credited to us, where our
/// partner delivered (its involvement, or the user's `--solution` and
/// `--resource`), never more than needed and nothing already done.
pub fn plan(report: &Report, identity: Identity, opts: &PlanOptions) -> Plan {
    let mut steps = Vec::new();
    let mut manual = Vec::new();
    let mut done = Vec::new();
    let mut not_delivered = Vec::new();
    let mut decide_first = Vec::new();
    let mut notes = Vec::new();
    let who = identity
        .name
        .clone()
        .unwrap_or_else(|| identity.id.to_string());
    let id = &identity.id;
    // What each --solution selected, said; and a warning where the evidence
    // names another partner's importer of it: naming it ours does not make
    // the import ours.
    for n in &opts.solutions {
        let matched: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| {
                opts.in_scope(f)
                    && opts.in_solution(f)
                    && f.solution
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case(n))
            })
            .collect();
        let list: Vec<String> = matched
            .iter()
            .map(|f| {
                format!(
                    "{} ({}, {})",
                    clean(&f.resource_name),
                    f.kind.as_str(),
                    clean(&f.environment_name)
                )
            })
            .collect();
        notes.push(format!(
            "--solution {}: {} resource(s) of managed solution: {}",
            clean(n),
            matched.len(),
            list.join(", ")
        ));
        let others: Vec<String> = matched
            .iter()
            .flat_map(|f| f.attributed.iter())
            .filter(|a| {
                a.role == AttributedRole::Importer
                    && a.partner_id
                        .as_ref()
                        .is_some_and(|p| p != &report.partner_id)
            })
            .map(|a| {
                format!(
                    "{} (partner {})",
                    clean(
                        a.principal_name
                            .as_deref()
                            .unwrap_or(a.principal_id.as_str())
                    ),
                    a.partner_id
                        .as_ref()
                        .map(|p| p.as_str())
                        .unwrap_or_default()
                )
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !others.is_empty() {
            notes.push(format!(
                "WARNING: --solution {}: the evidence names another partner's importer of it: {}; check that your partner delivered it",
                clean(n),
                others.join(", ")
            ));
        }
    }
    if report.findings.iter().any(|f| f.involvement.is_none()) {
        notes.push(
            "the report does not say which resources this partner took part in (it was written by an older pal-audit): only the resources selected with --solution or --resource are fixed; audit again for a full plan".to_string(),
        );
    }
    for f in report
        .findings
        .iter()
        .filter(|f| f.verdict != Verdict::Credited && opts.in_scope(f))
    {
        // Missing involvement (an older report) is no involvement.
        let involved = f.involvement.as_deref().unwrap_or_default();
        // A role alone is no delivery (the audit identity holds one on
        // every instance); it still tells a role assignment done.
        // Credited to another ID of our organisation: delivered by us, and
        // no role change helps; the deciding identity needs re-linking.
        if f.flags.contains(&Flag::LinkedToOtherIdOfOurs) {
            manual.push(Manual {
                finding: f.clone(),
                what: format!(
                    "the deciding link names another ID of your organisation, not {p}: re-link that identity to {p} (`pal-audit attest --link {p}` run as it, or `az managementpartner update --partner-id {p}`), then audit again",
                    p = report.partner_id
                ),
            });
            continue;
        }
        // A platform-made component is no partner's delivery, whoever
        // took part in it.
        let first_party = f.first_party();
        if (first_party || !crate::attribution::delivered(involved)) && !opts.selected(f) {
            if f.verdict == Verdict::Unknown {
                decide_first.push(f.clone());
            } else {
                not_delivered.push(f.clone());
            }
            continue;
        }
        let has = |role: InvolvementRole| involved.iter().any(|i| i.is_direct(id, role));
        let latest =
            |role: InvolvementRole| involved.iter().any(|i| i.is_direct(id, role) && i.latest);
        // Nothing is proposed that the evidence shows done, whatever the
        // verdict: the write would change nothing.
        let direct = has(InvolvementRole::Owner) || has(InvolvementRole::CoOwner);
        let done_already = match f.kind {
            ResourceKind::CanvasApp if opts.take_ownership && has(InvolvementRole::Owner) => {
                Some(format!("{who} already owns the app: nothing to change"))
            }
            ResourceKind::CanvasApp if direct && !opts.take_ownership => Some(format!(
                "{who} already owns or co-owns the app directly: nothing to add"
            )),
            ResourceKind::Dataset if latest(InvolvementRole::Publisher) => Some(format!(
                "{who} published the dataset last: nothing to take over"
            )),
            ResourceKind::CloudFlow | ResourceKind::DesktopFlow | ResourceKind::ModelDrivenApp
                if f.solution_managed == Some(true) && latest(InvolvementRole::Importer) =>
            {
                Some(format!(
                    "{who} imported managed solution {} last: nothing to re-import",
                    f.solution.as_deref().unwrap_or_default()
                ))
            }
            _ => None,
        };
        let unknown = f.verdict == Verdict::Unknown && !f.flags.contains(&Flag::GroupCoOwner);
        if let Some(what) = done_already {
            let other_partner = f.attributed.iter().any(|a| {
                a.partner_id
                    .as_ref()
                    .is_some_and(|p| p != &report.partner_id)
            });
            let what = if other_partner {
                format!(
                    "{what}; another partner's user is attributed too: the latest activity decides, so work on it (publish, modify, use it) as {who}"
                )
            } else if unknown || f.verdict != Verdict::Uncredited {
                format!("{what}; the verdict follows other evidence: read its reasons")
            } else {
                what
            };
            done.push(Manual {
                finding: f.clone(),
                what,
            });
            continue;
        }
        if unknown {
            manual.push(Manual {
                finding: f.clone(),
                what: "the verdict is unknown: read its reasons and fix what could not be read, then audit again".into(),
            });
            continue;
        }
        // Another partner's attributed user stays a candidate after the change
        // (a canvas app keeps its old owner; an instance keeps its role
        // holders): the latest activity decides, which no call can make.
        let others: Vec<String> = f
            .attributed
            .iter()
            .filter(|a| {
                a.partner_id
                    .as_ref()
                    .is_some_and(|p| p != &report.partner_id)
            })
            .map(|a| {
                format!(
                    "{} (partner {})",
                    a.principal_name
                        .as_deref()
                        .unwrap_or(a.principal_id.as_str()),
                    a.partner_id
                        .as_ref()
                        .map(|p| p.as_str())
                        .unwrap_or_default()
                )
            })
            .collect();
        let push = |list: &mut Vec<Manual>, what: String| {
            list.push(Manual {
                finding: f.clone(),
                what,
            })
        };
        // Ids come from a report file: encoded, they stay one URL segment
        // and cannot break out of the scripts' quotes.
        let seg = |id: &dyn std::fmt::Display| crate::endpoints::seg(&id.to_string());
        let sp = identity.kind == LinkKind::ServicePrincipal;
        match f.kind {
            // A take-over moves the dataset's data-source credentials and
            // gateway binding to the caller, which can break the customer's
            // scheduled refresh; with another partner in play it also takes
            // their work over. Only when the user names the dataset.
            ResourceKind::Dataset if !others.is_empty() && !opts.named(f) => push(
                &mut manual,
                format!(
                    "{} also attributed: the latest publish decides between partners. Republish the dataset as {who}; or name it (--resource {}) to take it over as {who}: a take-over also moves its data-source credentials and gateway binding to {who}, which can break its scheduled refresh",
                    others.join(", "),
                    f.resource_id
                ),
            ),
            ResourceKind::CanvasApp | ResourceKind::Instance if !others.is_empty() => {
                let (add, use_it) = match (f.kind, direct || has(InvolvementRole::RoleHolder)) {
                    (ResourceKind::CanvasApp, true) => (
                        format!("{who} already owns or co-owns it directly"),
                        format!(
                            "publish or modify the app as {who} so it shows the latest activity"
                        ),
                    ),
                    (ResourceKind::CanvasApp, false) => (
                        format!("add {who} as a co-owner (CanEdit)"),
                        format!("then publish the app as {who} so it shows the latest activity"),
                    ),
                    (_, true) => (
                        format!("{who} already holds a role"),
                        format!("use the instance as {who} so it is the latest active user"),
                    ),
                    (_, false) => (
                        format!("give {who} a role on the instance"),
                        format!("then use the instance as {who} so it is the latest active user"),
                    ),
                };
                push(
                    &mut manual,
                    format!(
                        "{} also attributed: the latest activity decides between partners. {add}; {use_it}.",
                        others.join(", ")
                    ),
                );
            }
            // The tooling tables: no GUI or PowerShell path, and never
            // `-PrincipalType User`, for a service principal.
            ResourceKind::CanvasApp if sp => push(
                &mut manual,
                format!(
                    "add the service principal {who} as a co-owner (CanEdit) with the Power Platform CLI or build tools only (`pac`, signed in to environment {}); a service principal cannot be made a co-owner from the GUI or PowerShell",
                    f.environment_id
                ),
            ),
            ResourceKind::CanvasApp => {
                let (environment, app) = (seg(&f.environment_id), seg(&f.resource_id));
                steps.push(Step {
                    finding: f.clone(),
                    action: if opts.take_ownership {
                        Action::CanvasOwner { environment, app }
                    } else {
                        Action::CanvasCoOwner { environment, app }
                    },
                });
            }
            ResourceKind::Dataset => steps.push(Step {
                finding: f.clone(),
                action: Action::TakeOver {
                    workspace: seg(&f.environment_id),
                    dataset: seg(&f.resource_id),
                },
            }),
            ResourceKind::Instance if has(InvolvementRole::RoleHolder) => push(
                &mut done,
                format!(
                    "{who} already holds a role on the instance: nothing to add; use the instance as {who} so it is an active user"
                ),
            ),
            ResourceKind::Instance => steps.push(Step {
                finding: f.clone(),
                action: Action::InstanceRole {
                    instance: seg(&f.resource_id),
                },
            }),
            // Re-importing is for components of a managed solution only.
            ResourceKind::CloudFlow | ResourceKind::DesktopFlow | ResourceKind::ModelDrivenApp
                if f.solution_managed == Some(true) =>
            {
                push(
                    &mut manual,
                    format!(
                        "re-import its managed solution {} signed in as {who}: `pac auth create` as {who}, then `pac solution import --path <solution>.zip --environment {}` (no GUI or PowerShell path changes {})",
                        f.solution.as_deref().unwrap_or_default(),
                        f.environment_id,
                        if f.kind == ResourceKind::CloudFlow {
                            "a flow's creator"
                        } else if f.kind == ResourceKind::DesktopFlow {
                            "a desktop flow's creator"
                        } else {
                            "a model-driven app's owner"
                        }
                    ),
                )
            }
            ResourceKind::CloudFlow => push(
                &mut manual,
                format!(
                    "a flow's creator cannot change and this flow is in no managed solution: re-create it signed in as {who}"
                ),
            ),
            ResourceKind::DesktopFlow => push(
                &mut manual,
                format!(
                    "a desktop flow's creator cannot change, no API re-creates it, and it is in no managed solution: re-create it in Power Automate for desktop signed in as {who}"
                ),
            ),
            ResourceKind::ModelDrivenApp => push(
                &mut manual,
                format!(
                    "the app is in no managed solution, so its creator decides and cannot change: re-create it signed in as {who}, or ship it in a managed solution imported as {who} (`pac solution import`)"
                ),
            ),
        }
    }
    // One group per sign-in: the admin's steps, then the identity's.
    steps.sort_by_key(|s| s.action.sign_in());
    Plan {
        identity,
        steps,
        manual,
        done,
        not_delivered,
        decide_first,
        notes,
    }
}

/// The body of `modifyPermissions` that makes `id` a co-owner (`CanEdit`)
/// of a canvas app, without mail, removing nobody (docs/api-reference-notes.md).
pub fn co_owner_body(id: &str) -> Value {
    json!({
        "put": [{"properties": {
            "principal": {"id": id, "type": "User"},
            "roleName": "CanEdit",
            "NotifyShareTargetOption": "DoNotNotify",
        }}],
        "delete": [],
    })
}

/// What happened to one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written, and the re-read after shows the change.
    Changed,
    /// The read before showed it done: nothing written.
    AlreadyDone,
    /// Not shown done, and why: refused before writing (signed in as the
    /// wrong tenant or identity), a call failed, or the re-read does not
    /// show the change.
    Failed(String),
}
