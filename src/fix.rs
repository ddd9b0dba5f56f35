//! `pal-audit fix`: from a report, the steps that make the PAL identity the
//! attributed user: a script to review and run (pwsh or bash), or the same
//! steps through the APIs (`--apply`), each guarded and checked by a re-read.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::attribution::{Finding, Flag, Verdict};
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
    /// `modifyAppOwner`, the old owner kept as co-owner (`CanEdit`).
    CanvasOwner { environment: String, app: String },
    /// `Default.TakeOver`, run as the PAL identity.
    TakeOver { workspace: String, dataset: String },
    /// A role on the Customer Insights instance.
    InstanceRole { instance: String },
}

#[derive(Clone, Debug)]
pub struct Step {
    pub finding: Finding,
    pub action: Action,
}

/// A finding no API call can fix, and what to do instead.
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

#[derive(Clone, Debug)]
pub struct Plan {
    pub identity: Identity,
    pub steps: Vec<Step>,
    pub manual: Vec<Manual>,
}

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

/// `--as`: an object id or a UPN of the report's links; without it, the best
/// identity linked to the report's partner (attested, then not a person's
/// account).
pub fn identity(report: &Report, as_principal: Option<&str>) -> Result<Identity, String> {
    let ours = report
        .links
        .iter()
        .filter(|l| l.partner_id == report.partner_id);
    let found = match as_principal {
        Some(p) if is_guid(p) => {
            let id = PrincipalId::new(p);
            let link = report
                .links
                .iter()
                .find(|l| l.principal_id.eq_ignore_ascii_case(id.as_str()));
            return Ok(Identity {
                name: link.and_then(|l| l.principal_name.clone()),
                kind: link.map_or(LinkKind::ServiceAccount, |l| l.principal_kind),
                id,
            });
        }
        Some(upn) => report.links.iter().find(|l| {
            l.principal_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(upn))
                && is_guid(&l.principal_id)
        }),
        None => ours.filter(|l| is_guid(&l.principal_id)).min_by_key(|l| {
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
            Some(p) => format!("--as {p:?}: give an object id, or a UPN the report's links name"),
            None => format!(
                "the report names no identity linked to partner {}: give one with --as OBJECT-ID",
                report.partner_id
            ),
        })
}

/// The steps for every finding that is not credited to us.
pub fn plan(report: &Report, identity: Identity) -> Plan {
    let mut steps = Vec::new();
    let mut manual = Vec::new();
    let who = identity
        .name
        .clone()
        .unwrap_or_else(|| identity.id.to_string());
    for f in report
        .findings
        .iter()
        .filter(|f| f.verdict != Verdict::Credited)
    {
        let fixable_unknown = f.flags.contains(&Flag::GroupCoOwner);
        if f.verdict == Verdict::Unknown && !fixable_unknown {
            manual.push(Manual {
                finding: f.clone(),
                what: "the verdict is unknown: read its reasons and fix what could not be read, then audit again".into(),
            });
            continue;
        }
        // Another partner's attributed user stays a candidate after the change
        // (a canvas app keeps its old owner as co-owner; an instance keeps its
        // role holders): the latest activity decides, which no call can make.
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
        if !others.is_empty() && matches!(f.kind, ResourceKind::CanvasApp | ResourceKind::Instance)
        {
            let (change, use_it) = if f.kind == ResourceKind::CanvasApp {
                (
                    format!(
                        "make {who} the owner (POST {POWERAPPS}/{}/apps/{}/modifyAppOwner with roleForOldAppOwner CanEdit) unless it already is one, then publish the app as {who}",
                        f.environment_id, f.resource_id
                    ),
                    "so it shows the latest activity",
                )
            } else {
                (
                    format!("give {who} a role on the instance and work in it as {who}"),
                    "so it is the latest active user",
                )
            };
            manual.push(Manual {
                finding: f.clone(),
                what: format!(
                    "{} also attributed: the latest activity decides between partners. {change}, {use_it}; or ask the customer to remove the other partner's role.",
                    others.join(", ")
                ),
            });
            continue;
        }
        // Ids come from a report file: encoded, they stay one URL segment
        // and cannot break out of the scripts' quotes.
        let seg = |id: &dyn std::fmt::Display| crate::http::seg(&id.to_string());
        let action = match f.kind {
            ResourceKind::CanvasApp => Some(Action::CanvasOwner {
                environment: seg(&f.environment_id),
                app: seg(&f.resource_id),
            }),
            ResourceKind::Dataset => Some(Action::TakeOver {
                workspace: seg(&f.environment_id),
                dataset: seg(&f.resource_id),
            }),
            ResourceKind::Instance => Some(Action::InstanceRole {
                instance: seg(&f.resource_id),
            }),
            ResourceKind::CloudFlow => {
                manual.push(Manual {
                    finding: f.clone(),
                    what: format!(
                        "a flow's creator cannot change: re-create the flow signed in as {who}, or export it in a solution and import that managed solution as {who} (`pac solution import`)"
                    ),
                });
                None
            }
            ResourceKind::ModelDrivenApp => {
                manual.push(Manual {
                    finding: f.clone(),
                    what: format!(
                        "re-import its managed solution{} signed in as {who}: `pac auth create` as {who}, then `pac solution import --path <solution>.zip --environment {}` (no GUI or PowerShell path changes a model-driven app's owner)",
                        f.solution.as_deref().map(|s| format!(" {s}")).unwrap_or_default(),
                        f.environment_id
                    ),
                });
                None
            }
        };
        if let Some(action) = action {
            steps.push(Step {
                finding: f.clone(),
                action,
            });
        }
    }
    Plan {
        identity,
        steps,
        manual,
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

/// Text that is safe inside single quotes in both shells.
fn q(s: &str) -> String {
    s.replace('\'', "")
}

/// Text that stays on its comment line.
fn comment(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The plan as a script: each step guarded (skipped when already done) and
/// followed by a re-read; the manual ones listed as comments.
pub fn script(plan: &Plan, report: &Report, shell: Shell) -> String {
    let id = q(plan.identity.id.as_str());
    let name = q(plan
        .identity
        .name
        .as_deref()
        .unwrap_or(plan.identity.id.as_str()));
    let principal_type = if plan.identity.kind == LinkKind::ServicePrincipal {
        "app"
    } else {
        "user"
    };
    let mut s = String::new();
    let header = [
        format!(
            "pal-audit fix script: tenant {}, partner {}",
            report.tenant_id, report.partner_id
        ),
        format!("PAL identity: {name} ({id})"),
        format!(
            "from the report generated at {}",
            report.generated_at.to_rfc3339()
        ),
        "Review every step before running it. Sign in first: az login --tenant <tenant>".into(),
        "(a service principal: az login --service-principal ...). Each step is skipped when".into(),
        "already done and re-reads the resource afterwards.".into(),
    ];
    match shell {
        Shell::Pwsh => {
            s.push_str("#Requires -Version 7\n");
            for h in header {
                let _ = writeln!(s, "# {h}");
            }
            let _ = writeln!(
                s,
                r#"$ErrorActionPreference = 'Stop'
$PalIdentity = '{id}'
$PalName = '{name}'
$failed = 0
function Get-PalToken([string]$Resource) {{ az account get-access-token --resource $Resource --query accessToken -o tsv }}
function Invoke-Pal([string]$Method, [string]$Uri, [string]$Resource, $Body = $null, [hashtable]$Headers = @{{}}) {{
    $h = @{{ Authorization = "Bearer $(Get-PalToken $Resource)" }} + $Headers
    if ($null -ne $Body) {{
        Invoke-RestMethod -Method $Method -Uri $Uri -Headers $h -ContentType 'application/json' -Body ($Body | ConvertTo-Json -Depth 6)
    }} else {{
        Invoke-RestMethod -Method $Method -Uri $Uri -Headers $h
    }}
}}
"#
            );
        }
        Shell::Bash => {
            s.push_str("#!/usr/bin/env bash\n");
            for h in header {
                let _ = writeln!(s, "# {h}");
            }
            let _ = writeln!(
                s,
                r#"# Needs: az, curl, jq.
set -euo pipefail
PAL_IDENTITY='{id}'
PAL_NAME='{name}'
failed=0
token() {{ az account get-access-token --resource "$1" --query accessToken -o tsv; }}
api() {{ # METHOD URL RESOURCE [BODY] [EXTRA-HEADER]
  curl -sS --fail-with-body -X "$1" "$2" -H "Authorization: Bearer $(token "$3")" \
    -H 'Content-Type: application/json' ${{5:+-H "$5"}} ${{4:+--data "$4"}}
}}
"#
            );
        }
    }
    let total = plan.steps.len();
    for (i, step) in plan.steps.iter().enumerate() {
        let n = i + 1;
        let what = q(&step.finding.resource_name);
        let _ = writeln!(s, "\n# {n}/{total} {}", comment(&label(&step.finding)));
        match (&step.action, shell) {
            (Action::CanvasOwner { environment, app }, Shell::Pwsh) => {
                let _ = writeln!(
                    s,
                    r#"#   make {name} the owner; the current owner stays a co-owner (CanEdit)
$uri = '{POWERAPPS}/{environment}/apps/{app}'
$res = '{aud}'
$app = Invoke-Pal GET "${{uri}}?api-version=2016-11-01" $res
if ($app.properties.owner.id -ne $PalIdentity) {{
    Invoke-Pal POST "${{uri}}/modifyAppOwner?api-version=2016-11-01" $res @{{ newAppOwner = $PalIdentity; roleForOldAppOwner = 'CanEdit' }} | Out-Null
    $app = Invoke-Pal GET "${{uri}}?api-version=2016-11-01" $res
}}
if ($app.properties.owner.id -eq $PalIdentity) {{ Write-Host 'ok: {what}' }} else {{ Write-Warning 'NOT FIXED: {what}'; $failed++ }}"#,
                    aud = powerapps::AUDIENCE
                );
            }
            (Action::CanvasOwner { environment, app }, Shell::Bash) => {
                let _ = writeln!(
                    s,
                    r#"#   make {name} the owner; the current owner stays a co-owner (CanEdit)
uri='{POWERAPPS}/{environment}/apps/{app}'; res='{aud}'
owner=$(api GET "$uri?api-version=2016-11-01" "$res" | jq -r '.properties.owner.id')
if [ "$owner" != "$PAL_IDENTITY" ]; then
  api POST "$uri/modifyAppOwner?api-version=2016-11-01" "$res" "{{\"newAppOwner\":\"$PAL_IDENTITY\",\"roleForOldAppOwner\":\"CanEdit\"}}" >/dev/null
  owner=$(api GET "$uri?api-version=2016-11-01" "$res" | jq -r '.properties.owner.id')
fi
if [ "$owner" = "$PAL_IDENTITY" ]; then echo 'ok: {what}'; else echo 'NOT FIXED: {what}' >&2; failed=$((failed+1)); fi"#,
                    aud = powerapps::AUDIENCE
                );
            }
            (Action::TakeOver { workspace, dataset }, shell) => {
                let _ = writeln!(
                    s,
                    "#   take the dataset over as {name}. MUST RUN SIGNED IN AS {name} ({id}):\n#   Default.TakeOver makes whoever calls it the publisher."
                );
                let uri = format!("{POWERBI}/groups/{workspace}/datasets/{dataset}");
                let aud = powerbi::AUDIENCE;
                let _ = match shell {
                    Shell::Pwsh => writeln!(
                        s,
                        r#"$uri = '{uri}'
$res = '{aud}'
Invoke-Pal POST "${{uri}}/Default.TakeOver" $res | Out-Null
$ds = Invoke-Pal GET $uri $res
if ($ds.configuredBy -eq $PalName) {{ Write-Host 'ok: {what}' }} else {{ Write-Warning "NOT FIXED: {what} (configuredBy is $($ds.configuredBy); were you signed in as $PalName?)"; $failed++ }}"#
                    ),
                    Shell::Bash => writeln!(
                        s,
                        r#"uri='{uri}'; res='{aud}'
api POST "$uri/Default.TakeOver" "$res" >/dev/null
by=$(api GET "$uri" "$res" | jq -r '.configuredBy')
if [ "$by" = "$PAL_NAME" ]; then echo 'ok: {what}'; else echo "NOT FIXED: {what} (configuredBy is $by; were you signed in as $PAL_NAME?)" >&2; failed=$((failed+1)); fi"#
                    ),
                };
            }
            (Action::InstanceRole { instance }, shell) => {
                let _ = writeln!(
                    s,
                    "#   give {name} a role on the instance (needs PAL_AUDIT_CI_KEY), then use the instance as {name}:\n#   among several partners, the latest active one gets the credit."
                );
                let uri = format!("{CI}/instances/{instance}/rbac");
                let aud = customer_insights::DEFAULT_AUDIENCE;
                let _ = match shell {
                    Shell::Pwsh => writeln!(
                        s,
                        r#"$uri = '{uri}'
$res = '{aud}'
$key = @{{ 'Ocp-Apim-Subscription-Key' = $env:PAL_AUDIT_CI_KEY }}
$has = @(Invoke-Pal GET "${{uri}}/assignments" $res -Headers $key | Where-Object {{ $_.principalId -eq $PalIdentity }})
if ($has.Count -eq 0) {{
    Invoke-Pal PUT "${{uri}}/principals/${{PalIdentity}}/assign" $res @{{ principalId = $PalIdentity; principalType = '{principal_type}'; roles = @('Contributor') }} -Headers $key | Out-Null
    $has = @(Invoke-Pal GET "${{uri}}/assignments" $res -Headers $key | Where-Object {{ $_.principalId -eq $PalIdentity }})
}}
if ($has.Count -gt 0) {{ Write-Host 'ok: {what}' }} else {{ Write-Warning 'NOT FIXED: {what}'; $failed++ }}"#
                    ),
                    Shell::Bash => writeln!(
                        s,
                        r#"uri='{uri}'; res='{aud}'; key="Ocp-Apim-Subscription-Key: $PAL_AUDIT_CI_KEY"
has=$(api GET "$uri/assignments" "$res" "" "$key" | jq --arg p "$PAL_IDENTITY" '[.[] | select(.principalId == $p)] | length')
if [ "$has" = 0 ]; then
  api PUT "$uri/principals/$PAL_IDENTITY/assign" "$res" "{{\"principalId\":\"$PAL_IDENTITY\",\"principalType\":\"{principal_type}\",\"roles\":[\"Contributor\"]}}" "$key" >/dev/null
  has=$(api GET "$uri/assignments" "$res" "" "$key" | jq --arg p "$PAL_IDENTITY" '[.[] | select(.principalId == $p)] | length')
fi
if [ "$has" != 0 ]; then echo 'ok: {what}'; else echo 'NOT FIXED: {what}' >&2; failed=$((failed+1)); fi"#
                    ),
                };
            }
        }
    }
    if !plan.manual.is_empty() {
        let _ = writeln!(s, "\n# Not automatable: do these by hand.");
        for m in &plan.manual {
            let _ = writeln!(
                s,
                "# - {}\n#     {}",
                comment(&label(&m.finding)),
                comment(&m.what)
            );
        }
    }
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

/// What happened to one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Changed,
    AlreadyDone,
    Failed(String),
}

/// Applies every step through the APIs. A failed step stops that resource
/// only; the rest go on.
pub async fn apply(
    http: &HttpClient,
    tokens: &Tokens,
    plan: &Plan,
    ci_key: Option<&Secret>,
    ci_audience: &str,
) -> Vec<(Step, Outcome)> {
    let mut out = Vec::new();
    for step in &plan.steps {
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
            let want = plan.identity.name.as_deref().unwrap_or(id);
            let by = after["configuredBy"].as_str();
            Ok(
                if by.is_some_and(|c| c.eq_ignore_ascii_case(want) || c.eq_ignore_ascii_case(id)) {
                    Outcome::Changed
                } else {
                    Outcome::Failed(format!(
                        "the take-over was accepted, but the dataset's configuredBy is still {}",
                        by.unwrap_or("empty")
                    ))
                },
            )
        }
        Action::InstanceRole { instance } => {
            let Some(key) = ci_key else {
                return Ok(Outcome::Failed("PAL_AUDIT_CI_KEY is not set".into()));
            };
            let ctx = customer_insights::keyed_ctx(key, ci_audience)?;
            let uri = format!("{CI}/instances/{instance}/rbac");
            let holds = |v: &Value| {
                v.as_array().into_iter().flatten().any(|a| {
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

    fn report() -> Report {
        let text = include_str!("../tests/snapshots/snapshots__json.snap");
        let json = text.splitn(3, "---").nth(2).unwrap();
        let mut v: Value = serde_json::from_str(json).unwrap();
        v["generated_at"] = json!("2026-11-20T00:00:00Z");
        v["tool_version"] = json!("0");
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_plan_covers_every_finding_not_credited() {
        let r = report();
        let id = identity(&r, None).unwrap();
        assert_eq!(
            id.id.as_str(),
            "11111111-1111-4111-8111-000000000001",
            "the attested service account"
        );
        let p = plan(&r, id);
        let not_credited = r
            .findings
            .iter()
            .filter(|f| f.verdict != Verdict::Credited)
            .count();
        assert_eq!(p.steps.len() + p.manual.len(), not_credited);
        assert!(
            p.steps
                .iter()
                .any(|s| matches!(s.action, Action::CanvasOwner { .. }))
        );
        assert!(
            p.steps
                .iter()
                .any(|s| matches!(s.action, Action::TakeOver { .. }))
        );
        assert!(
            p.steps
                .iter()
                .any(|s| matches!(s.action, Action::InstanceRole { .. }))
        );
        assert!(
            p.manual
                .iter()
                .any(|m| m.finding.kind == ResourceKind::CloudFlow)
        );
        // The group co-owner case is fixable; other unknowns are not.
        assert!(
            p.steps
                .iter()
                .any(|s| &*s.finding.resource_name == "Safety Checklist")
        );
        assert!(
            p.manual
                .iter()
                .any(|m| &*m.finding.resource_name == "Shift Swap")
        );
    }

    #[test]
    fn as_takes_an_id_or_a_linked_upn() {
        let r = report();
        let by_upn = identity(&r, Some("ANA.COSTA@contoso.com")).unwrap();
        assert_eq!(by_upn.id.as_str(), "11111111-1111-4111-8111-000000000002");
        assert!(identity(&r, Some("nobody@contoso.com")).is_err());
        let by_id = identity(&r, Some("44444444-4444-4444-8444-000000000006")).unwrap();
        assert_eq!(by_id.name, None);
    }

    #[test]
    fn scripts_guard_every_step_and_keep_the_old_owner() {
        let r = report();
        let p = plan(&r, identity(&r, None).unwrap());
        for shell in [Shell::Pwsh, Shell::Bash] {
            let s = script(&p, &r, shell);
            assert!(s.contains("roleForOldAppOwner"), "{shell:?}");
            assert!(s.contains("MUST RUN SIGNED IN AS"), "{shell:?}");
            assert!(s.contains("Not automatable"), "{shell:?}");
            assert_eq!(s.matches("NOT FIXED").count(), p.steps.len(), "{shell:?}");
        }
    }
}
