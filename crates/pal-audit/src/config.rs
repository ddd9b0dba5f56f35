//! One validated configuration from flags, `PAL_AUDIT_*` variables (clap reads
//! both; flags win) and `pal-audit.toml` (lowest). Relative paths in the file
//! are read from the file's folder.
//! Over 600 lines with its tests: every setting's three sources, its range
//! and its error naming the key are here, so they cannot disagree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::cli::{AuditArgs, ConnArgs, DiffFormat, ExplainFormat, Format, OutputArgs};
use crate::error::{Error, InputError};
use pal_client::auth::AuthKind;
use pal_client::http::{ApiBase, HttpConfig, RetryPolicy};
use pal_core::attribution::FirstPartyOptions;
use pal_core::inventory::Product;
use pal_core::links::PartnerId;
use pal_core::report::FailOn;

pub const DEFAULT_FILE: &str = "pal-audit.toml";

/// What `pal-audit config init` writes: every key, commented.
pub const TEMPLATE: &str = r#"# pal-audit.toml: read from the current folder, or given with --config.
# Flags win over PAL_AUDIT_* variables, which win over this file. Relative
# paths are read from this file's folder. Secrets never go here: credentials
# come from the AZURE_* variables, the Customer Insights key from
# PAL_AUDIT_CI_KEY.

# Your associated partner ID (digits).
# partner_id = "4567890"
# Your organisation's other partner IDs (a global ID, another location): a
# link naming one is flagged linked-to-other-id-of-ours, not "another partner".
# our_other_ids = ["4567891"]
# A partner_id that no link (links, attestations) names is refused as a
# likely typo (exit 2) unless this is true.
# allow_unlinked_partner = false
# Platform-made components (in a Microsoft-published managed solution, or
# created by SYSTEM outside any solution) are left out and counted; true
# shows them as findings flagged first-party.
# include_first_party = false
# More solution publishers (unique names) to take for Microsoft's, besides
# MicrosoftCorporation and microsoftfirstparty.
# microsoft_publishers = ["msdynce"]

# The customer tenant: id or domain.
# tenant = "contoso.onmicrosoft.com"

# How to sign in: azure-cli, client-secret, client-certificate,
# managed-identity, workload-identity (static-token only for loopback).
# auth = "azure-cli"

# Who is linked to which partner: links CSV files and attestation files or folders.
# links = ["links.csv"]
# attestations = ["attestations/"]

# What to audit (default: everything).
# products = ["power-apps", "power-automate", "power-bi", "customer-insights"]
# environments = ["Contoso Sales"]

# Activity that decides between partners, and the Customer Insights export.
# activity_days = 30
# ci_activity = "ci-activity.jsonl"
# or, instead of the file, the Log Analytics workspace the diagnostics go to:
# ci_workspace = "00000000-0000-0000-0000-000000000000"
# audit_log = ["audit-log.csv"]
# and/or the Office 365 Management Activity API (last 7 days):
# audit_api = false
# start_audit_subscription = false
# ci_audience = "https://api.ci.ai.microsoft.com"

# Attestations older than this raise stale-attestation.
# attestation_max_age_days = 30

# Output: table, json, csv, markdown, html; and what fails the run (exit 1):
# any, none, uncredited, credited-to-other, unknown, flag:NAME (comma-separated).
# format = "table"
# output = "report.json"
# fail_on = "any"
# The table with whole names and ids, nothing wrapped (else fitted to the
# terminal; piped or in a file it is wide unless COLUMNS is set).
# wide = false

# [http]
# concurrency = 8                # requests in flight per API host
# environment_concurrency = 4    # environments read at once
# host_concurrency = { "graph.microsoft.com" = 4 }
# max_attempts = 6               # per request, retries included
# base_delay_ms = 500            # first backoff, doubled each retry, with jitter
# max_delay_s = 60
# max_request_s = 300            # give a request up past this
# timeout_s = 100                # per attempt, headers and body
# read_timeout_s = 30            # longest silence while a body arrives
# max_body_mb = 256              # refuse (as a gap) any larger response
# max_pages = 20000              # pages of one list at most; past it, a gap
# budget_percent = 100           # share of Power BI's tenant-wide hourly caps to use
"#;

/// How long an audit may read before it reports what it has.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// `pal-audit.toml`. Every key is optional; unknown keys are errors (a typo
/// must not silently change an audit).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub partner_id: Option<String>,
    #[serde(default)]
    pub our_other_ids: Vec<String>,
    pub allow_unlinked_partner: Option<bool>,
    pub include_first_party: Option<bool>,
    #[serde(default)]
    pub microsoft_publishers: Vec<String>,
    pub tenant: Option<String>,
    #[serde(default)]
    pub links: Vec<PathBuf>,
    #[serde(default)]
    pub attestations: Vec<PathBuf>,
    #[serde(default)]
    pub environments: Vec<String>,
    #[serde(default)]
    pub products: Vec<String>,
    pub activity_days: Option<u32>,
    pub ci_activity: Option<PathBuf>,
    /// Log Analytics workspace id of the Customer Insights diagnostics.
    pub ci_workspace: Option<String>,
    #[serde(default)]
    pub audit_log: Vec<PathBuf>,
    /// Read the Management Activity API (`--audit-api`).
    pub audit_api: Option<bool>,
    /// Start its Audit.General subscription (`--start-audit-subscription`).
    pub start_audit_subscription: Option<bool>,
    /// Token audience for Customer Insights (the API has used two).
    pub ci_audience: Option<String>,
    pub auth: Option<AuthKind>,
    pub api_base: Option<String>,
    pub format: Option<Format>,
    pub output: Option<PathBuf>,
    pub fail_on: Option<String>,
    /// The table's wide layout (`--wide`).
    pub wide: Option<bool>,
    pub attestation_max_age_days: Option<u32>,
    #[serde(default)]
    pub http: FileHttp,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHttp {
    pub concurrency: Option<usize>,
    #[serde(default)]
    pub host_concurrency: BTreeMap<String, usize>,
    pub environment_concurrency: Option<usize>,
    pub max_attempts: Option<u32>,
    pub base_delay_ms: Option<u64>,
    pub max_delay_s: Option<u64>,
    pub max_request_s: Option<u64>,
    pub timeout_s: Option<u64>,
    pub read_timeout_s: Option<u64>,
    pub max_body_mb: Option<u64>,
    pub max_pages: Option<usize>,
    /// Share (1-100) of each published tenant-wide cap (Power BI's hourly
    /// limits) this audit may use: other admin tools share the same hour.
    pub budget_percent: Option<u32>,
}

/// The valid range of each numeric setting, inclusive (README,
/// "Configuration"): out of range is an error naming the key, never a value
/// that wraps or is silently clamped.
pub mod range {
    pub const CONCURRENCY: (u64, u64) = (1, 256);
    pub const ENVIRONMENT_CONCURRENCY: (u64, u64) = (1, 64);
    pub const MAX_ATTEMPTS: (u64, u64) = (1, 20);
    pub const BASE_DELAY_MS: (u64, u64) = (0, 60_000);
    pub const MAX_DELAY_S: (u64, u64) = (0, 3_600);
    pub const MAX_REQUEST_S: (u64, u64) = (1, 86_400);
    pub const TIMEOUT_S: (u64, u64) = (1, 3_600);
    pub const MAX_BODY_MB: (u64, u64) = (1, 4_096);
    pub const MAX_PAGES: (u64, u64) = (1, 10_000_000);
    pub const BUDGET_PERCENT: (u64, u64) = (1, 100);
    pub const DAYS: (u64, u64) = (1, 3_650);
}

impl FileConfig {
    /// Every numeric key within its range; the error names the file and key.
    fn check_ranges(&self, name: &str) -> Result<(), InputError> {
        let h = &self.http;
        let check = |key: &str, value: Option<u64>, (lo, hi): (u64, u64)| match value {
            Some(v) if v < lo || v > hi => Err(InputError::new(
                format!("{name}: {key}"),
                format!("{v} is out of range ({lo} to {hi})"),
            )),
            _ => Ok(()),
        };
        let wide = |v: Option<usize>| v.map(|v| v as u64);
        check(
            "activity_days",
            self.activity_days.map(u64::from),
            range::DAYS,
        )?;
        check(
            "attestation_max_age_days",
            self.attestation_max_age_days.map(u64::from),
            range::DAYS,
        )?;
        check(
            "[http] concurrency",
            wide(h.concurrency),
            range::CONCURRENCY,
        )?;
        for (host, n) in &h.host_concurrency {
            check(
                &format!("[http] host_concurrency.{host:?}"),
                Some(*n as u64),
                range::CONCURRENCY,
            )?;
        }
        check(
            "[http] environment_concurrency",
            wide(h.environment_concurrency),
            range::ENVIRONMENT_CONCURRENCY,
        )?;
        check(
            "[http] max_attempts",
            h.max_attempts.map(u64::from),
            range::MAX_ATTEMPTS,
        )?;
        check(
            "[http] base_delay_ms",
            h.base_delay_ms,
            range::BASE_DELAY_MS,
        )?;
        check("[http] max_delay_s", h.max_delay_s, range::MAX_DELAY_S)?;
        check(
            "[http] max_request_s",
            h.max_request_s,
            range::MAX_REQUEST_S,
        )?;
        check("[http] timeout_s", h.timeout_s, range::TIMEOUT_S)?;
        check("[http] read_timeout_s", h.read_timeout_s, range::TIMEOUT_S)?;
        check("[http] max_body_mb", h.max_body_mb, range::MAX_BODY_MB)?;
        check(
            "[http] max_pages",
            h.max_pages.map(|n| n as u64),
            range::MAX_PAGES,
        )?;
        check(
            "[http] budget_percent",
            h.budget_percent.map(u64::from),
            range::BUDGET_PERCENT,
        )
    }
}

/// Parses a config file's text and checks its numbers; errors name `name`
/// and the line or key.
pub fn parse_file(name: &str, text: &str) -> Result<FileConfig, InputError> {
    let cfg = parse_toml(name, text)?;
    cfg.check_ranges(name)?;
    Ok(cfg)
}

fn parse_toml(name: &str, text: &str) -> Result<FileConfig, InputError> {
    toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                format!(
                    "{name}:{}",
                    text[..s.start.min(text.len())].matches('\n').count() + 1
                )
            })
            .unwrap_or_else(|| name.to_string());
        InputError::new(at, e.message().to_string())
    })
}

/// Reads the config file: `--config` (must exist) or `./pal-audit.toml` (if it
/// exists). Relative paths inside are made relative to the file's folder.
pub fn load_file(explicit: Option<&Path>) -> Result<FileConfig, Error> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None if Path::new(DEFAULT_FILE).is_file() => PathBuf::from(DEFAULT_FILE),
        None => return Ok(FileConfig::default()),
    };
    let name = path.display().to_string();
    let text = pal_core::input::read_text(&path, pal_core::input::MAX_INPUT)?;
    let mut cfg = parse_file(&name, &text)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let rebase = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = dir.join(&*p);
        }
    };
    cfg.links.iter_mut().for_each(rebase);
    cfg.attestations.iter_mut().for_each(rebase);
    if let Some(o) = cfg.output.as_mut() {
        rebase(o);
    }
    if let Some(o) = cfg.ci_activity.as_mut() {
        rebase(o);
    }
    cfg.audit_log.iter_mut().for_each(rebase);
    Ok(cfg)
}

/// Where the report goes and what fails the run.
#[derive(Debug)]
pub struct OutputConfig {
    pub redact: bool,
    pub format: Format,
    pub output: Option<PathBuf>,
    pub fail_on: FailOn,
    /// `--wide`: the table's wide layout.
    pub wide: bool,
}

/// The report format a file name's extension names, if any.
pub fn format_of(path: &std::path::Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "json" => Format::Json,
        "csv" => Format::Csv,
        "md" | "markdown" => Format::Markdown,
        "html" | "htm" => Format::Html,
        "txt" => Format::Table,
        _ => return None,
    })
}

/// `diff`'s format: `--format`, else `--output`'s extension (.json, .md,
/// .txt), else table. An extension naming a format diff does not write
/// (.csv, .html) is refused rather than a table written under that name.
pub fn diff_format(flag: Option<DiffFormat>, output: Option<&Path>) -> Result<DiffFormat, Error> {
    if let Some(f) = flag {
        return Ok(f);
    }
    match output.and_then(format_of) {
        None | Some(Format::Table) => Ok(DiffFormat::Table),
        Some(Format::Json) => Ok(DiffFormat::Json),
        Some(Format::Markdown) => Ok(DiffFormat::Markdown),
        Some(Format::Csv | Format::Html) => Err(Error::Usage(format!(
            "--output {}: diff writes table, json or markdown, not what the extension names; give --format",
            output
                .map(Path::display)
                .map(|d| d.to_string())
                .unwrap_or_default()
        ))),
    }
}

/// `explain`'s format: `--format`, else dot for an `--output` ending in
/// .dot or .gv, else text.
pub fn explain_format(flag: Option<ExplainFormat>, output: Option<&Path>) -> ExplainFormat {
    let ext = output
        .and_then(Path::extension)
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    flag.unwrap_or(match ext.as_deref() {
        Some("dot" | "gv") => ExplainFormat::Dot,
        _ => ExplainFormat::Text,
    })
}

impl OutputConfig {
    /// `default_fail_on` is `any` for audits and `none` for the demo.
    pub fn resolve(
        args: OutputArgs,
        file: &FileConfig,
        default_fail_on: &str,
    ) -> Result<Self, Error> {
        let fail_on = args
            .fail_on
            .or_else(|| file.fail_on.clone())
            .unwrap_or_else(|| default_fail_on.to_string());
        let output = args.output.or_else(|| file.output.clone());
        // `--output report.html` without `--format` means HTML, not a table
        // in a file named .html.
        let inferred = output.as_deref().and_then(format_of);
        Ok(Self {
            redact: args.redact,
            format: args.format.or(inferred).or(file.format).unwrap_or_default(),
            output,
            fail_on: FailOn::parse(&fail_on).map_err(Error::Usage)?,
            wide: args.wide || file.wide.unwrap_or(false),
        })
    }
}

/// Everything `audit` needs, checked.
#[derive(Debug)]
pub struct AuditConfig {
    pub partner_id: PartnerId,
    pub links: Vec<PathBuf>,
    pub attestations: Vec<PathBuf>,
    pub environments: Vec<String>,
    pub products: BTreeSet<Product>,
    pub activity_days: u32,
    pub ci_activity: Option<PathBuf>,
    /// `--ci-workspace`: a GUID, never together with `ci_activity`.
    pub ci_workspace: Option<String>,
    /// `--audit-log` files.
    pub audit_log: Vec<PathBuf>,
    /// `--audit-api`: `Some(start the subscription?)`.
    pub audit_api: Option<bool>,
    pub ci_audience: String,
    pub flow_owners: bool,
    /// `--cache`: where this audit saves what it read.
    pub cache: Option<PathBuf>,
    /// `--since`: the previous audit's report (a delta audit).
    pub since: Option<PathBuf>,
    /// `--timeout`: the audit stops reading after this.
    pub timeout: Duration,
    /// `--record`: where to save every response read.
    pub record: Option<PathBuf>,
    /// `--force`: `--record` into a folder that is not empty.
    pub record_force: bool,
    pub conn: Connection,
    pub as_of: Option<DateTime<Utc>>,
    pub attestation_max_age: chrono::Duration,
    /// `--our-other-id`: our organisation's other partner IDs.
    pub our_other_ids: Vec<PartnerId>,
    /// `--allow-unlinked-partner`: audit although no link names the
    /// partner ID.
    pub allow_unlinked_partner: bool,
    /// `--include-first-party` and `--microsoft-publisher`.
    pub first_party: FirstPartyOptions,
    pub environment_concurrency: usize,
    pub output: OutputConfig,
}

/// How to reach the tenant, checked: sign-in, where requests go, HTTP knobs.
#[derive(Debug, Clone)]
pub struct Connection {
    pub tenant: Option<String>,
    pub auth: AuthKind,
    pub api_base: ApiBase,
    pub http: HttpConfig,
}

impl Connection {
    pub fn resolve(args: ConnArgs, file: &FileConfig) -> Result<Self, Error> {
        let api_base = match args.api_base.or_else(|| file.api_base.clone()) {
            Some(b) => ApiBase::parse(&b).map_err(Error::Usage)?,
            None => ApiBase::real(),
        };
        let auth = args
            .auth
            .map(AuthKind::from)
            .or(file.auth)
            .unwrap_or_default();
        if auth == AuthKind::StaticToken && !api_base.is_loopback() {
            return Err(Error::Usage(
                "--auth static-token is accepted only with an --api-base on a loopback address (the emulator or a local stand-in)"
                    .into(),
            ));
        }
        let h = &file.http;
        let concurrency = args.concurrency.or(h.concurrency).unwrap_or(8);
        if concurrency == 0 || concurrency as u64 > range::CONCURRENCY.1 {
            return Err(Error::Usage(format!(
                "--concurrency must be 1 to {}",
                range::CONCURRENCY.1
            )));
        }
        let defaults = RetryPolicy::default();
        let http = HttpConfig {
            concurrency,
            per_host: h
                .host_concurrency
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), (*v).max(1)))
                .collect(),
            retry: RetryPolicy {
                max_attempts: h.max_attempts.unwrap_or(defaults.max_attempts).max(1),
                base_delay: h
                    .base_delay_ms
                    .map_or(defaults.base_delay, Duration::from_millis),
                max_delay: h
                    .max_delay_s
                    .map_or(defaults.max_delay, Duration::from_secs),
                max_elapsed: h
                    .max_request_s
                    .map_or(defaults.max_elapsed, Duration::from_secs),
            },
            timeout: h
                .timeout_s
                .map_or(HttpConfig::default().timeout, Duration::from_secs),
            read_timeout: h
                .read_timeout_s
                .map_or(HttpConfig::default().read_timeout, Duration::from_secs),
            max_body: h
                .max_body_mb
                .map_or(HttpConfig::default().max_body, |mb| mb.max(1) << 20),
            max_pages: h.max_pages.map_or(HttpConfig::default().max_pages, |n| n),
            caps: {
                let pct = h.budget_percent.unwrap_or(100).clamp(1, 100);
                pal_client::sources::powerbi::CAPS
                    .iter()
                    .map(|(name, cap)| {
                        let mut cap = *cap;
                        cap.limit = (cap.limit * pct / 100).max(1);
                        (*name, cap)
                    })
                    .collect()
            },
        };
        Ok(Self {
            tenant: args.tenant.or_else(|| file.tenant.clone()),
            auth,
            api_base,
            http,
        })
    }

    /// `doctor`'s HTTP: a check is one small request, so an API that does
    /// not answer is reported in well under a minute instead of retried for
    /// the audit's five. What the file's `[http]` sets explicitly stays.
    pub fn for_checks(mut self, file: &FileConfig) -> Self {
        let h = &file.http;
        let http = &mut self.http;
        if h.max_attempts.is_none() {
            http.retry.max_attempts = 2;
        }
        if h.max_request_s.is_none() {
            http.retry.max_elapsed = Duration::from_secs(40);
        }
        if h.timeout_s.is_none() {
            http.timeout = Duration::from_secs(20);
        }
        if h.read_timeout_s.is_none() {
            http.read_timeout = Duration::from_secs(15);
        }
        self
    }
}

/// `--products` (or the file's `products`), checked; all when empty.
pub fn products(flag: Vec<String>, file: &FileConfig) -> Result<BTreeSet<Product>, Error> {
    let names = or_file(flag, &file.products);
    if names.is_empty() {
        return Ok(Product::ALL.into_iter().collect());
    }
    names
        .iter()
        .map(|p| {
            Product::parse(p).ok_or_else(|| {
                Error::Usage(format!(
                    "--products: {p:?} is not one of power-apps, power-automate, power-bi, customer-insights"
                ))
            })
        })
        .collect()
}

fn or_file<T>(flag: Vec<T>, file: &[T]) -> Vec<T>
where
    T: Clone,
{
    if flag.is_empty() { file.to_vec() } else { flag }
}

/// `--audit-api` and `--start-audit-subscription` (or their keys): the
/// second only with the first.
fn audit_api(inputs: &crate::cli::InputArgs, file: &FileConfig) -> Result<Option<bool>, Error> {
    let on = inputs.audit_api || file.audit_api.unwrap_or(false);
    let start = inputs.start_audit_subscription || file.start_audit_subscription.unwrap_or(false);
    match (on, start) {
        (false, true) => Err(Error::Usage(
            "start_audit_subscription needs audit_api (--audit-api): the subscription is only started to be read".into(),
        )),
        (false, false) => Ok(None),
        (true, start) => Ok(Some(start)),
    }
}

/// `--ci-workspace` (or `ci_workspace`): a Log Analytics workspace id, a
/// GUID: it goes into the query URL's path.
pub fn ci_workspace(flag: Option<String>, file: &FileConfig) -> Result<Option<String>, Error> {
    match flag.or_else(|| file.ci_workspace.clone()) {
        None => Ok(None),
        Some(id) if pal_core::links::is_guid(id.trim()) => Ok(Some(id.trim().to_ascii_lowercase())),
        Some(id) => Err(Error::Usage(format!(
            "--ci-workspace {id:?} is not a Log Analytics workspace id (a GUID: the workspace's Overview > Workspace ID)"
        ))),
    }
}

impl AuditConfig {
    pub fn resolve(args: AuditArgs, file: FileConfig) -> Result<Self, Error> {
        let partner = args.partner_id.or_else(|| file.partner_id.clone()).ok_or_else(|| {
            Error::Usage(
                "--partner-id is required (or PAL_AUDIT_PARTNER_ID, or partner_id in pal-audit.toml)"
                    .into(),
            )
        })?;
        let partner_id =
            PartnerId::parse(&partner).map_err(|e| Error::Usage(format!("--partner-id {e}")))?;
        let as_of = args
            .inputs
            .as_of
            .as_deref()
            .map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        Error::Usage(format!("--as-of {s:?} is not an RFC 3339 time: {e}"))
                    })
            })
            .transpose()?;
        let max_age_days = args
            .attestation_max_age
            .or(file.attestation_max_age_days)
            .unwrap_or(30);
        let products = products(args.products, &file)?;
        let mut our_other_ids = Vec::new();
        for id in or_file(args.our_other_id, &file.our_other_ids) {
            let id =
                PartnerId::parse(&id).map_err(|e| Error::Usage(format!("--our-other-id {e}")))?;
            if id == partner_id {
                return Err(Error::Usage(format!(
                    "--our-other-id {id} is the associated partner ID (--partner-id): name only your other IDs"
                )));
            }
            our_other_ids.push(id);
        }
        let mut first_party = FirstPartyOptions {
            include: args.include_first_party || file.include_first_party.unwrap_or(false),
            ..FirstPartyOptions::default()
        };
        for name in or_file(args.microsoft_publisher, &file.microsoft_publishers) {
            let name = name.trim();
            // A publisher's unique name: letters, digits and underscores.
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::Usage(format!(
                    "--microsoft-publisher {name:?} is not a publisher unique name (letters, digits, _)"
                )));
            }
            first_party.microsoft_publishers.push(name.to_string());
        }
        let audit_api = audit_api(&args.inputs, &file)?;
        let ci_activity = args.inputs.ci_activity.or_else(|| file.ci_activity.clone());
        let ci_workspace = ci_workspace(args.inputs.ci_workspace, &file)?;
        if ci_activity.is_some() && ci_workspace.is_some() {
            return Err(Error::Usage(
                "--ci-activity and --ci-workspace both give Customer Insights activity: use one (a file and a workspace may cover different windows, so they are not merged)".into(),
            ));
        }
        Ok(Self {
            partner_id,
            products,
            activity_days: args
                .activity_days
                .or(file.activity_days)
                .unwrap_or(30)
                .max(1),
            ci_activity,
            ci_workspace,
            audit_log: or_file(args.inputs.audit_log, &file.audit_log),
            audit_api,
            ci_audience: file
                .ci_audience
                .clone()
                .unwrap_or_else(|| pal_client::sources::customer_insights::DEFAULT_AUDIENCE.into()),
            flow_owners: !args.no_flow_owners,
            cache: args.cache,
            since: args.since,
            timeout: args.timeout.unwrap_or(DEFAULT_TIMEOUT),
            record: args.record,
            record_force: args.force,
            conn: Connection::resolve(args.conn, &file)?,
            links: or_file(args.inputs.links, &file.links),
            attestations: or_file(args.inputs.attestations, &file.attestations),
            environments: or_file(args.environment, &file.environments),
            as_of,
            attestation_max_age: chrono::Duration::days(i64::from(max_age_days)),
            our_other_ids,
            allow_unlinked_partner: args.allow_unlinked_partner
                || file.allow_unlinked_partner.unwrap_or(false),
            first_party,
            environment_concurrency: file.http.environment_concurrency.unwrap_or(4).max(1),
            output: OutputConfig::resolve(args.output, &file, "any")?,
        })
    }
}

#[cfg(test)]
mod tests {

    /// doctor's checks give up on a silent API in well under a minute;
    /// what the file's `[http]` says stays.
    #[test]
    fn checks_get_short_timeouts_unless_the_file_sets_them() {
        use super::*;
        let file = FileConfig::default();
        let c = Connection::resolve(crate::cli::ConnArgs::default(), &file)
            .unwrap()
            .for_checks(&file);
        assert_eq!(c.http.retry.max_attempts, 2);
        assert_eq!(c.http.read_timeout, Duration::from_secs(15));
        assert_eq!(c.http.timeout, Duration::from_secs(20));
        let file: FileConfig =
            toml::from_str("[http]\nmax_attempts = 5\nread_timeout_s = 60\n").unwrap();
        let c = Connection::resolve(crate::cli::ConnArgs::default(), &file)
            .unwrap()
            .for_checks(&file);
        assert_eq!(c.http.retry.max_attempts, 5);
        assert_eq!(c.http.read_timeout, Duration::from_secs(60));
        assert_eq!(c.http.timeout, Duration::from_secs(20));
    }

    #[test]
    fn the_output_extension_names_the_format_when_none_is_given() {
        use std::path::Path;
        assert_eq!(format_of(Path::new("r.HTML")), Some(Format::Html));
        assert_eq!(format_of(Path::new("out/r.md")), Some(Format::Markdown));
        assert_eq!(format_of(Path::new("r.csv")), Some(Format::Csv));
        assert_eq!(format_of(Path::new("r.json")), Some(Format::Json));
        assert_eq!(format_of(Path::new("report")), None);
        let file = FileConfig::default();
        let out = |format, output: &str| {
            let args = OutputArgs {
                format,
                output: Some(output.into()),
                ..Default::default()
            };
            OutputConfig::resolve(args, &file, "any").unwrap().format
        };
        assert_eq!(out(None, "r.html"), Format::Html);
        // An explicit --format wins over the extension.
        assert_eq!(out(Some(Format::Json), "r.html"), Format::Json);
        assert_eq!(out(None, "r.out"), Format::Table);
        let p = |s: &'static str| Some(Path::new(s));
        assert_eq!(diff_format(None, p("d.md")).unwrap(), DiffFormat::Markdown);
        assert_eq!(diff_format(None, p("d.JSON")).unwrap(), DiffFormat::Json);
        assert_eq!(diff_format(None, None).unwrap(), DiffFormat::Table);
        assert!(diff_format(None, p("d.html")).is_err());
        assert_eq!(
            diff_format(Some(DiffFormat::Json), p("d.html")).unwrap(),
            DiffFormat::Json
        );
        assert_eq!(explain_format(None, p("g.gv")), ExplainFormat::Dot);
        assert_eq!(explain_format(None, p("e.txt")), ExplainFormat::Text);
    }

    use super::*;

    fn args(partner: Option<&str>) -> AuditArgs {
        AuditArgs {
            partner_id: partner.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn out_of_range_settings_name_the_file_and_key() {
        // 2^44 MB shifted to bytes wrapped to a cap of 0.
        for (text, key) in [
            (
                "[http]\nmax_body_mb = 17592186044416\n",
                "[http] max_body_mb",
            ),
            ("[http]\nconcurrency = 0\n", "[http] concurrency"),
            ("[http]\nmax_attempts = 4000000000\n", "[http] max_attempts"),
            ("[http]\nbudget_percent = 500\n", "[http] budget_percent"),
            ("[http]\ntimeout_s = 0\n", "[http] timeout_s"),
            ("activity_days = 0\n", "activity_days"),
            (
                "[http]\nhost_concurrency = { \"graph.microsoft.com\" = 100000 }\n",
                "[http] host_concurrency.\"graph.microsoft.com\"",
            ),
        ] {
            let err = parse_file("p.toml", text).unwrap_err();
            assert_eq!(err.location, format!("p.toml: {key}"), "{text}");
            assert!(err.message.contains("out of range"), "{err}");
        }
        assert!(parse_file("p.toml", "[http]\nmax_body_mb = 4096\n").is_ok());
    }

    #[test]
    fn the_template_is_a_valid_config_once_uncommented() {
        let text: String = TEMPLATE
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|x| x.contains(" = ") || x.starts_with('['))
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let cfg: FileConfig = toml::from_str(&text).unwrap();
        assert_eq!(cfg.partner_id.as_deref(), Some("4567890"));
        assert_eq!(cfg.http.budget_percent, Some(100));
    }

    #[test]
    fn flags_win_over_the_file() {
        let file: FileConfig =
            toml::from_str("partner_id = \"111\"\nformat = \"json\"\n[http]\nconcurrency = 3\n")
                .unwrap();
        let cfg = AuditConfig::resolve(args(Some("222")), file).unwrap();
        assert_eq!(cfg.partner_id.as_str(), "222");
        assert_eq!(cfg.output.format, Format::Json);
        assert_eq!(cfg.conn.http.concurrency, 3);
        assert_eq!(cfg.attestation_max_age.num_days(), 30);
    }

    #[test]
    fn partner_id_is_required_and_checked() {
        let err = AuditConfig::resolve(args(None), FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("--partner-id is required"));
        let err = AuditConfig::resolve(args(Some("12a")), FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("not a partner ID"), "{err}");
    }

    #[test]
    fn static_token_needs_loopback() {
        let mut a = args(Some("1"));
        a.conn.auth = Some(crate::cli::AuthArg::StaticToken);
        a.conn.api_base = Some("https://example.com".into());
        assert!(AuditConfig::resolve(a, FileConfig::default()).is_err());
        let mut a = args(Some("1"));
        a.conn.auth = Some(crate::cli::AuthArg::StaticToken);
        assert!(AuditConfig::resolve(a, FileConfig::default()).is_err());
        let mut a = args(Some("1"));
        a.conn.auth = Some(crate::cli::AuthArg::StaticToken);
        a.conn.api_base = Some("http://127.0.0.1:9".into());
        assert!(AuditConfig::resolve(a, FileConfig::default()).is_ok());
    }

    #[test]
    fn file_errors_name_the_line_and_relative_paths_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pal-audit.toml");
        std::fs::write(&path, "partner_id = \"1\"\nlinks = [\"l.csv\"]\n").unwrap();
        let cfg = load_file(Some(&path)).unwrap();
        assert_eq!(cfg.links, vec![dir.path().join("l.csv")]);
        std::fs::write(&path, "partner_id = \"1\"\nlinkz = []\n").unwrap();
        let err = load_file(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("pal-audit.toml:2"), "{err}");
    }
}
