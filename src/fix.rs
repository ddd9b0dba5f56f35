//! `pal-audit fix`: from a report, the steps that make the PAL identity the
//! attributed user: a script to review and run (pwsh or bash), or the same
//! steps through the APIs (`--apply`), each guarded and checked by a re-read.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::attribution::{AttributedRole, Finding, Flag, InvolvementRole, Verdict};
use crate::auth::{Claims, Secret, Tokens};
use crate::error::InputError;
use crate::http::{Ctx, HttpClient, HttpError};
use crate::inventory::{PrincipalId, ResourceKind};
use crate::links::{LinkKind, LinkSource, is_guid};
use crate::report::Report;
use crate::sources::{customer_insights, powerapps, powerbi};

const POWERAPPS: &str =
    "https://api.powerapps.com/providers/Microsoft.PowerApps/scopes/admin/environments";
const POWERBI: &str = "https://api.powerbi.com/v1.0/myorg";
const CI: &str = "https://api.ci.ai.dynamics.com/v1";

/// What one step changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `modifyPermissions`: the PAL identity becomes a co-owner (`CanEdit`),
    /// the owner unchanged. The default for a canvas app.
    CanvasCoOwner { environment: String, app: String },
    /// `modifyAppOwner`, the old owner kept as co-owner (`CanEdit`): only
    /// with `--take-ownership`.
    CanvasOwner { environment: String, app: String },
    /// `Default.TakeOver`, run as the PAL identity.
    TakeOver { workspace: String, dataset: String },
    /// A role on the Customer Insights instance.
    InstanceRole { instance: String },
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
    pub fn sign_in(&self) -> SignIn {
        match self {
            Action::TakeOver { .. } => SignIn::Identity,
            _ => SignIn::Admin,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Step {
    pub finding: Finding,
    pub action: Action,
}

/// A finding no API call can fix, and what to do instead; or one whose fix
/// the evidence shows done already.
#[derive(Clone, Debug)]
pub struct Manual {
    pub finding: Finding,
    pub what: String,
}

/// The PAL identity the fixes make the attributed user.
#[derive(Clone, Debug)]
pub struct Identity {
    pub id: PrincipalId,
    pub name: Option<String>,
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

#[derive(Clone, Debug)]
pub struct Plan {
    pub identity: Identity,
    /// Writes, admin steps first, then the identity's own.
    pub steps: Vec<Step>,
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

/// How a resource no fix may touch is listed.
pub const NOT_DELIVERED: &str = "no fix: not delivered by this partner";

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
    let strict = |s: &str| s == s.trim() && crate::http::is_service_id(s);
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
        if !crate::attribution::delivered(involved) && !opts.selected(f) {
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
            ResourceKind::CloudFlow | ResourceKind::ModelDrivenApp
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
        let seg = |id: &dyn std::fmt::Display| crate::http::seg(&id.to_string());
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
            ResourceKind::CloudFlow | ResourceKind::ModelDrivenApp
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Pwsh,
    Bash,
}

fn label(f: &Finding) -> String {
    format!(
        "{} ({}, {}): {}",
        f.resource_name,
        f.kind.as_str(),
        f.environment_name,
        f.verdict.as_str()
    )
}

/// Characters that end a line or hide text on a terminal or in an editor:
/// C0/C1 controls (`\n`, `\r`, NUL, NEL), the Unicode line and paragraph
/// separators and the bidirectional overrides.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Tenant text with every unsafe character a space.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if unsafe_char(c) { ' ' } else { c })
        .collect()
}

/// Text that stays on its comment line.
fn comment(s: &str) -> String {
    clean(s)
}

/// A PowerShell single-quoted literal of `s`: PowerShell ends such a string
/// at `'` and at the typographic quotes U+2018-U+201B too, and reads any
/// of them doubled as one.
fn pwsh_lit(s: &str) -> String {
    let mut out = String::from("'");
    for c in clean(s).chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A bash single-quoted literal of `s`: nothing expands inside one, and a
/// `'` is closed, escaped and reopened.
fn bash_lit(s: &str) -> String {
    format!("'{}'", clean(s).replace('\'', r"'\''"))
}

/// A literal of `s` for `shell`: the only way tenant text enters code.
fn lit(shell: Shell, s: &str) -> String {
    match shell {
        Shell::Pwsh => pwsh_lit(s),
        Shell::Bash => bash_lit(s),
    }
}

/// The script text of one step (unindented). Tenant text enters it only as
/// a literal (`$what`, `$uri`) or a comment; every read that fails or
/// answers something else than expected counts the step as not fixed,
/// never as done.
fn step_text(step: &Step, shell: Shell, name: &str, principal_type: &str) -> String {
    let what = lit(shell, &step.finding.resource_name);
    let name = comment(name);
    let mut s = String::new();
    match &step.action {
        Action::CanvasCoOwner { environment, app } => {
            let _ = writeln!(
                s,
                "#   add {name} as a co-owner (CanEdit); the owner stays: POST modifyPermissions"
            );
            let uri = lit(shell, &format!("{POWERAPPS}/{environment}/apps/{app}"));
            let aud = lit(shell, powerapps::AUDIENCE);
            let _ = match shell {
                Shell::Pwsh => writeln!(
                    s,
                    r#"$what = {what}
$uri = {uri}
$res = {aud}
$has = {{
    $r = Invoke-Pal GET "${{uri}}/permissions?api-version=2016-11-01" $res
    if ($null -eq $r -or $r.value -isnot [array]) {{ throw 'the answer has no permission list' }}
    @($r.value | Where-Object {{ $_.properties.principal.id -eq $PalIdentity -and $_.properties.roleName -in 'CanEdit', 'Owner' }}).Count -gt 0
}}
try {{
    if (& $has) {{ Write-Host ('already done: ' + $what) }} else {{
        Invoke-Pal POST "${{uri}}/modifyPermissions?api-version=2016-11-01" $res @{{ put = @(@{{ properties = @{{ principal = @{{ id = $PalIdentity; type = 'User' }}; roleName = 'CanEdit'; NotifyShareTargetOption = 'DoNotNotify' }} }}); delete = @() }} | Out-Null
        if (& $has) {{ Write-Host ('ok: ' + $what) }} else {{ Write-Warning ('NOT FIXED: ' + $what + ': the co-owner role did not appear'); $failed++ }}
    }}
}} catch {{ Write-Warning ('NOT FIXED: ' + $what + ': ' + $_); $failed++ }}"#
                ),
                Shell::Bash => writeln!(
                    s,
                    r#"what={what}; uri={uri}; res={aud}
has() {{ api GET "$uri/permissions?api-version=2016-11-01" "$res" | jq -e --arg p "$PAL_IDENTITY" '.value | if type == "array" then . else error("no permission list") end | [.[] | select((.properties.principal.id | ascii_downcase) == ($p | ascii_downcase) and (.properties.roleName == "CanEdit" or .properties.roleName == "Owner"))] | length'; }}
if ! n=$(has) || ! is_count "$n"; then not_fixed "$what: reading its permissions failed"
elif [ "$n" -gt 0 ]; then say "already done: $what"
elif ! api POST "$uri/modifyPermissions?api-version=2016-11-01" "$res" "{{\"put\":[{{\"properties\":{{\"principal\":{{\"id\":\"$PAL_IDENTITY\",\"type\":\"User\"}},\"roleName\":\"CanEdit\",\"NotifyShareTargetOption\":\"DoNotNotify\"}}}}],\"delete\":[]}}" >/dev/null; then not_fixed "$what: the change was refused"
elif ! n=$(has) || ! is_count "$n"; then not_fixed "$what: the change was accepted, but reading it back failed: check it by hand"
elif [ "$n" -gt 0 ]; then say "ok: $what"
else not_fixed "$what: the co-owner role did not appear"
fi"#
                ),
            };
        }
        Action::CanvasOwner { environment, app } => {
            let _ = writeln!(
                s,
                "#   --take-ownership: make {name} the owner; the current owner stays a co-owner (CanEdit): POST modifyAppOwner"
            );
            let uri = lit(shell, &format!("{POWERAPPS}/{environment}/apps/{app}"));
            let aud = lit(shell, powerapps::AUDIENCE);
            let _ = match shell {
                Shell::Pwsh => writeln!(
                    s,
                    r#"$what = {what}
$uri = {uri}
$res = {aud}
$owner = {{
    $o = (Invoke-Pal GET "${{uri}}?api-version=2016-11-01" $res).properties.owner.id
    if ([string]::IsNullOrEmpty($o)) {{ throw 'the answer names no owner' }}
    $o
}}
try {{
    if ((& $owner) -eq $PalIdentity) {{ Write-Host ('already done: ' + $what) }} else {{
        Invoke-Pal POST "${{uri}}/modifyAppOwner?api-version=2016-11-01" $res @{{ newAppOwner = $PalIdentity; roleForOldAppOwner = 'CanEdit' }} | Out-Null
        if ((& $owner) -eq $PalIdentity) {{ Write-Host ('ok: ' + $what) }} else {{ Write-Warning ('NOT FIXED: ' + $what + ': the owner did not change'); $failed++ }}
    }}
}} catch {{ Write-Warning ('NOT FIXED: ' + $what + ': ' + $_); $failed++ }}"#
                ),
                Shell::Bash => writeln!(
                    s,
                    r#"what={what}; uri={uri}; res={aud}
owner() {{ api GET "$uri?api-version=2016-11-01" "$res" | jq -er '.properties.owner.id | if type == "string" and . != "" then ascii_downcase else error("no owner") end'; }}
if ! o=$(nonempty owner); then not_fixed "$what: reading its owner failed"
elif [ "$o" = "$PAL_IDENTITY" ]; then say "already done: $what"
elif ! api POST "$uri/modifyAppOwner?api-version=2016-11-01" "$res" "{{\"newAppOwner\":\"$PAL_IDENTITY\",\"roleForOldAppOwner\":\"CanEdit\"}}" >/dev/null; then not_fixed "$what: the change was refused"
elif ! o=$(nonempty owner); then not_fixed "$what: the change was accepted, but reading it back failed: check it by hand"
elif [ "$o" = "$PAL_IDENTITY" ]; then say "ok: $what"
else not_fixed "$what: the owner is still $o"
fi"#
                ),
            };
        }
        Action::TakeOver { workspace, dataset } => {
            let _ = writeln!(
                s,
                "#   take the dataset over as {name}: Default.TakeOver makes whoever calls it the publisher,\n#   and moves the dataset's data-source credentials and gateway binding to it"
            );
            let uri = lit(
                shell,
                &format!("{POWERBI}/groups/{workspace}/datasets/{dataset}"),
            );
            let aud = lit(shell, powerbi::AUDIENCE);
            let _ = match shell {
                Shell::Pwsh => writeln!(
                    s,
                    r#"$what = {what}
$uri = {uri}
$res = {aud}
$by = {{
    $d = Invoke-Pal GET $uri $res
    if ($null -eq $d -or $null -eq $d.id) {{ throw 'the answer is no dataset' }}
    [string]$d.configuredBy
}}
try {{
    $b = & $by
    if ($b -eq $PalName -or $b -eq $PalIdentity) {{ Write-Host ('already done: ' + $what) }} else {{
        Invoke-Pal POST "${{uri}}/Default.TakeOver" $res | Out-Null
        $b = & $by
        if ($b -eq $PalName -or $b -eq $PalIdentity) {{ Write-Host ('ok: ' + $what) }} else {{ Write-Warning ('NOT FIXED: ' + $what + ': configuredBy is ' + $b); $failed++ }}
    }}
}} catch {{ Write-Warning ('NOT FIXED: ' + $what + ': ' + $_); $failed++ }}"#
                ),
                Shell::Bash => writeln!(
                    s,
                    r#"what={what}; uri={uri}; res={aud}
by() {{ api GET "$uri" "$res" | jq -er 'if type == "object" and has("id") then "=" + (.configuredBy // "" | ascii_downcase) else error("not a dataset") end'; }}
if ! b=$(nonempty by); then not_fixed "$what: reading the dataset failed"
elif [ "$b" = "=${{PAL_NAME,,}}" ] || [ "$b" = "=$PAL_IDENTITY" ]; then say "already done: $what"
elif ! api POST "$uri/Default.TakeOver" "$res" >/dev/null; then not_fixed "$what: the take-over was refused"
elif ! b=$(nonempty by); then not_fixed "$what: the take-over was accepted, but reading it back failed: check it by hand"
elif [ "$b" = "=${{PAL_NAME,,}}" ] || [ "$b" = "=$PAL_IDENTITY" ]; then say "ok: $what"
else not_fixed "$what: configuredBy is ${{b#=}}"
fi"#
                ),
            };
        }
        Action::InstanceRole { instance } => {
            let _ = writeln!(
                s,
                "#   give {name} a Contributor role on the instance (needs PAL_AUDIT_CI_KEY), then use the instance as {name}:\n#   among several partners, the latest active one gets the credit."
            );
            let uri = lit(shell, &format!("{CI}/instances/{instance}/rbac"));
            let aud = lit(shell, customer_insights::DEFAULT_AUDIENCE);
            let _ = match shell {
                Shell::Pwsh => writeln!(
                    s,
                    r#"$what = {what}
$uri = {uri}
$res = {aud}
$key = @{{ 'Ocp-Apim-Subscription-Key' = $env:PAL_AUDIT_CI_KEY }}
$has = {{
    $r = Invoke-Pal GET "${{uri}}/assignments" $res -Headers $key
    if ($null -eq $r) {{ throw 'the answer has no assignment list' }}
    if ($null -ne $r.PSObject.Properties['value']) {{ $r = $r.value }}
    @($r | Where-Object {{ $_.principalId -eq $PalIdentity }}).Count -gt 0
}}
try {{
    if (& $has) {{ Write-Host ('already done: ' + $what) }} else {{
        Invoke-Pal PUT "${{uri}}/principals/${{PalIdentity}}/assign" $res @{{ principalId = $PalIdentity; principalType = '{principal_type}'; roles = @('Contributor') }} -Headers $key | Out-Null
        if (& $has) {{ Write-Host ('ok: ' + $what) }} else {{ Write-Warning ('NOT FIXED: ' + $what + ': the role did not appear'); $failed++ }}
    }}
}} catch {{ Write-Warning ('NOT FIXED: ' + $what + ': ' + $_); $failed++ }}"#
                ),
                Shell::Bash => writeln!(
                    s,
                    r#"what={what}; uri={uri}; res={aud}; key="Ocp-Apim-Subscription-Key: ${{PAL_AUDIT_CI_KEY:-}}"
has() {{ api GET "$uri/assignments" "$res" "" "$key" | jq -e --arg p "$PAL_IDENTITY" 'if type == "array" then . elif type == "object" and (.value | type) == "array" then .value else error("no assignment list") end | [.[] | select((.principalId | ascii_downcase) == $p)] | length'; }}
if ! n=$(has) || ! is_count "$n"; then not_fixed "$what: reading its role assignments failed"
elif [ "$n" -gt 0 ]; then say "already done: $what"
elif ! api PUT "$uri/principals/$PAL_IDENTITY/assign" "$res" "{{\"principalId\":\"$PAL_IDENTITY\",\"principalType\":\"{principal_type}\",\"roles\":[\"Contributor\"]}}" "$key" >/dev/null; then not_fixed "$what: the role assignment was refused"
elif ! n=$(has) || ! is_count "$n"; then not_fixed "$what: the change was accepted, but reading it back failed: check it by hand"
elif [ "$n" -gt 0 ]; then say "ok: $what"
else not_fixed "$what: the role did not appear"
fi"#
                ),
            };
        }
    }
    s
}

/// `text` with every line indented by `by`.
fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("{by}{l}\n")
            }
        })
        .collect()
}

/// A list of findings as comment lines: a heading, then each with its text.
fn comment_list(s: &mut String, heading: &str, items: &[(&Finding, Option<&str>)]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n# {}", comment(heading));
    for (f, what) in items {
        let _ = writeln!(
            s,
            "# - {} [{}]",
            comment(&label(f)),
            comment(f.resource_id.as_str())
        );
        if let Some(w) = what {
            let _ = writeln!(s, "#     {}", comment(w));
        }
    }
}

/// The plan as one script: its steps in one group per sign-in (the admin's,
/// then the PAL identity's), each group saying which sign-in it needs and
/// checking the token's tenant (and, for the identity's, its object id)
/// first; each step skipped when already done and followed by a re-read;
/// what is done already, what is manual and what is not ours listed as
/// comments.
pub fn script(plan: &Plan, report: &Report, shell: Shell) -> String {
    let id = plan.identity.id.as_str();
    let name = plan
        .identity
        .name
        .as_deref()
        .unwrap_or(plan.identity.id.as_str());
    let sp = plan.identity.kind == LinkKind::ServicePrincipal;
    let principal_type = if sp { "app" } else { "user" };
    let tenant = report.tenant_id.as_str();
    let mut s = String::new();
    let mut header = vec![
        format!(
            "pal-audit fix script: tenant {}, partner {}",
            comment(tenant),
            comment(report.partner_id.as_str())
        ),
        format!("PAL identity: {} ({})", comment(name), comment(id)),
        format!(
            "from the report generated at {}",
            report.generated_at.to_rfc3339()
        ),
        "Review every step before running it. Steps are grouped by the sign-in they need:".into(),
        "run the script signed in as the administrator (part admin), then signed in as the".into(),
        "PAL identity (part identity); with no argument both parts run, and a part whose".into(),
        "sign-in (tenant, or identity) is wrong is skipped. Each step is skipped when already"
            .into(),
        "done and re-reads the resource afterwards, so the script can be run again; a read".into(),
        "that fails counts the step as not fixed.".into(),
    ];
    header.extend(plan.notes.iter().map(|n| format!("NOTE: {}", comment(n))));
    match shell {
        Shell::Pwsh => {
            s.push_str("#Requires -Version 7\n");
            for h in header {
                let _ = writeln!(s, "# {h}");
            }
            let _ = writeln!(
                s,
                r#"param([ValidateSet('all', 'admin', 'identity')][string]$Part = 'all')
$ErrorActionPreference = 'Stop'
$PalIdentity = {id}
$PalName = {name}
$PalTenant = {tenant}
$failed = 0
function Get-PalToken([string]$Resource) {{
    $t = az account get-access-token --resource $Resource --query accessToken -o tsv
    if ($LASTEXITCODE -ne 0 -or [string]::IsNullOrEmpty($t)) {{ throw "no token for $Resource" }}
    $t
}}
function Get-PalClaims([string]$Resource) {{
    $p = (Get-PalToken $Resource).Split('.')[1].Replace('-', '+').Replace('_', '/')
    switch ($p.Length % 4) {{ 2 {{ $p += '==' }} 3 {{ $p += '=' }} }}
    [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($p)) | ConvertFrom-Json
}}
function Invoke-Pal([string]$Method, [string]$Uri, [string]$Resource, $Body = $null, [hashtable]$Headers = @{{}}) {{
    $h = @{{ Authorization = "Bearer $(Get-PalToken $Resource)" }} + $Headers
    if ($null -ne $Body) {{
        Invoke-RestMethod -Method $Method -Uri $Uri -Headers $h -ContentType 'application/json' -Body ($Body | ConvertTo-Json -Depth 8)
    }} else {{
        Invoke-RestMethod -Method $Method -Uri $Uri -Headers $h
    }}
}}"#,
                id = pwsh_lit(id),
                name = pwsh_lit(name),
                tenant = pwsh_lit(tenant),
            );
        }
        Shell::Bash => {
            s.push_str("#!/usr/bin/env bash\n");
            for h in header {
                let _ = writeln!(s, "# {h}");
            }
            let _ = writeln!(
                s,
                r#"# Usage: fix.sh [all|admin|identity]. Needs: az, curl, jq.
set -euo pipefail
PART="${{1:-all}}"
PAL_IDENTITY={id}
PAL_NAME={name}
PAL_TENANT={tenant}
failed=0
say() {{ printf '%s\n' "$1"; }}
not_fixed() {{ printf 'NOT FIXED: %s\n' "$1" >&2; failed=$((failed+1)); }}
is_count() {{ [[ "$1" =~ ^[0-9]+$ ]]; }}
nonempty() {{ # COMMAND...: its output, failing when it fails or prints nothing (jq 1.6 exits 0 on an empty answer)
  local r; r=$("$@") || return 1; [ -n "$r" ] || return 1; printf '%s' "$r"
}}
token() {{ az account get-access-token --resource "$1" --query accessToken -o tsv; }}
claim() {{ # CLAIM RESOURCE: one claim of the token of audience RESOURCE, lower case
  local t; t=$(token "$2") || return 1
  printf '%s' "$t" | jq -Rr --arg c "$1" 'split(".")[1] | gsub("-";"+") | gsub("_";"/") | . + ("==="[0:((4 - length % 4) % 4)]) | @base64d | fromjson | .[$c] // "" | ascii_downcase'
}}
api() {{ # METHOD URL RESOURCE [BODY] [EXTRA-HEADER]
  local t; t=$(token "$3") || return 1
  curl -sS --fail-with-body -X "$1" "$2" -H "Authorization: Bearer $t" \
    -H 'Content-Type: application/json' ${{5:+-H "$5"}} ${{4:+--data "$4"}}
}}"#,
                id = bash_lit(&id.to_ascii_lowercase()),
                name = bash_lit(name),
                tenant = bash_lit(&tenant.to_ascii_lowercase()),
            );
        }
    }
    let groups = [SignIn::Admin, SignIn::Identity];
    let mut n = 0;
    let total = plan.steps.len();
    for (g, sign_in) in groups.iter().enumerate() {
        let steps: Vec<&Step> = plan
            .steps
            .iter()
            .filter(|st| st.action.sign_in() == *sign_in)
            .collect();
        if steps.is_empty() {
            continue;
        }
        let count = steps.len();
        let (part, needs, login) = match sign_in {
            SignIn::Admin => (
                "admin",
                "an administrator: Power Platform administrator for canvas apps, the instance's administrator (and PAL_AUDIT_CI_KEY) for Customer Insights".to_string(),
                format!("az login --tenant {tenant}"),
            ),
            SignIn::Identity => (
                "identity",
                format!("the PAL identity {name} ({id}) itself, never an administrator"),
                if sp {
                    format!("az login --service-principal --username <application id of {name}> --tenant {tenant} (certificate or secret)")
                } else {
                    format!("az login --tenant {tenant} --username {name} --allow-no-subscriptions")
                },
            ),
        };
        let _ = writeln!(
            s,
            "\n# ===== Part {part} (group {}): {count} step(s) signed in as {}\n# Sign in first: {}",
            g + 1,
            comment(&needs),
            comment(&login)
        );
        let mut body = String::new();
        for step in steps {
            n += 1;
            let _ = writeln!(body, "\n# {n}/{total} {}", comment(&label(&step.finding)));
            body.push_str(&step_text(step, shell, name, principal_type));
        }
        // The audience whose token is checked: the group's first service.
        let aud = match sign_in {
            SignIn::Admin => powerapps::AUDIENCE,
            SignIn::Identity => powerbi::AUDIENCE,
        };
        match (shell, sign_in) {
            (Shell::Pwsh, SignIn::Admin) => {
                let _ = write!(
                    s,
                    "if ($Part -in 'all', 'admin') {{\n    $tid = $null\n    try {{ $tid = (Get-PalClaims {aud}).tid }} catch {{ }}\n    if ($tid -ne $PalTenant) {{\n        Write-Warning \"skipped {count} step(s): they must run signed in to tenant $PalTenant, not '$tid'\"\n        $failed += {count}\n    }} else {{\n{}    }}\n}}\n",
                    indent(&body, "        "),
                    aud = pwsh_lit(aud)
                );
            }
            (Shell::Pwsh, SignIn::Identity) => {
                let _ = write!(
                    s,
                    "if ($Part -in 'all', 'identity') {{\n    $c = $null\n    try {{ $c = Get-PalClaims {aud} }} catch {{ }}\n    if ($null -eq $c -or $c.tid -ne $PalTenant -or $c.oid -ne $PalIdentity) {{\n        Write-Warning \"skipped {count} step(s): they must run signed in as $PalName ($PalIdentity) in tenant $PalTenant, not '$($c.oid)' in '$($c.tid)'; sign in as it and run this script with -Part identity\"\n        $failed += {count}\n    }} else {{\n{}    }}\n}}\n",
                    indent(&body, "        "),
                    aud = pwsh_lit(aud)
                );
            }
            (Shell::Bash, SignIn::Admin) => {
                let _ = write!(
                    s,
                    "if [ \"$PART\" = all ] || [ \"$PART\" = admin ]; then\n  tid=$(claim tid {aud}) || tid=''\n  if [ \"$tid\" != \"$PAL_TENANT\" ]; then\n    printf 'skipped {count} step(s): they must run signed in to tenant %s, not \"%s\"\\n' \"$PAL_TENANT\" \"$tid\" >&2\n    failed=$((failed+{count}))\n  else\n{}  fi\nfi\n",
                    indent(&body, "    "),
                    aud = bash_lit(aud)
                );
            }
            (Shell::Bash, SignIn::Identity) => {
                let _ = write!(
                    s,
                    "if [ \"$PART\" = all ] || [ \"$PART\" = identity ]; then\n  tid=$(claim tid {aud}) || tid=''\n  me=$(claim oid {aud}) || me=''\n  if [ \"$tid\" != \"$PAL_TENANT\" ] || [ \"$me\" != \"$PAL_IDENTITY\" ]; then\n    printf 'skipped {count} step(s): they must run signed in as %s (%s) in tenant %s, not \"%s\" in \"%s\"; sign in as it and run: %s identity\\n' \"$PAL_NAME\" \"$PAL_IDENTITY\" \"$PAL_TENANT\" \"$me\" \"$tid\" \"$0\" >&2\n    failed=$((failed+{count}))\n  else\n{}  fi\nfi\n",
                    indent(&body, "    "),
                    aud = bash_lit(aud)
                );
            }
        }
    }
    let done: Vec<_> = plan
        .done
        .iter()
        .map(|m| (&m.finding, Some(m.what.as_str())))
        .collect();
    comment_list(&mut s, "Already done: nothing to write.", &done);
    let manual: Vec<_> = plan
        .manual
        .iter()
        .map(|m| (&m.finding, Some(m.what.as_str())))
        .collect();
    comment_list(&mut s, "Not automatable: do these by hand.", &manual);
    let undecided: Vec<_> = plan.decide_first.iter().map(|f| (f, None)).collect();
    comment_list(
        &mut s,
        &format!(
            "{DECIDE_FIRST} (read its reasons, fix what could not be read, audit again; never written to):"
        ),
        &undecided,
    );
    let ours_not: Vec<_> = plan.not_delivered.iter().map(|f| (f, None)).collect();
    comment_list(
        &mut s,
        &format!("{NOT_DELIVERED} (none of its linked identities took part; never written to):"),
        &ours_not,
    );
    let _ = match shell {
        Shell::Pwsh => writeln!(
            s,
            "\nif ($failed -gt 0) {{ Write-Warning \"$failed step(s) not fixed\"; exit 1 }}\nWrite-Host 'Done. Run the audit again to see the new verdicts.'"
        ),
        Shell::Bash => writeln!(
            s,
            "\nif [ \"$failed\" -gt 0 ]; then echo \"$failed step(s) not fixed\" >&2; exit 1; fi\necho 'Done. Run the audit again to see the new verdicts.'"
        ),
    };
    s
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
    Changed,
    AlreadyDone,
    Failed(String),
}

/// Applies every step through the APIs. A failed step stops that resource
/// only; the rest go on. A step whose token belongs to another tenant than
/// the report's (`tenant`) is refused: the same ids could name another
/// customer's resources.
pub async fn apply(
    http: &HttpClient,
    tokens: &Tokens,
    plan: &Plan,
    tenant: &str,
    ci_key: Option<&Secret>,
    ci_audience: &str,
) -> Vec<(Step, Outcome)> {
    let mut out = Vec::new();
    for step in &plan.steps {
        let audience = match step.action {
            Action::CanvasCoOwner { .. } | Action::CanvasOwner { .. } => powerapps::AUDIENCE,
            Action::TakeOver { .. } => powerbi::AUDIENCE,
            Action::InstanceRole { .. } => ci_audience,
        };
        // An opaque token (no claims to read) cannot be checked.
        let tid = match tokens.token(audience).await {
            Ok(t) => Claims::of(&t).and_then(|c| c.tid),
            Err(e) => {
                out.push((step.clone(), Outcome::Failed(e.to_string())));
                continue;
            }
        };
        if let Some(tid) = tid.filter(|t| !t.eq_ignore_ascii_case(tenant)) {
            out.push((
                step.clone(),
                Outcome::Failed(format!(
                    "signed in to tenant {tid}, not the report's tenant {tenant}"
                )),
            ));
            continue;
        }
        let outcome = match apply_one(http, tokens, plan, step, ci_key, ci_audience).await {
            Ok(o) => o,
            Err(e) => Outcome::Failed(e.to_string()),
        };
        out.push((step.clone(), outcome));
    }
    out
}

/// Sends one write and ignores its answer's body: the services answer 200
/// with none (`Default.TakeOver` declares no schema, `modifyAppOwner` is
/// void) or with one no specification describes. Only the status counts;
/// whether the write took effect is what the re-read after it shows.
async fn send_write(
    http: &HttpClient,
    ctx: &Ctx,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
) -> Result<(), HttpError> {
    let bytes = body.map(|b| serde_json::to_vec(b).expect("request bodies always serialize"));
    // Only a PUT (the role assignment) is safe to send again on a retry.
    let idempotent = method == reqwest::Method::PUT;
    http.send(ctx, method, url, bytes.as_deref(), idempotent)
        .await
        .map(|_| ())
}

/// The re-read after a write that was answered 2xx: its failure is said as
/// such, since the write may well have taken effect.
async fn reread<T: serde::de::DeserializeOwned + Send + 'static>(
    http: &HttpClient,
    ctx: &Ctx,
    url: &str,
) -> Result<T, Outcome> {
    http.get_json(ctx, url).await.map_err(|e| {
        Outcome::Failed(format!(
            "the change was accepted, but reading it back failed ({e}): check it by hand"
        ))
    })
}

/// A Customer Insights role-assignment list: the API has answered a bare
/// array and `{"value": [...]}` (the reader takes both); anything else is no
/// list, so nothing counts as already assigned.
fn assignment_list(v: &Value) -> &[Value] {
    v.as_array()
        .or_else(|| v["value"].as_array())
        .map_or(&[], Vec::as_slice)
}

async fn apply_one(
    http: &HttpClient,
    tokens: &Tokens,
    plan: &Plan,
    step: &Step,
    ci_key: Option<&Secret>,
    ci_audience: &str,
) -> Result<Outcome, HttpError> {
    let id = plan.identity.id.as_str();
    match &step.action {
        Action::CanvasCoOwner { environment, app } => {
            let ctx = Ctx::new(powerapps::SOURCE, powerapps::AUDIENCE);
            let uri = format!("{POWERAPPS}/{environment}/apps/{app}");
            let permissions = format!("{uri}/permissions?api-version=2016-11-01");
            // Owner or CanEdit: either already makes it a co-owner or more.
            let holds = |v: &Value| {
                v["value"].as_array().into_iter().flatten().any(|a| {
                    a["properties"]["principal"]["id"]
                        .as_str()
                        .is_some_and(|p| p.eq_ignore_ascii_case(id))
                        && matches!(
                            a["properties"]["roleName"].as_str(),
                            Some("CanEdit" | "Owner")
                        )
                })
            };
            let before: Value = http.get_json(&ctx, &permissions).await?;
            if holds(&before) {
                return Ok(Outcome::AlreadyDone);
            }
            let body = co_owner_body(id);
            send_write(
                http,
                &ctx,
                reqwest::Method::POST,
                &format!("{uri}/modifyPermissions?api-version=2016-11-01"),
                Some(&body),
            )
            .await?;
            let after: Value = match reread(http, &ctx, &permissions).await {
                Ok(v) => v,
                Err(o) => return Ok(o),
            };
            Ok(if holds(&after) {
                Outcome::Changed
            } else {
                Outcome::Failed("the co-owner role did not appear".into())
            })
        }
        Action::CanvasOwner { environment, app } => {
            let ctx = Ctx::new(powerapps::SOURCE, powerapps::AUDIENCE);
            let uri = format!("{POWERAPPS}/{environment}/apps/{app}");
            let read = format!("{uri}?api-version=2016-11-01");
            let owner = |v: &Value| {
                v["properties"]["owner"]["id"]
                    .as_str()
                    .map(str::to_ascii_lowercase)
            };
            let before: Value = http.get_json(&ctx, &read).await?;
            if owner(&before).as_deref() == Some(id) {
                return Ok(Outcome::AlreadyDone);
            }
            let body = json!({"newAppOwner": id, "roleForOldAppOwner": "CanEdit"});
            send_write(
                http,
                &ctx,
                reqwest::Method::POST,
                &format!("{uri}/modifyAppOwner?api-version=2016-11-01"),
                Some(&body),
            )
            .await?;
            let after: Value = match reread(http, &ctx, &read).await {
                Ok(v) => v,
                Err(o) => return Ok(o),
            };
            Ok(match owner(&after) {
                Some(o) if o == id => Outcome::Changed,
                o => Outcome::Failed(format!(
                    "the owner change was accepted, but the app's owner is still {}",
                    o.as_deref().unwrap_or("unnamed")
                )),
            })
        }
        Action::TakeOver { workspace, dataset } => {
            // Default.TakeOver makes the caller the publisher: it must be the PAL identity.
            let token = tokens.token(powerbi::AUDIENCE).await?;
            let caller = Claims::of(&token).and_then(|c| c.oid);
            if caller.as_deref() != Some(id) {
                return Ok(Outcome::Failed(format!(
                    "a take-over must run signed in as the PAL identity {id}; this run is signed in as {}",
                    caller.as_deref().unwrap_or("an unknown identity")
                )));
            }
            let ctx = Ctx::new(powerbi::SOURCE, powerbi::AUDIENCE);
            let uri = format!("{POWERBI}/groups/{workspace}/datasets/{dataset}");
            let want = plan.identity.name.as_deref().unwrap_or(id);
            let publisher = |v: &Value| {
                v["configuredBy"]
                    .as_str()
                    .is_some_and(|c| c.eq_ignore_ascii_case(want) || c.eq_ignore_ascii_case(id))
            };
            let before: Value = http.get_json(&ctx, &uri).await?;
            // Once `configuredBy` is the identity a take-over changes
            // nothing more: done, even if the report shows a later publish.
            if publisher(&before) {
                return Ok(Outcome::AlreadyDone);
            }
            // The operation takes no body.
            send_write(
                http,
                &ctx,
                reqwest::Method::POST,
                &format!("{uri}/Default.TakeOver"),
                None,
            )
            .await?;
            let after: Value = match reread(http, &ctx, &uri).await {
                Ok(v) => v,
                Err(o) => return Ok(o),
            };
            Ok(if publisher(&after) {
                Outcome::Changed
            } else {
                Outcome::Failed(format!(
                    "the take-over was accepted, but the dataset's configuredBy is still {}",
                    after["configuredBy"].as_str().unwrap_or("empty")
                ))
            })
        }
        Action::InstanceRole { instance } => {
            let Some(key) = ci_key else {
                return Ok(Outcome::Failed("PAL_AUDIT_CI_KEY is not set".into()));
            };
            let ctx = customer_insights::keyed_ctx(key, ci_audience)?;
            let uri = format!("{CI}/instances/{instance}/rbac");
            let holds = |v: &Value| {
                assignment_list(v).iter().any(|a| {
                    a["principalId"]
                        .as_str()
                        .is_some_and(|p| p.eq_ignore_ascii_case(id))
                })
            };
            let assignments = format!("{uri}/assignments");
            let before: Value = http.get_json(&ctx, &assignments).await?;
            if holds(&before) {
                return Ok(Outcome::AlreadyDone);
            }
            let kind = if plan.identity.kind == LinkKind::ServicePrincipal {
                "app"
            } else {
                "user"
            };
            let body = json!({"principalId": id, "principalType": kind, "roles": ["Contributor"]});
            send_write(
                http,
                &ctx,
                reqwest::Method::PUT,
                &format!("{uri}/principals/{id}/assign"),
                Some(&body),
            )
            .await?;
            let after: Value = match reread(http, &ctx, &assignments).await {
                Ok(v) => v,
                Err(o) => return Ok(o),
            };
            Ok(if holds(&after) {
                Outcome::Changed
            } else {
                Outcome::Failed(
                    "the role assignment was accepted, but it is not among the instance's assignments"
                        .into(),
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::Involvement;

    fn report() -> Report {
        let text = include_str!("../tests/snapshots/snapshots__json.snap");
        let json = text.splitn(3, "---").nth(2).unwrap();
        let mut v: Value = serde_json::from_str(json).unwrap();
        v["generated_at"] = json!("2026-11-20T00:00:00Z");
        v["tool_version"] = json!("0");
        serde_json::from_value(v).unwrap()
    }

    fn find<'a>(r: &'a mut Report, name: &str) -> &'a mut Finding {
        r.findings
            .iter_mut()
            .find(|f| &*f.resource_name == name)
            .unwrap()
    }

    fn names(fs: impl IntoIterator<Item = impl std::ops::Deref<Target = Finding>>) -> Vec<String> {
        let mut n: Vec<String> = fs
            .into_iter()
            .map(|f| f.resource_name.to_string())
            .collect();
        n.sort();
        n
    }

    fn plan_of(r: &Report, opts: &PlanOptions) -> Plan {
        plan(r, identity(r, None).unwrap(), opts)
    }

    /// Revenue, another partner's too, is taken over only when named; Web
    /// Analytics, where our identities only hold a role, is delivered only
    /// when named.
    const REVENUE: &str = "c0000000-0000-4000-8000-000000000004";
    const WEB_ANALYTICS: &str = "e1000000-0000-4000-8000-000000000004";

    fn named() -> PlanOptions {
        PlanOptions {
            resources: vec![REVENUE.into(), WEB_ANALYTICS.into()],
            ..Default::default()
        }
    }

    #[test]
    fn the_plan_writes_only_where_the_partner_delivered() {
        let r = report();
        let id = identity(&r, None).unwrap();
        assert_eq!(
            id.id.as_str(),
            "11111111-1111-4111-8111-000000000001",
            "the attested service account"
        );
        let p = plan(&r, id, &PlanOptions::default());
        let not_credited = r
            .findings
            .iter()
            .filter(|f| f.verdict != Verdict::Credited)
            .count();
        assert_eq!(
            p.steps.len()
                + p.manual.len()
                + p.done.len()
                + p.not_delivered.len()
                + p.decide_first.len(),
            not_credited
        );
        // The customer's own canvas app (our account may only view it), its
        // own dataset, another partner's dataset: never written to.
        let untouched = names(p.not_delivered.iter());
        for own in [
            "Visitor Badges",
            "Company Directory",
            "Headcount",
            "Pipeline",
        ] {
            assert!(untouched.contains(&own.to_string()), "{own}: {untouched:?}");
        }
        assert!(
            p.steps.iter().all(|s| s
                .finding
                .involvement
                .as_ref()
                .is_some_and(|i| !i.is_empty())),
            "a step for a resource we took no part in"
        );
        assert_eq!(
            names(p.steps.iter().map(|s| &s.finding)),
            ["Safety Checklist"]
        );
        // A role on an instance is no delivery: the audit identity holds
        // one on every instance it reads.
        for role_only in ["Web Analytics", "Service Insights"] {
            let f = r
                .findings
                .iter()
                .find(|f| &*f.resource_name == role_only)
                .unwrap();
            let inv = f.involvement.as_deref().unwrap();
            assert!(
                !inv.is_empty() && inv.iter().all(|i| i.role == InvolvementRole::RoleHolder),
                "{role_only}: {inv:?}"
            );
            assert!(
                untouched.contains(&role_only.to_string()),
                "{role_only}: {untouched:?}"
            );
        }
        assert!(p.notes.is_empty(), "{:?}", p.notes);
    }

    #[test]
    fn a_canvas_app_gets_a_co_owner_unless_ownership_is_asked_for() {
        let r = report();
        let co = plan_of(&r, &PlanOptions::default());
        let safety = |p: &Plan| {
            p.steps
                .iter()
                .find(|s| &*s.finding.resource_name == "Safety Checklist")
                .unwrap()
                .action
                .clone()
        };
        assert!(matches!(safety(&co), Action::CanvasCoOwner { .. }));
        assert!(
            co.steps
                .iter()
                .all(|s| !matches!(s.action, Action::CanvasOwner { .. }))
        );
        let own = plan_of(
            &r,
            &PlanOptions {
                take_ownership: true,
                ..Default::default()
            },
        );
        assert!(matches!(safety(&own), Action::CanvasOwner { .. }));
        for shell in [Shell::Pwsh, Shell::Bash] {
            let s = script(&co, &r, shell);
            assert!(
                s.contains("/modifyPermissions?api-version=2016-11-01"),
                "{shell:?}"
            );
            assert!(
                s.contains("CanEdit") && s.contains("DoNotNotify"),
                "{shell:?}"
            );
            assert!(!s.contains("modifyAppOwner"), "{shell:?}");
            let s = script(&own, &r, shell);
            assert!(
                s.contains("modifyAppOwner") && !s.contains("/modifyPermissions"),
                "{shell:?}"
            );
        }
        // The body the API is sent.
        assert_eq!(
            co_owner_body("x"),
            json!({"put":[{"properties":{"principal":{"id":"x","type":"User"},"roleName":"CanEdit","NotifyShareTargetOption":"DoNotNotify"}}],"delete":[]})
        );
    }

    #[test]
    fn a_service_principal_gets_no_api_powershell_or_gui_step_for_a_canvas_app() {
        let r = report();
        let mut id = identity(&r, None).unwrap();
        id.kind = LinkKind::ServicePrincipal;
        let p = plan(&r, id, &named());
        assert!(
            p.steps.iter().all(|s| !matches!(
                s.action,
                Action::CanvasCoOwner { .. } | Action::CanvasOwner { .. }
            )),
            "{:?}",
            p.steps
        );
        let safety = p
            .manual
            .iter()
            .find(|m| &*m.finding.resource_name == "Safety Checklist")
            .unwrap();
        assert!(
            safety
                .what
                .contains("Power Platform CLI or build tools only"),
            "{}",
            safety.what
        );
        for shell in [Shell::Pwsh, Shell::Bash] {
            let s = script(&p, &r, shell);
            assert!(!s.contains("-PrincipalType User"), "{shell:?}");
            assert!(!s.contains("Set-AdminPowerApp"), "{shell:?}");
            assert!(
                !s.contains("modifyPermissions") && !s.contains("modifyAppOwner"),
                "{shell:?}"
            );
            assert!(s.contains("az login --service-principal"), "{shell:?}");
        }
    }

    #[test]
    fn re_import_only_for_components_of_a_managed_solution() {
        let mut r = report();
        // Welcome email: in no solution; make it a managed solution's.
        let p = plan_of(&r, &PlanOptions::default());
        let welcome = |p: &Plan| {
            p.manual
                .iter()
                .find(|m| &*m.finding.resource_name == "Welcome email")
                .unwrap()
                .what
                .clone()
        };
        assert!(welcome(&p).contains("re-create it"), "{}", welcome(&p));
        assert!(!welcome(&p).contains("import"), "{}", welcome(&p));
        let f = find(&mut r, "Welcome email");
        f.solution = Some("NorthwindTools".into());
        f.solution_managed = Some(true);
        let p = plan_of(&r, &PlanOptions::default());
        assert!(
            welcome(&p).contains("re-import its managed solution NorthwindTools"),
            "{}",
            welcome(&p)
        );
        // An unmanaged solution is no managed one.
        find(&mut r, "Welcome email").solution_managed = Some(false);
        let p = plan_of(&r, &PlanOptions::default());
        assert!(!welcome(&p).contains("re-import"), "{}", welcome(&p));
    }

    #[test]
    fn nothing_the_evidence_shows_done_is_proposed() {
        let mut r = report();
        let p = plan_of(&r, &PlanOptions::default());
        let done = names(p.done.iter().map(|m| &m.finding));
        // A flow in a managed solution our identity imported last; a canvas
        // app it owns.
        for name in ["Sync leads", "Inventory Audit"] {
            assert!(done.contains(&name.to_string()), "{name}: {done:?}");
        }
        assert!(
            p.steps
                .iter()
                .all(|s| !done.contains(&s.finding.resource_name.to_string()))
        );
        // Our identity as a direct co-owner of Safety Checklist, and the
        // latest publisher of Revenue: no step for either.
        let svc = PrincipalId::new("11111111-1111-4111-8111-000000000001");
        let row = |role, latest| Involvement {
            role,
            principal_id: svc.clone(),
            principal_name: None,
            through_group: None,
            latest,
        };
        find(&mut r, "Safety Checklist")
            .involvement
            .as_mut()
            .unwrap()
            .push(row(InvolvementRole::CoOwner, false));
        find(&mut r, "Revenue").involvement = Some(vec![row(InvolvementRole::Publisher, true)]);
        // An instance our identity uses and holds a role on: nothing to add.
        find(&mut r, "Service Insights")
            .involvement
            .as_mut()
            .unwrap()
            .push(row(InvolvementRole::ActiveUser, false));
        let p = plan_of(&r, &named());
        assert_eq!(names(p.steps.iter().map(|s| &s.finding)), ["Web Analytics"]);
        assert!(names(p.done.iter().map(|m| &m.finding)).contains(&"Service Insights".into()));
        // Through a group only is not done: Web Analytics' role is a group's.
        assert!(
            r.findings
                .iter()
                .find(|f| &*f.resource_name == "Web Analytics")
                .unwrap()
                .involvement
                .as_ref()
                .unwrap()
                .iter()
                .all(|i| i.through_group.is_some())
        );
    }

    #[test]
    fn selection_names_what_was_delivered_and_environment_limits_the_plan() {
        let r = report();
        let sel = plan_of(
            &r,
            &PlanOptions {
                resources: vec![
                    "visitor badges".into(),
                    "c0000000-0000-4000-8000-000000000003".into(),
                ],
                solutions: vec!["fabrikamquoting".into()],
                ..Default::default()
            },
        );
        let stepped = names(sel.steps.iter().map(|s| &s.finding));
        assert!(stepped.contains(&"Visitor Badges".into()), "{stepped:?}");
        assert!(stepped.contains(&"Headcount".into()), "{stepped:?}");
        let listed = names(sel.manual.iter().map(|m| &m.finding));
        for n in ["Quote Desk", "Quote approval"] {
            assert!(listed.contains(&n.to_string()), "{n}: {listed:?}");
        }
        assert!(!names(sel.not_delivered.iter()).contains(&"Visitor Badges".into()));
        let env = plan_of(
            &r,
            &PlanOptions {
                environments: vec!["Contoso Sales".into()],
                ..Default::default()
            },
        );
        assert_eq!(
            names(env.steps.iter().map(|s| &s.finding)),
            ["Safety Checklist"]
        );
        assert!(
            env.not_delivered
                .iter()
                .chain(env.manual.iter().map(|m| &m.finding))
                .all(|f| &*f.environment_name == "Contoso Sales")
        );
    }

    #[test]
    fn an_older_report_without_involvement_writes_to_nothing_unselected() {
        let mut r = report();
        for f in &mut r.findings {
            f.involvement = None;
        }
        let p = plan_of(&r, &PlanOptions::default());
        assert!(p.steps.is_empty(), "{:?}", p.steps);
        assert_eq!(p.notes.len(), 1);
        assert!(script(&p, &r, Shell::Bash).contains("NOTE: the report does not say"));
        let p = plan_of(
            &r,
            &PlanOptions {
                resources: vec!["Revenue".into()],
                ..Default::default()
            },
        );
        assert_eq!(names(p.steps.iter().map(|s| &s.finding)), ["Revenue"]);
    }

    #[test]
    fn a_redacted_report_is_refused() {
        let mut r = report();
        assert!(refuse_redacted(&r, "r.json").is_ok());
        let mut marked = r.clone();
        marked.redacted = true;
        assert!(
            refuse_redacted(&marked, "r.json")
                .unwrap_err()
                .contains("r.json is a redacted report")
        );
        // Redacted before the marker existed: every link name a pseudonym.
        crate::report::redact(&mut r);
        r.redacted = false;
        assert!(refuse_redacted(&r, "r.json").is_err());
    }

    #[test]
    fn as_takes_an_id_or_a_linked_upn() {
        let r = report();
        let by_upn = identity(&r, Some("ANA.COSTA@contoso.com")).unwrap();
        assert_eq!(by_upn.id.as_str(), "11111111-1111-4111-8111-000000000002");
        assert!(identity(&r, Some("nobody@contoso.com")).is_err());
        // A service principal linked to us is written to as one.
        let sp = identity(&r, Some("22222222-2222-4222-8222-000000000007")).unwrap();
        assert_eq!(sp.kind, LinkKind::ServicePrincipal);
        // No link at all (Dave), or a link to another partner only (Bob, by
        // id or UPN): refused, never guessed.
        for p in [
            "44444444-4444-4444-8444-000000000006",
            "b1000000-0000-4000-8000-000000000004",
            "bob.fischer@contoso.com",
            "22222222-2222-4222-8222-000000000003",
        ] {
            let e = identity(&r, Some(p)).unwrap_err();
            assert!(
                e.contains("no link of the report to partner 4567890"),
                "{p}: {e}"
            );
        }
    }

    #[test]
    fn scripts_group_steps_by_sign_in_and_guard_every_step() {
        let r = report();
        let p = plan_of(&r, &named());
        for shell in [Shell::Pwsh, Shell::Bash] {
            let s = script(&p, &r, shell);
            let admin = s.find("Part admin").expect("admin group");
            let ident = s.find("Part identity").expect("identity group");
            let canvas = s.find("Safety Checklist").unwrap();
            let take = s.find("Default.TakeOver").unwrap();
            assert!(
                admin < canvas && canvas < ident && ident < take,
                "{shell:?}"
            );
            // The identity's group checks who is signed in before any step.
            assert!(
                s[ident..take].contains("Get-PalClaims") || s[ident..take].contains("claim oid '"),
                "{shell:?}"
            );
            assert!(s.contains("Not automatable"), "{shell:?}");
            assert!(s.contains(NOT_DELIVERED), "{shell:?}");
            // Every step: skipped when done, else written and re-read.
            assert_eq!(
                s.matches("already done: ").count(),
                p.steps.len(),
                "{shell:?}"
            );
            assert_eq!(s.matches("ok: ").count(), p.steps.len(), "{shell:?}");
            assert!(!s.contains("remove the other partner"), "{shell:?}");
        }
    }

    /// Tenant text that breaks out of a careless literal in either shell:
    /// both kinds of quote, command substitution, a backtick, line breaks.
    fn hostile(dir: &std::path::Path, tag: &str) -> String {
        let d = dir.display();
        format!(
            "it's ’{tag}‘ ‚‛ $(touch {d}/PWNED-{tag}-1) `touch {d}/PWNED-{tag}-2` \"$(touch {d}/PWNED-{tag}-3)\"\n$(touch {d}/PWNED-{tag}-4)\r\u{2028}end"
        )
    }

    /// The report with hostile names on the three steps' resources, their
    /// environments and the identity's link.
    fn hostile_report(dir: &std::path::Path) -> Report {
        let mut r = report();
        for (name, tag) in [
            ("Revenue", "ds"),
            ("Safety Checklist", "app"),
            ("Web Analytics", "ci"),
        ] {
            let f = find(&mut r, name);
            f.resource_name = hostile(dir, tag).into();
            f.environment_name = hostile(dir, &format!("{tag}-env")).into();
        }
        for l in &mut r.links {
            if l.principal_id == "11111111-1111-4111-8111-000000000001" {
                l.principal_name = Some(hostile(dir, "who"));
            }
        }
        r
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Seg {
        Code,
        Single,
        Double,
        Comment,
    }

    /// The script cut into code, single-quoted literals (decoded), double-
    /// quoted strings and comments, as `shell` reads them.
    fn segments(text: &str, shell: Shell) -> Vec<(Seg, String)> {
        let single = |c: char| match shell {
            Shell::Pwsh => matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}'),
            Shell::Bash => c == '\'',
        };
        let double = |c: char| match shell {
            Shell::Pwsh => matches!(c, '"' | '\u{201c}' | '\u{201d}' | '\u{201e}'),
            Shell::Bash => c == '"',
        };
        let escape = match shell {
            Shell::Pwsh => '`',
            Shell::Bash => '\\',
        };
        let mut out = vec![(Seg::Code, String::new())];
        let mut cs = text.chars().peekable();
        let mut prev = '\n';
        while let Some(c) = cs.next() {
            let seg = out.last().unwrap().0;
            match seg {
                Seg::Code if c == escape => {
                    out.last_mut().unwrap().1.push(c);
                    if let Some(n) = cs.next() {
                        out.last_mut().unwrap().1.push(n);
                    }
                }
                Seg::Code if single(c) => out.push((Seg::Single, String::new())),
                Seg::Code if double(c) => out.push((Seg::Double, String::new())),
                Seg::Code if c == '#' && prev.is_whitespace() => {
                    out.push((Seg::Comment, String::new()))
                }
                Seg::Single if single(c) => {
                    // PowerShell reads a doubled quote as one.
                    if shell == Shell::Pwsh && cs.peek().is_some_and(|&n| single(n)) {
                        out.last_mut().unwrap().1.push(cs.next().unwrap());
                    } else {
                        out.push((Seg::Code, String::new()));
                    }
                }
                Seg::Double if c == escape => {
                    out.last_mut().unwrap().1.push(c);
                    if let Some(n) = cs.next() {
                        out.last_mut().unwrap().1.push(n);
                    }
                }
                Seg::Double if double(c) => out.push((Seg::Code, String::new())),
                Seg::Comment if c == '\n' => out.push((Seg::Code, "\n".into())),
                _ => out.last_mut().unwrap().1.push(c),
            }
            prev = c;
        }
        out
    }

    /// Runs a bash script with `az` and `curl` stubs first on PATH (the
    /// real `jq`): `az` hands out a token of `tid` and `oid`, `curl` logs
    /// each call to `calls` and answers as `mode` says.
    fn run_bash(
        dir: &std::path::Path,
        script: &str,
        tid: &str,
        oid: &str,
        mode: &str,
    ) -> (i32, String, String) {
        use base64::Engine as _;
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"tid": tid, "oid": oid}).to_string());
        let stubs = [
            ("az", format!("#!/usr/bin/env bash\nprintf 'h.%s.s\\n' '{payload}'\n")),
            (
                "curl",
                r#"#!/usr/bin/env bash
m=GET; u=''
while [ $# -gt 0 ]; do case "$1" in -X) m=$2; shift 2;; -H|--data) shift 2;; -*) shift;; *) u=$1; shift;; esac; done
printf '%s %s\n' "$m" "$u" >> "$STUB_DIR/calls"
case "$STUB_MODE" in
  forbidden) echo '{"error":{"code":"Forbidden"}}'; exit 22;;
  empty) exit 0;;
  object) echo '{}';;
  ours) case "$u" in *datasets*) if [ "$m" = GET ]; then echo '{"id":"x","configuredBy":"SVC-Northwind@contoso.com"}'; else echo '{}'; fi;; *) exit 22;; esac;;
  list) if [ "$m" = GET ]; then case "$u" in *permissions*) echo '{"value":[]}';; *assignments) echo '[]';; *) echo '{"id":"x","configuredBy":"someone@else.example"}';; esac; else echo '{}'; fi;;
esac
"#
                .to_string(),
            ),
        ];
        for (name, text) in stubs {
            let path = bin.join(name);
            std::fs::write(&path, text).unwrap();
            std::process::Command::new("chmod")
                .arg("+x")
                .arg(&path)
                .status()
                .unwrap();
        }
        let path = dir.join("fix.sh");
        std::fs::write(&path, script).unwrap();
        let _ = std::fs::remove_file(dir.join("calls"));
        let out = std::process::Command::new("bash")
            .arg(&path)
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .env("STUB_DIR", dir)
            .env("STUB_MODE", mode)
            .env("PAL_AUDIT_CI_KEY", "k")
            .output()
            .unwrap();
        let calls = std::fs::read_to_string(dir.join("calls")).unwrap_or_default();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
            calls,
        )
    }

    const SVC: &str = "11111111-1111-4111-8111-000000000001";

    #[test]
    fn tenant_text_enters_scripts_only_as_escaped_literals_or_comments() {
        let dir = tempfile::tempdir().unwrap();
        let r = hostile_report(dir.path());
        let p = plan_of(&r, &named());
        assert_eq!(p.steps.len(), 3, "{:?}", p.steps);
        let names: Vec<String> = ["ds", "app", "ci", "who"]
            .iter()
            .map(|t| hostile(dir.path(), t))
            .collect();
        for shell in [Shell::Pwsh, Shell::Bash] {
            let s = script(&p, &r, shell);
            let mut segs = segments(&s, shell);
            // bash: `'it'\''s'` is one word, `it's`.
            if shell == Shell::Bash {
                let mut merged: Vec<(Seg, String)> = Vec::new();
                let mut i = 0;
                while i < segs.len() {
                    if segs[i].0 == Seg::Single
                        && merged.last().is_some_and(|m| m.0 == Seg::Single)
                        && i >= 1
                        && segs[i - 1] == (Seg::Code, "\\'".to_string())
                    {
                        let t = segs[i].1.clone();
                        merged.last_mut().unwrap().1.push('\'');
                        merged.last_mut().unwrap().1.push_str(&t);
                    } else if !(segs[i] == (Seg::Code, "\\'".to_string())
                        && segs.get(i + 1).is_some_and(|n| n.0 == Seg::Single))
                    {
                        merged.push(segs[i].clone());
                    }
                    i += 1;
                }
                segs = merged;
            }
            for (kind, text) in &segs {
                if matches!(kind, Seg::Code | Seg::Double) {
                    assert!(
                        !text.contains("PWNED") && !text.contains("touch"),
                        "{shell:?}: tenant text in {kind:?}: {text:?}"
                    );
                }
                if *kind == Seg::Comment {
                    assert!(!text.contains(['\r', '\u{2028}']), "{shell:?}: {text:?}");
                }
            }
            // Each name is one literal, whole, its line breaks spaces.
            for n in &names {
                assert!(
                    segs.iter()
                        .any(|(k, t)| *k == Seg::Single && *t == clean(n)),
                    "{shell:?}: no literal of {n:?}"
                );
            }
        }
        // Run for real, through every message of every step: no command
        // of a name ran, and the names are printed as they are.
        let s = script(&p, &r, Shell::Bash);
        let (code, out, calls) = run_bash(dir.path(), &s, &r.tenant_id, SVC, "list");
        assert_eq!(code, 1, "{out}");
        let pwned: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("PWNED"))
            .collect();
        assert!(pwned.is_empty(), "{pwned:?}\n{out}");
        assert!(
            out.contains(&format!("NOT FIXED: {}", clean(&names[0]))),
            "{out}"
        );
        assert_eq!(
            calls.matches("POST").count() + calls.matches("PUT").count(),
            3,
            "{calls}"
        );
    }

    #[test]
    fn quoting_doubles_every_powershell_quote_and_drops_line_breaks() {
        assert_eq!(pwsh_lit("a'b’c‘d‚e‛f"), "'a''b’’c‘‘d‚‚e‛‛f'");
        assert_eq!(bash_lit("a'b"), r"'a'\''b'");
        assert_eq!(bash_lit("a\nb\u{0}c\u{85}d\u{2029}e"), "'a b c d e'");
        assert_eq!(comment("x\ny\rz\u{2028}"), "x y z ");
    }

    #[test]
    fn a_report_with_a_bad_id_is_refused_naming_the_path() {
        let r = report();
        assert!(check_ids(&r, "r.json").is_ok());
        let mut bad = r.clone();
        bad.tenant_id = format!("{}\n$(touch x)", r.tenant_id);
        let e = check_ids(&bad, "r.json").unwrap_err();
        assert_eq!(e.location, "r.json: $.tenant_id");
        let mut bad = r.clone();
        let i = bad
            .findings
            .iter()
            .position(|f| &*f.resource_name == "Revenue")
            .unwrap();
        bad.findings[i].environment_id = "x'$(touch y)".into();
        let e = check_ids(&bad, "r.json").unwrap_err();
        assert_eq!(
            e.location,
            format!("r.json: $.findings[{i}].environment_id")
        );
        let mut bad = r.clone();
        bad.findings[i].resource_id = "c0000000-0000-4000-8000-00000000000x".into();
        let e = check_ids(&bad, "r.json").unwrap_err();
        assert_eq!(e.location, format!("r.json: $.findings[{i}].resource_id"));
    }

    #[test]
    fn a_failed_or_unexpected_read_is_never_done() {
        let dir = tempfile::tempdir().unwrap();
        let r = report();
        let p = plan_of(&r, &named());
        let s = script(&p, &r, Shell::Bash);
        for mode in ["forbidden", "empty", "object"] {
            let (code, out, calls) = run_bash(dir.path(), &s, &r.tenant_id, SVC, mode);
            assert_eq!(code, 1, "{mode}: {out}");
            assert!(
                !out.contains("already done") && !out.contains("ok: "),
                "{mode}: {out}"
            );
            assert_eq!(
                out.matches("NOT FIXED").count(),
                p.steps.len(),
                "{mode}: {out}"
            );
            assert!(
                !calls.contains("POST") && !calls.contains("PUT"),
                "{mode}: {calls}"
            );
        }
    }

    #[test]
    fn a_script_part_signed_in_to_another_tenant_or_as_someone_else_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let r = report();
        let p = plan_of(&r, &named());
        let s = script(&p, &r, Shell::Bash);
        let other = "99999999-9999-4999-8999-999999999999";
        let (code, out, calls) = run_bash(dir.path(), &s, other, SVC, "list");
        assert_eq!(code, 1, "{out}");
        assert!(calls.is_empty(), "{calls}");
        assert!(
            out.contains("skipped 2 step(s)") && out.contains("skipped 1 step(s)"),
            "{out}"
        );
        let (_, out, calls) = run_bash(dir.path(), &s, &r.tenant_id, other, "list");
        assert!(out.contains("skipped 1 step(s)"), "{out}");
        assert!(!calls.contains("Default.TakeOver"), "{calls}");
    }

    #[test]
    fn a_dataset_another_partner_is_attributed_is_taken_over_only_when_named() {
        let r = report();
        let p = plan_of(&r, &PlanOptions::default());
        let revenue = p
            .manual
            .iter()
            .find(|m| &*m.finding.resource_name == "Revenue")
            .expect("Revenue is manual");
        assert!(
            revenue.what.contains("bob.fischer") && revenue.what.contains("gateway binding"),
            "{}",
            revenue.what
        );
        assert!(
            p.steps
                .iter()
                .all(|s| &*s.finding.resource_name != "Revenue")
        );
        // Named, it is taken over; a solution naming it is not enough.
        let named = PlanOptions {
            resources: vec!["Revenue".into()],
            ..Default::default()
        };
        let p = plan_of(&r, &named);
        assert!(
            p.steps
                .iter()
                .any(|s| &*s.finding.resource_name == "Revenue"
                    && matches!(s.action, Action::TakeOver { .. }))
        );
        // Its configuredBy already the identity (a later publish by Bob):
        // done, not taken over again on every run.
        let dir = tempfile::tempdir().unwrap();
        let s = script(&p, &r, Shell::Bash);
        let (_, out, calls) = run_bash(dir.path(), &s, &r.tenant_id, SVC, "ours");
        assert!(out.contains("already done: Revenue"), "{out}");
        assert!(!calls.contains("Default.TakeOver"), "{calls}");
    }

    #[test]
    fn a_selection_must_name_something_and_a_name_one_resource() {
        let mut r = report();
        // Two datasets named Revenue, in two workspaces.
        find(&mut r, "Headcount").resource_name = "Revenue".into();
        let opts = |resources: &[&str], environments: &[&str], solutions: &[&str]| PlanOptions {
            resources: resources.iter().map(|s| s.to_string()).collect(),
            environments: environments.iter().map(|s| s.to_string()).collect(),
            solutions: solutions.iter().map(|s| s.to_string()).collect(),
            take_ownership: false,
        };
        let e = opts(&["revenue"], &[], &[]).check(&r).unwrap_err();
        assert!(
            e.contains("names 2 resources")
                && e.contains("c0000000-0000-4000-8000-000000000003")
                && e.contains(REVENUE),
            "{e}"
        );
        // The id, or the name within one workspace, is one resource.
        assert!(opts(&[REVENUE], &[], &[]).check(&r).is_ok());
        let one = opts(&["Revenue"], &["b0000000-0000-4000-8000-0000000000b2"], &[]);
        assert!(one.check(&r).is_ok());
        let p = plan_of(&r, &one);
        assert_eq!(
            p.steps
                .iter()
                .map(|s| s.finding.resource_id.as_str())
                .collect::<Vec<_>>(),
            [REVENUE]
        );
        // Values that match nothing are refused, never ignored.
        for (o, what) in [
            (
                opts(&["No Such App"], &[], &[]),
                "--resource \"No Such App\" names no resource",
            ),
            (
                opts(&[], &["Nowhere"], &[]),
                "--environment \"Nowhere\" names no environment",
            ),
            (
                opts(&[], &[], &["NoSolution"]),
                "--solution \"NoSolution\" names no solution",
            ),
            (
                opts(&[REVENUE], &["Contoso Sales"], &[]),
                "in the chosen environments",
            ),
        ] {
            let e = o.check(&r).unwrap_err();
            assert!(e.contains(what), "{e}");
        }
        // An unmanaged solution says nothing about who delivered.
        let f = find(&mut r, "Welcome email");
        f.solution = Some("Scratch".into());
        f.solution_managed = Some(false);
        let e = opts(&[], &[], &["scratch"]).check(&r).unwrap_err();
        assert!(e.contains("not a managed solution"), "{e}");
        assert!(!opts(&[], &[], &["scratch"]).selected(find(&mut r, "Welcome email")));
    }

    #[test]
    fn undecided_and_our_other_id_findings_are_not_called_not_delivered() {
        let mut r = report();
        let p = plan_of(&r, &PlanOptions::default());
        // Unknown, none of our identities known to take part.
        let undecided = names(p.decide_first.iter());
        for n in ["Old KPIs", "Travel Requests"] {
            assert!(undecided.contains(&n.to_string()), "{n}: {undecided:?}");
        }
        assert!(
            p.not_delivered
                .iter()
                .all(|f| f.verdict != Verdict::Unknown),
            "{:?}",
            names(p.not_delivered.iter())
        );
        assert!(script(&p, &r, Shell::Bash).contains("# decide first: "));
        // Credited to another ID of ours: a re-link, by hand.
        let f = find(&mut r, "Pipeline");
        f.flags.push(Flag::LinkedToOtherIdOfOurs);
        let p = plan_of(&r, &PlanOptions::default());
        assert!(
            names(p.not_delivered.iter())
                .iter()
                .all(|n| n != "Pipeline")
        );
        let m = p
            .manual
            .iter()
            .find(|m| &*m.finding.resource_name == "Pipeline")
            .expect("Pipeline is manual");
        assert!(m.what.contains("re-link"), "{}", m.what);
    }

    #[test]
    fn a_solution_selection_says_what_it_matched_and_warns_of_another_importer() {
        let r = report();
        let p = plan_of(
            &r,
            &PlanOptions {
                solutions: vec!["fabrikamquoting".into()],
                ..Default::default()
            },
        );
        let said = p.notes.join("\n");
        assert!(said.contains("--solution fabrikamquoting: "), "{said}");
        assert!(said.contains("Quote Desk (model-driven-app"), "{said}");
        // Quote Desk's importer is another partner's (Fabrikam Automation).
        let importers: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.solution.as_deref() == Some("FabrikamQuoting"))
            .flat_map(|f| f.attributed.iter())
            .filter(|a| a.role == AttributedRole::Importer)
            .collect();
        assert!(!importers.is_empty());
        assert!(
            said.contains(
                "WARNING: --solution fabrikamquoting: the evidence names another partner's importer"
            ),
            "{said}"
        );
    }

    #[test]
    fn instance_assignments_are_read_bare_or_wrapped_never_guessed() {
        let one = json!({"principalId": "x", "roles": ["Admin"]});
        assert_eq!(assignment_list(&json!([one.clone()])).len(), 1);
        assert_eq!(assignment_list(&json!({"value": [one]})).len(), 1);
        assert!(assignment_list(&json!({"error": {"code": "x"}})).is_empty());
        assert!(assignment_list(&Value::Null).is_empty());
    }
}
