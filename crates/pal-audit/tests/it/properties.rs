//! "Credit needs evidence", as properties over generated inventories and
//! links (proptest): taking away any record that could be evidence for our
//! partner, making any fact unknown or unread (a failed Graph, Dataverse,
//! Power BI activity or Customer Insights read), or ageing or undating a link
//! naming us, never turns a finding into `credited`; the verdicts do not
//! depend on the order of API items; the same input gives byte-identical
//! JSON. `PROPTEST_CASES=N` runs more.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use pal_core::attribution::{Options, Verdict, attribute};
use pal_core::inventory::{
    Activity, Environment, EnvironmentId, Fact, Import, Inventory, Principal, PrincipalId,
    PrincipalType, Product, Publisher, Resource, ResourceId, ResourceKind, Role, RoleAssignment,
    Solution, Stamp, StampKind, Unread, UnreadFact,
};
use pal_core::links::{Link, LinkKind, LinkSource, PartnerId, PrincipalRef};
use pal_core::report::{Report, Scope, render_json};

const OURS: &str = "1111111";
const OTHER: &str = "2222222";
const PEOPLE: u8 = 8;
const GROUP: u8 = 9;
const SOLUTION: &str = "delivered";

fn pid(n: u8) -> PrincipalId {
    PrincipalId::new(format!("00000000-0000-4000-8000-0000000000{n:02}"))
}

fn day(d: u8) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + Duration::days(i64::from(d))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap()
}

/// A link of one principal: partner (0 ours, 1 the other), kind, attested,
/// its time (an undated declared row, or an attestation made the day before
/// `now()`, when none), and for an attestation whether its state is Deleted.
#[derive(Clone, Debug)]
struct GenLink {
    who: u8,
    ours: bool,
    user_account: bool,
    attested: bool,
    when: Option<u8>,
    deleted: bool,
}

#[derive(Clone, Debug)]
struct GenResource {
    kind: u8,
    /// In the one managed solution.
    in_solution: bool,
    creator: Option<u8>,
    roles: Vec<(u8, u8)>,
    stamps: Vec<(u8, u8)>,
}

#[derive(Clone, Debug)]
struct World {
    links: Vec<GenLink>,
    resources: Vec<GenResource>,
    group_members: Vec<u8>,
    service_principals: Vec<bool>,
    activity: Vec<(usize, u8, u8)>,
    /// The managed solution's imports: importer (none: no import job), day.
    imports: Vec<(Option<u8>, u8)>,
}

fn world() -> impl Strategy<Value = World> {
    let link = (
        1..=PEOPLE,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(0u8..28),
        prop::bool::weighted(0.25),
    )
        .prop_map(
            |(who, ours, user_account, attested, when, deleted)| GenLink {
                who,
                ours,
                user_account,
                attested,
                when,
                deleted: attested && deleted,
            },
        );
    let resource = (
        0u8..5,
        prop::bool::weighted(0.3),
        prop::option::of(1..=GROUP),
        prop::collection::vec((1..=GROUP, 0u8..3), 0..4),
        prop::collection::vec((1..=PEOPLE, 0u8..28), 0..3),
    )
        .prop_map(|(kind, in_solution, creator, roles, stamps)| GenResource {
            kind,
            in_solution,
            creator,
            roles,
            stamps,
        });
    (
        prop::collection::vec(link, 0..6),
        prop::collection::vec(resource, 1..6),
        prop::collection::vec(1..=PEOPLE, 0..3),
        prop::collection::vec(any::<bool>(), PEOPLE as usize),
        prop::collection::vec((0usize..6, 1..=PEOPLE, 0u8..28), 0..5),
        prop::collection::vec((prop::option::of(1..=PEOPLE), 0u8..28), 0..3),
    )
        .prop_map(
            |(links, resources, group_members, service_principals, activity, imports)| World {
                links,
                resources,
                group_members,
                service_principals,
                activity,
                imports,
            },
        )
}

fn kind_of(k: u8) -> ResourceKind {
    match k {
        0 => ResourceKind::CanvasApp,
        1 => ResourceKind::CloudFlow,
        2 => ResourceKind::Dataset,
        3 => ResourceKind::ModelDrivenApp,
        _ => ResourceKind::Instance,
    }
}

fn role_of(r: u8) -> Role {
    match r {
        0 => Role::Owner,
        1 => Role::CoOwner,
        _ => Role::Viewer,
    }
}

fn build(w: &World) -> (Inventory, Vec<Link>) {
    let mut inv = Inventory {
        tenant_id: Some("7c1e5b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c".into()),
        ..Inventory::default()
    };
    inv.environments.push(Environment {
        id: EnvironmentId::new("env"),
        name: "env".into(),
        display_name: "Env".into(),
        sku: None,
        is_default: false,
        dataverse_api_url: None,
        dataverse_url: None,
    });
    for n in 1..=PEOPLE {
        let kind = if w.service_principals[usize::from(n - 1)] {
            PrincipalType::ServicePrincipal
        } else {
            PrincipalType::User
        };
        let mut p = Principal::new(pid(n), kind);
        // A user has a UPN, a service principal an application id.
        if kind == PrincipalType::User {
            p.upn = Some(format!("user{n}@contoso.com"));
        } else {
            p.app_id = Some(format!("00000000-0000-4000-a000-0000000000{n:02}"));
        }
        inv.add_principal(p);
    }
    inv.add_principal(Principal::new(pid(GROUP), PrincipalType::Group));
    inv.group_members.insert(
        pid(GROUP),
        Fact::Known(w.group_members.iter().map(|m| pid(*m)).collect()),
    );
    let type_of = |n: u8| {
        if n == GROUP {
            PrincipalType::Group
        } else if w.service_principals[usize::from(n - 1)] {
            PrincipalType::ServicePrincipal
        } else {
            PrincipalType::User
        }
    };
    for (i, r) in w.resources.iter().enumerate() {
        inv.resources.push(Resource {
            id: ResourceId::new(format!("r{i}")),
            kind: kind_of(r.kind),
            name: format!("Resource {i}").into(),
            environment: EnvironmentId::new("env"),
            environment_name: None,
            solution: r.in_solution.then(|| SOLUTION.to_string()),
            creator: r.creator.map_or_else(
                || Fact::Unknown("not given".into()),
                |c| Fact::Known(pid(c)),
            ),
            roles: Fact::Known(
                r.roles
                    .iter()
                    .map(|(p, role)| RoleAssignment {
                        principal: pid(*p),
                        principal_type: type_of(*p),
                        role: role_of(*role),
                    })
                    .collect(),
            ),
            stamps: r
                .stamps
                .iter()
                .enumerate()
                .map(|(j, (p, d))| Stamp {
                    kind: if j % 2 == 0 {
                        StampKind::Modified
                    } else {
                        StampKind::Published
                    },
                    principal: pid(*p),
                    at: day(*d),
                })
                .collect(),
            instance_type: None,
            other_solutions: Vec::new(),
            platform_creator: None,
        });
    }
    let mut imports: Vec<Import> = w
        .imports
        .iter()
        .map(|(who, d)| Import {
            at: day(*d),
            importer: who.map_or_else(
                || Fact::Unknown("no import job".into()),
                |n| Fact::Known(pid(n)),
            ),
        })
        .collect();
    imports.sort_by_key(|i| i.at);
    inv.solutions.push(Solution {
        environment: EnvironmentId::new("env"),
        unique_name: SOLUTION.into(),
        managed: true,
        imports: Fact::Known(imports),
        publisher: Fact::Known(Publisher {
            unique_name: "partner".into(),
            friendly_name: None,
        }),
    });
    for (r, p, d) in &w.activity {
        if *r < w.resources.len() {
            inv.activity.push(Activity {
                resource: ResourceId::new(format!("r{r}")),
                principal: pid(*p),
                at: day(*d),
                // Some are publish events: they make publishers of datasets.
                action: if d % 3 == 0 { "Import" } else { "ViewReport" }.into(),
                source: None,
            });
        }
    }
    let links = w
        .links
        .iter()
        .map(|l| Link {
            principal: PrincipalRef::Id(pid(l.who)),
            principal_name: None,
            kind: if l.user_account {
                LinkKind::User
            } else {
                LinkKind::ServiceAccount
            },
            partner_id: PartnerId::parse(if l.ours { OURS } else { OTHER }).unwrap(),
            partner_name: None,
            source: if l.attested {
                LinkSource::Attested
            } else {
                LinkSource::Declared
            },
            linked_at: if l.attested {
                Some(day(0))
            } else {
                l.when.map(day)
            },
            attested_at: l
                .attested
                .then(|| l.when.map_or_else(|| now() - Duration::days(1), day)),
            active: !l.deleted,
            tenant_id: None,
            origin: "generated".into(),
        })
        .collect();
    (inv, links)
}

fn options() -> Options {
    Options {
        partner_id: PartnerId::parse(OURS).unwrap(),
        now: now(),
        attestation_max_age: Duration::days(30),
        our_other_ids: Vec::new(),
        first_party: Default::default(),
    }
}

fn credited(inv: &Inventory, links: &[Link]) -> std::collections::BTreeSet<String> {
    attribute(inv, links, &options())
        .findings
        .into_iter()
        .filter(|f| f.verdict == Verdict::Credited)
        .map(|f| f.resource_id.to_string())
        .collect()
}

/// Every way to take one record away, or make one fact unknown. Records of
/// other partners' identities are not taken away: with one competitor fewer
/// the rules rightly decide differently (their absence is an answer, not a
/// gap), whereas making their facts unknown is covered.
fn removals(inv: &Inventory, links: &[Link]) -> Vec<(String, Inventory, Vec<Link>)> {
    // Records of identities with any link to another partner are theirs.
    let evidence = |p: &PrincipalId| {
        !links.iter().any(|l| {
            l.partner_id.as_str() != OURS
                && match &l.principal {
                    PrincipalRef::Id(id) => id == p,
                    PrincipalRef::Upn(_) => false,
                }
        })
    };
    let mut out = Vec::new();
    // A Deleted attestation is evidence against a link, never for our
    // partner: taking it away may rightly bring an older link back.
    for i in 0..links.len() {
        if links[i].partner_id.as_str() == OURS && links[i].active {
            let mut l = links.to_vec();
            l.remove(i);
            out.push((format!("link {i}"), inv.clone(), l));
        }
    }
    for p in inv.principals.keys() {
        let mut v = inv.clone();
        v.principals.remove(p);
        out.push((format!("principal {p}"), v, links.to_vec()));
    }
    let mut v = inv.clone();
    for m in v.group_members.values_mut() {
        *m = Fact::Unknown("generated gap".into());
    }
    out.push(("group members unknown".into(), v, links.to_vec()));
    for (i, r) in inv.resources.iter().enumerate() {
        let mut v = inv.clone();
        v.resources[i].creator = Fact::Unknown("generated gap".into());
        out.push((format!("{} creator unknown", r.id), v, links.to_vec()));
        let mut v = inv.clone();
        v.resources[i].roles = Fact::Unknown("generated gap".into());
        out.push((format!("{} roles unknown", r.id), v, links.to_vec()));
        if let Fact::Known(roles) = &r.roles {
            for (j, a) in roles.iter().enumerate() {
                if evidence(&a.principal) {
                    let mut v = inv.clone();
                    if let Fact::Known(rs) = &mut v.resources[i].roles {
                        rs.remove(j);
                    }
                    out.push((format!("{} role {j}", r.id), v, links.to_vec()));
                }
            }
        }
        for (j, s) in r.stamps.iter().enumerate() {
            if evidence(&s.principal) {
                let mut v = inv.clone();
                v.resources[i].stamps.remove(j);
                out.push((format!("{} stamp {j}", r.id), v, links.to_vec()));
            }
        }
    }
    for (j, a) in inv.activity.iter().enumerate() {
        if evidence(&a.principal) {
            let mut v = inv.clone();
            v.activity.remove(j);
            out.push((format!("activity {j}"), v, links.to_vec()));
        }
    }
    // The managed solution's history, unknown or thinned.
    let mut v = inv.clone();
    v.solutions[0].imports = Fact::Unknown("generated gap".into());
    out.push(("solution imports unknown".into(), v, links.to_vec()));
    if let Fact::Known(imports) = &inv.solutions[0].imports {
        for (j, i) in imports.iter().enumerate() {
            let mut v = inv.clone();
            if let Fact::Known(is) = &mut v.solutions[0].imports {
                is[j].importer = Fact::Unknown("no import job".into());
            }
            out.push((format!("import {j} importer unknown"), v, links.to_vec()));
            if i.importer.known().is_some_and(evidence) {
                let mut v = inv.clone();
                if let Fact::Known(is) = &mut v.solutions[0].imports {
                    is.remove(j);
                }
                out.push((format!("import {j}"), v, links.to_vec()));
            }
        }
    }
    // Failed reads, as the sources record them.
    let unread = |fact: UnreadFact, resource: Option<&ResourceId>| Unread {
        fact,
        environment: None,
        resource: resource.cloned(),
        why: "generated failed read".into(),
    };
    for product in Product::ALL {
        let mut v = inv.clone();
        v.unread
            .push(unread(UnreadFact::Activity { product }, None));
        out.push((format!("{product:?} activity unread"), v, links.to_vec()));
    }
    for solution in [None, Some(SOLUTION.to_string())] {
        let mut v = inv.clone();
        v.unread
            .push(unread(UnreadFact::SolutionMembership { solution }, None));
        out.push(("solution membership unread".into(), v, links.to_vec()));
    }
    for r in &inv.resources {
        let mut v = inv.clone();
        v.unread.push(unread(UnreadFact::Stamps, Some(&r.id)));
        out.push((format!("{} stamps unread", r.id), v, links.to_vec()));
    }
    // A link Graph could not resolve: named by UPN (a user) or application
    // id (a service principal), which was never read.
    for (i, l) in links.iter().enumerate() {
        let PrincipalRef::Id(id) = &l.principal else {
            continue;
        };
        let mut v = inv.clone();
        let p = v.principals.get_mut(id).expect("generated");
        let (reference, upn) = match (p.upn.take(), p.app_id.take()) {
            (Some(upn), _) => (upn, true),
            (None, Some(app)) => (app, false),
            (None, None) => continue,
        };
        v.unread.push(unread(
            UnreadFact::LinkPrincipal {
                reference: reference.clone(),
                upn,
            },
            None,
        ));
        let mut l2 = links.to_vec();
        l2[i].principal = if upn {
            PrincipalRef::Upn(reference)
        } else {
            PrincipalRef::Id(PrincipalId::new(reference))
        };
        out.push((format!("link {i} unresolved"), v, l2));
    }
    out
}

/// Every way to make a link naming us weaker by its time: older, or undated
/// (a declared row). A `Deleted` attestation naming us is evidence against
/// credit, so it is left alone; links naming another partner are theirs (an
/// older one of theirs rightly lets ours win).
fn agings(inv: &Inventory, links: &[Link]) -> Vec<(String, Inventory, Vec<Link>)> {
    let mut out = Vec::new();
    for (i, l) in links.iter().enumerate() {
        if l.partner_id.as_str() != OURS || !l.active {
            continue;
        }
        let mut older = links.to_vec();
        older[i].linked_at = l.linked_at.map(|t| t - Duration::days(40));
        older[i].attested_at = l.attested_at.map(|t| t - Duration::days(40));
        out.push((format!("link {i} aged"), inv.clone(), older));
        if l.source == LinkSource::Declared && l.linked_at.is_some() {
            let mut undated = links.to_vec();
            undated[i].linked_at = None;
            out.push((format!("link {i} undated"), inv.clone(), undated));
        }
    }
    out
}

fn report_json(inv: &Inventory, links: &[Link]) -> String {
    let a = attribute(inv, links, &options());
    render_json(&Report::new(
        inv,
        a,
        PartnerId::parse(OURS).unwrap(),
        Scope::default(),
        now(),
    ))
}

/// The same tenant, its API items in another order.
fn shuffled(inv: &Inventory, links: &[Link], seed: u64) -> (Inventory, Vec<Link>) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut v = inv.clone();
    rng.shuffle(&mut v.resources);
    for r in &mut v.resources {
        if let Fact::Known(roles) = &mut r.roles {
            rng.shuffle(roles);
        }
        rng.shuffle(&mut r.stamps);
    }
    rng.shuffle(&mut v.activity);
    for m in v.group_members.values_mut() {
        if let Fact::Known(ms) = m {
            rng.shuffle(ms);
        }
    }
    let mut l = links.to_vec();
    rng.shuffle(&mut l);
    (v, l)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400)
    ))]

    #[test]
    fn taking_evidence_away_never_creates_credit(w in world()) {
        let (inv, links) = build(&w);
        let before = credited(&inv, &links);
        for (what, v, l) in removals(&inv, &links) {
            let after = credited(&v, &l);
            let new: Vec<&String> = after.difference(&before).collect();
            prop_assert!(new.is_empty(), "removing {what} credited {new:?}");
        }
    }

    #[test]
    fn ageing_a_link_naming_us_never_creates_credit(w in world()) {
        let (inv, links) = build(&w);
        let before = credited(&inv, &links);
        for (what, v, l) in agings(&inv, &links) {
            let after = credited(&v, &l);
            let new: Vec<&String> = after.difference(&before).collect();
            prop_assert!(new.is_empty(), "{what}: credited {new:?}");
        }
    }

    #[test]
    fn the_order_of_api_items_changes_nothing(w in world(), seed in any::<u64>()) {
        let (inv, links) = build(&w);
        let (v, l) = shuffled(&inv, &links, seed);
        // Byte for byte, generated_at included (it is fixed here).
        prop_assert_eq!(report_json(&inv, &links), report_json(&v, &l));
    }

    #[test]
    fn the_same_input_gives_the_same_bytes(w in world()) {
        let (inv, links) = build(&w);
        prop_assert_eq!(report_json(&inv, &links), report_json(&inv.clone(), &links.clone()));
    }
}
