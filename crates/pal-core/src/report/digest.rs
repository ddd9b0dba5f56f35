//! What every renderer leads with, computed once from a report: the findings
//! in the order reports show them, the active users on resources not
//! credited to us, the "fix first" list, the linked identities with their
//! evidence and the findings resting on each, and environment names.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::Report;
use crate::attribution::{Finding, Flag, LinkRow, Verdict, delivered};
use crate::inventory::EnvironmentId;
use crate::links::LinkSource;

/// The verdicts in the order reports show them: what loses credit first,
/// what is earned last.
pub const VERDICT_ORDER: [Verdict; 4] = [
    Verdict::Uncredited,
    Verdict::CreditedToOther,
    Verdict::Unknown,
    Verdict::Credited,
];

fn verdict_rank(v: Verdict) -> usize {
    VERDICT_ORDER.iter().position(|x| *x == v).unwrap_or(0)
}

/// A finding's distinct active users in the window; `None` when unknown
/// (never read as zero).
pub fn active_users(f: &Finding) -> Option<u64> {
    f.usage.as_ref().map(|u| u.active_users)
}

/// Most users first, unknown usage after every known number (it is not
/// zero, but nothing says it is more).
fn by_users(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    match (active_users(a), active_users(b)) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// The findings in the order every renderer shows them: by verdict
/// (`VERDICT_ORDER`), then by active users (most first, unknown after
/// known), then in the report's own order (product, environment, name, id).
/// The sort is stable, so equal and unknown usage keep the report's order.
pub fn ranked(report: &Report) -> Vec<&Finding> {
    let mut out: Vec<&Finding> = report.findings.iter().collect();
    out.sort_by(|a, b| {
        verdict_rank(a.verdict)
            .cmp(&verdict_rank(b.verdict))
            .then_with(|| by_users(a, b))
    });
    out
}

/// Whether a finding's credit is lost to us: `uncredited` or
/// `credited-to-other`.
pub fn not_credited_to_us(f: &Finding) -> bool {
    // A platform-made component (shown with --include-first-party) is
    // nobody's delivery: no credit is lost on it.
    matches!(f.verdict, Verdict::Uncredited | Verdict::CreditedToOther) && !f.first_party()
}

/// The active users on resources not credited to us.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotCredited {
    /// The findings `uncredited` or `credited-to-other`.
    pub findings: u64,
    /// Their active users, summed per resource (one person using two
    /// resources counts twice), over the findings whose usage is known.
    pub active_users: u64,
    /// How many of them have unknown usage: not counted, never zero.
    pub usage_unknown: u64,
}

impl NotCredited {
    /// Counts `findings`.
    pub fn of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Self {
        let mut n = NotCredited::default();
        for f in findings.into_iter().filter(|f| not_credited_to_us(f)) {
            n.findings += 1;
            match active_users(f) {
                Some(u) => n.active_users += u,
                None => n.usage_unknown += 1,
            }
        }
        n
    }

    /// "12 monthly active users on resources not credited to us (7
    /// resources; usage unknown for 3 of them)".
    pub fn sentence(&self) -> String {
        let mut s = format!(
            "{} monthly active user{} on resources not credited to us ({} resource{}",
            self.active_users,
            if self.active_users == 1 { "" } else { "s" },
            self.findings,
            if self.findings == 1 { "" } else { "s" },
        );
        if self.usage_unknown > 0 {
            s.push_str(&format!(
                "; usage unknown for {} of them, not counted",
                self.usage_unknown
            ));
        }
        s.push(')');
        s
    }
}

/// Whether a finding belongs on the "fix first" list: `uncredited` or
/// credited at risk, on a resource our identities delivered (its
/// `involvement`).
pub fn to_fix_first(f: &Finding) -> bool {
    (f.verdict == Verdict::Uncredited || f.at_risk())
        && !f.first_party()
        && f.involvement.as_deref().is_some_and(delivered)
}

/// The flags that put a credited finding at risk: "user-account-link,
/// declared-link-only".
pub fn risk_flags(f: &Finding) -> String {
    f.flags
        .iter()
        .filter(|x| Flag::AT_RISK.contains(x))
        .map(|x| x.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who of ours delivered a finding, and how: "svc@contoso.com (owner,
/// creator), ana@contoso.com (co-owner)"; roles that deliver nothing (a
/// role on an instance) left out.
pub fn delivered_by(f: &Finding) -> String {
    let mut by: Vec<(String, Vec<&'static str>)> = Vec::new();
    for i in f.involvement.iter().flatten().filter(|i| i.role.delivers()) {
        let name = i
            .principal_name
            .as_deref()
            .unwrap_or(i.principal_id.as_str())
            .to_string();
        match by.iter_mut().find(|(n, _)| *n == name) {
            Some((_, roles)) => roles.push(i.role.words()),
            None => by.push((name, vec![i.role.words()])),
        }
    }
    by.iter()
        .map(|(n, roles)| format!("{n} ({})", roles.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One of the report's links, with its evidence and the findings resting
/// on it.
#[derive(Clone, Debug)]
pub struct Identity<'a> {
    /// The link.
    pub link: &'a LinkRow,
    /// Days from the link's evidence (an attestation's time, a declared
    /// row's `linked_at`) to when attribution judged it (`LinkRow::age_days`);
    /// `None` when undated.
    pub age_days: Option<i64>,
    /// The findings resting on the link: its principal is an attributed
    /// user linked to its partner, and that partner is the one credited or
    /// none is decided yet; in `ranked` order.
    pub findings: Vec<&'a Finding>,
}

impl Identity<'_> {
    /// "attested" or "declared".
    pub fn evidence(&self) -> &'static str {
        match self.link.source {
            LinkSource::Attested => "attested",
            LinkSource::Declared => "declared",
        }
    }

    /// "412 days", "undated".
    pub fn age(&self) -> String {
        match self.age_days {
            Some(1) => "1 day".to_string(),
            Some(d) => format!("{d} days"),
            None => "undated".to_string(),
        }
    }

    /// The findings resting on it, counted by verdict, at risk apart:
    /// "3 credited (1 at risk), 1 uncredited"; "none".
    pub fn counts(&self) -> String {
        let mut parts = Vec::new();
        let risk = self.findings.iter().filter(|f| f.at_risk()).count();
        for v in Verdict::ALL {
            let n = self.findings.iter().filter(|f| f.verdict == v).count();
            if n == 0 {
                continue;
            }
            if v == Verdict::Credited && risk > 0 {
                parts.push(format!("{n} {} ({risk} at risk)", v.as_str()));
            } else {
                parts.push(format!("{n} {}", v.as_str()));
            }
        }
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// What the renderers show before (and beside) the findings.
#[derive(Clone, Debug)]
pub struct Digest<'a> {
    /// Every finding, in `ranked` order.
    pub ranked: Vec<&'a Finding>,
    /// The users on resources not credited to us.
    pub not_credited: NotCredited,
    /// `to_fix_first` findings, most users first (unknown after known),
    /// then in `ranked` order.
    pub fix_first: Vec<&'a Finding>,
    /// The report's links, in its order, each with its evidence and
    /// findings.
    pub identities: Vec<Identity<'a>>,
    /// Environment names by id: the report's `environments`, else the name
    /// its findings give.
    pub environment_names: BTreeMap<&'a str, &'a str>,
}

impl<'a> Digest<'a> {
    /// Computes everything once.
    pub fn of(report: &'a Report) -> Self {
        let ranked = ranked(report);
        let mut fix_first: Vec<&Finding> =
            ranked.iter().copied().filter(|f| to_fix_first(f)).collect();
        fix_first.sort_by(|a, b| by_users(a, b));
        // Findings per (principal, partner) of an attributed user, in ranked
        // order: one pass, whatever the number of links.
        let mut resting: FxHashMap<(&str, &str), Vec<&Finding>> = FxHashMap::default();
        for f in &ranked {
            for a in &f.attributed {
                // A finding rests on the link when the link's partner is
                // the one credited, or no partner is decided yet.
                if let Some(p) = a
                    .partner_id
                    .as_ref()
                    .filter(|p| f.credited_partner_id.as_ref().is_none_or(|c| c == *p))
                {
                    let list = resting
                        .entry((a.principal_id.as_str(), p.as_str()))
                        .or_default();
                    if !list.last().is_some_and(|l| std::ptr::eq(*l, *f)) {
                        list.push(f);
                    }
                }
            }
        }
        let identities = report
            .links
            .iter()
            .map(|link| {
                let at = match link.source {
                    LinkSource::Attested => link.attested_at,
                    LinkSource::Declared => link.linked_at,
                };
                Identity {
                    link,
                    // As attribution judged it; a report written before
                    // it was recorded, from the report's time.
                    age_days: link
                        .age_days
                        .or_else(|| at.map(|t| (report.generated_at - t).num_days())),
                    findings: resting
                        .get(&(link.principal_id.as_str(), link.partner_id.as_str()))
                        .cloned()
                        .unwrap_or_default(),
                }
            })
            .collect();
        let mut environment_names: BTreeMap<&str, &str> = BTreeMap::new();
        for f in &report.findings {
            environment_names
                .entry(f.environment_id.as_str())
                .or_insert(&f.environment_name);
        }
        for (id, name) in &report.environments {
            environment_names.insert(id.as_str(), name);
        }
        Digest {
            not_credited: NotCredited::of(report.findings.iter()),
            ranked,
            fix_first,
            identities,
            environment_names,
        }
    }

    /// "Contoso Sales (0a1b...)": an environment's name and id, or the id
    /// alone when nothing names it.
    pub fn environment(&self, id: &EnvironmentId) -> String {
        match self.environment_names.get(id.as_str()) {
            Some(name) if *name != id.as_str() => format!("{name} ({id})"),
            _ => id.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::{InvolvementRole, Usage};
    use crate::inventory::ActivitySource;
    use crate::report::Summary;

    use crate::report::demo_report as report;

    fn usage(n: u64) -> Option<Usage> {
        Some(Usage {
            active_users: n,
            source: ActivitySource::AuditLog,
            counted: "launches".into(),
        })
    }

    fn find<'a>(r: &'a mut Report, name: &str) -> &'a mut Finding {
        r.findings
            .iter_mut()
            .find(|f| &*f.resource_name == name)
            .unwrap()
    }

    #[test]
    fn ranked_is_by_verdict_then_users_with_unknown_after_known_and_stable() {
        let mut r = report();
        // Three uncredited: unknown usage, 0 users, 40 users.
        find(&mut r, "Company Directory").usage = None;
        find(&mut r, "Contract Tracker").usage = usage(0);
        find(&mut r, "Visitor Badges").usage = usage(40);
        let ranked = ranked(&r);
        let rank: Vec<usize> = ranked
            .iter()
            .map(|f| VERDICT_ORDER.iter().position(|v| *v == f.verdict).unwrap())
            .collect();
        assert!(rank.windows(2).all(|w| w[0] <= w[1]), "by verdict");
        let uncredited: Vec<&str> = ranked
            .iter()
            .filter(|f| f.verdict == Verdict::Uncredited)
            .map(|f| &*f.resource_name)
            .collect();
        assert_eq!(uncredited[0], "Visitor Badges", "most users first");
        let zero = uncredited.iter().position(|n| *n == "Contract Tracker");
        let unknown = uncredited.iter().position(|n| *n == "Company Directory");
        assert!(
            zero < unknown,
            "unknown usage is not below zero: after known"
        );
        // Equal usage keeps the report's order.
        for v in Verdict::ALL {
            for users in [None, Some(0)] {
                let same: Vec<usize> = ranked
                    .iter()
                    .filter(|f| f.verdict == v && active_users(f) == users)
                    .map(|f| r.findings.iter().position(|g| std::ptr::eq(g, *f)).unwrap())
                    .collect();
                assert!(same.windows(2).all(|w| w[0] < w[1]), "{v:?} {users:?}");
            }
        }
    }

    #[test]
    fn unknown_usage_is_counted_apart_never_as_zero() {
        let mut r = report();
        for f in &mut r.findings {
            f.usage = None;
        }
        find(&mut r, "Visitor Badges").usage = usage(40);
        find(&mut r, "Pipeline").usage = usage(2);
        // Credited and unknown findings are not "not credited to us".
        find(&mut r, "Quote Builder").usage = usage(1000);
        find(&mut r, "Shift Swap").usage = usage(1000);
        let n = NotCredited::of(&r.findings);
        let lost = r.findings.iter().filter(|f| not_credited_to_us(f)).count() as u64;
        assert_eq!(n.findings, lost);
        assert_eq!(n.active_users, 42);
        assert_eq!(n.usage_unknown, lost - 2);
        assert!(n.sentence().starts_with("42 monthly active users"));
        assert!(
            n.sentence()
                .contains(&format!("usage unknown for {}", lost - 2))
        );
        assert_eq!(
            Summary::of(&r.findings).not_credited_usage_unknown,
            Some(lost - 2)
        );
    }

    #[test]
    fn fix_first_is_what_we_delivered_uncredited_or_at_risk_by_users() {
        let mut r = report();
        // Web Analytics: uncredited, but our identity only holds a role on
        // it: not delivered, never on the list.
        let web = find(&mut r, "Web Analytics");
        assert_eq!(web.verdict, Verdict::Uncredited);
        assert!(
            web.involvement
                .iter()
                .flatten()
                .all(|i| i.role == InvolvementRole::RoleHolder)
        );
        web.usage = usage(5000);
        find(&mut r, "Welcome email").usage = usage(7);
        let d = Digest::of(&r);
        let names: Vec<&str> = d.fix_first.iter().map(|f| &*f.resource_name).collect();
        assert!(!names.contains(&"Web Analytics"), "{names:?}");
        assert_eq!(names[0], "Welcome email", "most users first: {names:?}");
        for f in &d.fix_first {
            assert!(f.verdict == Verdict::Uncredited || f.at_risk());
            assert!(f.involvement.as_deref().is_some_and(delivered));
        }
        // Every delivered uncredited or at-risk finding is on it.
        let expected = r.findings.iter().filter(|f| to_fix_first(f)).count();
        assert_eq!(d.fix_first.len(), expected);
        assert!(names.contains(&"Legacy Timesheets"), "at risk: {names:?}");
        // Unknown usage after every known number.
        let first_unknown = d.fix_first.iter().position(|f| active_users(f).is_none());
        if let Some(i) = first_unknown {
            assert!(d.fix_first[i..].iter().all(|f| active_users(f).is_none()));
        }
    }

    #[test]
    fn identities_carry_evidence_age_staleness_and_the_findings_on_them() {
        let r = report();
        let d = Digest::of(&r);
        let svc = d
            .identities
            .iter()
            .find(|i| i.link.principal_name.as_deref() == Some("svc-integration@contoso.com"))
            .unwrap();
        assert_eq!(svc.evidence(), "attested");
        assert!(svc.link.stale);
        // Aged from the attestation, not from when the link was made.
        assert_eq!(svc.age_days, Some(110), "judged at the demo's date");
        let names: Vec<&str> = svc.findings.iter().map(|f| &*f.resource_name).collect();
        assert_eq!(names, ["Legacy Timesheets"]);
        assert_eq!(svc.counts(), "1 credited (1 at risk)");
        // Another partner's link does not hold up a resource credited to us.
        let henry = d
            .identities
            .iter()
            .find(|i| i.link.principal_name.as_deref() == Some("henry.lang@contoso.com"))
            .unwrap();
        assert!(
            henry
                .findings
                .iter()
                .all(|f| f.credited_partner_id.is_none())
        );
        // Coverage names environments.
        let e = crate::inventory::EnvironmentId::from("0a1b2c3d-0000-4000-8000-00000000e004");
        assert_eq!(
            d.environment(&e),
            "Contoso Finance (0a1b2c3d-0000-4000-8000-00000000e004)"
        );
    }

    #[test]
    fn a_first_party_component_shown_is_no_credit_lost_and_not_fix_first() {
        let mut r = report();
        let before = Digest::of(&r);
        let lead = before
            .fix_first
            .iter()
            .find(|f| f.verdict == Verdict::Uncredited)
            .expect("the demo has an uncredited resource we delivered")
            .resource_name
            .to_string();
        let users_before = NotCredited::of(&r.findings);
        // The same finding, shown with --include-first-party: flagged.
        let f = find(&mut r, &lead);
        f.usage = usage(500);
        assert!(not_credited_to_us(f) && to_fix_first(f));
        f.flags.push(Flag::FirstParty);
        assert!(!not_credited_to_us(f) && !to_fix_first(f));
        let d = Digest::of(&r);
        assert!(d.fix_first.iter().all(|f| *f.resource_name != *lead));
        let users = NotCredited::of(&r.findings);
        assert_eq!(users.findings + 1, users_before.findings);
        assert!(users.active_users <= users_before.active_users);
    }
}
