//! `pal-audit fix`: from a saved report, a script of the changes that give
//! the partner its credit, or with `--apply` the changes made, then an audit
//! to show what changed.

use std::io::IsTerminal;

use super::audit::{collect_and_attribute, read_audit_log, read_ci_activity};
use crate::config::{self, AuditConfig};
use crate::error::{Error, Outcome};
use crate::run::{ci_key, connect, print_text};
use pal_client::auth::Credential;
use pal_client::sources::customer_insights;
use pal_core::fix;
use pal_core::links;
use pal_core::output;
use pal_core::report;

/// `pal-audit fix`: a script, or `--apply` and an audit after it.
pub(crate) async fn fix_command(
    args: crate::cli::FixArgs,
    file: config::FileConfig,
    quiet: bool,
) -> Result<Outcome, Error> {
    let report = fix::read_report(&args.report)?;
    fix::refuse_redacted(&report, &args.report.display().to_string()).map_err(Error::Usage)?;
    fix::check_ids(&report, &args.report.display().to_string())?;
    if let Some(path) = args.out.as_deref().filter(|_| !args.apply) {
        output::check_output(path)?;
    }
    let identity = fix::identity(&report, args.as_principal.as_deref()).map_err(Error::Usage)?;
    let options = fix::PlanOptions {
        solutions: args.solutions,
        resources: args.resources,
        environments: args.environments,
        take_ownership: args.take_ownership,
    };
    options.check(&report).map_err(Error::Usage)?;
    let plan = fix::plan(&report, identity, &options);
    if !quiet {
        for note in &plan.notes {
            eprintln!("note: {note}");
        }
    }
    if !args.apply {
        let text = fix::script(&plan, &report, args.shell.into());
        match &args.out {
            Some(path) => {
                output::write_atomic(path, &text)?;
                if !quiet {
                    eprintln!(
                        "script written to {}: {} automated steps, {} already done, {} to do by hand, {} to decide first, {} not delivered by this partner",
                        path.display(),
                        plan.steps.len(),
                        plan.done.len(),
                        plan.manual.len(),
                        plan.decide_first.len(),
                        plan.not_delivered.len()
                    );
                }
            }
            None => print_text(&text)?,
        }
        return Ok(Outcome::Clean);
    }
    let who = plan
        .identity
        .name
        .clone()
        .unwrap_or_else(|| plan.identity.id.to_string());
    let mut shown = format!(
        "Plan: make {who} the attributed user of {} resources:\n",
        plan.steps.len()
    );
    let mut group = None;
    for s in &plan.steps {
        if group != Some(s.action.sign_in()) {
            group = Some(s.action.sign_in());
            shown.push_str(match s.action.sign_in() {
                fix::SignIn::Admin => " signed in as an administrator:\n",
                fix::SignIn::Identity => " signed in as the PAL identity itself:\n",
            });
        }
        shown.push_str(&format!(
            "  - {} ({}, {}): {}\n",
            s.finding.resource_name,
            s.finding.kind.as_str(),
            s.finding.environment_name,
            action_words(&s.action)
        ));
    }
    if !plan.done.is_empty() {
        shown.push_str(&format!("Already done ({}):\n", plan.done.len()));
        for m in &plan.done {
            shown.push_str(&format!(
                "  - {} ({}): {}\n",
                m.finding.resource_name,
                m.finding.kind.as_str(),
                m.what
            ));
        }
    }
    // Listed, never written to.
    for (heading, findings) in [
        (fix::DECIDE_FIRST, &plan.decide_first),
        (fix::NOT_DELIVERED, &plan.not_delivered),
    ] {
        if findings.is_empty() {
            continue;
        }
        shown.push_str(&format!(
            "{heading} ({}; never written to):\n",
            findings.len()
        ));
        for f in findings {
            shown.push_str(&format!(
                "  - {} ({}, {})\n",
                f.resource_name,
                f.kind.as_str(),
                f.environment_name
            ));
        }
    }
    if !plan.manual.is_empty() {
        shown.push_str(&format!("Not automatable ({}):\n", plan.manual.len()));
        for m in &plan.manual {
            shown.push_str(&format!(
                "  - {} ({}): {}\n",
                m.finding.resource_name,
                m.finding.kind.as_str(),
                m.what
            ));
        }
    }
    print_text(&report::terminal_safe(&shown))?;
    if plan.steps.is_empty() {
        return Ok(if plan.manual.is_empty() {
            Outcome::Clean
        } else {
            Outcome::Findings
        });
    }
    let go = if args.yes {
        true
    } else if std::io::stdin().is_terminal() {
        eprint!("Apply these {} changes? [y/N] ", plan.steps.len());
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    } else {
        false
    };
    if !go {
        print_text("Dry run: nothing changed (add --yes to apply without asking).\n")?;
        return Ok(Outcome::Clean);
    }
    let conn = config::Connection::resolve(args.conn, &file)?;
    let (http, tokens) = connect(&conn)?;
    let ci_audience = file
        .ci_audience
        .clone()
        .unwrap_or_else(|| customer_insights::DEFAULT_AUDIENCE.into());
    let outcomes = pal_client::apply::apply(
        &http,
        &tokens,
        &plan,
        &report.tenant_id,
        ci_key().as_ref(),
        &ci_audience,
    )
    .await;
    // Audit again, as the report was made, to show what changed.
    let audit_args = crate::cli::AuditArgs {
        partner_id: Some(report.partner_id.to_string()),
        inputs: args.inputs,
        ..Default::default()
    };
    let mut cfg = AuditConfig::resolve(audit_args, file)?;
    cfg.conn = conn;
    let ci_activity = read_ci_activity(&cfg)?;
    let credential = Credential::from_env(cfg.conn.auth, cfg.conn.tenant.as_deref())?;
    let links = links::load(&cfg.links, &cfg.attestations)?;
    let audit_log = read_audit_log(&cfg)?;
    let after = collect_and_attribute(
        &cfg,
        &links,
        credential,
        &ci_key(),
        &ci_activity,
        &audit_log,
    )
    .await?
    .report;
    let mut t = crate::term::plain_table(crate::term::table_width_here(false, true));
    t.set_header(["resource", "kind", "step", "before", "after"]);
    let mut all_good = true;
    for (step, outcome) in &outcomes {
        let now = after
            .findings
            .iter()
            .find(|f| f.resource_id == step.finding.resource_id && f.kind == step.finding.kind)
            .map_or("(not found)", |f| f.verdict.as_str());
        let step_text = match outcome {
            fix::Outcome::Changed => "changed".to_string(),
            fix::Outcome::AlreadyDone => "already done".to_string(),
            fix::Outcome::Failed(why) => format!("FAILED: {why}"),
        };
        all_good &= !matches!(outcome, fix::Outcome::Failed(_)) && now == "credited";
        t.add_row(vec![
            step.finding.resource_name.to_string(),
            step.finding.kind.as_str().to_string(),
            step_text,
            step.finding.verdict.as_str().to_string(),
            now.to_string(),
        ]);
    }
    print_text(&report::terminal_safe(&format!("{t}\n")))?;
    Ok(if all_good && plan.manual.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

fn action_words(a: &fix::Action) -> &'static str {
    match a {
        fix::Action::CanvasCoOwner { .. } => "add it as a co-owner (CanEdit), the owner unchanged",
        fix::Action::CanvasOwner { .. } => {
            "make it the owner, keeping the current owner as co-owner (--take-ownership)"
        }
        fix::Action::TakeOver { .. } => "take the dataset over (runs as the PAL identity)",
        fix::Action::InstanceRole { .. } => "give it a Contributor role on the instance",
    }
}
