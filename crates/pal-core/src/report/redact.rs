//! `--redact`: UPNs and display names become stable short hashes in every
//! format, so a handover document can leave the tenant. The same name gives
//! the same hash in every report.

use std::collections::BTreeSet;

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

/// Replaces every name the report knows, and every address in its texts,
/// and marks the report redacted (`fix` refuses it).
pub fn redact(report: &mut Report) {
    report.redacted = true;
    let mut names: BTreeSet<String> = BTreeSet::new();
    for l in &report.links {
        names.extend(l.principal_name.clone());
        if l.principal_id.contains('@') {
            names.insert(l.principal_id.clone());
        }
    }
    for f in &report.findings {
        for a in &f.attributed {
            names.extend(a.principal_name.as_deref().map(str::to_string));
        }
        for i in f.involvement.iter().flatten() {
            names.extend(i.principal_name.as_deref().map(str::to_string));
        }
        for r in f.reasons.iter() {
            names.extend(addresses(r));
        }
        if let Some(fix) = &f.fix {
            names.extend(addresses(&fix.to_string()));
        }
    }
    for c in &report.coverage {
        names.extend(addresses(&c.detail));
    }
    // Longest first, so "Fabrikam Automation" goes before "Fabrikam".
    let mut names: Vec<String> = names.into_iter().filter(|n| n.len() > 2).collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let scrub = |text: &str| -> String {
        let mut t = text.to_string();
        for n in &names {
            if t.to_lowercase().contains(&n.to_lowercase()) {
                t = replace_ignore_case(&t, n, &pseudonym(n));
            }
        }
        t
    };
    for l in &mut report.links {
        l.principal_name = l.principal_name.as_deref().map(pseudonym);
        if l.principal_id.contains('@') {
            l.principal_id = pseudonym(&l.principal_id);
        }
    }
    for f in &mut report.findings {
        for a in &mut f.attributed {
            a.principal_name = a.principal_name.as_deref().map(|n| pseudonym(n).into());
        }
        for i in f.involvement.iter_mut().flatten() {
            i.principal_name = i.principal_name.as_deref().map(|n| pseudonym(n).into());
        }
        f.reasons = f.reasons.iter().map(|r| scrub(r).into()).collect();
        f.fix = f.fix.as_ref().map(|r| scrub(&r.to_string()).into());
    }
    for c in &mut report.coverage {
        c.detail = scrub(&c.detail);
    }
}

fn replace_ignore_case(text: &str, needle: &str, with: &str) -> String {
    let lower = text.to_lowercase();
    let needle_lower = needle.to_lowercase();
    // Only when lower-casing keeps byte offsets (ASCII names); else exact.
    if lower.len() != text.len() {
        return text.replace(needle, with);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    for (i, _) in lower.match_indices(&needle_lower) {
        if i < rest {
            continue;
        }
        out.push_str(&text[rest..i]);
        out.push_str(with);
        rest = i + needle.len();
    }
    out.push_str(&text[rest..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn replacement_ignores_case() {
        assert_eq!(replace_ignore_case("Bob and BOB", "bob", "X"), "X and X");
    }
}
