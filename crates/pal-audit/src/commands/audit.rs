//! `pal-audit audit`: every input read and checked before the first call,
//! then collection and attribution (shared with `demo` and `fix --apply`),
//! then the report written and the exit code it gives.

use pal_core::audit_log::AuditLog;
use std::sync::Arc;

use chrono::Utc;

use crate::cli::Format;
use crate::config::{AuditConfig, OutputConfig};
use crate::error::{Error, Outcome};
use crate::progress::{self, Bars};
use crate::run::{ci_key, progress_wanted, to_stdout};
use pal_client::audit::{self, AuditRequest, Recording};
use pal_client::auth::{Credential, Secret, Tokens};
use pal_client::sources::customer_insights::{self, CiEvent};
use pal_client::sources::{self, Plan};
use pal_core::attribution::Options;
use pal_core::links::{self, Link, is_guid};
use pal_core::output;
use pal_core::report::{self, Report, TableOptions};

/// Ends with the reason to stop on the first Ctrl-C (a second one ends the
/// process at once) or when `timeout` has passed.
async fn stop_on_signal_or_timeout(timeout: std::time::Duration) -> String {
    let timed_out = || format!("the --timeout of {} s passed", timeout.as_secs());
    tokio::select! {
        r = tokio::signal::ctrl_c() => {
            if r.is_err() {
                // No signal handling here: only the timeout can stop the audit.
                tokio::time::sleep(timeout).await;
                return timed_out();
            }
            progress::eprintln_above("interrupted: writing the report of what was read (Ctrl-C again to quit at once)");
            tokio::spawn(async {
                let _ = tokio::signal::ctrl_c().await;
                // No destructor runs on exit: the progress goes first.
                progress::clear();
                std::process::exit(i32::from(crate::error::code::INTERRUPTED));
            });
            report::INTERRUPTED_REASON.to_string()
        }
        () = tokio::time::sleep(timeout) => timed_out(),
    }
}

/// The report's path, the cache folder and the recording folder can be
/// written; a recording folder that is not empty needs `--force`.
fn check_outputs(cfg: &AuditConfig) -> Result<(), Error> {
    if let Some(path) = &cfg.output.output {
        output::check_output(path)?;
    }
    if let Some(dir) = &cfg.cache {
        output::check_output_dir(dir)?;
    }
    if let Some(dir) = &cfg.record {
        let has_files = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
        if has_files && !cfg.record_force {
            return Err(Error::Usage(format!(
                "--record {}: the folder is not empty, and a replay would mix its old answers with this audit's; give an empty or new folder, or --force to replace the recording in it",
                dir.display()
            )));
        }
        output::check_output_dir(dir)?;
    }
    Ok(())
}

/// A `--partner-id` that no given link names is almost always a typo: it is
/// refused before anything is read (exit 2), unless
/// `--allow-unlinked-partner`. A link naming one of `--our-other-id` does
/// not name the partner ID; a `Deleted` attestation naming it does (the ID
/// is then no typo). With no links at all there is nothing to compare: the
/// "no links given" warning says so instead.
fn check_partner_named(links: &[Link], partner: &links::PartnerId) -> Result<(), Error> {
    if links.is_empty() || links::names_partner(links, partner) {
        return Ok(());
    }
    let named: std::collections::BTreeSet<&str> =
        links.iter().map(|l| l.partner_id.as_str()).collect();
    Err(Error::Usage(format!(
        "--partner-id {partner}: no link in --links/--attestations names it (they name {}), so nothing could be credited to it: a typo? Check the ID (your associated partner ID, its links naming an --our-other-id do not count), or give --allow-unlinked-partner (PAL_AUDIT_ALLOW_UNLINKED_PARTNER, allow_unlinked_partner in pal-audit.toml) to audit anyway",
        named.into_iter().collect::<Vec<_>>().join(", ")
    )))
}

/// `pal-audit audit`.
pub(crate) async fn audit(cfg: AuditConfig, quiet: bool, color: bool) -> Result<Outcome, Error> {
    // Every input is read and checked before the first call.
    let links = links::load(&cfg.links, &cfg.attestations)?;
    if !cfg.allow_unlinked_partner {
        check_partner_named(&links, &cfg.partner_id)?;
    }
    if let Some(t) = cfg.conn.tenant.as_deref().filter(|t| is_guid(t)) {
        links::check_tenant(&links, t)?;
    }
    if links.is_empty() && !quiet {
        eprintln!(
            "warning: no links given (--links, --attestations): no resource can be credited to any partner"
        );
    }
    let ci_activity = read_ci_activity(&cfg)?;
    // So are the places it writes: a long audit must not end in "cannot write".
    check_outputs(&cfg)?;
    let ci_key = ci_key();
    let credential = Credential::from_env(cfg.conn.auth, cfg.conn.tenant.as_deref())?;
    cfg.conn.api_base.check_listening().map_err(Error::Usage)?;
    let audit_log = read_audit_log(&cfg)?;
    let audited =
        collect_and_attribute(&cfg, &links, credential, &ci_key, &ci_activity, &audit_log).await?;
    let report = &audited.report;
    let code = emit(
        report,
        &known_text(&cfg, audited.tenant_text),
        &cfg.output,
        quiet,
        color,
    )?;
    Ok(if report.interrupted() {
        Outcome::Interrupted
    } else {
        code
    })
}

pub(crate) async fn collect_and_attribute(
    cfg: &AuditConfig,
    links: &[Link],
    credential: Credential,
    ci_key: &Option<Secret>,
    ci_activity: &Option<Vec<CiEvent>>,
    audit_log: &Option<AuditLog>,
) -> Result<audit::Audited, Error> {
    // A delta audit reads the previous report and its cache before any call.
    let previous = match (&cfg.since, &cfg.cache) {
        (Some(since), Some(dir)) => {
            let report = pal_core::fix::read_report(since)?;
            Some(audit::previous(&report, dir)?)
        }
        _ => None,
    };
    let now = cfg.as_of.unwrap_or_else(Utc::now);
    let request = AuditRequest {
        api_base: cfg.conn.api_base.clone(),
        http: cfg.conn.http.clone(),
        tokens: Arc::new(Tokens::new(credential)),
        links: links.to_vec(),
        plan: Plan {
            environments: cfg.environments.clone(),
            products: cfg.products.clone(),
            tenant_id: cfg
                .conn
                .tenant
                .as_deref()
                .filter(|t| is_guid(t))
                .map(str::to_ascii_lowercase),
            environment_concurrency: cfg.environment_concurrency,
            activity_days: cfg.activity_days,
            ci_key: ci_key.clone(),
            ci_audience: cfg.ci_audience.clone(),
            ci_activity: ci_activity.clone(),
            ci_workspace: cfg.ci_workspace.clone(),
            audit_log: audit_log.clone(),
            audit_api: cfg.audit_api,
            flow_owners: cfg.flow_owners,
            previous,
            activity_cache: cfg.cache.clone(),
            ..Plan::default()
        },
        options: Options {
            partner_id: cfg.partner_id.clone(),
            now,
            attestation_max_age: cfg.attestation_max_age,
            our_other_ids: cfg.our_other_ids.clone(),
            first_party: cfg.first_party.clone(),
        },
        scope: report::Scope {
            products: cfg.products.iter().copied().collect(),
            environments: cfg.environments.clone(),
        },
        cache_dir: cfg.cache.clone(),
        record: cfg.record.clone().map(|dir| Recording {
            dir,
            replace: cfg.record_force,
            redact: cfg.output.redact,
        }),
        // Ctrl-C or the --timeout stop every call; what was read is reported.
        stop: Some(Box::pin(stop_on_signal_or_timeout(cfg.timeout))),
    };
    let bars;
    let progress: &dyn sources::Progress = if progress_wanted() {
        bars = Bars::new();
        &bars
    } else {
        &sources::Silent
    };
    Ok(audit::audit(request, progress).await?)
}

/// What `--redact` must hide besides the report's own names: the tenant
/// text the audit read (`tenant_text`) and the paths of the files it was
/// given (a reason names the links file a link came from).
pub(crate) fn known_text(cfg: &AuditConfig, mut tenant_text: Vec<String>) -> Vec<String> {
    let paths = cfg
        .links
        .iter()
        .chain(&cfg.attestations)
        .chain(&cfg.ci_activity)
        .chain(&cfg.audit_log);
    tenant_text.extend(paths.map(|p| p.display().to_string()));
    tenant_text
}

/// Renders the report to stdout or `--output`, and gives the exit code.
/// `known`: tenant text for `--redact` that the report has no field for
/// (`known_text`).
pub(crate) fn emit(
    report: &Report,
    known: &[String],
    out: &OutputConfig,
    quiet: bool,
    color: bool,
) -> Result<Outcome, Error> {
    let redacted;
    let report = if out.redact {
        let mut r = report.clone();
        report::redact(&mut r, known);
        redacted = r;
        &redacted
    } else {
        report
    };
    // JSON and CSV are written as they are made: a large tenant's report is
    // hundreds of megabytes of text, never held whole.
    // A file gets neither colour nor the terminal's width.
    let table = TableOptions {
        color: color && out.output.is_none(),
        width: crate::term::table_width_here(out.wide, out.output.is_none()),
    };
    let write = |w: &mut dyn std::io::Write| match out.format {
        Format::Json => report::write_json(report, w),
        Format::Csv => report::write_csv(report, w),
        Format::Markdown => w.write_all(report::render_markdown(report).as_bytes()),
        Format::Html => w.write_all(report::render_html(report).as_bytes()),
        Format::Table => w.write_all(report::render_table(report, table).as_bytes()),
    };
    match &out.output {
        Some(path) => {
            output::write_atomic_with(path, write)?;
            if !quiet {
                let s = &report.summary.by_verdict;
                let n = |v| s.get(&v).copied().unwrap_or(0);
                use pal_core::attribution::Verdict::*;
                eprintln!(
                    "report written to {}: {} credited, {} credited to another partner, {} uncredited, {} unknown{}",
                    path.display(),
                    n(Credited),
                    n(CreditedToOther),
                    n(Uncredited),
                    n(Unknown),
                    if report.complete {
                        ""
                    } else {
                        " (audit incomplete)"
                    }
                );
            }
        }
        None => to_stdout(write)?,
    }
    Ok(report.gate(&out.fail_on).into())
}

/// `--audit-log`: every file read and parsed (a bad one is exit 2, naming
/// the file, line and field); `None` when none is given.
pub(crate) fn read_audit_log(cfg: &AuditConfig) -> Result<Option<AuditLog>, Error> {
    let mut all: Option<AuditLog> = None;
    for path in &cfg.audit_log {
        let name = path.display().to_string();
        let text = pal_core::input::read_text(path, pal_core::input::MAX_INPUT)?;
        let log = pal_core::audit_log::parse_audit_log(&name, &text)?;
        match &mut all {
            Some(a) => a.extend(log),
            None => all = Some(log),
        }
    }
    Ok(all)
}

pub(crate) fn read_ci_activity(cfg: &AuditConfig) -> Result<Option<Vec<CiEvent>>, Error> {
    match &cfg.ci_activity {
        Some(path) => {
            let name = path.display().to_string();
            let text = pal_core::input::read_text(path, pal_core::input::MAX_INPUT)?;
            Ok(Some(customer_insights::parse_activity(&name, &text)?))
        }
        None => Ok(None),
    }
}
