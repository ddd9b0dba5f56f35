//! The command line (clap derive): commands, flags, their environment
//! variables and help texts. Nothing here acts; `config` merges and checks.
//! Over 600 lines of help text and flags: one place for what `--help` says.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};
use serde::Deserialize;

use pal_client::auth::AuthKind;

const EXIT_CODES: &str = "\
Exit codes:
  0  audit complete, nothing at or above --fail-on
  1  findings at or above --fail-on (default: any finding that is not credited)
  2  bad usage or bad input (flags, config, links file, attestation)
  3  authentication failed: no call could be made
  4  audit incomplete: some source could not be read (and no exit-1 finding)";

#[derive(Debug, Parser)]
#[command(
    name = "pal-audit",
    version,
    about = "Checks, resource by resource, whether your PAL-linked identities get the partner credit for Power Platform work in a customer tenant.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More log output on stderr (-v info, -vv debug, -vvv trace). RUST_LOG wins.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Config file [default: ./pal-audit.toml when it exists].
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        value_hint = ValueHint::FilePath,
        env = "PAL_AUDIT_CONFIG",
        hide_env_values = true
    )]
    pub config: Option<PathBuf>,
    /// Colour in the table: auto (only when stdout is a terminal, and not with NO_COLOR),
    /// always (piped too, not in an --output file), never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit a tenant: which resources credit your partner ID, which do not, why, and the fix.
    #[command(after_help = concat!(
        "Example:\n  az login --tenant contoso.onmicrosoft.com\n  pal-audit audit --partner-id 4567890 --links links.csv --attestations attestations/\n\n",
        "Against the emulator (see `pal-audit emulate`):\n  PAL_AUDIT_TOKEN=x pal-audit audit --auth static-token --api-base http://127.0.0.1:8080 \\\n      --partner-id 4567890 --links crates/pal-emulator/contoso/links.csv --attestations crates/pal-emulator/contoso/attestations\n\n",
        "Exit codes: 0 ok, 1 findings at or above --fail-on, 2 bad input, 3 authentication failed, 4 incomplete."
    ))]
    Audit(Box<AuditArgs>),
    #[cfg(feature = "emulator")]
    /// Audit the bundled Contoso tenant on an embedded emulator: no sign-in, no network.
    #[command(
        after_help = "Example:\n  pal-audit demo\n  pal-audit demo --format json --output contoso.json\n\nThe demo exits 0 unless --fail-on is given."
    )]
    Demo(DemoArgs),
    /// Run as the partner identity: read its own PAL link (and create, move or delete it) and write an attestation.
    #[command(after_help = concat!(
        "Example:\n  az login --tenant contoso.onmicrosoft.com    # as the service account\n",
        "  pal-audit attest --service-account --out attestations/svc.json\n",
        "  pal-audit attest --link 4567890 --yes        # create or move the link, then attest\n\n",
        "Exit codes: 0 attested an active link; 1 no active link (none, deleted, conflict, or declined);\n",
        "2 bad input; 3 authentication failed; 4 an API failed."
    ))]
    Attest(AttestArgs),
    /// Check that the credential can read every API an audit needs, and say how to fix what it cannot.
    #[command(
        after_help = "Example:\n  pal-audit doctor --auth client-secret --tenant contoso.onmicrosoft.com\n\nExit codes: 0 everything an audit needs works; 1 something is refused or failing; 2 bad usage; 3 no token at all."
    )]
    Doctor(DoctorArgs),
    /// Turn a report's findings into fixes: a script to review and run, or the same steps applied through the APIs.
    #[command(after_help = concat!(
        "Examples:\n  pal-audit fix report.json --as svc-delivery@contoso.com > fix.ps1\n",
        "  pal-audit fix report.json --shell bash --out fix.sh\n",
        "  pal-audit fix report.json --apply --yes --links links.csv --attestations attestations/\n\n",
        "--apply shows the plan and asks first; without a terminal it changes nothing unless --yes.\n",
        "It then audits again and prints each changed resource's verdict before and after.\n",
        "Exit codes: 0 every step done (or, without --apply, the script written); 1 a step failed or\n",
        "a resource is still not credited; 2 bad input; 3 authentication failed."
    ))]
    Fix(Box<FixArgs>),
    /// The attribution path of one resource in a report, in plain words (or the graph in DOT).
    #[command(
        after_help = "Examples:\n  pal-audit explain report.json a0000000-0000-4000-8000-000000000004\n  pal-audit explain report.json \"Quote Builder\"\n  pal-audit explain report.json --format dot | dot -Tsvg > attribution.svg"
    )]
    Explain(ExplainArgs),
    /// Render or gate a saved report (from `audit --format json`) without auditing again.
    #[command(after_help = concat!(
        "Examples:\n  pal-audit report report.json --format html --output report.html\n",
        "  pal-audit report report.json --fail-on uncredited > /dev/null     # a pipeline gate\n",
        "  pal-audit report report.json --output handover.md                 # format from the extension\n\n",
        "Exit codes as for audit: 0 nothing at or above --fail-on; 1 findings at or above it;\n",
        "2 bad input; 4 the saved audit was incomplete."
    ))]
    Report(ReportArgs),
    /// What changed between two reports: credit gained or lost, resources that appeared or disappeared.
    #[command(
        after_help = "Example:\n  pal-audit diff before.json after.json --format markdown\n\nExit codes: 0 no credit lost; 1 credit was lost; 2 bad input."
    )]
    Diff(DiffArgs),
    /// Write a commented pal-audit.toml (`config init`).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print shell completions (commands, options and their values): bash, zsh, fish, powershell (pwsh), elvish.
    #[command(
        after_help = "The script runs pal-audit from PATH for the candidates. Load it at start-up:\n  bash        ~/.bashrc:    source <(pal-audit completions bash)\n  zsh         ~/.zshrc:     source <(pal-audit completions zsh)\n  fish        pal-audit completions fish > ~/.config/fish/completions/pal-audit.fish\n  PowerShell  $PROFILE:     pal-audit completions pwsh | Out-String | Invoke-Expression\n  elvish      rc.elv:       eval (pal-audit completions elvish | slurp)"
    )]
    Completions(CompletionsArgs),
    #[cfg(feature = "emulator")]
    /// Serve a tenant model on loopback in the real API shapes, for --api-base.
    #[command(after_help = concat!(
        "Example:\n  pal-audit emulate --tenant crates/pal-emulator/contoso --port 8080 --faults '429@/apps*2,403-env:Contoso-Sales'\n\n",
        "Faults (comma-separated KIND[:ARG][@MATCH][*COUNT]):\n",
        "  429[:SECS]       429 with Retry-After in seconds (default 1)\n",
        "  429-date[:SECS]  429 with Retry-After as an HTTP date\n",
        "  400|401|403|404  that status (with @MATCH: refuse one API)\n",
        "  500|502|503|504  that status\n",
        "  cut              a 200 whose body stops half way\n",
        "  slow:MS          a 200 whose second half comes MS milliseconds later\n",
        "  malformed        a 200 whose body is not JSON\n",
        "  repeat-next      a page whose next link is the page itself\n",
        "  scan:STATUS      Power BI scanStatus answers STATUS (Running, Failed)\n",
        "  403-env:ENV      403 for every request naming environment ENV (always)\n",
        "  not-a-list[:SHAPE]  a list answered 200 with object ({}), array ([]), error or other\n",
        "  redirect[:URL]   302 to URL (default: another Microsoft host on the emulator)\n",
        "  foreign-next     a page whose next link names https://attacker.example\n",
        "  foreign-dataverse  environments whose instanceApiUrl is https://attacker.example\n",
        "  replay-page      a page whose next link serves the same page again\n",
        "  duplicate        a page listing its first item twice (duplicate-changed: differently)\n",
        "  echo-secrets     the first item's name (or an error) quotes the token and API key\n",
        "  lost-write       a write answered with an empty 200 that changes nothing\n",
        "  token-only       Power BI activity pages without continuationUri, only the token\n",
        "  @MATCH limits a fault to URLs containing MATCH; *COUNT to the first COUNT (default 1;\n",
        "  *all for every one; *first for the first try of each request).\n\n",
        "Replay a recording of `audit --record DIR`:\n  pal-audit emulate --replay DIR --port 8080"
    ))]
    Emulate(EmulateArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A table for people, with reasons and fixes.
    #[default]
    Table,
    /// The pal-audit/report/v1 JSON.
    Json,
    /// One row per finding, for Excel.
    Csv,
    /// A handover document.
    #[value(alias = "md")]
    Markdown,
    /// One self-contained page with charts and a sortable, filterable table.
    Html,
}

/// Where and how the report goes; shared by `audit` and `demo`.
#[derive(Debug, Args, Default)]
pub struct OutputArgs {
    /// Report format: table, json, csv, markdown (md), html [default: from --output's extension
    /// (.json, .csv, .md, .html), else table].
    #[arg(long, value_enum, env = "PAL_AUDIT_FORMAT", hide_env_values = true)]
    pub format: Option<Format>,
    /// Write the report to FILE (atomically, owner-readable only; a device or
    /// FIFO is written into, a folder refused) instead of stdout.
    #[arg(
        short,
        long,
        value_name = "FILE",
        value_hint = ValueHint::FilePath,
        env = "PAL_AUDIT_OUTPUT",
        hide_env_values = true
    )]
    pub output: Option<PathBuf>,
    /// Which findings fail the run (exit 1): any, none, uncredited, credited-to-other, unknown,
    /// flag:NAME; combine with commas [default: any].
    #[arg(
        long,
        value_name = "LEVELS",
        value_parser = FailOnParser,
        add = clap_complete::engine::ArgValueCompleter::new(fail_on_candidates),
        env = "PAL_AUDIT_FAIL_ON",
        hide_env_values = true
    )]
    pub fail_on: Option<String>,
    /// Replace every piece of tenant text (UPNs, domains, names of people,
    /// groups, resources and environments, Dataverse hosts, local paths) by
    /// stable short hashes, in every format (for reports that leave the
    /// tenant).
    #[arg(
        long,
        env = "PAL_AUDIT_REDACT",
        hide_env_values = true,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub redact: bool,
    /// The table with whole names and ids and nothing wrapped, however wide
    /// [default: fitted to the terminal (COLUMNS, else its width); piped or
    /// written to a file, wide unless COLUMNS is set].
    #[arg(
        long,
        env = "PAL_AUDIT_WIDE",
        hide_env_values = true,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub wide: bool,
}

#[derive(Debug, Args, Default)]
pub struct AuditArgs {
    /// Your (associated) partner ID: the one your identities are linked to.
    #[arg(
        long,
        value_name = "ID",
        env = "PAL_AUDIT_PARTNER_ID",
        hide_env_values = true
    )]
    pub partner_id: Option<String>,
    /// Another partner ID of your own organisation (a global ID, another
    /// location); repeatable. A link naming one is flagged
    /// linked-to-other-id-of-ours instead of counting as another partner.
    #[arg(
        long,
        value_name = "ID",
        env = "PAL_AUDIT_OUR_OTHER_ID",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub our_other_id: Vec<String>,
    /// Audit even though no link in --links/--attestations names
    /// --partner-id (links naming an --our-other-id do not count). Without
    /// it, such an ID is taken for a typo and refused (exit 2) before
    /// anything is read.
    #[arg(long, env = "PAL_AUDIT_ALLOW_UNLINKED_PARTNER", hide_env_values = true)]
    pub allow_unlinked_partner: bool,
    /// Show platform-made components (shipped in a Microsoft-published
    /// managed solution, or created by SYSTEM outside any solution) as
    /// findings flagged first-party, never counted in the summary. Without
    /// it they are left out and counted in the coverage section.
    #[arg(long, env = "PAL_AUDIT_INCLUDE_FIRST_PARTY", hide_env_values = true)]
    pub include_first_party: bool,
    /// Another solution publisher (its unique name) to take for Microsoft's,
    /// besides MicrosoftCorporation and microsoftfirstparty; repeatable.
    #[arg(
        long,
        value_name = "NAME",
        env = "PAL_AUDIT_MICROSOFT_PUBLISHER",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub microsoft_publisher: Vec<String>,
    /// Products to audit: power-apps, power-automate, power-bi, customer-insights
    /// (comma-separated) [default: all].
    #[arg(
        long,
        value_name = "LIST",
        env = "PAL_AUDIT_PRODUCTS",
        hide_env_values = true,
        value_delimiter = ',',
        ignore_case = true,
        value_parser = products()
    )]
    pub products: Vec<String>,
    /// Days of activity that decide between partners (Power BI events, the
    /// Customer Insights export) [default: 30].
    #[arg(
        long,
        value_name = "DAYS",
        env = "PAL_AUDIT_ACTIVITY_DAYS",
        hide_env_values = true,
        value_parser = clap::value_parser!(u32).range(1..=3650)
    )]
    pub activity_days: Option<u32>,
    /// Audit only this environment (id or display name); repeatable.
    #[arg(
        long,
        value_name = "NAME-OR-ID",
        env = "PAL_AUDIT_ENVIRONMENT",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub environment: Vec<String>,
    /// Attestations older than DAYS raise stale-attestation [default: 30].
    #[arg(
        long,
        value_name = "DAYS",
        env = "PAL_AUDIT_ATTESTATION_MAX_AGE",
        hide_env_values = true,
        value_parser = clap::value_parser!(u32).range(1..=3650)
    )]
    pub attestation_max_age: Option<u32>,
    /// Do not read each flow's owners (one call per flow): faster on large
    /// tenants, but linked-owner-not-creator can then not be raised.
    #[arg(
        long,
        env = "PAL_AUDIT_NO_FLOW_OWNERS",
        hide_env_values = true,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub no_flow_owners: bool,
    /// Save what this audit read to DIR, so a later `--since` audit can
    /// reuse it (the folder holds UPNs: keep it like the report).
    #[arg(
        long,
        value_name = "DIR",
        value_hint = ValueHint::DirPath,
        env = "PAL_AUDIT_CACHE",
        hide_env_values = true
    )]
    pub cache: Option<PathBuf>,
    /// A delta audit: REPORT is the previous audit's JSON report, written
    /// with the same --cache DIR. Only apps and flows whose lastModifiedTime
    /// moved have their permissions read again, and only Power BI workspaces
    /// modified since are scanned; the report's `delta` says what was reused.
    #[arg(long, value_name = "REPORT", requires = "cache", value_hint = ValueHint::FilePath)]
    pub since: Option<PathBuf>,
    /// Stop reading after DURATION (like 90s, 45m, 6h) and report what was
    /// read, with the rest as gaps (exit 4) [default: 6h].
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = duration,
        env = "PAL_AUDIT_TIMEOUT",
        hide_env_values = true
    )]
    pub timeout: Option<std::time::Duration>,
    /// Save every response read to DIR (one JSON file each, never a token or
    /// key; with --redact, addresses and names pseudonymized alike in every
    /// file), for `pal-audit emulate --replay DIR`.
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub record: Option<PathBuf>,
    /// With --record: write into a folder that is not empty (its earlier
    /// recording is removed first, so no old answer mixes into the replay).
    #[arg(long, requires = "record")]
    pub force: bool,
    #[command(flatten)]
    pub inputs: InputArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// What an audit reads besides the tenant; `fix --apply` audits again with it.
#[derive(Debug, Args, Default, Clone)]
pub struct InputArgs {
    /// Links CSV (principal, partner_id[, kind, linked_at, note]); repeatable.
    #[arg(
        long,
        value_name = "FILE",
        value_hint = ValueHint::FilePath,
        env = "PAL_AUDIT_LINKS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub links: Vec<PathBuf>,
    /// Attestation JSON file, or a folder of them (written by `attest`); repeatable.
    #[arg(
        long,
        value_name = "PATH",
        value_hint = ValueHint::AnyPath,
        env = "PAL_AUDIT_ATTESTATIONS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub attestations: Vec<PathBuf>,
    /// Customer Insights diagnostics export (CIEventsAudit / CIEventsOperational,
    /// a JSON array or JSON lines): who was active on which instance, when.
    #[arg(
        long,
        value_name = "FILE",
        value_hint = ValueHint::FilePath,
        env = "PAL_AUDIT_CI_ACTIVITY",
        hide_env_values = true
    )]
    pub ci_activity: Option<PathBuf>,
    /// Log Analytics workspace id the Customer Insights diagnostics go to:
    /// CIEventsAudit / CIEventsOperational are queried for the activity
    /// window (instead of --ci-activity; not both). Needs Log Analytics
    /// Reader on the workspace.
    #[arg(
        long,
        value_name = "ID",
        env = "PAL_AUDIT_CI_WORKSPACE",
        hide_env_values = true
    )]
    pub ci_workspace: Option<String>,
    /// Microsoft 365 unified audit log export (Purview audit search: CSV with
    /// an AuditData column, or JSON lines): canvas app launches and edits,
    /// flow creates and edits; repeatable.
    #[arg(
        long,
        value_name = "FILE",
        value_hint = ValueHint::FilePath,
        env = "PAL_AUDIT_AUDIT_LOG",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub audit_log: Vec<PathBuf>,
    /// Read the unified audit log from the Office 365 Management Activity
    /// API (Audit.General content, the last 7 days of the activity window)
    /// too. Needs the application permission ActivityFeed.Read (Office 365
    /// Management APIs) with admin consent.
    #[arg(long, env = "PAL_AUDIT_AUDIT_API", hide_env_values = true)]
    pub audit_api: bool,
    /// With --audit-api: start the tenant's Audit.General subscription when
    /// it is not enabled (content appears up to 12 hours later).
    #[arg(
        long,
        requires = "audit_api",
        env = "PAL_AUDIT_START_AUDIT_SUBSCRIPTION",
        hide_env_values = true
    )]
    pub start_audit_subscription: bool,
    /// Judge attestation freshness at this RFC 3339 time instead of now (reproducible runs).
    #[arg(
        long,
        value_name = "TIME",
        env = "PAL_AUDIT_AS_OF",
        hide_env_values = true
    )]
    pub as_of: Option<String>,
}

/// How to reach the tenant: shared by every command that calls an API.
#[derive(Debug, Args, Default, Clone)]
pub struct ConnArgs {
    /// The customer tenant (id or domain) to sign in to.
    #[arg(
        long,
        value_name = "TENANT",
        env = "PAL_AUDIT_TENANT",
        hide_env_values = true
    )]
    pub tenant: Option<String>,
    /// How to sign in [default: azure-cli].
    #[arg(long, value_enum, env = "PAL_AUDIT_AUTH", hide_env_values = true)]
    pub auth: Option<AuthArg>,
    /// Send every request to URL/HOST/PATH instead of https://HOST/PATH (the emulator, a
    /// replay or a local stand-in; loopback addresses only).
    #[arg(
        long,
        value_name = "URL",
        value_hint = ValueHint::Url,
        env = "PAL_AUDIT_API_BASE",
        hide_env_values = true
    )]
    pub api_base: Option<String>,
    /// Requests in flight per API host, 1 to 256 [default: 8].
    #[arg(
        long,
        value_name = "N",
        env = "PAL_AUDIT_CONCURRENCY",
        hide_env_values = true,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256)
    )]
    pub concurrency: Option<usize>,
}

#[derive(Debug, Args, Default)]
pub struct AttestArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Link this identity to PARTNER_ID (creates the link, or moves an existing one).
    #[arg(long, value_name = "PARTNER_ID", conflicts_with = "unlink")]
    pub link: Option<String>,
    /// Delete this identity's link.
    #[arg(long)]
    pub unlink: bool,
    /// This user object is a dedicated service account, not a person's account.
    #[arg(long)]
    pub service_account: bool,
    /// Where to write the attestation [default: attestation-<name>.json].
    #[arg(short = 'o', long, visible_alias = "output", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub out: Option<PathBuf>,
    /// Change the link without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    /// A report written by `audit --format json`.
    #[arg(value_hint = ValueHint::FilePath)]
    pub report: PathBuf,
    /// The PAL identity to make the attributed user: an object id, or a UPN the
    /// report's links name [default: the report's best identity linked to its partner].
    #[arg(long = "as", value_name = "PRINCIPAL")]
    pub as_principal: Option<String>,
    /// The script's language.
    #[arg(long, value_enum, default_value_t = ShellArg::Pwsh)]
    pub shell: ShellArg,
    /// Write the script to FILE instead of stdout.
    #[arg(short = 'o', long, visible_alias = "output", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub out: Option<PathBuf>,
    /// A solution (unique name) your partner delivered: its resources are
    /// fixed even where no linked identity of yours took part; repeatable.
    #[arg(long = "solution", value_name = "NAME")]
    pub solutions: Vec<String>,
    /// A resource (id or name) your partner delivered: fixed even where no
    /// linked identity of yours took part; repeatable.
    #[arg(long = "resource", value_name = "ID|NAME")]
    pub resources: Vec<String>,
    /// Plan only the resources of this environment or workspace (id or
    /// name); repeatable.
    #[arg(long = "environment", value_name = "ID|NAME")]
    pub environments: Vec<String>,
    /// Make the PAL identity a canvas app's owner (`modifyAppOwner`, the old
    /// owner kept as co-owner) instead of adding it as a co-owner.
    #[arg(long)]
    pub take_ownership: bool,
    /// Apply the fixes through the APIs instead of writing a script.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: change without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
    /// For the audit after --apply.
    #[command(flatten)]
    pub inputs: InputArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Text,
    /// Graphviz DOT of the attribution graph.
    Dot,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A report written by `audit --format json`.
    #[arg(value_hint = ValueHint::FilePath)]
    pub report: PathBuf,
    /// A resource id or name; without it (with --format dot) the whole report.
    pub resource: Option<String>,
    /// text, or dot [default: from --output's extension (.dot, .gv), else text].
    #[arg(long, value_enum)]
    pub format: Option<ExplainFormat>,
    #[command(flatten)]
    pub output: FileOutput,
}

/// `-o/--output` of the commands that write one text (`diff`, `explain`,
/// `doctor`): as the report's, atomic, a device or FIFO written into, a
/// folder refused.
#[derive(Debug, Args, Default)]
pub struct FileOutput {
    /// Write to FILE (atomically, owner-readable only; a device or FIFO is
    /// written into, a folder refused) instead of stdout.
    #[arg(short, long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Table,
    Json,
    #[value(alias = "md")]
    Markdown,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The report before (for example, before a solution import).
    #[arg(value_hint = ValueHint::FilePath)]
    pub old: PathBuf,
    /// The report after.
    #[arg(value_hint = ValueHint::FilePath)]
    pub new: PathBuf,
    /// table, json, markdown (md) [default: from --output's extension (.json,
    /// .md, .txt), else table].
    #[arg(long, value_enum)]
    pub format: Option<DiffFormat>,
    #[command(flatten)]
    pub output: FileOutput,
    /// Compare reports of different tenants or partner IDs anyway.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A report written by `audit --format json` (or `demo --format json`).
    #[arg(value_hint = ValueHint::FilePath)]
    pub report: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write a commented pal-audit.toml (refuses to overwrite one).
    #[command(after_help = "Example:\n  pal-audit config init && $EDITOR pal-audit.toml")]
    Init {
        /// Where to write it.
        #[arg(long, value_name = "FILE", default_value = "pal-audit.toml", value_hint = ValueHint::FilePath)]
        path: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// `completions`' shells, with `pwsh` for PowerShell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    #[value(alias = "pwsh")]
    Powershell,
    Elvish,
}

#[derive(Debug, Args, Default)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Products to check: power-apps, power-automate, power-bi, customer-insights [default: all].
    #[arg(
        long,
        value_name = "LIST",
        env = "PAL_AUDIT_PRODUCTS",
        hide_env_values = true,
        value_delimiter = ',',
        ignore_case = true,
        value_parser = products()
    )]
    pub products: Vec<String>,
    /// Log Analytics workspace id of the Customer Insights diagnostics: checks
    /// that it can be queried (Log Analytics Reader).
    #[arg(
        long,
        value_name = "ID",
        env = "PAL_AUDIT_CI_WORKSPACE",
        hide_env_values = true
    )]
    pub ci_workspace: Option<String>,
    #[command(flatten)]
    pub output: FileOutput,
    /// Check the Office 365 Management Activity API (ActivityFeed.Read and
    /// the Audit.General subscription) that `audit --audit-api` reads.
    #[arg(long, env = "PAL_AUDIT_AUDIT_API", hide_env_values = true)]
    pub audit_api: bool,
}

#[derive(Debug, Args, Default)]
pub struct DemoArgs {
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// Tenant model: a folder with tenant.toml, or the file itself.
    #[arg(
        long,
        value_name = "DIR",
        value_hint = ValueHint::AnyPath,
        required_unless_present_any = ["synthetic", "replay"],
        conflicts_with_all = ["synthetic", "replay"]
    )]
    pub tenant: Option<PathBuf>,
    /// Serve the responses `audit --record DIR` saved instead, in the order
    /// recorded (a request the recording lacks gets 404 NotRecorded).
    #[arg(long, value_name = "DIR", conflicts_with = "synthetic", value_hint = ValueHint::DirPath)]
    pub replay: Option<PathBuf>,
    /// A generated tenant instead, deterministic for its seed:
    /// envs=N,apps=N,shared=0.2,flows=N,workspaces=N,datasets=N,instances=N,seed=N.
    #[arg(long, value_name = "SPEC")]
    pub synthetic: Option<String>,
    /// Answer 429 (Retry-After: 1) above N requests in flight per host, as the
    /// services do (Dataverse hosts stop at 52 in any case).
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000)
    )]
    pub host_limit: Option<usize>,
    /// Write a links CSV of the tenant's PAL links to FILE (for a synthetic tenant).
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub links_out: Option<PathBuf>,
    /// Port on 127.0.0.1 (0 picks a free one and prints it).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub port: u16,
    /// Items per page, 1 to 100000: small pages exercise next links.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000)
    )]
    pub page_size: usize,
    /// Milliseconds added to every request, at most 600000 (ten minutes).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 0,
        value_parser = clap::value_parser!(u64).range(0..=600_000)
    )]
    pub latency: u64,
    /// Power BI's hourly admin caps (scanner, groups, activity) are enforced;
    /// N hours pass per real hour, so a benchmark can run into them and out
    /// again (3600: an hour per second).
    #[arg(long, value_name = "N", default_value_t = 1.0, value_parser = positive)]
    pub time_scale: f64,
    /// Faults to inject (see below).
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
}

/// `--products`' values, for checking and for shell completions.
fn products() -> PossibleValuesParser {
    PossibleValuesParser::new(pal_core::inventory::Product::ALL.map(|p| p.as_str()))
}

/// `--fail-on`: a comma-separated list of levels, each checked by
/// [`FailOn::parse`](pal_core::report::FailOn::parse); the levels are
/// listed for `--help` and shell completions.
#[derive(Clone)]
struct FailOnParser;

impl TypedValueParser for FailOnParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let text = clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)?;
        pal_core::report::FailOn::parse(&text)
            .map(|_| text)
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("{e}\n")))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let levels = [
            ("any", "every verdict but credited"),
            ("none", "nothing fails the run"),
            ("uncredited", "uncredited findings"),
            ("credited-to-other", "findings credited to another partner"),
            ("unknown", "findings whose verdict could not be decided"),
        ];
        Some(Box::new(
            levels
                .into_iter()
                .map(|(v, help)| PossibleValue::new(v).help(help)),
        ))
    }
}

/// `--fail-on`'s completions: the levels and `flag:NAME` for each flag.
fn fail_on_candidates(current: &std::ffi::OsStr) -> Vec<clap_complete::CompletionCandidate> {
    let levels = FailOnParser
        .possible_values()
        .into_iter()
        .flatten()
        .map(|v| (v.get_name().to_owned(), v.get_help().cloned()));
    let flags = pal_core::attribution::Flag::ALL
        .into_iter()
        .map(|f| (format!("flag:{}", f.as_str()), None));
    list_candidates(current, levels.chain(flags))
}

/// Completions of a comma-separated list: the `values` that start as its
/// last item does, after the items already there (`uncredited,fl` offers
/// `uncredited,flag:...`), leaving out those already listed.
fn list_candidates(
    current: &std::ffi::OsStr,
    values: impl IntoIterator<Item = (String, Option<clap::builder::StyledStr>)>,
) -> Vec<clap_complete::CompletionCandidate> {
    let Some(current) = current.to_str() else {
        return Vec::new();
    };
    let (done, last) = current.rsplit_once(',').unwrap_or(("", current));
    let listed: Vec<&str> = done.split(',').map(str::trim).collect();
    let prefix = if done.is_empty() {
        String::new()
    } else {
        format!("{done},")
    };
    values
        .into_iter()
        .filter(|(name, _)| name.starts_with(last) && !listed.contains(&name.as_str()))
        .map(|(name, help)| {
            clap_complete::CompletionCandidate::new(format!("{prefix}{name}")).help(help)
        })
        .collect()
}

/// A number above zero, at most a million (`--time-scale`).
fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 && n <= 1e6 => Ok(n),
        _ => Err(format!(
            "{s:?} is not a number above zero and at most 1000000"
        )),
    }
}

/// `90s`, `45m`, `6h` (a bare number is seconds).
pub fn duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 45m or 6h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("{s:?} is not a duration like 90s, 45m or 6h")),
    };
    if secs == 0 {
        return Err("the timeout must be above zero".into());
    }
    if secs > 30 * 86_400 {
        return Err(format!("{s:?} is longer than 30 days (720h)"));
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// `--auth`'s values, as clap lists them: pal-client's [`AuthKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    /// The signed-in Azure CLI account (`az login`).
    AzureCli,
    /// AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET.
    ClientSecret,
    /// AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH (PKCS#12),
    /// optional AZURE_CLIENT_CERTIFICATE_PASSWORD.
    ClientCertificate,
    /// Azure managed identity; AZURE_CLIENT_ID picks a user-assigned one.
    ManagedIdentity,
    /// Federated credentials in pipelines: AZURE_TENANT_ID, AZURE_CLIENT_ID,
    /// AZURE_FEDERATED_TOKEN_FILE.
    WorkloadIdentity,
    /// PAL_AUDIT_TOKEN, for the emulator or a stand-in server on loopback only.
    StaticToken,
}

impl From<AuthArg> for AuthKind {
    fn from(a: AuthArg) -> Self {
        match a {
            AuthArg::AzureCli => Self::AzureCli,
            AuthArg::ClientSecret => Self::ClientSecret,
            AuthArg::ClientCertificate => Self::ClientCertificate,
            AuthArg::ManagedIdentity => Self::ManagedIdentity,
            AuthArg::WorkloadIdentity => Self::WorkloadIdentity,
            AuthArg::StaticToken => Self::StaticToken,
        }
    }
}

/// `fix --shell`'s values: pal-core's [`Shell`](pal_core::fix::Shell).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShellArg {
    /// PowerShell 7 (`pwsh`).
    #[value(alias = "powershell")]
    Pwsh,
    /// bash, with curl and jq.
    Bash,
}

impl From<ShellArg> for pal_core::fix::Shell {
    fn from(s: ShellArg) -> Self {
        match s {
            ShellArg::Pwsh => Self::Pwsh,
            ShellArg::Bash => Self::Bash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_people_type_are_accepted() {
        let cli =
            Cli::try_parse_from(["pal-audit", "fix", "r.json", "--shell", "powershell"]).unwrap();
        let Command::Fix(args) = cli.command else {
            panic!("fix")
        };
        assert_eq!(args.shell, ShellArg::Pwsh);
        let cli = Cli::try_parse_from(["pal-audit", "report", "r.json", "--format", "md"]).unwrap();
        let Command::Report(args) = cli.command else {
            panic!("report")
        };
        assert_eq!(args.output.format, Some(Format::Markdown));
    }
}
