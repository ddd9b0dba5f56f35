//! Platform-made components (attribution-rules.md, "Platform-made
//! components"): which resources are Microsoft's or the platform's own work,
//! left out of the findings and counted apart.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::inventory::{Fact, Product, Resource, ResourceKind, Solution, UnreadFact};

use super::graph::AttributionGraph;

/// The publishers (`publisher.uniquename`) taken for Microsoft's by default:
/// `MicrosoftCorporation` (the publisher of Microsoft's solutions in every
/// environment, id `d21aab70-79e7-11dd-8874-00188b01e34f`, which CLI for
/// Microsoft 365 leaves out as Microsoft's) and `microsoftfirstparty` (left
/// out with it by public Dataverse tools). `--microsoft-publisher` adds more.
pub const MICROSOFT_PUBLISHERS: &[&str] = &["MicrosoftCorporation", "microsoftfirstparty"];

/// The platform-made components an audit found: counted apart, never in
/// the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstParty {
    /// How many were found.
    pub components: u64,
    /// Per product; a product with none is absent.
    pub by_product: BTreeMap<Product, u64>,
    /// `--include-first-party`: they are in the findings, flagged
    /// `first-party`; else they are left out of them.
    pub included: bool,
}

impl FirstParty {
    /// The coverage sections' line: how many, and where they are.
    pub fn line(&self) -> String {
        let n = self.components;
        let what = if n == 1 { "component" } else { "components" };
        if self.included {
            format!(
                "First party: {n} platform-made {what} (Microsoft's or the platform's own) shown, flagged first-party, not counted in the summary"
            )
        } else {
            format!(
                "First party: {n} platform-made {what} (Microsoft's or the platform's own) left out of the findings; --include-first-party shows them"
            )
        }
    }
}

/// How platform-made components are told and shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstPartyOptions {
    /// Publisher unique names taken for Microsoft's (compared
    /// case-insensitively): the defaults and any `--microsoft-publisher`.
    pub microsoft_publishers: Vec<String>,
    /// `--include-first-party`: show them as findings, flagged
    /// `first-party`, instead of leaving them out.
    pub include: bool,
}

impl Default for FirstPartyOptions {
    fn default() -> Self {
        Self {
            microsoft_publishers: MICROSOFT_PUBLISHERS.iter().map(|p| p.to_string()).collect(),
            include: false,
        }
    }
}

impl FirstPartyOptions {
    /// A managed solution whose publisher was read and is one of
    /// Microsoft's (by unique name: the friendly name is free text).
    pub(crate) fn microsoft_managed(&self, s: &Solution) -> bool {
        s.managed
            && match &s.publisher {
                Fact::Known(p) => self
                    .microsoft_publishers
                    .iter()
                    .any(|m| m.trim().eq_ignore_ascii_case(p.unique_name.trim())),
                Fact::Unknown(_) => false,
            }
    }
}

/// Why `res` is platform-made, in words; `None` when it is not, or when a
/// read that could show a partner's part in it failed (then it stays a
/// finding). A component is platform-made when no managed solution of
/// anyone but Microsoft holds it (every solution that holds it read, and
/// the membership of every other managed solution of its environment
/// read), and either a Microsoft-published managed solution holds it, or a
/// platform account created it and no solution holds it at all (an
/// imported solution's components can show `SYSTEM` as their creator).
pub fn platform_made(
    g: &AttributionGraph,
    res: &Resource,
    opts: &FirstPartyOptions,
) -> Option<String> {
    if !matches!(
        res.kind,
        ResourceKind::CanvasApp
            | ResourceKind::ModelDrivenApp
            | ResourceKind::CloudFlow
            | ResourceKind::DesktopFlow
    ) {
        return None;
    }
    let mut microsoft = None;
    let mut in_unmanaged = false;
    for name in res.solution.iter().chain(&res.other_solutions) {
        match g.inventory.solution(&res.environment, name) {
            // A solution the resource names but the inventory lacks: its
            // publisher is not known, so it could be a partner's.
            None => return None,
            Some(s) if opts.microsoft_managed(s) => microsoft = microsoft.or(Some(s)),
            // A partner's (or an unread publisher's) managed solution: its
            // importer's work by the solution reading, whoever created it.
            Some(s) if s.managed => return None,
            // An unmanaged solution carries no one's credit, but could be a
            // partner's unmanaged import (whose components Dataverse can
            // show created by SYSTEM).
            Some(_) => in_unmanaged = true,
        }
    }
    let creator = res.platform_creator.as_ref().filter(|_| !in_unmanaged);
    if microsoft.is_none() && creator.is_none() {
        return None;
    }
    // A managed solution whose components were not read could hold it.
    let membership_unread = g.inventory.unread.iter().any(|u| {
        u.environment.as_ref().is_none_or(|e| e == &res.environment)
            && u.resource.as_ref().is_none_or(|r| r == &res.id)
            && match &u.fact {
                UnreadFact::SolutionMembership { solution: None } => true,
                UnreadFact::SolutionMembership {
                    solution: Some(name),
                } => !g
                    .inventory
                    .solution(&res.environment, name)
                    .is_some_and(|s| opts.microsoft_managed(s)),
                _ => false,
            }
    });
    if membership_unread {
        return None;
    }
    if let Some(s) = microsoft {
        let publisher = s.publisher.known().map_or("?", |p| p.unique_name.as_str());
        return Some(format!(
            "platform-made: shipped in managed solution {} of Microsoft's publisher {publisher}, and in no other managed solution",
            s.unique_name
        ));
    }
    creator.map(|who| {
        format!("platform-made: created by {who}, a platform account, and in no solution")
    })
}
