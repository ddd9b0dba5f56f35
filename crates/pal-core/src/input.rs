//! Reading input files: under a size cap (`--links /dev/zero` must end in an
//! error, not fill the memory), as UTF-8, with a byte order mark dropped.

use std::io::Read;
use std::path::Path;

use crate::error::InputError;

/// The cap on a file people write or export: links CSV, attestations, the
/// config and tenant TOML, the Customer Insights export, a recording's
/// files, a certificate. As large as the largest response body accepted.
pub const MAX_INPUT: u64 = 256 << 20;

/// The cap on what pal-audit itself wrote and reads back (a report for
/// `explain`, `diff`, `fix` and `--since`; the `--cache`): a large tenant's
/// report is hundreds of megabytes.
pub const MAX_REPORT: u64 = 4 << 30;

/// Reads at most `cap` bytes of `path`; a larger file is an error.
pub fn read_bytes(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::other(format!(
            "larger than the {} MiB an input file may have",
            cap >> 20
        )));
    }
    Ok(bytes)
}

/// Reads `path` as text under `cap` bytes, without a leading byte order
/// mark; errors name the file.
pub fn read_text(path: &Path, cap: u64) -> Result<String, InputError> {
    let name = path.display().to_string();
    let bytes =
        read_bytes(path, cap).map_err(|e| InputError::new(&name, format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        InputError::new(
            &name,
            format!("not UTF-8 text (at byte {})", e.utf8_error().valid_up_to()),
        )
    })?;
    Ok(without_bom(text))
}

/// `text` without a UTF-8 byte order mark at its start (editors on Windows
/// write one; JSON and TOML parsers refuse it).
pub fn without_bom(mut text: String) -> String {
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    text
}

/// Parses `text` as one JSON value of type `T`: anything but whitespace
/// after it is refused. Errors name `name` and the JSON path or line.
pub fn parse_json<T: serde::de::DeserializeOwned>(name: &str, text: &str) -> Result<T, InputError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let value =
        serde_path_to_error::deserialize(&mut *de).map_err(|e| InputError::json(name, e))?;
    de.end()
        .map_err(|e| InputError::new(format!("{name}:{}", e.line()), e.to_string()))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_with_trailing_garbage_is_refused() {
        assert_eq!(parse_json::<Vec<u8>>("a.json", " [1] \n").unwrap(), vec![1]);
        let err = parse_json::<Vec<u8>>("a.json", "[1]\n{}").unwrap_err();
        assert_eq!(err.location, "a.json:2");
        assert!(err.message.contains("trailing characters"), "{err}");
    }

    #[test]
    fn a_file_over_the_cap_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        std::fs::write(&path, vec![b'a'; 2 << 20]).unwrap();
        let err = read_text(&path, 1 << 20).unwrap_err();
        assert_eq!(err.location, path.display().to_string());
        assert!(err.message.contains("larger than the 1 MiB"), "{err}");
        assert_eq!(read_text(&path, 2 << 20).unwrap().len(), 2 << 20);
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_file_ends_at_the_cap() {
        let err = read_text(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(err.message.contains("larger than"), "{err}");
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        assert_eq!(without_bom("\u{feff}{}".into()), "{}");
        assert_eq!(without_bom("{}".into()), "{}");
    }
}
