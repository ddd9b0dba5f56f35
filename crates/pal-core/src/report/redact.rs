//! `--redact`: every piece of tenant text (UPNs, display names, group and
//! environment names, Dataverse hosts, the tenant's domain, local file
//! paths) becomes a stable short hash in every format, so a handover
//! document can leave the tenant. The same text gives the same hash in
//! every report.

use std::collections::BTreeSet;

use chrono::DateTime;
use sha2::{Digest, Sha256};

use super::Report;

/// `p-` and the first 8 hex digits of SHA-256 of the lower-cased name.
pub fn pseudonym(name: &str) -> String {
    let digest = Sha256::digest(name.trim().to_lowercase().as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("p-{hex}")
}

/// Every address-like token (`local@domain.tld`) in a text.
pub fn addresses(text: &str) -> Vec<String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "._%+-#".contains(c);
    let mut out = Vec::new();
    for (i, _) in text.match_indices('@') {
        let start = text[..i]
            .char_indices()
            .rev()
            .take_while(|(_, c)| ok(*c))
            .last()
            .map_or(i, |(j, _)| j);
        let end = text[i + 1..]
            .char_indices()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .last()
            .map_or(i + 1, |(j, c)| i + 1 + j + c.len_utf8());
        let candidate = text[start..end].trim_end_matches('.');
        if start < i && candidate.len() > i - start + 1 && candidate[i - start + 1..].contains('.')
        {
            out.push(candidate.to_string());
        }
    }
    out
}

/// Keys whose whole value is tenant text (a name): replaced by its
/// pseudonym wherever the key appears, in fields added later too.
const NAME_KEYS: [&str; 10] = [
    "resource_name",
    "environment_name",
    "principal_name",
    "partner_name",
    "display_name",
    "group_name",
    "workspace_name",
    "solution",
    "name",
    // `scope.environments`: the `--environment` filters, names or ids.
    "environments",
];

/// Suffixes of host names that belong to one tenant (a Dataverse
/// organisation, the tenant's initial domain, its SharePoint): pseudonymised
/// like names. The APIs' own hosts (api.powerapps.com, ...) are kept.
const TENANT_HOSTS: [&str; 3] = [".dynamics.com", ".onmicrosoft.com", ".sharepoint.com"];

/// File extensions of the inputs people give (links, attestations,
/// exports, config): a token ending in one is a local path.
const PATH_EXTENSIONS: [&str; 6] = [".csv", ".json", ".jsonl", ".toml", ".txt", ".xlsx"];

/// Whether a string is kept as it is: an id, a time, an enum name, a count
/// (kebab-case ASCII, or an RFC 3339 time), which no tenant text hides in
/// and which must read back.
fn is_kept(key: &str, value: &str) -> bool {
    let token = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    (token && !value.contains('.'))
        || super::super::links::is_guid(value)
        || DateTime::parse_from_rfc3339(value).is_ok()
        || ((key.ends_with("_id") || key == "id") && !value.contains('@'))
        || key == "schema"
        || key == "tool_version"
}

/// The tokens of `text` (split at whitespace, brackets, quotes, commas)
/// that are tenant host names or local file paths, as they appear.
fn hosts_and_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split(|c: char| c.is_whitespace() || "()[]{}<>\"'`,;".contains(c)) {
        let token = raw.trim_end_matches(['.', ':', '!', '?']);
        // A URL's host; `links.csv:4` without its line.
        let host = token
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?', ':', '#']).next().unwrap_or_default());
        if let Some(host) = host {
            let h = host.to_ascii_lowercase();
            if TENANT_HOSTS.iter().any(|t| h.ends_with(t)) {
                out.push(host.to_string());
            }
            continue;
        }
        let bare = token
            .rsplit_once(':')
            .filter(|(_, line)| !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()))
            .map_or(token, |(path, _)| path);
        let lower = bare.to_ascii_lowercase();
        let host = TENANT_HOSTS.iter().any(|t| lower.ends_with(t)) && !lower.contains('@');
        let path = PATH_EXTENSIONS.iter().any(|e| lower.ends_with(e)) && lower.len() > 5;
        if host || path {
            out.push(bare.to_string());
        }
    }
    out
}

/// What ends a group's name in the reasons that name one (attribution's
/// `rules.rs`): a saved report has no field for group names, so `report
/// --redact` finds them here.
const GROUP_NAME_ENDS: [&str; 4] = [
    " contains linked principals",
    " could not be expanded",
    " was not expanded",
    " (not expanded)",
];

/// The group names a reason quotes (`co-owner group NAME contains ...`).
fn group_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("group ") {
        let rest = &text[i + "group ".len()..];
        if let Some(end) = GROUP_NAME_ENDS.iter().filter_map(|e| rest.find(e)).min() {
            out.push(rest[..end].to_string());
        }
    }
    out
}

/// The tenant text an audit read that a report may quote without a field
/// of its own: principals' names and UPNs (groups' too), environments'
/// names and Dataverse hosts, solutions. For [`redact`].
pub fn tenant_text(inventory: &crate::inventory::Inventory) -> Vec<String> {
    let mut out = Vec::new();
    for p in inventory.principals.values() {
        out.extend(p.display_name.iter().cloned());
        out.extend(p.upn.iter().cloned());
    }
    for e in &inventory.environments {
        out.push(e.display_name.clone());
        for url in [&e.dataverse_url, &e.dataverse_api_url]
            .into_iter()
            .flatten()
        {
            out.extend(hosts_and_paths(url));
        }
    }
    out.extend(inventory.solutions.iter().map(|s| s.unique_name.clone()));
    out
}

/// Replaces every piece of tenant text in the report by its pseudonym and
/// marks the report redacted (`fix` refuses it): every name field (see
/// `NAME_KEYS`), and in every other text (reasons, fixes, evidence,
/// coverage) those names, `known` (what only the audit knew: group names,
/// the input files' paths; see [`tenant_text`]), addresses and their
/// domains, tenant host names and local file paths. Ids, times and enum
/// names are kept. The same text gets the same pseudonym everywhere. A
/// report already redacted is left as it is: its pseudonyms hashed again
/// would match nothing in the report it came from.
pub fn redact(report: &mut Report, known: &[String]) {
    use serde_json::Value;
    if report.redacted {
        return;
    }
    report.redacted = true;
    let Ok(mut value) = serde_json::to_value(&*report) else {
        return;
    };
    let mut names: BTreeSet<String> = known
        .iter()
        .flat_map(|k| {
            let mut v = hosts_and_paths(k);
            v.push(k.clone());
            v
        })
        .collect();
    fn collect(v: &Value, key: &str, names: &mut BTreeSet<String>) {
        match v {
            Value::String(s) => {
                if NAME_KEYS.contains(&key) || (key == "principal_id" && s.contains('@')) {
                    names.insert(s.clone());
                }
                if is_kept(key, s) {
                    return;
                }
                for a in addresses(s) {
                    if let Some((_, domain)) = a.rsplit_once('@') {
                        names.insert(domain.to_string());
                    }
                    names.insert(a);
                }
                names.extend(hosts_and_paths(s));
                names.extend(group_names(s));
            }
            Value::Array(a) => a.iter().for_each(|x| collect(x, key, names)),
            Value::Object(o) => o.iter().for_each(|(k, x)| collect(x, k, names)),
            _ => {}
        }
    }
    collect(&value, "", &mut names);
    let scrubber = Scrubber::new(names.iter().map(|n| n.trim()).filter(|n| n.len() > 2));
    fn walk(v: &mut Value, key: &str, s: &Scrubber) {
        match v {
            Value::String(text) => {
                if NAME_KEYS.contains(&key) || (key == "principal_id" && text.contains('@')) {
                    *text = pseudonym(text);
                } else if !is_kept(key, text) {
                    *text = s.scrub(text);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, key, s)),
            Value::Object(o) => o.iter_mut().for_each(|(k, x)| walk(x, k, s)),
            _ => {}
        }
    }
    walk(&mut value, "", &scrubber);
    match serde_json::from_value::<Report>(value) {
        Ok(r) => *report = r,
        // Only kept strings are typed (ids, times, enums), so this does not
        // happen; were it to, no tenant text may survive: every name field
        // is emptied rather than the report left as it was.
        Err(e) => {
            tracing::warn!("redaction: the redacted report does not read back ({e})");
            report.findings.clear();
            report.links.clear();
            report.coverage.clear();
        }
    }
}

/// Replaces known names in texts: ASCII case ignored, longest name first,
/// in one pass over each text. Names are indexed by their first two bytes,
/// so a text is scanned once whatever the number of names (a large
/// tenant's report has a million names and a million reasons).
struct Scrubber {
    /// Lower-cased name to its pseudonym.
    names: std::collections::HashMap<String, String>,
    /// The first two lower-cased bytes of names, to their lengths (longest
    /// first).
    by_prefix: std::collections::HashMap<[u8; 2], Vec<usize>>,
}

impl Scrubber {
    fn new<'a>(names: impl Iterator<Item = &'a str>) -> Self {
        let mut s = Self {
            names: Default::default(),
            by_prefix: Default::default(),
        };
        for n in names {
            let lower = n.to_ascii_lowercase();
            let b = lower.as_bytes();
            let lens = s.by_prefix.entry([b[0], b[1]]).or_default();
            if !lens.contains(&b.len()) {
                lens.push(b.len());
                lens.sort_unstable_by(|a, b| b.cmp(a));
            }
            s.names.insert(lower, pseudonym(n));
        }
        s
    }

    fn scrub(&self, text: &str) -> String {
        let lower = text.to_ascii_lowercase();
        let b = lower.as_bytes();
        let word = |i: usize| b.get(i).is_some_and(|c| c.is_ascii_alphanumeric());
        let mut out = String::with_capacity(text.len());
        let (mut i, mut copied) = (0, 0);
        while i + 1 < b.len() {
            let found = self.by_prefix.get(&[b[i], b[i + 1]]).and_then(|lens| {
                lens.iter().find_map(|&len| {
                    let end = i + len;
                    if end > b.len() || !lower.is_char_boundary(i) || !lower.is_char_boundary(end) {
                        return None;
                    }
                    // A short name only as a whole word ("Ops" is not in
                    // "Operations"); a longer one anywhere.
                    if len < 6
                        && ((i > 0 && word(i - 1) && word(i)) || (word(end) && word(end - 1)))
                    {
                        return None;
                    }
                    self.names.get(&lower[i..end]).map(|p| (end, p))
                })
            });
            match found {
                Some((end, p)) => {
                    out.push_str(&text[copied..i]);
                    out.push_str(p);
                    i = end;
                    copied = end;
                }
                _ => i += 1,
            }
        }
        out.push_str(&text[copied..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Redacting a redacted report changes nothing: `report --redact` of a
    /// report redacted at audit time keeps the pseudonyms it has.
    #[test]
    fn redacting_twice_is_redacting_once() {
        let mut once = crate::report::demo_report();
        redact(&mut once, &["App Makers".to_string()]);
        assert!(once.redacted);
        let mut twice = once.clone();
        redact(&mut twice, &["App Makers".to_string()]);
        assert_eq!(
            serde_json::to_value(&twice).unwrap(),
            serde_json::to_value(&once).unwrap()
        );
    }

    #[test]
    fn pseudonyms_are_stable_and_case_blind() {
        assert_eq!(
            pseudonym("Ana.Costa@contoso.com"),
            pseudonym("ana.costa@contoso.com")
        );
        assert_ne!(pseudonym("a@b.c"), pseudonym("b@b.c"));
        assert_eq!(pseudonym("x").len(), 10);
    }

    #[test]
    fn addresses_are_found_in_text() {
        let t = "the creator carol.diaz@contoso.com (owner) and ann_f.com#EXT#@contoso.onmicrosoft.com.";
        assert_eq!(
            addresses(t),
            [
                "carol.diaz@contoso.com",
                "ann_f.com#EXT#@contoso.onmicrosoft.com"
            ]
        );
        assert!(addresses("no at sign, or a @ alone").is_empty());
    }

    #[test]
    fn replacement_ignores_case_and_spares_words_holding_short_names() {
        let s = Scrubber::new(["Bob", "Ops", "Contoso Sales", "Contoso"].into_iter());
        let (bob, ops) = (pseudonym("bob"), pseudonym("ops"));
        assert_eq!(s.scrub("Bob and BOB"), format!("{bob} and {bob}"));
        assert_eq!(
            s.scrub("Operations by Ops."),
            format!("Operations by {ops}.")
        );
        // Longest first; a long name inside a word too; non-ASCII around.
        assert_eq!(
            s.scrub("é CONTOSO SALES, xContosoy"),
            format!(
                "é {}, x{}y",
                pseudonym("contoso sales"),
                pseudonym("contoso")
            )
        );
    }

    #[test]
    fn tenant_hosts_and_local_paths_are_found_in_text() {
        let t = "GET https://contososales.api.crm4.dynamics.com/api/data/v9.2/x?$select=a: HTTP 403 \
                 (declared in /home/ana/contoso/links.csv:4), tenant contoso.onmicrosoft.com; \
                 POST https://api.powerapps.com/providers/x";
        assert_eq!(
            hosts_and_paths(t),
            [
                "contososales.api.crm4.dynamics.com",
                "/home/ana/contoso/links.csv",
                "contoso.onmicrosoft.com"
            ]
        );
    }

    #[test]
    fn group_names_are_found_in_reasons() {
        assert_eq!(
            group_names(
                "co-owner group App Makers contains linked principals a@b.c; members of group Ops (x) (not expanded)"
            ),
            ["App Makers", "Ops (x)"]
        );
    }

    #[test]
    fn ids_times_and_enum_names_are_kept() {
        assert!(is_kept("verdict", "credited-to-other"));
        assert!(is_kept("generated_at", "2026-01-01T00:00:00Z"));
        assert!(is_kept(
            "environment_id",
            "Default-7c1e5b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c"
        ));
        assert!(!is_kept("principal_id", "ana@contoso.com"));
        assert!(!is_kept("detail", "Contoso Sales"));
        assert!(!is_kept("detail", "contoso.onmicrosoft.com"));
    }
}
