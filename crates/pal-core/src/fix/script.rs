//! The fix plan as a script to review and run: pwsh or bash, grouped by
//! sign-in, every step checked before and re-read after, failing closed.
//! Tenant text enters only as an escaped literal or a comment.

use std::fmt::Write as _;

use super::*;

const POWERAPPS: &str = crate::endpoints::POWER_APPS.base;
const POWERBI: &str = crate::endpoints::POWER_BI.base;
const CI: &str = crate::endpoints::CUSTOMER_INSIGHTS.base;

/// The language of the fix script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    /// PowerShell 7 (`pwsh`), tokens from the Azure CLI.
    Pwsh,
    /// bash, with the Azure CLI, curl and jq.
    Bash,
}

pub(super) fn label(f: &Finding) -> String {
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
pub(super) fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Tenant text with every unsafe character a space.
pub(super) fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if unsafe_char(c) { ' ' } else { c })
        .collect()
}

/// Text that stays on its comment line.
pub(super) fn comment(s: &str) -> String {
    clean(s)
}

/// A PowerShell single-quoted literal of `s`: PowerShell ends such a string
/// at `'` and at the typographic quotes U+2018-U+201B too, and reads any
/// of them doubled as one.
pub(super) fn pwsh_lit(s: &str) -> String {
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
pub(super) fn bash_lit(s: &str) -> String {
    format!("'{}'", clean(s).replace('\'', r"'\''"))
}

/// A literal of `s` for `shell`: the only way tenant text enters code.
pub(super) fn lit(shell: Shell, s: &str) -> String {
    match shell {
        Shell::Pwsh => pwsh_lit(s),
        Shell::Bash => bash_lit(s),
    }
}

/// One step's shell text, apart from the fail-closed shape every step
/// shares ([`Template::render`]): read the state, skip when done, write,
/// read again, and count anything else as not fixed.
struct Template {
    /// The comment line(s) saying what the step does.
    says: String,
    /// The resource URL and the token audience, as literals.
    uri: String,
    res: String,
    /// pwsh: lines after `$res` (headers), the body of `$state` (returns
    /// the state, throws on an answer that is not what it should be), the
    /// test of `$v` for done, the write, and what to say when a re-read
    /// shows it not done (an expression appended to the message).
    ps_setup: &'static str,
    ps_read: String,
    ps_done: &'static str,
    ps_write: String,
    ps_not: &'static str,
    /// bash: text after `res=...` on the first line, the body of
    /// `state()` (prints the state, fails on a bad answer), a check of
    /// `$v` appended to every read (`|| ! is_count "$v"`), the test of
    /// `$v` for done, the write command, what a failed read and a refused
    /// write are, and what a re-read not done says.
    sh_setup: &'static str,
    sh_read: String,
    sh_valid: &'static str,
    sh_done: &'static str,
    sh_write: String,
    sh_read_failed: &'static str,
    sh_refused: &'static str,
    sh_not: &'static str,
}

impl Template {
    /// The step in `shell`, `what` the resource's name as a literal.
    fn render(&self, shell: Shell, what: &str) -> String {
        let Template { says, uri, res, .. } = self;
        match shell {
            Shell::Pwsh => format!(
                r#"{says}
$what = {what}
$uri = {uri}
$res = {res}
{setup}$state = {{
{read}
}}
try {{
    $v = & $state
    if ({done}) {{ Write-Host ('already done: ' + $what) }} else {{
        {write} | Out-Null
        $v = & $state
        if ({done}) {{ Write-Host ('ok: ' + $what) }} else {{ Write-Warning ('NOT FIXED: ' + $what + {not}); $failed++ }}
    }}
}} catch {{ Write-Warning ('NOT FIXED: ' + $what + ': ' + $_); $failed++ }}
"#,
                setup = self.ps_setup,
                read = indent(&self.ps_read, "    ").trim_end(),
                done = self.ps_done,
                write = self.ps_write,
                not = self.ps_not,
            ),
            Shell::Bash => format!(
                r#"{says}
what={what}; uri={uri}; res={res}{setup}
state() {{ {read}; }}
if ! v=$(nonempty state){valid}; then not_fixed "$what: {read_failed}"
elif {done}; then say "already done: $what"
elif ! {write} >/dev/null; then not_fixed "$what: {refused}"
elif ! v=$(nonempty state){valid}; then not_fixed "$what: the change was accepted, but reading it back failed: check it by hand"
elif {done}; then say "ok: $what"
else not_fixed "$what: {not}"
fi
"#,
                setup = self.sh_setup,
                read = self.sh_read,
                valid = self.sh_valid,
                done = self.sh_done,
                write = self.sh_write,
                read_failed = self.sh_read_failed,
                refused = self.sh_refused,
                not = self.sh_not,
            ),
        }
    }
}

/// The script text of one step (unindented). Tenant text enters it only as
/// a literal (`$what`, `$uri`) or a comment; every read that fails or
/// answers something else than expected counts the step as not fixed,
/// never as done.
fn step_text(step: &Step, shell: Shell, name: &str, principal_type: &str) -> String {
    let what = lit(shell, &step.finding.resource_name);
    let name = comment(name);
    let t = match &step.action {
        Action::CanvasCoOwner { environment, app } => Template {
            says: format!(
                "#   add {name} as a co-owner (CanEdit); the owner stays: POST modifyPermissions"
            ),
            uri: lit(shell, &format!("{POWERAPPS}/{environment}/apps/{app}")),
            res: lit(shell, crate::endpoints::POWER_APPS.audience),
            ps_setup: "",
            ps_read: r#"$r = Invoke-Pal GET "${uri}/permissions?api-version=2016-11-01" $res
if ($null -eq $r -or $r.value -isnot [array]) { throw 'the answer has no permission list' }
@($r.value | Where-Object { $_.properties.principal.id -eq $PalIdentity -and $_.properties.roleName -in 'CanEdit', 'Owner' }).Count"#
                .into(),
            ps_done: "$v -gt 0",
            ps_write: r#"Invoke-Pal POST "${uri}/modifyPermissions?api-version=2016-11-01" $res @{ put = @(@{ properties = @{ principal = @{ id = $PalIdentity; type = 'User' }; roleName = 'CanEdit'; NotifyShareTargetOption = 'DoNotNotify' } }); delete = @() }"#
                .into(),
            ps_not: "': the co-owner role did not appear'",
            sh_setup: "",
            sh_read: r#"api GET "$uri/permissions?api-version=2016-11-01" "$res" | jq -e --arg p "$PAL_IDENTITY" '.value | if type == "array" then . else error("no permission list") end | [.[] | select((.properties.principal.id | ascii_downcase) == ($p | ascii_downcase) and (.properties.roleName == "CanEdit" or .properties.roleName == "Owner"))] | length'"#
                .into(),
            sh_valid: r#" || ! is_count "$v""#,
            sh_done: r#"[ "$v" -gt 0 ]"#,
            sh_write: r#"api POST "$uri/modifyPermissions?api-version=2016-11-01" "$res" "{\"put\":[{\"properties\":{\"principal\":{\"id\":\"$PAL_IDENTITY\",\"type\":\"User\"},\"roleName\":\"CanEdit\",\"NotifyShareTargetOption\":\"DoNotNotify\"}}],\"delete\":[]}""#
                .into(),
            sh_read_failed: "reading its permissions failed",
            sh_refused: "the change was refused",
            sh_not: "the co-owner role did not appear",
        },
        Action::CanvasOwner { environment, app } => Template {
            says: format!(
                "#   --take-ownership: make {name} the owner; the current owner stays a co-owner (CanEdit): POST modifyAppOwner"
            ),
            uri: lit(shell, &format!("{POWERAPPS}/{environment}/apps/{app}")),
            res: lit(shell, crate::endpoints::POWER_APPS.audience),
            ps_setup: "",
            ps_read: r#"$o = (Invoke-Pal GET "${uri}?api-version=2016-11-01" $res).properties.owner.id
if ([string]::IsNullOrEmpty($o)) { throw 'the answer names no owner' }
$o"#
            .into(),
            ps_done: "$v -eq $PalIdentity",
            ps_write: r#"Invoke-Pal POST "${uri}/modifyAppOwner?api-version=2016-11-01" $res @{ newAppOwner = $PalIdentity; roleForOldAppOwner = 'CanEdit' }"#
                .into(),
            ps_not: "': the owner did not change'",
            sh_setup: "",
            sh_read: r#"api GET "$uri?api-version=2016-11-01" "$res" | jq -er '.properties.owner.id | if type == "string" and . != "" then ascii_downcase else error("no owner") end'"#
                .into(),
            sh_valid: "",
            sh_done: r#"[ "$v" = "$PAL_IDENTITY" ]"#,
            sh_write: r#"api POST "$uri/modifyAppOwner?api-version=2016-11-01" "$res" "{\"newAppOwner\":\"$PAL_IDENTITY\",\"roleForOldAppOwner\":\"CanEdit\"}""#
                .into(),
            sh_read_failed: "reading its owner failed",
            sh_refused: "the change was refused",
            sh_not: "the owner is still $v",
        },
        Action::TakeOver { workspace, dataset } => Template {
            says: format!(
                "#   take the dataset over as {name}: Default.TakeOver makes whoever calls it the publisher,\n#   and moves the dataset's data-source credentials and gateway binding to it"
            ),
            uri: lit(
                shell,
                &format!("{POWERBI}/groups/{workspace}/datasets/{dataset}"),
            ),
            res: lit(shell, crate::endpoints::POWER_BI.audience),
            ps_setup: "",
            ps_read: r#"$d = Invoke-Pal GET $uri $res
if ($null -eq $d -or $null -eq $d.id) { throw 'the answer is no dataset' }
[string]$d.configuredBy"#
                .into(),
            ps_done: "$v -eq $PalName -or $v -eq $PalIdentity",
            ps_write: r#"Invoke-Pal POST "${uri}/Default.TakeOver" $res"#.into(),
            ps_not: "': configuredBy is ' + $v",
            sh_setup: "",
            // `=` first, so an empty configuredBy is still an answer.
            sh_read: r#"api GET "$uri" "$res" | jq -er 'if type == "object" and has("id") then "=" + (.configuredBy // "" | ascii_downcase) else error("not a dataset") end'"#
                .into(),
            sh_valid: "",
            sh_done: r#"{ [ "$v" = "=${PAL_NAME,,}" ] || [ "$v" = "=$PAL_IDENTITY" ]; }"#,
            sh_write: r#"api POST "$uri/Default.TakeOver" "$res""#.into(),
            sh_read_failed: "reading the dataset failed",
            sh_refused: "the take-over was refused",
            sh_not: "configuredBy is ${v#=}",
        },
        Action::InstanceRole { instance } => Template {
            says: format!(
                "#   give {name} a Contributor role on the instance (needs PAL_AUDIT_CI_KEY), then use the instance as {name}:\n#   among several partners, the latest active one gets the credit."
            ),
            uri: lit(shell, &format!("{CI}/instances/{instance}/rbac")),
            res: lit(shell, crate::endpoints::CUSTOMER_INSIGHTS.audience),
            ps_setup: "$key = @{ 'Ocp-Apim-Subscription-Key' = $env:PAL_AUDIT_CI_KEY }\n",
            ps_read: r#"$r = Invoke-Pal GET "${uri}/assignments" $res -Headers $key
if ($null -eq $r) { throw 'the answer has no assignment list' }
if ($null -ne $r.PSObject.Properties['value']) { $r = $r.value }
@($r | Where-Object { $_.principalId -eq $PalIdentity }).Count"#
                .into(),
            ps_done: "$v -gt 0",
            ps_write: format!(
                r#"Invoke-Pal PUT "${{uri}}/principals/${{PalIdentity}}/assign" $res @{{ principalId = $PalIdentity; principalType = '{principal_type}'; roles = @('Contributor') }} -Headers $key"#
            ),
            ps_not: "': the role did not appear'",
            sh_setup: r#"; key="Ocp-Apim-Subscription-Key: ${PAL_AUDIT_CI_KEY:-}""#,
            sh_read: r#"api GET "$uri/assignments" "$res" "" "$key" | jq -e --arg p "$PAL_IDENTITY" 'if type == "array" then . elif type == "object" and (.value | type) == "array" then .value else error("no assignment list") end | [.[] | select((.principalId | ascii_downcase) == $p)] | length'"#
                .into(),
            sh_valid: r#" || ! is_count "$v""#,
            sh_done: r#"[ "$v" -gt 0 ]"#,
            sh_write: format!(
                r#"api PUT "$uri/principals/$PAL_IDENTITY/assign" "$res" "{{\"principalId\":\"$PAL_IDENTITY\",\"principalType\":\"{principal_type}\",\"roles\":[\"Contributor\"]}}" "$key""#
            ),
            sh_read_failed: "reading its role assignments failed",
            sh_refused: "the role assignment was refused",
            sh_not: "the role did not appear",
        },
    };
    t.render(shell, &what)
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
            SignIn::Admin => crate::endpoints::POWER_APPS.audience,
            SignIn::Identity => crate::endpoints::POWER_BI.audience,
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
