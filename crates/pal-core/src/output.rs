//! Atomic output: reports, caches, recordings and scripts are written whole
//! or not at all (a temporary in the same folder, renamed into place,
//! readable by its owner only), devices and FIFOs written through, and the
//! leftovers of a killed run cleaned up.

use std::io::Write;
use std::path::Path;

/// An output that could not be written: names the path.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct OutputError {
    /// The path that could not be written, for the message.
    pub path: String,
    /// Why.
    pub source: std::io::Error,
}

impl OutputError {
    /// For a path that is not a file written by `write_atomic` (a folder
    /// made, a stream written): the same error, the same exit code.
    pub fn new(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        output_error(path.as_ref(), source)
    }
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

fn output_error(path: &Path, source: std::io::Error) -> OutputError {
    OutputError {
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

fn target_of(path: &Path) -> Result<Target, OutputError> {
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
pub fn check_output(path: &Path) -> Result<(), OutputError> {
    match target_of(path)? {
        // Not opened here: opening a FIFO waits for its reader, and closing
        // it would end the reader's input before the report is written.
        Target::Special => Ok(()),
        Target::File => check_folder(folder_of(path)).map_err(|e| output_error(path, e)),
    }
}

/// Checks, before any work, that `dir` is (or can be made) a folder that
/// takes new files: for `--cache` and `--record`.
pub fn check_output_dir(dir: &Path) -> Result<(), OutputError> {
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
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), OutputError> {
    write_atomic_with(path, |w| w.write_all(contents.as_bytes()))
}

/// `write_atomic` for contents written as they are made (a large report is
/// streamed to disk, never held whole).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), OutputError> {
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
