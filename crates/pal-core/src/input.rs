//! Reading input files: under a size cap (`--links /dev/zero` must end in an
//! error, not fill the memory), as UTF-8 or (with a byte order mark, as
//! Excel's "Unicode Text" writes) UTF-16, the byte order mark dropped; an
//! Office document (a zip or OLE file) refused by its magic bytes.

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
    decode(&name, bytes)
}

/// The magic bytes of files that are not text but are often given for it:
/// a zip (`.xlsx`, `.docx`, ...) and an OLE compound file (`.xls`, `.doc`).
const BINARY_MAGIC: [(&[u8], &str); 2] = [
    (b"PK\x03\x04", "a zip file (an Excel .xlsx workbook?)"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an OLE file (an Excel .xls workbook?)",
    ),
];

/// `bytes` as text: UTF-8 (a leading byte order mark dropped), or UTF-16
/// little or big endian when it starts with that byte order mark. A zip or
/// OLE file is refused whatever its name: in Excel, "Save As" > "CSV UTF-8
/// (Comma delimited)" makes the text file wanted. Errors name `name`.
pub fn decode(name: &str, bytes: Vec<u8>) -> Result<String, InputError> {
    if let Some((_, what)) = BINARY_MAGIC.iter().find(|(m, _)| bytes.starts_with(m)) {
        return Err(InputError::new(
            name,
            format!(
                "not a text file: it is {what}; in Excel, save it as CSV UTF-8 (Comma delimited)"
            ),
        ));
    }
    let utf16 = |units: Vec<u16>| {
        String::from_utf16(&units).map_err(|_| {
            InputError::new(
                name,
                "not UTF-16 text (a lone surrogate) despite its byte order mark",
            )
        })
    };
    let pairs = |rest: &[u8], from: fn([u8; 2]) -> u16| {
        if !rest.len().is_multiple_of(2) {
            return Err(InputError::new(
                name,
                "not UTF-16 text (an odd number of bytes) despite its byte order mark",
            ));
        }
        Ok(rest.chunks_exact(2).map(|c| from([c[0], c[1]])).collect())
    };
    if let Some(rest) = bytes.strip_prefix(b"\xff\xfe") {
        return utf16(pairs(rest, u16::from_le_bytes)?);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xfe\xff") {
        return utf16(pairs(rest, u16::from_be_bytes)?);
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        InputError::new(
            name,
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

/// The field separator of a CSV file, from its header line (the first that
/// is neither blank nor a `#` comment), where no column name has one: of
/// tab (Excel's "Unicode Text"), `;` (Excel's CSV where the decimal
/// separator is a comma) and `,`, the one the header has most of; `,` when
/// it has none. Only the header counts: a row's note may have any of them.
pub fn csv_delimiter(text: &str) -> u8 {
    let header = text
        .lines()
        .find(|l| !(l.trim().is_empty() || l.starts_with('#')))
        .unwrap_or_default();
    let count = |c: u8| header.bytes().filter(|b| *b == c).count();
    // On a tie `,` wins, then `;`: max_by_key keeps the last of equals.
    [b',', b';', b'\t']
        .into_iter()
        .rev()
        .max_by_key(|c| count(*c))
        .unwrap_or(b',')
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
    fn utf16_with_a_byte_order_mark_is_decoded() {
        let text = "principal;partner_id\nsvc@contoso.com;4567890\n";
        let le: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xfe, 0xff]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode("l.csv", le.clone()).unwrap(), text);
        assert_eq!(decode("l.csv", be).unwrap(), text);
        assert_eq!(
            decode("l.csv", [b"\xef\xbb\xbf", text.as_bytes()].concat()).unwrap(),
            text
        );
        let err = decode("l.csv", le[..le.len() - 1].to_vec()).unwrap_err();
        assert!(err.message.contains("odd number"), "{err}");
    }

    #[test]
    fn office_documents_are_refused_by_their_magic_bytes() {
        for magic in [
            &b"PK\x03\x04rest"[..],
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest",
        ] {
            let err = decode("links.csv", magic.to_vec()).unwrap_err();
            assert_eq!(err.location, "links.csv");
            assert!(
                err.message
                    .contains("save it as CSV UTF-8 (Comma delimited)"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_delimiter_is_the_header_s() {
        assert_eq!(csv_delimiter("principal,partner_id\na;b;c,1\n"), b',');
        assert_eq!(
            csv_delimiter("# a, b, c\n\nprincipal;partner_id;note\n"),
            b';'
        );
        assert_eq!(
            csv_delimiter("principal\tpartner_id\tnote\r\na,b;c\t1\t\r\n"),
            b'\t'
        );
        // One column, or nothing: a comma-separated file.
        assert_eq!(csv_delimiter("principal\n"), b',');
        assert_eq!(csv_delimiter(""), b',');
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        assert_eq!(without_bom("\u{feff}{}".into()), "{}");
        assert_eq!(without_bom("{}".into()), "{}");
    }
}
