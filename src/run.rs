//! The commands: each wires config -> links -> sources -> attribution ->
//! report for `audit` and `demo`, or starts the emulator for `emulate`.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use clap::Parser;

use crate::attest;
use crate::attribution::{self, Options};
use crate::auth::{Credential, Secret, Tokens};
use crate::cli::{Cli, ColorChoice, Command, DemoArgs, EmulateArgs, Format};
use crate::config::{self, AuditConfig, OutputConfig};
use crate::doctor;
use crate::emulator::{self, Faults, TenantModel};
use crate::error::{Error, InputError, code};
use crate::fix;
use crate::http::{ApiBase, HttpClient};
use crate::links::{self, Link, PartnerId, is_guid};
use crate::output;
use crate::report::{self, Report, TableOptions};
use crate::sources::customer_insights::{self, CiEvent};
use crate::sources::{self, Plan};

/// Parses the command line and runs the command.
pub fn run(args: impl IntoIterator<Item = OsString>) -> Result<ExitCode, Error> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit 2.
            let _ = e.print();
            return Ok(ExitCode::from(if e.use_stderr() {
                code::USAGE
            } else {
                code::OK
            }));
        }
    };
    init_tracing(cli.verbose, cli.quiet);
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    // The client's work is waiting on the network: one thread does it, and
    // an answer is read by the thread that sent its request. On a pool, each
    // answer woke another thread (the medium benchmark: eight times the
    // context switches, a fifth more CPU, and 2% more time). Attribution has
    // rayon's threads, large pages a blocking thread; the emulator serves
    // from a pool.
    let runtime = match cli.command {
        Command::Emulate(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build()
    .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))?;
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let code = match cli.command {
        Command::Audit(args) => {
            let file = config::load_file(cli.config.as_deref())?;
            let cfg = AuditConfig::resolve(*args, file)?;
            runtime.block_on(audit(cfg, cli.quiet, color))?
        }
        Command::Demo(args) => {
            runtime.block_on(demo(args, cli.config.as_deref(), cli.quiet, color))?
        }
        Command::Emulate(args) => runtime.block_on(emulate(args, cli.quiet))?,
        Command::Doctor(args) => {
            let file = config::load_file(cli.config.as_deref())?;
            let products: Vec<_> = config::products(args.products, &file)?
                .into_iter()
                .collect();
            let conn = config::Connection::resolve(args.conn, &file)?;
            let ci_audience = file
                .ci_audience
                .clone()
                .unwrap_or_else(|| customer_insights::DEFAULT_AUDIENCE.into());
            runtime.block_on(async {
                let (http, tokens) = connect(&conn)?;
                let checks =
                    doctor::run(&http, &tokens, &products, ci_key().as_ref(), &ci_audience).await;
                print_text(&report::terminal_safe(&doctor::render(&checks, 160)))?;
                Ok::<u8, Error>(doctor::exit_code(&checks))
            })?
        }
        Command::Explain(args) => {
            // Names are printed: no control character gets to the terminal.
            let report = report::for_terminal(&fix::read_report(&args.report)?);
            let findings = match &args.resource {
                Some(id) => {
                    let found = crate::explain::find(&report, id);
                    if found.is_empty() {
                        return Err(Error::Usage(format!(
                            "{}: no resource {id:?} (give a resource id or name from the report)",
                            args.report.display()
                        )));
                    }
                    found
                }
                None if args.format == crate::cli::ExplainFormat::Dot => {
                    report.findings.iter().collect()
                }
                None => {
                    return Err(Error::Usage(
                        "give a resource id or name, or --format dot for the whole report".into(),
                    ));
                }
            };
            match args.format {
                crate::cli::ExplainFormat::Dot => {
                    print_text(&crate::explain::dot(&report, &findings))?
                }
                crate::cli::ExplainFormat::Text => {
                    let text: Vec<String> = findings
                        .iter()
                        .map(|f| crate::explain::explain(&report, f))
                        .collect();
                    print_text(&text.join("\n"))?;
                }
            }
            code::OK
        }
        Command::Diff(args) => {
            let mut old = fix::read_report(&args.old)?;
            let mut new = fix::read_report(&args.new)?;
            // Shown to people: names made safe; JSON keeps the data exact.
            let safe: Option<fn(&Report) -> Report> = match args.format {
                crate::cli::DiffFormat::Table => Some(report::for_terminal),
                crate::cli::DiffFormat::Markdown => Some(report::for_markdown),
                crate::cli::DiffFormat::Json => None,
            };
            if let Some(safe) = safe {
                old = safe(&old);
                new = safe(&new);
            }
            let d = crate::diff::diff(&old, &new);
            print_text(&match args.format {
                crate::cli::DiffFormat::Table => crate::diff::render_table(&d),
                crate::cli::DiffFormat::Json => crate::diff::render_json(&d),
                crate::cli::DiffFormat::Markdown => crate::diff::render_markdown(&d),
            })?;
            if d.lost_credit() {
                code::FINDINGS
            } else {
                code::OK
            }
        }
        Command::Config(crate::cli::ConfigCommand::Init { path }) => {
            if path.exists() {
                return Err(Error::Usage(format!(
                    "{} exists already: not overwriting it",
                    path.display()
                )));
            }
            output::write_atomic(&path, config::TEMPLATE)?;
            eprintln!(
                "wrote {}: edit it, then run `pal-audit audit`",
                path.display()
            );
            code::OK
        }
        Command::Completions(args) => {
            use clap::CommandFactory;
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "pal-audit", &mut script);
            to_stdout(|w| w.write_all(&script))?;
            code::OK
        }
        Command::Fix(args) => {
            let file = config::load_file(cli.config.as_deref())?;
            runtime.block_on(fix_command(*args, file, cli.quiet))?
        }
        Command::Attest(args) => {
            let file = config::load_file(cli.config.as_deref())?;
            let change = match (&args.link, args.unlink) {
                (Some(p), _) => attest::Change::Link(
                    PartnerId::parse(p).map_err(|e| Error::Usage(format!("--link {e}")))?,
                ),
                (None, true) => attest::Change::Unlink,
                (None, false) => attest::Change::None,
            };
            let conn = config::Connection::resolve(args.conn, &file)?;
            if let Some(path) = &args.out {
                output::check_output(path)?;
            }
            let opts = attest::Options {
                change,
                service_account: args.service_account,
                out: args.out,
                yes: args.yes,
            };
            runtime.block_on(async {
                let (http, tokens) = connect(&conn)?;
                attest::run(&http, &tokens, &opts).await
            })?
        }
    };
    Ok(ExitCode::from(code))
}

fn init_tracing(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "warn,pal_audit=info",
        (false, 2) => "info,pal_audit=debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| ScrubbedStderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Standard error for log lines, with every known secret taken out: an
/// error a server wrote may quote what it was sent (`secrets`).
struct ScrubbedStderr;

impl std::io::Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stderr().write_all(&crate::secrets::bytes(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Writes to stdout. A closed pipe (`| head`) ends the output quietly; any
/// other failure (a full disk) is an error, exit 2: a truncated report must
/// not pass for a whole one.
fn to_stdout(
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(output::OutputError::new("stdout", e).into())
        }
        _ => Ok(()),
    }
}

pub(crate) fn print_text(text: &str) -> Result<(), Error> {
    to_stdout(|w| w.write_all(text.as_bytes()))
}

/// Progress bars only on a terminal, and never with `--quiet`.
fn progress_wanted() -> bool {
    std::io::stderr().is_terminal() && !QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Spinners on stderr, one per part of the collection.
#[derive(Default)]
struct Bars {
    multi: indicatif::MultiProgress,
    bars: std::sync::Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>,
}

impl sources::Progress for Bars {
    fn begin(&self, what: &str) {
        let bar = self.multi.add(indicatif::ProgressBar::new_spinner());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(report::terminal_safe(what).into_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        self.bars
            .lock()
            .expect("bars")
            .insert(what.to_string(), bar);
    }
    fn finish(&self, what: &str, summary: &str) {
        if let Some(bar) = self.bars.lock().expect("bars").remove(what) {
            bar.set_style(
                indicatif::ProgressStyle::with_template("  {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.finish_with_message(
                report::terminal_safe(&format!("{what}: {summary}")).into_owned(),
            );
        }
    }
}

/// Stops `http` on the first Ctrl-C (a second one ends the process at once)
/// or when `timeout` has passed.
async fn stop_on_signal_or_timeout(http: Arc<HttpClient>, timeout: std::time::Duration) {
    tokio::select! {
        r = tokio::signal::ctrl_c() => {
            if r.is_err() {
                // No signal handling here: only the timeout can stop the audit.
                tokio::time::sleep(timeout).await;
                http.stop(format!("the --timeout of {} s passed", timeout.as_secs()));
                return;
            }
            eprintln!("interrupted: writing the report of what was read (Ctrl-C again to quit at once)");
            http.stop(report::INTERRUPTED_REASON);
            let _ = tokio::signal::ctrl_c().await;
            std::process::exit(i32::from(crate::error::code::INTERRUPTED));
        }
        () = tokio::time::sleep(timeout) => {
            http.stop(format!("the --timeout of {} s passed", timeout.as_secs()));
        }
    }
}

/// `PAL_AUDIT_CI_KEY`, the Customer Insights API key.
fn ci_key() -> Option<Secret> {
    std::env::var("PAL_AUDIT_CI_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty())
        .map(Secret::new)
}

/// A credential and the HTTP pipeline for `conn`.
fn connect(conn: &config::Connection) -> Result<(HttpClient, Arc<Tokens>), Error> {
    let credential = Credential::from_env(conn.auth, conn.tenant.as_deref())?;
    let tokens = Arc::new(Tokens::new(credential));
    let http = HttpClient::new(conn.api_base.clone(), tokens.clone(), conn.http.clone())
        .map_err(Error::Usage)?;
    Ok((http, tokens))
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

/// `pal-audit audit`.
async fn audit(cfg: AuditConfig, quiet: bool, color: bool) -> Result<u8, Error> {
    // Every input is read and checked before the first call.
    let links = links::load(&cfg.links, &cfg.attestations)?;
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
    let report = collect_and_attribute(&cfg, &links, credential, &ci_key, &ci_activity).await?;
    let code = emit(&report, &cfg.output, quiet, color)?;
    Ok(if report.interrupted() {
        crate::error::code::INTERRUPTED
    } else {
        code
    })
}

async fn collect_and_attribute(
    cfg: &AuditConfig,
    links: &[Link],
    credential: Credential,
    ci_key: &Option<Secret>,
    ci_activity: &Option<Vec<CiEvent>>,
) -> Result<Report, Error> {
    // A delta audit reads the previous report and its cache before any call.
    let previous = match (&cfg.since, &cfg.cache) {
        (Some(since), Some(dir)) => {
            let report = crate::fix::read_report(since)?;
            Some(Arc::new(crate::cache::Cache::load_for(dir, &report)?))
        }
        _ => None,
    };
    let tokens = Arc::new(Tokens::new(credential));
    let mut http = HttpClient::new(cfg.conn.api_base.clone(), tokens, cfg.conn.http.clone())
        .map_err(Error::Usage)?;
    if cfg.record.is_some() {
        http = http.record();
    }
    let http = Arc::new(http);
    // Ctrl-C or the --timeout stop every call; what was read is reported.
    let watcher = tokio::spawn(stop_on_signal_or_timeout(http.clone(), cfg.timeout));
    let plan = Plan {
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
        now: cfg.as_of.unwrap_or_else(Utc::now),
        ci_key: ci_key.clone(),
        ci_audience: cfg.ci_audience.clone(),
        ci_activity: ci_activity.clone(),
        flow_owners: cfg.flow_owners,
        ours: Plan::ours_from(links, &cfg.partner_id),
        previous,
        keep_cache: cfg.cache.is_some(),
        activity_cache: cfg.cache.clone(),
    };
    let bars;
    let progress: &dyn sources::Progress = if progress_wanted() {
        bars = Bars::default();
        &bars
    } else {
        &sources::Silent
    };
    let sources::Collected {
        inventory,
        mut cache,
    } = sources::collect(&http, &plan, links, progress).await?;
    watcher.abort();
    if let (Some(dir), Some(rec)) = (&cfg.record, http.recorder()) {
        if cfg.record_force {
            crate::http::record::remove_recording(dir)?;
        }
        let n = rec.save(dir, cfg.output.redact)?;
        tracing::info!("recorded {n} responses in {}", dir.display());
    }
    let mut inventory = inventory;
    if let Some(reason) = http.stopped() {
        inventory.coverage.push(crate::inventory::Coverage {
            source: report::STOPPED_SOURCE.into(),
            environment_id: None,
            status: crate::inventory::CoverageStatus::Failed,
            detail: format!("the audit was stopped: {reason}; what was not read by then is a gap"),
            requests: 0,
        });
    }
    if let Some(t) = &inventory.tenant_id {
        links::check_tenant(links, t)?;
    }
    let options = Options {
        partner_id: cfg.partner_id.clone(),
        now: cfg.as_of.unwrap_or_else(Utc::now),
        attestation_max_age: cfg.attestation_max_age,
        our_other_ids: cfg.our_other_ids.clone(),
    };
    // The cache is saved, and its memory freed, before attribution: both
    // would otherwise peak together on a large tenant.
    let generated_at = Utc::now();
    if let Some(dir) = &cfg.cache {
        cache.report_generated_at = Some(generated_at);
        cache.save(dir)?;
    }
    drop(cache);
    let attribution = attribution::attribute(&inventory, links, &options);
    let scope = report::Scope {
        products: cfg.products.iter().copied().collect(),
        environments: cfg.environments.clone(),
    };
    Ok(Report::new(
        &inventory,
        attribution,
        cfg.partner_id.clone(),
        scope,
        generated_at,
    ))
}

/// Renders the report to stdout or `--output`, and gives the exit code.
fn emit(report: &Report, out: &OutputConfig, quiet: bool, color: bool) -> Result<u8, Error> {
    let redacted;
    let report = if out.redact {
        let mut r = report.clone();
        report::redact(&mut r);
        redacted = r;
        &redacted
    } else {
        report
    };
    // JSON and CSV are written as they are made: a large tenant's report is
    // hundreds of megabytes of text, never held whole.
    let table = TableOptions {
        color: color && out.output.is_none(),
        width: None,
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
                use crate::attribution::Verdict::*;
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
    Ok(report.exit_code(&out.fail_on))
}

const CONTOSO_TENANT: &str = include_str!("../fixtures/contoso/tenant.toml");
const CONTOSO_LINKS: &str = include_str!("../fixtures/contoso/links.csv");
/// The demo's Customer Insights diagnostics export.
pub const CONTOSO_CI_ACTIVITY: (&str, &str) = (
    "fixtures/contoso/ci-activity.jsonl",
    include_str!("../fixtures/contoso/ci-activity.jsonl"),
);
const CONTOSO_ATTESTATIONS: &[(&str, &str)] = &[
    (
        "fixtures/contoso/attestations/svc-delivery.json",
        include_str!("../fixtures/contoso/attestations/svc-delivery.json"),
    ),
    (
        "fixtures/contoso/attestations/fabrikam-automation.json",
        include_str!("../fixtures/contoso/attestations/fabrikam-automation.json"),
    ),
    (
        "fixtures/contoso/attestations/old-integration.json",
        include_str!("../fixtures/contoso/attestations/old-integration.json"),
    ),
    (
        "fixtures/contoso/attestations/grace-lee.json",
        include_str!("../fixtures/contoso/attestations/grace-lee.json"),
    ),
];

/// The bundled Contoso tenant, its links and attestations (embedded, so the
/// demo runs from any folder).
pub fn contoso() -> Result<(TenantModel, Vec<Link>), InputError> {
    let model = TenantModel::parse("fixtures/contoso/tenant.toml", CONTOSO_TENANT)?;
    let mut links = links::parse_links_csv("fixtures/contoso/links.csv", CONTOSO_LINKS)?;
    for (name, text) in CONTOSO_ATTESTATIONS {
        links.push(links::parse_attestation(name, text)?);
    }
    Ok((model, links))
}

/// `pal-audit fix`: a script, or `--apply` and an audit after it.
async fn fix_command(
    args: crate::cli::FixArgs,
    file: config::FileConfig,
    quiet: bool,
) -> Result<u8, Error> {
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
        let text = fix::script(&plan, &report, args.shell);
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
        return Ok(code::OK);
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
            code::OK
        } else {
            code::FINDINGS
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
        return Ok(code::OK);
    }
    let conn = config::Connection::resolve(args.conn, &file)?;
    let (http, tokens) = connect(&conn)?;
    let ci_audience = file
        .ci_audience
        .clone()
        .unwrap_or_else(|| customer_insights::DEFAULT_AUDIENCE.into());
    let outcomes = fix::apply(
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
    let after = collect_and_attribute(&cfg, &links, credential, &ci_key(), &ci_activity).await?;
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .force_no_tty()
        .set_header(["resource", "kind", "step", "before", "after"]);
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
        code::OK
    } else {
        code::FINDINGS
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

fn read_ci_activity(cfg: &AuditConfig) -> Result<Option<Vec<CiEvent>>, Error> {
    match &cfg.ci_activity {
        Some(path) => {
            let name = path.display().to_string();
            let text = crate::input::read_text(path, crate::input::MAX_INPUT)?;
            Ok(Some(customer_insights::parse_activity(&name, &text)?))
        }
        None => Ok(None),
    }
}

/// `pal-audit demo`: the Contoso tenant on an in-process emulator.
async fn demo(
    args: DemoArgs,
    config: Option<&std::path::Path>,
    quiet: bool,
    color: bool,
) -> Result<u8, Error> {
    let file = config::load_file(config)?;
    // The demo shows; it fails only when asked to (`--fail-on`).
    let asked_to_fail = args.output.fail_on.is_some() || file.fail_on.is_some();
    let output = OutputConfig::resolve(args.output, &file, "none")?;
    if let Some(path) = &output.output {
        output::check_output(path)?;
    }
    let (model, links) = contoso()?;
    let partner = model
        .partner_id
        .as_deref()
        .map(PartnerId::parse)
        .transpose()
        .map_err(Error::Usage)?
        .ok_or_else(|| Error::Usage("the demo tenant names no partner_id".into()))?;
    let as_of = model.as_of;
    // Small pages, so the demo's own requests follow next links.
    let options = emulator::Options {
        page_size: 2,
        ..Default::default()
    };
    let server = emulator::start(model, options, 0).await?;
    let api_base = ApiBase::parse(&server.base_url()).map_err(Error::Usage)?;
    let cfg = AuditConfig {
        partner_id: partner,
        links: Vec::new(),
        attestations: Vec::new(),
        environments: Vec::new(),
        products: crate::inventory::Product::ALL.into_iter().collect(),
        activity_days: 30,
        ci_activity: None,
        ci_audience: customer_insights::DEFAULT_AUDIENCE.into(),
        flow_owners: true,
        cache: None,
        since: None,
        timeout: config::DEFAULT_TIMEOUT,
        record: None,
        record_force: false,
        conn: config::Connection {
            tenant: None,
            auth: crate::auth::AuthKind::StaticToken,
            api_base,
            http: Default::default(),
        },
        as_of,
        attestation_max_age: chrono::Duration::days(30),
        our_other_ids: Vec::new(),
        environment_concurrency: 4,
        output,
    };
    let activity = customer_insights::parse_activity(CONTOSO_CI_ACTIVITY.0, CONTOSO_CI_ACTIVITY.1)?;
    let report = collect_and_attribute(
        &cfg,
        &links,
        Credential::Static(Secret::new("demo")),
        &Some(Secret::new("demo-ci-key")),
        &Some(activity),
    )
    .await;
    server.stop().await;
    let code = emit(&report?, &cfg.output, quiet, color)?;
    Ok(if asked_to_fail { code } else { code::OK })
}

/// `pal-audit emulate`: serves until Ctrl-C.
async fn emulate(args: EmulateArgs, quiet: bool) -> Result<u8, Error> {
    if let Some(dir) = &args.replay {
        let (server, n) = emulator::replay::start(dir, args.port).await?;
        if !quiet {
            eprintln!(
                "pal-audit replaying {n} recorded responses from {} at {} (Ctrl-C to stop)",
                dir.display(),
                server.base_url()
            );
        }
        print_text(&format!("{}\n", server.base_url()))?;
        let _ = tokio::signal::ctrl_c().await;
        server.stop().await;
        return Ok(code::OK);
    }
    let (model, shown) = match (&args.tenant, &args.synthetic) {
        (_, Some(spec)) => {
            let spec = emulator::synthetic::Spec::parse(spec).map_err(Error::Usage)?;
            (
                emulator::synthetic::generate(&spec),
                "a synthetic tenant".to_string(),
            )
        }
        (Some(dir), None) => (TenantModel::load(dir)?, dir.display().to_string()),
        (None, None) => {
            return Err(Error::Usage(
                "--tenant DIR or --synthetic SPEC is needed".into(),
            ));
        }
    };
    if let Some(path) = &args.links_out {
        let mut csv = String::from("principal,partner_id,kind,linked_at,note\n");
        for l in &model.partner_links {
            csv.push_str(&format!(
                "{},{},service-account,{},\n",
                l.principal,
                l.partner_id,
                l.created.map(|t| t.to_rfc3339()).unwrap_or_default()
            ));
        }
        output::write_atomic(path, &csv)?;
    }
    let faults = args
        .faults
        .as_deref()
        .map(Faults::parse)
        .transpose()
        .map_err(Error::Usage)?
        .unwrap_or_default();
    let options = emulator::Options {
        time_scale: args.time_scale,
        page_size: args.page_size.max(1),
        latency: std::time::Duration::from_millis(args.latency),
        faults,
        host_limit: args.host_limit,
    };
    let partner = model.partner_id.clone();
    let server = emulator::start(model, options, args.port).await?;
    if !quiet {
        eprintln!(
            "pal-audit emulator serving {} at {} (Ctrl-C to stop)\n\nAudit it with:\n  PAL_AUDIT_TOKEN=x PAL_AUDIT_CI_KEY=x pal-audit audit --auth static-token --api-base {} --partner-id {} --links <links.csv>",
            shown,
            server.base_url(),
            server.base_url(),
            partner.as_deref().unwrap_or("<partner id>")
        );
    }
    // The address on stdout alone, for scripts.
    print_text(&format!("{}\n", server.base_url()))?;
    let _ = tokio::signal::ctrl_c().await;
    server.stop().await;
    Ok(code::OK)
}
