//! Parsing the command line, the async runtime, dispatch to the commands
//! (`commands/`) and the exit code; and what the commands share: logging,
//! stdout, whether to show progress, the Customer Insights key and the HTTP
//! pipeline.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::commands::{self, attest, doctor};
use crate::config::{self, AuditConfig};
use crate::error::{Error, Outcome, code};
use pal_client::auth::{Credential, Secret, Tokens};
use pal_client::http::HttpClient;
use pal_client::sources::customer_insights;
use pal_core::links::PartnerId;
use pal_core::output;
use pal_core::report;

/// Parses the command line and runs the command.
pub fn run(args: impl IntoIterator<Item = OsString>) -> Result<ExitCode, Error> {
    run_args(args.into_iter().collect())
}

/// [`run`], not generic: the whole program is compiled here, in the library,
/// once. Generic, it was instantiated in the binary's crate instead, whose
/// release build took 45 s on one core after the library's (issue 17).
fn run_args(args: Vec<OsString>) -> Result<ExitCode, Error> {
    if crate::completions::answer(&args)? {
        return Ok(ExitCode::from(Outcome::Clean.exit_code()));
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit 2.
            let _ = e.print();
            return Ok(ExitCode::from(if e.use_stderr() {
                code::USAGE
            } else {
                Outcome::Clean.exit_code()
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
        #[cfg(feature = "emulator")]
        Command::Emulate(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build()
    .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))?;
    let color = crate::term::color_here(cli.color);
    let outcome = match cli.command {
        Command::Audit(args) => {
            let file = config::load_file(cli.config.as_deref())?;
            let cfg = AuditConfig::resolve(*args, file)?;
            runtime.block_on(commands::audit::audit(cfg, cli.quiet, color))?
        }
        #[cfg(feature = "emulator")]
        Command::Demo(args) => runtime.block_on(commands::demo::demo(
            args,
            cli.config.as_deref(),
            cli.quiet,
            color,
        ))?,
        #[cfg(feature = "emulator")]
        Command::Emulate(args) => runtime.block_on(commands::emulate::emulate(args, cli.quiet))?,
        Command::Doctor(args) => {
            let file = config::load_file(cli.config.as_deref())?;
            let products: Vec<_> = config::products(args.products, &file)?
                .into_iter()
                .collect();
            let conn = config::Connection::resolve(args.conn, &file)?.for_checks(&file);
            let ci_workspace = config::ci_workspace(args.ci_workspace, &file)?;
            let ci_audience = file
                .ci_audience
                .clone()
                .unwrap_or_else(|| customer_insights::DEFAULT_AUDIENCE.into());
            let output = args.output.output;
            if let Some(path) = &output {
                output::check_output(path)?;
            }
            runtime.block_on(async {
                let (http, tokens) = connect(&conn)?;
                // No token at all: one message saying how to sign in (exit
                // 3), not a table of the same failure on every API.
                doctor::sign_in(&tokens, conn.auth, conn.tenant.as_deref()).await?;
                let checks = doctor::run(
                    &http,
                    &tokens,
                    &products,
                    ci_key().as_ref(),
                    &ci_audience,
                    ci_workspace.as_deref(),
                    (args.audit_api || file.audit_api.unwrap_or(false))
                        .then_some(conn.tenant.as_deref()),
                )
                .await;
                write_text(
                    output.as_deref(),
                    &report::terminal_safe(&doctor::render(
                        &checks,
                        crate::term::table_width_here(false, output.is_none()),
                    )),
                )?;
                Ok::<Outcome, Error>(doctor::outcome(&checks))
            })?
        }
        Command::Explain(args) => commands::explain::explain(args)?,
        Command::Diff(args) => commands::diff::diff(args)?,
        Command::Report(args) => {
            let file = config::load_file(cli.config.as_deref())?;
            commands::report::report(args, &file, cli.quiet, color)?
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
            Outcome::Clean
        }
        Command::Completions(args) => {
            to_stdout(|w| crate::completions::script(args.shell, w))?;
            Outcome::Clean
        }
        Command::Fix(args) => {
            let file = config::load_file(cli.config.as_deref())?;
            runtime.block_on(commands::fix::fix_command(*args, file, cli.quiet))?
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
    Ok(ExitCode::from(outcome.exit_code()))
}

fn init_tracing(verbose: u8, quiet: bool) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    // Our crates by name: the work is logged from pal-client and pal-core
    // as much as from the binary.
    let ours = |level: &str| {
        ["pal_audit", "pal_client", "pal_core", "pal_emulator"]
            .map(|c| format!("{c}={level}"))
            .join(",")
    };
    let default = match (quiet, verbose) {
        (true, _) => "error".to_string(),
        (false, 0) => "warn".to_string(),
        (false, 1) => format!("warn,{}", ours("info")),
        (false, 2) => format!("info,{}", ours("debug")),
        _ => "trace".to_string(),
    };
    // `RUST_LOG` wins when it parses (`level` or `target=level`, comma
    // separated); Targets needs no regular expressions, which EnvFilter
    // compiles in (17 s of a clean build).
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| default.parse().expect("the default filters parse"));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(|| ScrubbedStderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
}

/// Standard error for log lines, with every known secret taken out: an
/// error a server wrote may quote what it was sent (`secrets`).
struct ScrubbedStderr;

impl std::io::Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Above the progress, which is drawn again below it.
        crate::progress::suspend(|| std::io::stderr().write_all(&pal_core::secrets::bytes(buf)))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Writes to stdout. A closed pipe (`| head`) ends the output quietly; any
/// other failure (a full disk) is an error, exit 2: a truncated report must
/// not pass for a whole one.
pub(crate) fn to_stdout(
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

/// `text` to `-o/--output` (atomically, as the report) or to stdout.
pub(crate) fn write_text(output: Option<&std::path::Path>, text: &str) -> Result<(), Error> {
    match output {
        Some(path) => Ok(output::write_atomic(path, text)?),
        None => print_text(text),
    }
}

/// Progress bars only on a terminal, and never with `--quiet`.
pub(crate) fn progress_wanted() -> bool {
    std::io::stderr().is_terminal() && !QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `PAL_AUDIT_CI_KEY`, the Customer Insights API key.
pub(crate) fn ci_key() -> Option<Secret> {
    std::env::var("PAL_AUDIT_CI_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty())
        .map(Secret::new)
}

/// A credential and the HTTP pipeline for `conn`.
pub(crate) fn connect(conn: &config::Connection) -> Result<(HttpClient, Arc<Tokens>), Error> {
    let credential = Credential::from_env(conn.auth, conn.tenant.as_deref())?;
    conn.api_base.check_listening().map_err(Error::Usage)?;
    let tokens = Arc::new(Tokens::new(credential));
    let http = HttpClient::new(conn.api_base.clone(), tokens.clone(), conn.http.clone())
        .map_err(Error::Usage)?;
    Ok((http, tokens))
}
