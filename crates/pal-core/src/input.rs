//! Reading input files: under a size cap (`--links /dev/zero` must end in an
//! error, not fill the memory), as UTF-8 or (with a byte order mark, as
//! Excel's "Unicode Text" writes) UTF-16, the byte order mark dropped; an
//! Office document (a zip or OLE file) refused by its magic bytes; a CSV's
//! quoted fields that span lines or never close found, as the csv crate
//! would read them (it reads an open quote to the end of the file, silently).

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

/// A quoted CSV field that holds a line break or is never closed, as
/// [`quoted_line_breaks`] finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedBreak {
    /// The byte offset of its opening quote.
    pub start: usize,
    /// The byte offset of its closing quote; `None` when the text ends
    /// inside the field.
    pub end: Option<usize>,
    /// Its record, from 0 (the header), blank and comment lines not counted.
    pub record: usize,
    /// Its field in that record, from 0.
    pub field: usize,
}

impl QuotedBreak {
    /// The 1-based lines of `text` its opening and (if any) closing quote
    /// are on.
    pub fn lines(&self, text: &str) -> (usize, Option<usize>) {
        let line = |byte: usize| 1 + memchr::memchr_iter(b'\n', &text.as_bytes()[..byte]).count();
        (line(self.start), self.end.map(line))
    }

    /// Its column as an error names it: the header's name for it, or
    /// `column N` (in the header itself, or past its end).
    pub fn column(&self, headers: &csv::StringRecord) -> String {
        headers
            .get(self.field)
            .map(str::trim)
            .filter(|h| self.record > 0 && !h.is_empty())
            .map_or_else(|| format!("column {}", self.field + 1), str::to_string)
    }
}

/// The quoted fields of CSV `text` that hold a line break (`\n` or `\r`) or
/// are never closed, in order. Read as the csv crate reads with its default
/// quoting (csv-core's reader): a `"` opens a quoted field only as the
/// field's first byte, `""` inside one is a quote, and a line starting with
/// `comment` is skipped. The csv crate reads a quote that is never closed
/// as a field running to the end of the text, with no error, so a reader
/// that must not lose rows to one stray quote asks here.
pub fn quoted_line_breaks(text: &str, delimiter: u8, comment: Option<u8>) -> QuotedLineBreaks<'_> {
    QuotedLineBreaks {
        bytes: text.as_bytes(),
        at: 0,
        state: Scan::RecordStart,
        delimiter,
        comment,
        records: 0,
        field: 0,
        open: 0,
        broken: false,
    }
}

/// The iterator [`quoted_line_breaks`] returns.
#[derive(Debug)]
pub struct QuotedLineBreaks<'a> {
    bytes: &'a [u8],
    at: usize,
    state: Scan,
    delimiter: u8,
    comment: Option<u8>,
    /// Records begun so far.
    records: usize,
    field: usize,
    /// The current quoted field's opening quote, and whether it has a line
    /// break so far.
    open: usize,
    broken: bool,
}

/// csv-core's reader states, those that matter for quotes.
#[derive(Clone, Copy, Debug)]
enum Scan {
    RecordStart,
    FieldStart,
    Field,
    Quoted,
    /// A quote inside a quoted field: a doubled quote or the closing one.
    QuoteInQuoted,
    Comment,
}

impl QuotedLineBreaks<'_> {
    fn found(&self, end: Option<usize>) -> QuotedBreak {
        QuotedBreak {
            start: self.open,
            end,
            record: self.records.saturating_sub(1),
            field: self.field,
        }
    }
}

impl Iterator for QuotedLineBreaks<'_> {
    type Item = QuotedBreak;

    fn next(&mut self) -> Option<QuotedBreak> {
        while let Some(&b) = self.bytes.get(self.at) {
            let at = self.at;
            self.at += 1;
            let newline = b == b'\n' || b == b'\r';
            if let Scan::RecordStart = self.state {
                if newline {
                    continue;
                }
                if Some(b) == self.comment {
                    self.state = Scan::Comment;
                    continue;
                }
                self.records += 1;
                self.field = 0;
                self.state = Scan::FieldStart;
            }
            let mut found = None;
            self.state = match self.state {
                Scan::Comment if b == b'\n' => Scan::RecordStart,
                Scan::Comment => Scan::Comment,
                Scan::Quoted if b == b'"' => Scan::QuoteInQuoted,
                Scan::Quoted => {
                    self.broken |= newline;
                    Scan::Quoted
                }
                Scan::QuoteInQuoted if b == b'"' => Scan::Quoted,
                Scan::FieldStart if b == b'"' => {
                    self.open = at;
                    self.broken = false;
                    Scan::Quoted
                }
                state => {
                    if matches!(state, Scan::QuoteInQuoted) && self.broken {
                        found = Some(self.found(Some(at - 1)));
                    }
                    if b == self.delimiter {
                        self.field += 1;
                        Scan::FieldStart
                    } else if newline {
                        Scan::RecordStart
                    } else {
                        Scan::Field
                    }
                }
            };
            if found.is_some() {
                return found;
            }
        }
        // The end of the text: once.
        match std::mem::replace(&mut self.state, Scan::RecordStart) {
            Scan::Quoted => Some(self.found(None)),
            Scan::QuoteInQuoted if self.broken => Some(self.found(Some(self.bytes.len() - 1))),
            _ => None,
        }
    }
}

/// What a CSV row with the wrong number of fields is told:
/// `4 fields, the header has 2 (principal, partner_id)`.
pub fn field_count_message(fields: usize, headers: &csv::StringRecord) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    format!(
        "{fields} field{}, the header has {} ({})",
        plural(fields),
        headers.len(),
        headers.iter().map(str::trim).collect::<Vec<_>>().join(", ")
    )
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

    /// The scan reads quotes as the csv crate does: for every text of up to
    /// 5 bytes of `a , " \n \r #`, a field the crate reads with a line break
    /// in it is the one the scan names first, and the scan names none when
    /// the crate reads none (but for a quote open at the end, named always).
    #[test]
    fn quoted_line_breaks_reads_quotes_as_the_csv_crate() {
        let alphabet = [b'a', b',', b'"', b'\n', b'\r', b'#'];
        let mut texts = vec![String::new()];
        let mut all = Vec::new();
        for _ in 0..5 {
            texts = texts
                .iter()
                .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{}", *c as char)))
                .collect();
            all.extend(texts.iter().cloned());
        }
        let read = |text: &str| -> Vec<csv::StringRecord> {
            csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .comment(Some(b'#'))
                .from_reader(text.as_bytes())
                .records()
                .map(Result::unwrap)
                .collect()
        };
        for text in &all {
            let records = read(text);
            let first_break = records.iter().enumerate().find_map(|(r, rec)| {
                rec.iter()
                    .position(|f| f.contains(['\n', '\r']))
                    .map(|f| (r, f))
            });
            let found: Vec<QuotedBreak> = quoted_line_breaks(text, b',', Some(b'#')).collect();
            let with_break = found
                .iter()
                .find(|q| q.end.is_some() || text[q.start..].contains(['\n', '\r']));
            assert_eq!(
                with_break.map(|q| (q.record, q.field)),
                first_break,
                "{text:?}: {found:?}"
            );
            for q in &found {
                assert_eq!(text.as_bytes()[q.start], b'"', "{text:?}");
                if let Some(end) = q.end {
                    assert_eq!(text.as_bytes()[end], b'"', "{text:?}");
                }
            }
            // Open at the end exactly when the crate ends inside quotes: a
            // quote added closes the field (a row after it reads as a row),
            // and a line break added would have been inside the field.
            let with_z = |text: &str| {
                let mut records = records.clone();
                records.push(csv::StringRecord::from(vec!["z"]));
                read(text) == records
            };
            let open = with_z(&format!("{text}\"\nz")) && !with_z(&format!("{text}\nz"));
            assert_eq!(
                found.iter().any(|q| q.end.is_none()),
                open,
                "{text:?}: {found:?}"
            );
            assert!(
                found.iter().rev().skip(1).all(|q| q.end.is_some()),
                "{text:?}"
            );
        }
        let (line, end) = quoted_line_breaks("a\n\"b\nc\"\n", b',', None)
            .next()
            .unwrap()
            .lines("a\n\"b\nc\"\n");
        assert_eq!((line, end), (2, Some(3)));
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        assert_eq!(without_bom("\u{feff}{}".into()), "{}");
        assert_eq!(without_bom("{}".into()), "{}");
    }
}
