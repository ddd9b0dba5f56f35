//! The report: the versioned `pal-audit/report/v1` type built from the
//! attribution, the `--fail-on` gate, atomic output, and one renderer per format.

mod csv;
mod html;
mod markdown;
mod redact;
mod safe;
mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::attribution::{Attribution, Finding, Flag, LinkRow, Verdict};
use crate::error::{Error, code};
use crate::inventory::{Coverage, CoverageStatus, Inventory, Product};
use crate::links::PartnerId;

pub use csv::{render_csv, write_csv};
pub use html::render_html;
pub use markdown::render_markdown;
pub use redact::{addresses, pseudonym, redact};
pub use safe::{for_markdown, for_terminal, markdown_safe, terminal_safe};
pub use table::{TableOptions, render_table};

pub const SCHEMA: &str = "pal-audit/report/v1";

/// The coverage row of an audit stopped before it had read everything.
pub const STOPPED_SOURCE: &str = "audit";
/// Its reason when Ctrl-C stopped it.
pub const INTERRUPTED_REASON: &str = "interrupted (Ctrl-C)";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub generated_at: DateTime<Utc>,
    pub tool_version: String,
    pub tenant_id: String,
    pub partner_id: PartnerId,
    pub complete: bool,
    /// What the audit was asked to read.
    pub scope: Scope,
    pub links: Vec<LinkRow>,
    pub findings: Vec<Finding>,
    pub coverage: Vec<Coverage>,
    pub summary: Summary,
    /// A delta audit (`--since`): what was reused from the previous audit
    /// rather than read again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<crate::inventory::Reuse>,
    /// Written with `--redact`: names are pseudonyms, so nothing can be
    /// fixed from it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

/// `--products` and `--environment`, as the audit read them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    pub products: Vec<Product>,
    /// The `--environment` filters; empty for every environment.
    pub environments: Vec<String>,
}

impl Default for Scope {
    fn default() -> Self {
        Self {
            products: Product::ALL.to_vec(),
            environments: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub by_verdict: BTreeMap<Verdict, u64>,
    pub by_product: BTreeMap<Product, BTreeMap<Verdict, u64>>,
    /// Of the `credited`, how many are at risk (`Finding::at_risk`).
    #[serde(default)]
    pub at_risk: u64,
    #[serde(default)]
    pub at_risk_by_product: BTreeMap<Product, u64>,
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Self {
        let zero = || {
            Verdict::ALL
                .iter()
                .map(|v| (*v, 0))
                .collect::<BTreeMap<_, _>>()
        };
        let mut s = Summary {
            by_verdict: zero(),
            by_product: BTreeMap::new(),
            at_risk: 0,
            at_risk_by_product: BTreeMap::new(),
        };
        for f in findings {
            if f.at_risk() {
                s.at_risk += 1;
                *s.at_risk_by_product.entry(f.product).or_default() += 1;
            }
            *s.by_verdict.entry(f.verdict).or_default() += 1;
            *s.by_product
                .entry(f.product)
                .or_insert_with(zero)
                .entry(f.verdict)
                .or_default() += 1;
        }
        s
    }
}

impl Report {
    pub fn new(
        inventory: &Inventory,
        attribution: Attribution,
        partner_id: PartnerId,
        scope: Scope,
        generated_at: DateTime<Utc>,
    ) -> Self {
        let mut coverage = inventory.coverage.clone();
        coverage
            .sort_by(|a, b| (&a.source, &a.environment_id).cmp(&(&b.source, &b.environment_id)));
        Report {
            schema: SCHEMA.to_string(),
            generated_at,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            tenant_id: inventory.tenant_id.clone().unwrap_or_default(),
            partner_id,
            complete: coverage
                .iter()
                .all(|c| c.status == CoverageStatus::Complete),
            scope,
            summary: Summary::of(&attribution.findings),
            links: attribution.links,
            findings: attribution.findings,
            coverage,
            delta: inventory.reuse.clone(),
            redacted: false,
        }
    }

    /// Ctrl-C stopped the audit that wrote this report.
    pub fn interrupted(&self) -> bool {
        self.coverage
            .iter()
            .any(|c| c.source == STOPPED_SOURCE && c.detail.contains(INTERRUPTED_REASON))
    }

    /// The exit code of a finished audit: findings at or above `--fail-on`
    /// first, then an incomplete audit, else success.
    pub fn exit_code(&self, fail_on: &FailOn) -> u8 {
        if self.findings.iter().any(|f| fail_on.matches(f)) {
            code::FINDINGS
        } else if !self.complete {
            code::INCOMPLETE
        } else {
            code::OK
        }
    }
}

/// `--fail-on`: which findings fail the run. Levels combine with commas.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailOn {
    verdicts: BTreeSet<Verdict>,
    flags: BTreeSet<Flag>,
}

impl FailOn {
    /// `any` (the default: every verdict but `credited`), `none`,
    /// `uncredited`, `credited-to-other`, `unknown`, `flag:NAME`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut f = FailOn::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "any" => f.verdicts.extend([
                    Verdict::CreditedToOther,
                    Verdict::Uncredited,
                    Verdict::Unknown,
                ]),
                "none" => {}
                "uncredited" => {
                    f.verdicts.insert(Verdict::Uncredited);
                }
                "credited-to-other" => {
                    f.verdicts.insert(Verdict::CreditedToOther);
                }
                "unknown" => {
                    f.verdicts.insert(Verdict::Unknown);
                }
                _ => match part.strip_prefix("flag:").map(|n| (n, Flag::parse(n))) {
                    Some((_, Some(flag))) => {
                        f.flags.insert(flag);
                    }
                    Some((name, None)) => return Err(format!("--fail-on: unknown flag {name:?}")),
                    None => {
                        return Err(format!(
                            "--fail-on: {part:?} is not one of any, none, uncredited, credited-to-other, unknown, flag:NAME"
                        ));
                    }
                },
            }
        }
        Ok(f)
    }

    pub fn matches(&self, f: &Finding) -> bool {
        self.verdicts.contains(&f.verdict) || f.flags.iter().any(|fl| self.flags.contains(fl))
    }
}

pub fn render_json(report: &Report) -> String {
    let mut bytes = Vec::new();
    write_json(report, &mut bytes).expect("writing to memory");
    String::from_utf8(bytes).expect("serde_json writes UTF-8")
}

/// Writes the JSON report as it goes: a large tenant's report is never held
/// whole in memory.
pub fn write_json(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

/// Our temporary files start with this, so a later write can tell its own
/// leftovers (a `kill -9` mid-write) from anything else in the folder.
pub const TMP_PREFIX: &str = ".pal-audit-tmp-";

/// A temporary of ours untouched for this long is a leftover: a live write
/// touches its file with every buffer it writes, so even a report streamed
/// for hours is never this stale.
pub const STALE_TMP: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// What is at an output path: decides how it is written.
enum Target {
    /// Nothing yet, or a regular file: a temporary renamed over it.
    File,
    /// A device, a FIFO, a socket (`/dev/stdout`, `/dev/null`, a pipe):
    /// written through, never replaced.
    Special,
}

fn output_error(path: &Path, source: std::io::Error) -> Error {
    Error::Output {
        path: path.display().to_string(),
        source,
    }
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn target_of(path: &Path) -> Result<Target, Error> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(output_error(
            path,
            std::io::Error::from(std::io::ErrorKind::IsADirectory),
        )),
        Ok(m) if !m.is_file() => Ok(Target::Special),
        _ => Ok(Target::File),
    }
}

/// Checks, before any work, that `path` can be written: not a folder, and
/// (unless it is a device or FIFO, written through) its folder exists and
/// takes a new file. A long audit must not end in "cannot write".
pub fn check_output(path: &Path) -> Result<(), Error> {
    match target_of(path)? {
        // Not opened here: opening a FIFO waits for its reader, and closing
        // it would end the reader's input before the report is written.
        Target::Special => Ok(()),
        Target::File => check_folder(folder_of(path)).map_err(|e| output_error(path, e)),
    }
}

/// Checks, before any work, that `dir` is (or can be made) a folder that
/// takes new files: for `--cache` and `--record`.
pub fn check_output_dir(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir)
        .and_then(|()| check_folder(dir))
        .map_err(|e| output_error(dir, e))
}

/// A folder exists and a file can be made in it (by making, and dropping,
/// one of our temporaries).
fn check_folder(dir: &Path) -> std::io::Result<()> {
    tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempfile_in(dir)
        .map(drop)
}

/// Removes our temporaries in `dir` untouched for `STALE_TMP`: what a killed
/// run left. Best effort: a leftover that cannot be removed is left.
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for entry in entries.flatten() {
        let ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(TMP_PREFIX));
        let stale = entry.metadata().is_ok_and(|m| {
            m.is_file()
                && m.modified()
                    .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age >= STALE_TMP))
        });
        if ours && stale {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!("removed a stale temporary: {}", entry.path().display()),
                Err(e) => tracing::debug!("cannot remove {}: {e}", entry.path().display()),
            }
        }
    }
}

/// Writes `contents` to `path` atomically (a temporary file in the same
/// folder, renamed into place), readable by its owner only: reports hold UPNs,
/// and an interrupted run must never leave half a report. A device or FIFO
/// at `path` is written through instead; a folder is refused.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), Error> {
    write_atomic_with(path, |w| w.write_all(contents.as_bytes()))
}

/// `write_atomic` for contents written as they are made (a large report is
/// streamed to disk, never held whole).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let err = |source| output_error(path, source);
    if let Target::Special = target_of(path)? {
        // Renaming over `/dev/null` (as root) or a FIFO would replace it by a
        // report file: open what is there and write into it.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(err)?;
        let mut w = std::io::BufWriter::new(file);
        write(&mut w).map_err(err)?;
        w.flush().map_err(err)?;
        return Ok(());
    }
    let dir = folder_of(path);
    remove_stale_temporaries(dir);
    let mut tmp = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempfile_in(dir)
        .map_err(err)?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut w).map_err(err)?;
        w.flush().map_err(err)?;
    }
    tmp.as_file().sync_all().map_err(err)?;
    // tempfile creates the file with mode 0600 on Unix already.
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_levels_combine() {
        let f = FailOn::parse("uncredited,flag:user-account-link").unwrap();
        assert!(f.verdicts.contains(&Verdict::Uncredited));
        assert!(f.flags.contains(&Flag::UserAccountLink));
        assert!(FailOn::parse("none").unwrap().verdicts.is_empty());
        assert_eq!(FailOn::parse("any").unwrap().verdicts.len(), 3);
        assert!(FailOn::parse("flag:nope").is_err());
        assert!(FailOn::parse("sometimes").is_err());
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        write_atomic(&path, "one").unwrap();
        write_atomic(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_folder_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(dir.path(), "x").unwrap_err();
        assert_eq!(err.exit_code(), code::USAGE);
        let text = err.to_string();
        assert!(text.contains(&dir.path().display().to_string()), "{text}");
        assert!(text.contains("directory"), "{text}");
        assert!(check_output(dir.path()).is_err());
        let missing = dir.path().join("no/such/folder/r.json");
        assert!(check_output(&missing).is_err());
        assert!(check_output(&dir.path().join("r.json")).is_ok());
        // The check leaves nothing behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn stale_temporaries_of_ours_are_removed_at_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let old = std::time::SystemTime::now() - STALE_TMP - std::time::Duration::from_secs(5);
        let make = |name: &str, at: Option<std::time::SystemTime>| {
            let p = dir.path().join(name);
            let f = std::fs::File::create(&p).unwrap();
            if let Some(t) = at {
                f.set_modified(t).unwrap();
            }
            p
        };
        let stale = make(".pal-audit-tmp-killed", Some(old));
        let fresh = make(".pal-audit-tmp-writing", None);
        let other = make(".someone-else-tmp", Some(old));
        write_atomic(&dir.path().join("r.json"), "x").unwrap();
        assert!(!stale.exists(), "a killed run's temporary is removed");
        assert!(fresh.exists(), "a live write's temporary is kept");
        assert!(other.exists(), "files not ours are kept");
    }
}
