//! PAL links as the audit knows them: the links CSV (declared) and attestation
//! JSON files (attested), parsed and validated before any API call.
//! Over 800 lines with its tests: the CSV and the attestation are one type,
//! read and written here, and every rejection names its file and line.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::InputError;
use crate::inventory::PrincipalId;

/// The `schema` an attestation file must carry.
pub const ATTESTATION_SCHEMA: &str = "pal-audit/attestation/v1";

/// A Microsoft Cloud Partner Program (associated partner) id: digits only.
///
/// Held inline (at most 20 digits): every finding names a partner or two, and
/// a copy costs no allocation.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartnerId {
    len: u8,
    digits: [u8; PartnerId::MAX],
}

impl PartnerId {
    const MAX: usize = 20;

    /// The id in `s`, trimmed: 1 to 20 ASCII digits, else an error that
    /// says so.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if !t.is_empty() && t.len() <= Self::MAX && t.bytes().all(|b| b.is_ascii_digit()) {
            let mut digits = [0; Self::MAX];
            digits[..t.len()].copy_from_slice(t.as_bytes());
            Ok(Self {
                len: t.len() as u8,
                digits,
            })
        } else {
            Err(format!("{s:?} is not a partner ID (digits)"))
        }
    }
    /// The digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).expect("ASCII digits")
    }
}

// Ordered as the digits read, like the string it is.
impl Ord for PartnerId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}
impl PartialOrd for PartnerId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl fmt::Debug for PartnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PartnerId").field(&self.as_str()).finish()
    }
}

impl TryFrom<String> for PartnerId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}
impl From<PartnerId> for String {
    fn from(p: PartnerId) -> String {
        p.as_str().to_string()
    }
}
impl fmt::Display for PartnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the identity behind a link is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// A person's account.
    User,
    /// A user object dedicated to the partner's delivery work.
    ServiceAccount,
    /// An application's service principal.
    ServicePrincipal,
}

impl LinkKind {
    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "user" => Some(Self::User),
            "service-account" => Some(Self::ServiceAccount),
            "service-principal" => Some(Self::ServicePrincipal),
            _ => None,
        }
    }
}

/// Where a link was read: how strong its evidence is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkSource {
    /// An attestation: written by `pal-audit attest` run as the linked
    /// identity, from the live link. Strong evidence.
    Attested,
    /// A row of a links file. Weaker evidence: `declared-link-only`.
    Declared,
}

/// How a link names its principal, before it is resolved to an object id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalRef {
    /// An object id, or for a service principal possibly its application id.
    Id(PrincipalId),
    /// A user principal name, lower-cased.
    Upn(String),
}

impl PrincipalRef {
    /// A GUID as an object id, else something UPN-shaped (an `@` not first,
    /// no whitespace) as a UPN; `None` for anything else. Trims first.
    pub fn parse(s: &str) -> Option<Self> {
        let t = s.trim();
        if is_guid(t) {
            Some(Self::Id(PrincipalId::new(t)))
        } else if t.contains('@') && !t.contains(char::is_whitespace) && !t.starts_with('@') {
            Some(Self::Upn(t.to_ascii_lowercase()))
        } else {
            None
        }
    }
}

impl fmt::Display for PrincipalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => f.write_str(id.as_str()),
            Self::Upn(u) => f.write_str(u),
        }
    }
}

/// Whether `s` is exactly a GUID: 8-4-4-4-12 hex digits, either case, no
/// braces and nothing around it.
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// One PAL link, from a links file row or an attestation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// The linked principal, as the file names it.
    pub principal: PrincipalRef,
    /// The principal's name, when an attestation gives one; `None` for a
    /// links file row.
    pub principal_name: Option<String>,
    /// How the linked identity is used, as the file says (a links file row
    /// without a kind is `user`).
    pub kind: LinkKind,
    /// The partner the link names.
    pub partner_id: PartnerId,
    /// The partner's name from an attestation, or a links file row's
    /// `note`.
    pub partner_name: Option<String>,
    /// Attested or declared.
    pub source: LinkSource,
    /// When the link was made (or last updated), where known.
    pub linked_at: Option<DateTime<Utc>>,
    /// When `attest` read the link (attestations only).
    pub attested_at: Option<DateTime<Utc>>,
    /// False for an attestation whose link state is `Deleted`.
    pub active: bool,
    /// The tenant an attestation was made in.
    pub tenant_id: Option<String>,
    /// Where the link came from: `links.csv:4`, `attestations/svc.json`.
    pub origin: String,
}

/// Parses a links CSV, comma-, semicolon- or tab-separated (see
/// [`crate::input::csv_delimiter`]). `name` is used in error messages.
pub fn parse_links_csv(name: &str, text: &str) -> Result<Vec<Link>, InputError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let delimiter = crate::input::csv_delimiter(text);
    // Flexible: a row with too many or too few fields is told so below, in
    // words, naming the header's columns.
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| InputError::new(format!("{name}:1"), format!("cannot read header: {e}")))?
        .clone();
    // The csv crate reads a quote never closed as a field running to the end
    // of the file: one stray quote would drop every row after it, silently.
    // No field of a links file (an id, a UPN, a kind, a time, a note) has
    // a use for a line break, so a quoted field spanning lines is refused
    // too, wherever its quote closes: checked before the header's names,
    // which such a field may have swallowed.
    if let Some(q) = crate::input::quoted_line_breaks(text, delimiter, Some(b'#')).next() {
        let (line, end) = q.lines(text);
        let column = q.column(&headers);
        let message = match end {
            None => format!(
                "{column}: a quote opened here is never closed; close it on this line, or remove it (a links file's fields have no line breaks)"
            ),
            Some(end) => format!(
                "{column}: a quoted field opened here runs on to line {end}, but a links file's fields have no line breaks: close the quote on this line, or remove the line break (Excel's Alt+Enter)"
            ),
        };
        return Err(InputError::new(format!("{name}:{line}"), message));
    }
    // A repeated column would make one of its values silently lost.
    for (i, h) in headers.iter().enumerate() {
        if !h.is_empty() && headers.iter().take(i).any(|e| e.eq_ignore_ascii_case(h)) {
            return Err(InputError::new(
                format!("{name}:1"),
                format!("column {h:?} appears more than once in the header"),
            ));
        }
    }
    let column = |want: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(want));
    let required = |want: &str| {
        column(want).ok_or_else(|| {
            InputError::new(
                format!("{name}:1"),
                format!(
                    "missing column \"{want}\" (the header has: {})",
                    headers.iter().collect::<Vec<_>>().join(", ")
                ),
            )
        })
    };
    let c_principal = required("principal")?;
    let c_partner = required("partner_id")?;
    let c_kind = column("kind");
    let c_linked = column("linked_at");
    let c_note = column("note");

    // csv's positions are where the previous record ended, before any blank
    // or comment lines it skipped; step over those to name the real line.
    let mut lines = Lines::new(text);
    let mut line_at = |pos: Option<&csv::Position>| {
        pos.map_or(0, |p| {
            let mut start = usize::try_from(p.byte())
                .unwrap_or(usize::MAX)
                .min(text.len());
            while start < text.len() {
                let rest = &text[start..];
                let line = rest.split('\n').next().unwrap_or_default();
                if !(line.trim().is_empty() || line.starts_with('#')) {
                    break;
                }
                start += line.len() + 1;
            }
            lines.line_of(start.min(text.len()))
        })
    };
    let mut links = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = line_at(e.position());
            InputError::new(format!("{name}:{line}"), format!("{e}"))
        })?;
        let line = line_at(record.position());
        let at = format!("{name}:{line}");
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != headers.len() {
            return Err(InputError::new(
                &at,
                crate::input::field_count_message(record.len(), &headers),
            ));
        }
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("");
        let raw_principal = field(Some(c_principal));
        let principal = PrincipalRef::parse(raw_principal).ok_or_else(|| {
            InputError::new(
                &at,
                format!("principal {raw_principal:?} is neither an object id (GUID) nor a UPN"),
            )
        })?;
        let partner_id = PartnerId::parse(field(Some(c_partner)))
            .map_err(|e| InputError::new(&at, format!("partner_id {e}")))?;
        let raw_kind = field(c_kind);
        let kind = LinkKind::parse(raw_kind).ok_or_else(|| {
            InputError::new(
                &at,
                format!("kind {raw_kind:?} is not one of user, service-account, service-principal"),
            )
        })?;
        let raw_linked = field(c_linked);
        let linked_at = if raw_linked.is_empty() {
            None
        } else {
            Some(parse_time(raw_linked).ok_or_else(|| {
                InputError::new(
                    &at,
                    format!("linked_at {raw_linked:?} is not an RFC 3339 time"),
                )
            })?)
        };
        let note = field(c_note);
        links.push(Link {
            principal,
            principal_name: None,
            kind,
            partner_id,
            partner_name: (!note.is_empty()).then(|| note.to_string()),
            source: LinkSource::Declared,
            linked_at,
            attested_at: None,
            active: true,
            tenant_id: None,
            origin: at,
        });
    }
    Ok(links)
}

/// Line numbers of byte offsets, counted on from the last offset asked:
/// the links parser asks in increasing order, so the file is scanned once.
/// (Counting from the start for every row made 80,000 rows take minutes.)
struct Lines<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
    /// Bytes looked at, for the test that the scan is linear.
    scanned: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            at: 0,
            line: 1,
            scanned: 0,
        }
    }

    /// The 1-based line of byte `byte`.
    fn line_of(&mut self, byte: usize) -> usize {
        let byte = byte.min(self.text.len());
        if byte < self.at {
            // Backwards (never in practice): count again from the start.
            self.at = 0;
            self.line = 1;
        }
        let seen = &self.text[self.at..byte];
        self.line += seen.iter().filter(|b| **b == b'\n').count();
        self.scanned += seen.len();
        self.at = byte;
        self.line
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The attestation file, field for field (design.md).
#[derive(Debug, Deserialize)]
struct AttestationFile {
    schema: String,
    tenant_id: String,
    principal_id: String,
    #[serde(default)]
    principal_name: Option<String>,
    principal_kind: LinkKind,
    partner_id: PartnerId,
    #[serde(default)]
    partner_name: Option<String>,
    state: String,
    #[serde(default)]
    link_created: Option<DateTime<Utc>>,
    #[serde(default)]
    link_updated: Option<DateTime<Utc>>,
    attested_at: DateTime<Utc>,
}

/// Parses one attestation. `name` is used in error messages.
pub fn parse_attestation(name: &str, text: &str) -> Result<Link, InputError> {
    let file: AttestationFile = crate::input::parse_json(name, text)?;
    if file.schema != ATTESTATION_SCHEMA {
        return Err(InputError::new(
            format!("{name}: $.schema"),
            format!("{:?} is not {ATTESTATION_SCHEMA:?}", file.schema),
        ));
    }
    if !is_guid(&file.principal_id) {
        return Err(InputError::new(
            format!("{name}: $.principal_id"),
            format!("{:?} is not an object id (GUID)", file.principal_id),
        ));
    }
    let active = match file.state.to_ascii_lowercase().as_str() {
        "active" => true,
        "deleted" => false,
        _ => {
            return Err(InputError::new(
                format!("{name}: $.state"),
                format!("{:?} is not Active or Deleted", file.state),
            ));
        }
    };
    Ok(Link {
        principal: PrincipalRef::Id(PrincipalId::new(&file.principal_id)),
        principal_name: file.principal_name,
        kind: file.principal_kind,
        partner_id: file.partner_id,
        partner_name: file.partner_name,
        source: LinkSource::Attested,
        linked_at: file.link_updated.or(file.link_created),
        attested_at: Some(file.attested_at),
        active,
        tenant_id: Some(file.tenant_id.to_ascii_lowercase()),
        origin: name.to_string(),
    })
}

fn read(path: &Path) -> Result<String, InputError> {
    crate::input::read_text(path, crate::input::MAX_INPUT)
}

/// Reads every links file and every attestation (a file, or each `*.json` in a
/// folder), in a stable order.
pub fn load(links_files: &[PathBuf], attestations: &[PathBuf]) -> Result<Vec<Link>, InputError> {
    let mut links = Vec::new();
    for path in links_files {
        links.extend(parse_links_csv(&path.display().to_string(), &read(path)?)?);
    }
    for path in attestations {
        let files = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| {
                    InputError::new(path.display().to_string(), format!("cannot read: {e}"))
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|x| x.eq_ignore_ascii_case("json"))
                })
                .collect();
            files.sort();
            files
        } else {
            vec![path.clone()]
        };
        for file in files {
            links.push(parse_attestation(
                &file.display().to_string(),
                &read(&file)?,
            )?);
        }
    }
    Ok(links)
}

/// Whether any link (declared or attested, active or `Deleted`) names
/// `partner`: a `--partner-id` no link names is almost always a typo. Only
/// the partner ID itself counts, never one of our organisation's other IDs.
pub fn names_partner(links: &[Link], partner: &PartnerId) -> bool {
    links.iter().any(|l| &l.partner_id == partner)
}

/// Refuses attestations made in another tenant than the audited one.
pub fn check_tenant(links: &[Link], tenant_id: &str) -> Result<(), InputError> {
    for link in links {
        if let Some(t) = &link.tenant_id
            && !t.eq_ignore_ascii_case(tenant_id)
        {
            return Err(InputError::new(
                format!("{}: $.tenant_id", link.origin),
                format!("attestation is for tenant {t}, but the audited tenant is {tenant_id}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUID: &str = "6A1B2C3D-0000-4000-8000-00000000000A";

    #[test]
    fn a_partner_id_is_named_only_by_a_link_to_that_very_id() {
        let att = |partner: &str, state: &str| {
            parse_attestation(
                "a.json",
                &format!(
                    r#"{{"schema":"{ATTESTATION_SCHEMA}","tenant_id":"{GUID}","principal_id":"{GUID}","principal_kind":"service-account","partner_id":"{partner}","state":"{state}","attested_at":"2026-01-01T00:00:00Z"}}"#
                ),
            )
            .unwrap()
        };
        let id = |s: &str| PartnerId::parse(s).unwrap();
        // Attestations only, all to our real ID and to one of our other IDs:
        // a transposed --partner-id is named by none of them.
        let links = vec![att("4567890", "Active"), att("4567891", "Active")];
        assert!(names_partner(&links, &id("4567890")));
        assert!(!names_partner(&links, &id("4567809")), "a typo");
        // A link naming one of our other IDs names that ID, not ours.
        let other_only = vec![att("4567891", "Active")];
        assert!(!names_partner(&other_only, &id("4567890")));
        // A Deleted attestation still names the ID: no typo.
        assert!(names_partner(&[att("4567890", "Deleted")], &id("4567890")));
        // Declared rows count as well as attestations.
        let rows =
            parse_links_csv("l.csv", &format!("principal,partner_id\n{GUID},4567890\n")).unwrap();
        assert!(names_partner(&rows, &id("4567890")));
        assert!(!names_partner(&[], &id("4567890")));
    }

    #[test]
    fn line_numbers_scan_the_file_once() {
        let text = "a,b\n".repeat(80_000);
        let mut lines = Lines::new(&text);
        for row in 0..80_000 {
            assert_eq!(lines.line_of(row * 4), row + 1);
        }
        assert!(lines.scanned <= text.len(), "scanned {}", lines.scanned);
        // Asked backwards, it counts again rather than answer wrong.
        assert_eq!(lines.line_of(4), 2);
    }

    #[test]
    fn eighty_thousand_rows_parse_with_their_line_numbers() {
        let mut text = String::from("principal,partner_id\n# generated\n");
        for i in 0..80_000 {
            text.push_str(&format!("user{i}@contoso.com,1234567\n"));
        }
        let links = parse_links_csv("links.csv", &text).unwrap();
        assert_eq!(links.len(), 80_000);
        assert_eq!(links[0].origin, "links.csv:3");
        assert_eq!(links[79_999].origin, "links.csv:80002");
    }

    #[test]
    fn an_attestation_with_trailing_garbage_is_refused() {
        let text = include_str!("../../pal-emulator/contoso/attestations/svc-delivery.json");
        assert!(parse_attestation("a.json", text).is_ok());
        let err = parse_attestation("a.json", &format!("{text}\n{{}}")).unwrap_err();
        assert!(err.message.contains("trailing characters"), "{err}");
    }

    #[test]
    fn a_repeated_column_is_refused_by_name() {
        for header in [
            "principal,partner_id,Principal",
            "principal,partner_id,note,note",
        ] {
            let text = format!("{header}\n{GUID},1234567,x,y\n");
            let err = parse_links_csv("links.csv", &text).unwrap_err();
            assert_eq!(err.location, "links.csv:1");
            assert!(err.message.contains("more than once"), "{err}");
        }
        let err = parse_links_csv("links.csv", "principal,partner_id,partner_id\n").unwrap_err();
        assert!(err.message.contains("\"partner_id\""), "{err}");
    }

    #[test]
    fn reads_columns_in_any_order() {
        let text = format!(
            "note,partner_id,principal,kind,linked_at\n\
             ops,1234567,{GUID},service-account,2026-01-02T03:04:05Z\n\
             ,7654321,Jane@Contoso.com,,\n"
        );
        let links = parse_links_csv("links.csv", &text).unwrap();
        assert_eq!(links.len(), 2);
        assert_eq!(
            links[0].principal,
            PrincipalRef::Id(PrincipalId::new(GUID.to_lowercase()))
        );
        assert_eq!(links[0].kind, LinkKind::ServiceAccount);
        assert_eq!(links[0].origin, "links.csv:2");
        assert_eq!(
            links[1].principal,
            PrincipalRef::Upn("jane@contoso.com".into())
        );
        assert_eq!(links[1].kind, LinkKind::User);
        assert_eq!(links[1].linked_at, None);
    }

    #[test]
    fn semicolon_separated_files_as_excel_saves_them() {
        // Excel's CSV where the decimal separator is a comma: `;` between
        // fields, CRLF, commas inside fields left unquoted.
        let text = format!(
            "# exported\r\nprincipal;partner_id;note\r\n{GUID};1234567;Northwind, Ltd\r\n\"a@b.c\";7654321;\"x;y\"\r\n"
        );
        let links = parse_links_csv("links.csv", &text).unwrap();
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].partner_name.as_deref(), Some("Northwind, Ltd"));
        assert_eq!(links[1].partner_id.as_str(), "7654321");
        assert_eq!(links[1].partner_name.as_deref(), Some("x;y"));
        assert_eq!(links[1].origin, "links.csv:4");
        let err =
            parse_links_csv("links.csv", "principal;partner_id\r\na@b.c;12a\r\n").unwrap_err();
        assert_eq!(err.location, "links.csv:2");
        // A comma-separated file whose note has semicolons stays comma-separated.
        let links = parse_links_csv("l.csv", "principal,partner_id,note\na@b.c,1,a;b;c\n").unwrap();
        assert_eq!(links[0].partner_name.as_deref(), Some("a;b;c"));
    }

    #[test]
    fn tab_separated_files_as_excel_saves_unicode_text() {
        // Excel's "Unicode Text" once decoded: tabs between fields, CRLF,
        // commas and semicolons inside fields left as they are.
        let text = format!(
            "principal\tpartner_id\tkind\tnote\r\n{GUID}\t1234567\tservice-principal\tNorthwind, Ltd; EMEA\r\n\r\na@b.c\t7654321\t\t\"x\ty\"\r\n"
        );
        let links = parse_links_csv("links.txt", &text).unwrap();
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].partner_id.as_str(), "1234567");
        assert_eq!(links[0].kind, LinkKind::ServicePrincipal);
        assert_eq!(
            links[0].partner_name.as_deref(),
            Some("Northwind, Ltd; EMEA")
        );
        assert_eq!(links[1].partner_name.as_deref(), Some("x\ty"));
        assert_eq!(links[1].origin, "links.txt:4");
        // Errors still name the file, the line and the field.
        let err =
            parse_links_csv("links.txt", "principal\tpartner_id\r\na@b.c\t12a\r\n").unwrap_err();
        assert_eq!(err.location, "links.txt:2");
        assert!(err.message.starts_with("partner_id"), "{err}");
        let err = parse_links_csv("links.txt", "principal\tpartner\r\n").unwrap_err();
        assert!(
            err.message.contains("missing column \"partner_id\""),
            "{err}"
        );
    }

    #[test]
    fn bad_partner_id_names_file_and_line() {
        let text = format!("principal,partner_id\n{GUID},1234567\n\n# c\n{GUID},12a4\n");
        let err = parse_links_csv("links.csv", &text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "links.csv:5: partner_id \"12a4\" is not a partner ID (digits)"
        );
    }

    #[test]
    fn other_bad_rows_are_named() {
        let cases = [
            (
                "principal\nx\n",
                "links.csv:1: missing column \"partner_id\"",
            ),
            (
                "principal,partner_id\nnobody,1\n",
                "links.csv:2: principal \"nobody\"",
            ),
            (
                "principal,partner_id,kind\na@b.c,1,robot\n",
                "links.csv:2: kind \"robot\"",
            ),
            (
                "principal,partner_id,linked_at\na@b.c,1,yesterday\n",
                "links.csv:2: linked_at \"yesterday\"",
            ),
            ("principal,partner_id\na@b.c,1,extra\n", "links.csv:2:"),
        ];
        for (text, want) in cases {
            let err = parse_links_csv("links.csv", text).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err:?} should start with {want:?}");
        }
    }

    /// A quote never closed took in the rest of the file as one note, with
    /// no error: 1 link of 9, and verdicts resting on the 8 dropped.
    #[test]
    fn a_quote_never_closed_is_refused_where_it_opens() {
        let contoso = include_str!("../../pal-emulator/contoso/links.csv");
        assert_eq!(parse_links_csv("x.csv", contoso).unwrap().len(), 9);
        let stray = contoso.replacen(",Northwind consultant", ",\"Northwind consultant", 1);
        let err = parse_links_csv("x.csv", &stray).unwrap_err();
        assert_eq!(err.location, "x.csv:2");
        assert!(
            err.message
                .starts_with("note: a quote opened here is never closed"),
            "{err}"
        );
        assert!(err.message.contains("no line breaks"), "{err}");
        // On the last line, with no line break after it: still refused.
        let err = parse_links_csv("l.csv", "principal,partner_id\n# c\n\na@b.c,\"1").unwrap_err();
        assert_eq!(
            err.to_string().split(" a quote").next(),
            Some("l.csv:4: partner_id:")
        );
        // In the header, whose names it swallowed: named by position.
        let err = parse_links_csv("l.csv", "principal,\"partner_id\na@b.c,1\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("l.csv:1: column 2: a quote opened here"),
            "{err}"
        );
    }

    /// A quote closed lines later, or Excel's Alt+Enter inside a quoted
    /// field: a links file's fields have no line breaks.
    #[test]
    fn a_quoted_field_over_several_lines_is_refused() {
        let text =
            "principal;partner_id;note\r\n\"a@b.c\";1;\"one\r\ntwo\r\nthree\"\r\nb@c.d;2;x\r\n";
        let err = parse_links_csv("l.csv", text).unwrap_err();
        assert_eq!(err.location, "l.csv:2");
        assert!(
            err.message
                .starts_with("note: a quoted field opened here runs on to line 4"),
            "{err}"
        );
        assert!(err.message.contains("Alt+Enter"), "{err}");
        // Quotes that open no field, doubled quotes, and quotes in comments
        // are not line breaks.
        let text = "# a \"comment\nprincipal,partner_id,note\na@b.c,1,say \"hi\nb@c.d,2,\"x \"\"y\"\", z\"\n";
        let links = parse_links_csv("l.csv", text).unwrap();
        assert_eq!(links[0].partner_name.as_deref(), Some("say \"hi"));
        assert_eq!(links[1].partner_name.as_deref(), Some("x \"y\", z"));
    }

    #[test]
    fn a_row_with_the_wrong_number_of_fields_says_so_in_words() {
        let err =
            parse_links_csv("longrow.csv", "principal,partner_id\na@b.c,1,x,y\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "longrow.csv:2: 4 fields, the header has 2 (principal, partner_id)"
        );
        let err =
            parse_links_csv("l.csv", "principal;partner_id;note\n\n# c\na@b.c\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "l.csv:4: 1 field, the header has 3 (principal, partner_id, note)"
        );
        // A line of spaces is a blank line, skipped as the README says.
        let links = parse_links_csv("l.csv", "principal,partner_id\n   \na@b.c,1\n").unwrap();
        assert_eq!(links[0].origin, "l.csv:3");
    }

    fn attestation(fields: &str) -> String {
        format!(
            r#"{{"schema":"pal-audit/attestation/v1","tenant_id":"t1","principal_id":"{GUID}",
            "principal_kind":"service-principal","partner_id":"1234567","state":"Active",
            "attested_at":"2026-11-01T00:00:00Z"{fields}}}"#
        )
    }

    #[test]
    fn attestation_parses() {
        let link = parse_attestation(
            "a.json",
            &attestation(r#","link_created":"2026-10-01T00:00:00Z""#),
        )
        .unwrap();
        assert_eq!(link.source, LinkSource::Attested);
        assert!(link.active);
        assert_eq!(link.kind, LinkKind::ServicePrincipal);
        assert_eq!(
            link.linked_at.unwrap().to_rfc3339(),
            "2026-10-01T00:00:00+00:00"
        );
    }

    #[test]
    fn attestation_errors_name_the_json_path() {
        let bad = attestation("").replace("\"1234567\"", "\"12x\"");
        let err = parse_attestation("a.json", &bad).unwrap_err().to_string();
        assert!(err.starts_with("a.json: $.partner_id:"), "{err}");
        let bad = attestation("").replace("Active", "Gone");
        let err = parse_attestation("a.json", &bad).unwrap_err().to_string();
        assert!(err.starts_with("a.json: $.state:"), "{err}");
        let err = parse_attestation("a.json", "{\"schema\": 1")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("a.json"), "{err}");
    }

    #[test]
    fn attestation_for_another_tenant_is_refused() {
        let link = parse_attestation("a.json", &attestation("")).unwrap();
        assert!(check_tenant(std::slice::from_ref(&link), "T1").is_ok());
        let err = check_tenant(&[link], "t2").unwrap_err().to_string();
        assert!(err.contains("tenant t1"), "{err}");
    }
}
