//! The fix plan and scripts, tested over small reports (the demo's report
//! from the integration tests' JSON snapshot, changed per test), and the bash
//! scripts run for real against stubs with hostile names. Long because each
//! action has its guards tested in both shells.

use super::script::*;
use super::*;
use crate::attribution::Involvement;

fn report() -> Report {
    let text = include_str!("../../../pal-audit/tests/it/snapshots/it__snapshots__json.snap");
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
    crate::report::redact(&mut r, &[]);
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
  applies) # a write takes effect: the next read shows it done
    k=$(printf '%s' "$u" | sed -E 's/[?].*//; s#/(modifyPermissions|modifyAppOwner|Default.TakeOver)$##; s#/permissions$##; s#/principals/.*##; s#/assignments$##' | tr -c 'a-zA-Z0-9' _)
    if [ "$m" != GET ]; then echo "$u" > "$STUB_DIR/w-$k-$(basename "${u%%\?*}")"; echo '{}'; exit 0; fi
    done=$(ls "$STUB_DIR" | grep -c "^w-$k-" || true); who=x; [ "$done" -gt 0 ] && who=$STUB_OID
    owner=$(ls "$STUB_DIR" | grep -c "^w-$k-modifyAppOwner" || true); o=someone; [ "$owner" -gt 0 ] && o=$STUB_OID
    case "$u" in
      */permissions*) echo "{\"value\":[{\"properties\":{\"principal\":{\"id\":\"$who\"},\"roleName\":\"CanEdit\"}}]}";;
      */assignments) echo "[{\"principalId\":\"$who\"}]";;
      *datasets*) echo "{\"id\":\"x\",\"configuredBy\":\"$who\"}";;
      *) echo "{\"properties\":{\"owner\":{\"id\":\"$o\"}}}";;
    esac;;
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
        .env("STUB_OID", oid)
        .env("PAL_AUDIT_CI_KEY", "k")
        .output()
        .unwrap();
    let calls = std::fs::read_to_string(dir.join("calls")).unwrap_or_default();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
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
fn a_write_the_re_read_shows_is_ok_and_the_script_succeeds() {
    let r = report();
    for take_ownership in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let opts = PlanOptions {
            take_ownership,
            ..named()
        };
        let p = plan_of(&r, &opts);
        let s = script(&p, &r, Shell::Bash);
        let (code, out, calls) = run_bash(dir.path(), &s, &r.tenant_id, SVC, "applies");
        assert_eq!(code, 0, "{out}\n{calls}");
        assert_eq!(out.matches("ok: ").count(), p.steps.len(), "{out}");
        assert!(!out.contains("NOT FIXED"), "{out}");
        let writes = calls.matches("POST").count() + calls.matches("PUT").count();
        assert_eq!(writes, p.steps.len(), "{calls}");
        if take_ownership {
            assert!(calls.contains("/modifyAppOwner"), "{calls}");
        }
        // Run again: everything is already done and nothing is written.
        std::fs::remove_file(dir.path().join("calls")).unwrap();
        let (code, out, calls) = run_bash(dir.path(), &s, &r.tenant_id, SVC, "applies");
        assert_eq!(code, 0, "{out}");
        assert_eq!(
            out.matches("already done: ").count(),
            p.steps.len(),
            "{out}"
        );
        assert!(!calls.contains("POST") && !calls.contains("PUT"), "{calls}");
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
