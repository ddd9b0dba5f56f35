//! Each branch of the rules, over small inventories: one module per row of
//! the contract (docs/attribution-rules.md maps rows to tests), the small
//! builders shared at the top. Long because the rules are many, each test a
//! tenant built to fool one of them.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::attribution::{DecidedBy, Finding, Flag, InvolvementRole, Options, Verdict, attribute};
use crate::inventory::{
    Environment, EnvironmentId, Fact, Inventory, Principal, PrincipalId, PrincipalType, Resource,
    ResourceId, ResourceKind, Role, RoleAssignment, Stamp, StampKind,
};
use crate::links::{Link, LinkKind, LinkSource, PartnerId, PrincipalRef};

const OURS: &str = "1111111";
const OTHER: &str = "2222222";
const THIRD: &str = "3333333";

fn id(n: u8) -> PrincipalId {
    PrincipalId::new(format!("00000000-0000-4000-8000-0000000000{n:02}"))
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap()
}

struct World {
    inv: Inventory,
    links: Vec<Link>,
}

impl World {
    fn new() -> Self {
        let mut inv = Inventory::default();
        inv.environments.push(Environment {
            id: EnvironmentId::new("env"),
            name: "Env".into(),
            display_name: "Env".into(),
            sku: None,
            is_default: false,
            dataverse_api_url: None,
            dataverse_url: None,
        });
        for n in 1..=9 {
            let mut p = Principal::new(id(n), PrincipalType::User);
            p.upn = Some(format!("user{n}@contoso.com"));
            inv.add_principal(p);
        }
        Self {
            inv,
            links: Vec::new(),
        }
    }

    fn principal(mut self, n: u8, kind: PrincipalType) -> Self {
        self.inv.principals.get_mut(&id(n)).unwrap().principal_type = kind;
        self
    }

    /// A link of principal `n` to `partner`, attested service account unless
    /// changed afterwards.
    fn link(mut self, n: u8, partner: &str) -> Self {
        self.links.push(Link {
            principal: PrincipalRef::Id(id(n)),
            principal_name: None,
            kind: LinkKind::ServiceAccount,
            partner_id: PartnerId::parse(partner).unwrap(),
            partner_name: None,
            source: LinkSource::Attested,
            linked_at: Some(at(1)),
            attested_at: Some(now() - Duration::days(1)),
            active: true,
            tenant_id: None,
            origin: format!("att{n}.json"),
        });
        self
    }

    fn last_link(mut self, f: impl FnOnce(&mut Link)) -> Self {
        f(self.links.last_mut().unwrap());
        self
    }

    fn resource(mut self, r: Resource) -> Self {
        self.inv.resources.push(r);
        self
    }

    fn findings(&self) -> Vec<Finding> {
        attribute(&self.inv, &self.links, &opts()).findings
    }

    fn one(&self) -> Finding {
        let mut f = self.findings();
        assert_eq!(f.len(), 1);
        f.remove(0)
    }
}

/// Our partner, judged at `now()`.
fn opts() -> Options {
    Options {
        partner_id: PartnerId::parse(OURS).unwrap(),
        now: now(),
        attestation_max_age: Duration::days(30),
        our_other_ids: Vec::new(),
        first_party: Default::default(),
    }
}

/// The documented order, as a plain sort: what attribution's own ordering
/// is checked against.
fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by_cached_key(|f| {
        (
            f.product,
            f.environment_id.clone(),
            f.resource_name.to_lowercase(),
            f.resource_id.clone(),
        )
    });
}

fn role(n: u8, role: Role) -> RoleAssignment {
    RoleAssignment {
        principal: id(n),
        principal_type: PrincipalType::User,
        role,
    }
}

fn group_role(n: u8) -> RoleAssignment {
    RoleAssignment {
        principal: id(n),
        principal_type: PrincipalType::Group,
        role: Role::CoOwner,
    }
}

fn app(owner: u8, others: Vec<RoleAssignment>, stamps: Vec<Stamp>) -> Resource {
    let mut roles = vec![role(owner, Role::Owner)];
    roles.extend(others);
    Resource {
        id: ResourceId::new("app-1"),
        kind: ResourceKind::CanvasApp,
        name: "App".into(),
        environment: EnvironmentId::new("env"),
        environment_name: None,
        solution: None,
        creator: Fact::Known(id(owner)),
        roles: Fact::Known(roles),
        stamps,
        instance_type: None,
        other_solutions: Vec::new(),
        platform_creator: None,
    }
}

fn flow(creator: Option<u8>, owners: Vec<RoleAssignment>) -> Resource {
    Resource {
        id: ResourceId::new("flow-1"),
        kind: ResourceKind::CloudFlow,
        name: "Flow".into(),
        environment: EnvironmentId::new("env"),
        environment_name: None,
        solution: None,
        creator: creator.map_or(Fact::Unknown("no creator".into()), |c| Fact::Known(id(c))),
        roles: Fact::Known(owners),
        stamps: Vec::new(),
        instance_type: None,
        other_solutions: Vec::new(),
        platform_creator: None,
    }
}

fn stamp(n: u8, kind: StampKind, day: u32) -> Stamp {
    Stamp {
        kind,
        principal: id(n),
        at: at(day),
    }
}

fn partner(f: &Finding) -> Option<&str> {
    f.credited_partner_id.as_ref().map(PartnerId::as_str)
}

#[test]
fn canvas_owner_linked_is_credited() {
    let f = World::new()
        .link(1, OURS)
        .resource(app(1, vec![], vec![]))
        .one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert_eq!(partner(&f), Some(OURS));
    assert_eq!(f.decided_by, Some(DecidedBy::SinglePartner));
    assert!(f.flags.is_empty(), "{:?}", f.flags);
    assert_eq!(f.fix, None);
}

#[test]
fn canvas_co_owner_linked_is_credited() {
    let f = World::new()
        .link(2, OURS)
        .resource(app(1, vec![role(2, Role::CoOwner)], vec![]))
        .one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert_eq!(f.attributed.len(), 2);
}

#[test]
fn canvas_viewer_never_attributes() {
    let f = World::new()
        .link(2, OURS)
        .resource(app(1, vec![role(2, Role::Viewer)], vec![]))
        .one();
    assert_eq!(f.verdict, Verdict::Uncredited);
    assert!(f.reasons.iter().any(|r| r.contains("can only view")));
    assert!(f.fix.is_some());
}

#[test]
fn canvas_tenant_share_never_attributes() {
    let tenant = RoleAssignment {
        principal: PrincipalId::new("tenant"),
        principal_type: PrincipalType::Tenant,
        role: Role::Viewer,
    };
    let f = World::new().resource(app(1, vec![tenant], vec![])).one();
    assert_eq!(f.verdict, Verdict::Uncredited);
    assert!(f.reasons.iter().any(|r| r.contains("whole organization")));
}

#[test]
fn two_partners_latest_stamp_wins_each_way() {
    let world = |ours_day, theirs_day| {
        World::new()
            .link(1, OURS)
            .link(2, OTHER)
            .resource(app(
                1,
                vec![role(2, Role::CoOwner)],
                vec![
                    stamp(1, StampKind::Modified, ours_day),
                    stamp(2, StampKind::Published, theirs_day),
                ],
            ))
            .one()
    };
    let f = world(20, 10);
    assert_eq!(f.verdict, Verdict::Credited);
    assert_eq!(f.decided_by, Some(DecidedBy::ResourceStamps));
    let f = world(10, 20);
    assert_eq!(f.verdict, Verdict::CreditedToOther);
    assert_eq!(partner(&f), Some(OTHER));
    assert_eq!(f.decided_by, Some(DecidedBy::ResourceStamps));
    assert!(f.fix.is_some());
}

#[test]
fn two_partners_without_activity_are_undecided() {
    // The only stamp is by someone who is not an attributed user.
    let f = World::new()
        .link(1, OURS)
        .link(2, OTHER)
        .resource(app(
            1,
            vec![role(2, Role::CoOwner)],
            vec![stamp(3, StampKind::Modified, 25)],
        ))
        .one();
    assert_eq!(f.verdict, Verdict::Unknown);
    assert_eq!(f.credited_partner_id, None);
    assert!(f.flags.contains(&Flag::ActivityUnknown));
    assert!(f.reasons[0].contains("activity undecided"));
}

#[test]
fn two_partners_tied_are_undecided() {
    let f = World::new()
        .link(2, OTHER)
        .link(3, THIRD)
        .resource(app(
            1,
            vec![role(2, Role::CoOwner), role(3, Role::CoOwner)],
            vec![
                stamp(2, StampKind::Modified, 9),
                stamp(3, StampKind::Published, 9),
            ],
        ))
        .one();
    assert_eq!(f.verdict, Verdict::Unknown);
    assert!(!f.flags.contains(&Flag::ActivityUnknown));
    assert!(f.reasons[0].contains("same time"));
}

#[test]
fn same_partner_twice_needs_no_activity() {
    let f = World::new()
        .link(1, OURS)
        .link(2, OURS)
        .resource(app(1, vec![role(2, Role::CoOwner)], vec![]))
        .one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert_eq!(f.decided_by, Some(DecidedBy::SinglePartner));
}

#[test]
fn group_co_owner_with_linked_member_is_unknown() {
    let mut w = World::new()
        .principal(5, PrincipalType::Group)
        .link(2, OURS)
        .resource(app(1, vec![group_role(5)], vec![]));
    w.inv
        .group_members
        .insert(id(5), Fact::Known(vec![id(2), id(3)]));
    let f = w.one();
    assert_eq!(f.verdict, Verdict::Unknown);
    assert!(f.flags.contains(&Flag::GroupCoOwner));
    assert!(
        f.fix
            .as_ref()
            .unwrap()
            .to_string()
            .contains("as a co-owner (CanEdit) directly, not only through a group")
    );
}

#[test]
fn group_co_owner_without_linked_member_changes_nothing() {
    let mut w = World::new()
        .principal(5, PrincipalType::Group)
        .link(4, OURS)
        .resource(app(1, vec![group_role(5)], vec![]));
    w.inv.group_members.insert(id(5), Fact::Known(vec![id(3)]));
    let f = w.one();
    assert_eq!(f.verdict, Verdict::Uncredited);
    assert!(f.flags.is_empty());
}

#[test]
fn group_co_owner_not_expanded_is_unknown_not_uncredited() {
    let w = World::new()
        .principal(5, PrincipalType::Group)
        .resource(app(1, vec![group_role(5)], vec![]));
    let f = w.one();
    assert_eq!(f.verdict, Verdict::Unknown);
    assert!(f.reasons.iter().any(|r| r.contains("not expanded")));
    let mut w = w;
    w.inv
        .group_members
        .insert(id(5), Fact::Unknown("403".into()));
    assert_eq!(w.one().verdict, Verdict::Unknown);
}

#[test]
fn a_direct_decision_wins_over_a_group() {
    let mut w = World::new()
        .principal(5, PrincipalType::Group)
        .link(1, OURS)
        .resource(app(1, vec![group_role(5)], vec![]));
    w.inv.group_members.insert(id(5), Fact::Known(vec![id(1)]));
    assert_eq!(w.one().verdict, Verdict::Credited);
}

#[test]
fn unreadable_roles_are_never_credited() {
    let mut r = app(1, vec![], vec![]);
    r.roles = Fact::Unknown("403".into());
    let f = World::new().link(1, OURS).resource(r).one();
    assert_eq!(f.verdict, Verdict::Unknown);
    assert!(f.reasons[0].contains("could not be read"));
    assert!(
        f.fix
            .as_ref()
            .unwrap()
            .to_string()
            .contains("No change can be planned")
    );
}

#[test]
fn no_owner_reported_is_unknown() {
    let mut r = app(1, vec![], vec![]);
    r.roles = Fact::Known(vec![]);
    assert_eq!(World::new().resource(r).one().verdict, Verdict::Unknown);
}

#[test]
fn declared_user_link_raises_its_flags() {
    let f = World::new()
        .link(1, OURS)
        .last_link(|l| {
            l.source = LinkSource::Declared;
            l.kind = LinkKind::User;
            l.attested_at = None;
        })
        .resource(app(1, vec![], vec![]))
        .one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert_eq!(f.flags, vec![Flag::UserAccountLink, Flag::DeclaredLinkOnly]);
}

#[test]
fn a_service_principal_is_never_a_user_account() {
    let f = World::new()
        .principal(1, PrincipalType::ServicePrincipal)
        .link(1, OURS)
        .last_link(|l| l.kind = LinkKind::User)
        .resource(flow(Some(1), vec![]))
        .one();
    assert!(!f.flags.contains(&Flag::UserAccountLink), "{:?}", f.flags);
}

#[test]
fn link_quality_flags_only_on_our_credit() {
    let f = World::new()
        .link(1, OTHER)
        .last_link(|l| {
            l.source = LinkSource::Declared;
            l.kind = LinkKind::User;
        })
        .resource(app(1, vec![], vec![]))
        .one();
    assert_eq!(f.verdict, Verdict::CreditedToOther);
    assert!(f.flags.is_empty(), "{:?}", f.flags);
}

#[test]
fn stale_attestation_is_flagged() {
    let f = World::new()
        .link(1, OURS)
        .last_link(|l| l.attested_at = Some(now() - Duration::days(31)))
        .resource(app(1, vec![], vec![]))
        .one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert_eq!(f.flags, vec![Flag::StaleAttestation]);
}

#[test]
fn conflicting_links_newest_wins() {
    // Attestations are timed by when they observed the link (`attested_at`).
    let w = World::new()
        .link(1, OURS)
        .last_link(|l| l.attested_at = Some(now() - Duration::days(9)))
        .link(1, OTHER)
        .last_link(|l| l.attested_at = Some(now() - Duration::days(5)))
        .resource(app(1, vec![], vec![]));
    let f = w.one();
    assert_eq!(f.verdict, Verdict::CreditedToOther);
    assert!(f.flags.contains(&Flag::ConflictingLinks));
    let w = World::new()
        .link(1, OURS)
        .last_link(|l| l.attested_at = Some(now() - Duration::days(2)))
        .link(1, OTHER)
        .last_link(|l| l.attested_at = Some(now() - Duration::days(5)))
        .resource(app(1, vec![], vec![]));
    let f = w.one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert!(f.flags.contains(&Flag::ConflictingLinks));
}

#[test]
fn a_deleted_link_is_no_link() {
    let f = World::new()
        .link(1, OURS)
        .last_link(|l| l.active = false)
        .resource(app(1, vec![], vec![]))
        .one();
    assert_eq!(f.verdict, Verdict::Uncredited);
}

#[test]
fn links_resolve_by_upn_app_id_and_any_case() {
    let mut w = World::new().principal(7, PrincipalType::ServicePrincipal);
    w.inv.principals.get_mut(&id(7)).unwrap().app_id = Some("app-7".into());
    let w = w
        .link(1, OURS)
        .last_link(|l| l.principal = PrincipalRef::Upn("USER1@CONTOSO.COM".to_lowercase()))
        .link(7, OURS)
        .last_link(|l| l.principal = PrincipalRef::Id(PrincipalId::new("APP-7")))
        .resource(app(1, vec![], vec![]))
        .resource({
            let mut f = flow(Some(7), vec![]);
            f.name = "Zz flow".into();
            f
        });
    let f = w.findings();
    assert_eq!(f[0].verdict, Verdict::Credited, "{:?}", f[0].reasons);
    assert_eq!(f[1].verdict, Verdict::Credited, "{:?}", f[1].reasons);
}

#[test]
fn flow_creator_decides() {
    let linked = World::new()
        .link(1, OURS)
        .resource(flow(Some(1), vec![]))
        .one();
    assert_eq!(linked.verdict, Verdict::Credited);
    assert_eq!(linked.attributed[0].principal_id, id(1));
    let other = World::new()
        .link(1, OTHER)
        .resource(flow(Some(1), vec![]))
        .one();
    assert_eq!(other.verdict, Verdict::CreditedToOther);
    let unlinked = World::new()
        .link(9, OURS)
        .resource(flow(Some(1), vec![]))
        .one();
    assert_eq!(unlinked.verdict, Verdict::Uncredited);
    // The customer's own flow: nothing of ours in it, no fix.
    assert!(
        unlinked
            .fix
            .as_ref()
            .unwrap()
            .to_string()
            .starts_with("no fix: not delivered by this partner")
    );
    // Our identity owns it without having created it: re-create it.
    let owned = World::new()
        .link(9, OURS)
        .resource(flow(Some(1), vec![role(9, Role::CoOwner)]))
        .one();
    let fix = owned.fix.as_ref().unwrap().to_string();
    assert!(
        fix.contains("cannot change") && fix.contains("re-create it as user9@contoso.com"),
        "{fix}"
    );
    assert!(!fix.contains("re-import"), "{fix}");
    // With no identity linked to us at all, the fix says to link one first.
    let nobody = World::new().resource(flow(Some(1), vec![])).one();
    assert!(
        nobody
            .fix
            .as_ref()
            .unwrap()
            .to_string()
            .contains("attest --link 1111111")
    );
    let missing = World::new()
        .link(1, OURS)
        .resource(flow(None, vec![]))
        .one();
    assert_eq!(missing.verdict, Verdict::Unknown);
    assert!(missing.attributed.is_empty());
}

#[test]
fn flow_linked_owner_who_did_not_create_it_is_flagged() {
    let f = World::new()
        .link(2, OURS)
        .resource(flow(
            Some(1),
            vec![role(1, Role::Owner), role(2, Role::Owner)],
        ))
        .one();
    assert_eq!(f.verdict, Verdict::Uncredited);
    assert!(f.flags.contains(&Flag::LinkedOwnerNotCreator));
}

#[test]
fn unreadable_flow_owners_do_not_change_the_verdict() {
    let mut r = flow(Some(1), vec![]);
    r.roles = Fact::Unknown("403".into());
    let f = World::new().link(1, OURS).resource(r).one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert!(f.reasons.iter().any(|r| r.contains("owners were not read")));
}

#[test]
fn findings_come_in_the_documented_order() {
    let mut b = app(1, vec![], vec![]);
    b.name = "beta".into();
    b.id = ResourceId::new("b");
    let mut a = app(1, vec![], vec![]);
    a.name = "Alpha".into();
    a.id = ResourceId::new("a");
    let f = World::new()
        .resource(flow(Some(1), vec![]))
        .resource(b)
        .resource(a)
        .findings();
    let names: Vec<&str> = f.iter().map(|f| &*f.resource_name).collect();
    assert_eq!(names, ["Alpha", "beta", "Flow"]);
}

// --- Dataverse, Power BI, Customer Insights ------------------------------------

use crate::inventory::{Activity, Import, Publisher, Solution};

fn with_solution(mut r: Resource, name: &str) -> Resource {
    r.solution = Some(name.into());
    r
}

fn solution(name: &str, managed: bool, imports: Vec<(Option<u8>, u32)>) -> Solution {
    Solution {
        environment: EnvironmentId::new("env"),
        unique_name: name.into(),
        managed,
        imports: Fact::Known(
            imports
                .into_iter()
                .map(|(by, day)| Import {
                    at: at(day),
                    importer: by.map_or(Fact::Unknown("no job".into()), |n| Fact::Known(id(n))),
                })
                .collect(),
        ),
        publisher: Fact::Known(Publisher {
            unique_name: "partnerpublisher".into(),
            friendly_name: Some("Partner".into()),
        }),
    }
}

fn model_driven(creator: u8) -> Resource {
    Resource {
        kind: ResourceKind::ModelDrivenApp,
        roles: Fact::Known(vec![]),
        ..app(creator, vec![], vec![])
    }
}

fn dataset(publisher: Option<u8>) -> Resource {
    Resource {
        id: ResourceId::new("ds-1"),
        kind: ResourceKind::Dataset,
        name: "Dataset".into(),
        environment: EnvironmentId::new("ws-1"),
        environment_name: Some("Workspace".into()),
        solution: None,
        creator: publisher.map_or(Fact::Unknown("unresolved".into()), |p| Fact::Known(id(p))),
        roles: Fact::Known(vec![]),
        stamps: vec![],
        instance_type: None,
        other_solutions: Vec::new(),
        platform_creator: None,
    }
}

fn instance(holders: &[u8], stamps: Vec<Stamp>) -> Resource {
    Resource {
        id: ResourceId::new("inst-1"),
        kind: ResourceKind::Instance,
        name: "Instance".into(),
        environment: EnvironmentId::new("env"),
        environment_name: None,
        solution: None,
        creator: Fact::Unknown("n/a".into()),
        roles: Fact::Known(
            holders
                .iter()
                .map(|h| RoleAssignment {
                    principal: id(*h),
                    principal_type: PrincipalType::User,
                    role: Role::Member,
                })
                .collect(),
        ),
        stamps,
        instance_type: None,
        other_solutions: Vec::new(),
        platform_creator: None,
    }
}

fn event(resource: &str, n: u8, day: u32, action: &str) -> Activity {
    Activity {
        resource: ResourceId::new(resource),
        principal: id(n),
        at: at(day),
        action: action.into(),
        source: None,
    }
}

#[test]
fn model_driven_app_outside_a_managed_solution_follows_its_creator() {
    let f = World::new().link(1, OURS).resource(model_driven(1)).one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert_eq!(
        f.attributed[0].role,
        crate::attribution::AttributedRole::Creator
    );
    let f = World::new().resource(model_driven(1)).one();
    assert_eq!(f.verdict, Verdict::Uncredited);
}

#[test]
fn model_driven_app_in_a_managed_solution_follows_the_last_linked_importer() {
    let mut w = World::new()
        .link(2, OURS)
        .resource(with_solution(model_driven(1), "Sol"));
    // Ours imported, then an unlinked account re-imported.
    w.inv
        .solutions
        .push(solution("Sol", true, vec![(Some(2), 1), (Some(3), 9)]));
    let f = w.one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert_eq!(f.attributed[0].principal_id, id(2));
    assert_eq!(
        f.attributed[0].role,
        crate::attribution::AttributedRole::Importer
    );
    assert_eq!(f.solution.as_deref(), Some("Sol"));
    assert!(f.flags.contains(&Flag::ImportedByUnlinkedAccount));
}

#[test]
fn model_driven_app_with_an_unknown_latest_importer_is_unknown() {
    let mut w = World::new().resource(with_solution(model_driven(1), "Sol"));
    w.inv.solutions.push(solution("Sol", true, vec![(None, 9)]));
    let f = w.one();
    assert_eq!(f.verdict, Verdict::Unknown);
    let mut w = World::new().resource(with_solution(model_driven(1), "Sol"));
    w.inv.solutions.push(Solution {
        imports: Fact::Unknown("history refused".into()),
        ..solution("Sol", true, vec![])
    });
    assert_eq!(w.one().verdict, Verdict::Unknown);
}

#[test]
fn an_unmanaged_solution_changes_nothing() {
    let mut w = World::new()
        .link(1, OURS)
        .resource(with_solution(model_driven(1), "Sol"));
    w.inv
        .solutions
        .push(solution("Sol", false, vec![(Some(3), 9)]));
    let f = w.one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert!(f.flags.is_empty());
}

#[test]
fn case_6_a_canvas_app_whose_owner_changed_after_the_import_is_unknown() {
    // The solution reading (importer 2, ours) and the product reading (owner
    // 1, unlinked) disagree: unknown, both readings in the reasons.
    let mut w = World::new()
        .link(2, OURS)
        .resource(with_solution(app(1, vec![], vec![]), "Sol"));
    w.inv
        .solutions
        .push(solution("Sol", true, vec![(Some(2), 5)]));
    let f = w.one();
    assert_eq!(f.verdict, Verdict::Unknown);
    assert_eq!(f.flags, vec![Flag::OwnerChangedSinceImport]);
    let both = f
        .reasons
        .iter()
        .find(|r| r.contains("two readings disagree"))
        .expect("both readings are named");
    assert!(both.contains(&format!("partner {OURS}")) && both.contains("no partner"));
    assert!(both.contains("owner and co-owners"), "{both}");
    // Still owned by the importer: the readings agree.
    let mut w = World::new()
        .link(2, OURS)
        .resource(with_solution(app(2, vec![], vec![]), "Sol"));
    w.inv
        .solutions
        .push(solution("Sol", true, vec![(Some(2), 5)]));
    let f = w.one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert!(f.flags.is_empty());
}

#[test]
fn dataset_publisher_decides() {
    let f = World::new().link(1, OURS).resource(dataset(Some(1))).one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert_eq!(&*f.environment_name, "Workspace");
    assert_eq!(
        World::new().resource(dataset(Some(1))).one().verdict,
        Verdict::Uncredited
    );
    let f = World::new().link(1, OURS).resource(dataset(None)).one();
    assert_eq!(f.verdict, Verdict::Unknown);
}

#[test]
fn case_7_a_dataset_s_publishers_include_its_publish_events_and_the_latest_decides() {
    // configuredBy (ours) published on day 5; another partner's linked user
    // took it over on day 9: the latest publisher's partner is credited.
    let mut w = World::new()
        .link(1, OURS)
        .link(2, OTHER)
        .resource(dataset(Some(1)));
    w.inv.activity = vec![
        event("ds-1", 1, 5, "Import"),
        event("ds-1", 2, 9, "TakeOverDataset"),
        event("ds-1", 3, 20, "Import"),
        event("ds-1", 2, 21, "ViewReport"),
    ];
    let f = w.one();
    assert_eq!(f.verdict, Verdict::CreditedToOther);
    assert_eq!(partner(&f), Some(OTHER));
    assert_eq!(f.decided_by, Some(DecidedBy::AuditEvents));
    assert_eq!(f.attributed.len(), 3, "configuredBy and both publishers");
    assert!(!f.flags.contains(&Flag::OtherPartnerActivity));
    // An earlier publish by the other partner loses to ours.
    let mut w = World::new()
        .link(1, OURS)
        .link(2, OTHER)
        .resource(dataset(Some(1)));
    w.inv.activity = vec![event("ds-1", 2, 1, "Import"), event("ds-1", 1, 5, "Import")];
    let f = w.one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert!(f.flags.is_empty(), "{:?}", f.flags);
}

#[test]
fn instance_active_users_decide_by_audit_events_first() {
    let mut w = World::new()
        .link(1, OURS)
        .link(2, OTHER)
        // Stamps say ours, events say theirs: events are the stronger signal.
        .resource(instance(&[1, 2], vec![stamp(1, StampKind::Modified, 25)]));
    w.inv.activity = vec![event("inst-1", 1, 3, "a"), event("inst-1", 2, 10, "b")];
    let f = w.one();
    assert_eq!(f.verdict, Verdict::CreditedToOther);
    assert_eq!(f.decided_by, Some(DecidedBy::AuditEvents));
}

#[test]
fn case_5_an_instance_without_activity_evidence_is_never_credited() {
    let stamps = vec![
        stamp(1, StampKind::Modified, 25),
        stamp(2, StampKind::Created, 2),
    ];
    let mut w = World::new()
        .link(1, OURS)
        .link(2, OTHER)
        .resource(instance(&[1, 2], stamps));
    w.inv.unread.push(activity_unread());
    let f = w.one();
    assert_eq!(
        f.verdict,
        Verdict::Unknown,
        "role holders are not active users"
    );
    assert!(f.flags.contains(&Flag::ActivityUnknown));
    assert!(f.reasons.iter().any(|r| r.contains("--ci-activity")));
    // No linked principal holds a role: uncredited, activity or not.
    let mut w = World::new().resource(instance(&[3], vec![]));
    w.inv.unread.push(activity_unread());
    assert_eq!(w.one().verdict, Verdict::Uncredited);
    // Activity read: removing an unlinked customer's record never credits.
    let mut w = World::new()
        .link(1, OURS)
        .resource(instance(&[1, 3], vec![]));
    w.inv.activity = vec![event("inst-1", 3, 5, "Query")];
    assert_eq!(w.one().verdict, Verdict::Uncredited);
    w.inv.activity.clear();
    assert_eq!(w.one().verdict, Verdict::Uncredited);
}

fn activity_unread() -> crate::inventory::Unread {
    crate::inventory::Unread {
        fact: crate::inventory::UnreadFact::Activity {
            product: crate::inventory::Product::CustomerInsights,
        },
        environment: None,
        resource: None,
        why: "no activity was supplied (--ci-activity)".into(),
    }
}

#[test]
fn instance_events_narrow_the_attributed_users() {
    let mut w = World::new()
        .link(1, OURS)
        .link(2, OTHER)
        .resource(instance(&[1, 2], vec![]));
    w.inv.activity = vec![event("inst-1", 1, 3, "a")];
    let f = w.one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert_eq!(f.attributed.len(), 1, "only the active holder");
    assert_eq!(f.decided_by, Some(DecidedBy::SinglePartner));
    // Events cover the instance, but no role holder was active.
    let mut w = World::new().link(1, OURS).resource(instance(&[1], vec![]));
    w.inv.activity = vec![event("inst-1", 4, 3, "a")];
    assert_eq!(w.one().verdict, Verdict::Uncredited);
}

#[test]
fn case_8_an_instance_s_active_users_come_from_activity_and_groups() {
    // Activity read: an active principal with no role is an active user.
    let mut w = World::new().link(2, OTHER).resource(instance(&[1], vec![]));
    w.inv.activity = vec![event("inst-1", 2, 5, "Query")];
    let f = w.one();
    assert_eq!(f.verdict, Verdict::CreditedToOther);
    // Activity not read: a linked member of a group holding a role could be
    // active, so the verdict is unknown and names them.
    let mut r = instance(&[9], vec![]);
    if let Fact::Known(roles) = &mut r.roles {
        roles[0].principal_type = PrincipalType::Group;
    }
    let mut w = World::new().link(1, OURS).resource(r);
    w.inv
        .group_members
        .insert(id(9), Fact::Known(vec![id(1), id(3)]));
    w.inv.unread.push(activity_unread());
    let f = w.one();
    assert_eq!(f.verdict, Verdict::Unknown);
    assert_eq!(f.flags, vec![Flag::ActivityUnknown]);
    assert!(
        f.reasons.iter().any(|r| r.contains("user1@contoso.com")),
        "{:?}",
        f.reasons
    );
    // A group that could not be expanded could hold one too.
    w.inv
        .group_members
        .insert(id(9), Fact::Unknown("403".into()));
    assert_eq!(w.one().verdict, Verdict::Unknown);
}

#[test]
fn disabled_or_deleted_attributed_users_are_orphaned() {
    let mut w = World::new().link(1, OURS).resource(app(1, vec![], vec![]));
    w.inv.principals.get_mut(&id(1)).unwrap().enabled = Some(false);
    let f = w.one();
    assert_eq!(f.verdict, Verdict::Credited);
    assert_eq!(f.flags, vec![Flag::OrphanedOwner]);
    let mut w = World::new().resource(flow(Some(2), vec![]));
    w.inv.principals.get_mut(&id(2)).unwrap().deleted = true;
    let f = w.one();
    assert!(f.flags.contains(&Flag::OrphanedOwner));
    assert!(f.reasons.iter().any(|r| r.contains("deleted")));
}

#[test]
fn a_large_tenant_split_across_threads_gives_the_sequential_findings() {
    let mut w = World::new().link(1, OURS).link(2, OTHER);
    for i in 0..6000u32 {
        let owner = (i % 5 + 1) as u8;
        let mut a = app(
            owner,
            vec![role(((i + 1) % 5 + 1) as u8, Role::CoOwner)],
            vec![],
        );
        a.id = ResourceId::new(format!("app-{i}"));
        a.name = format!("App {}", 6000 - i).into();
        w = w.resource(a);
    }
    let opts = opts();
    let parallel = attribute(&w.inv, &w.links, &opts).findings;
    let graph = crate::attribution::graph::AttributionGraph::build(&w.inv, &w.links, opts.now);
    let mut sequential: Vec<Finding> = (0..w.inv.resources.len())
        .map(|i| super::finding(&graph, i, &opts))
        .collect();
    sort_findings(&mut sequential);
    assert_eq!(parallel.len(), 6000);
    assert_eq!(parallel, sequential);
}

#[test]
fn findings_come_in_the_documented_order_whatever_the_names() {
    // Capitals, accents, a Greek final sigma, names alike in their first 16
    // bytes, a name repeated with other ids, an id repeated in another
    // environment, and both products: the order made from the inventory is
    // the order `sort_findings` gives.
    let names = [
        "Zeta",
        "zeta",
        "Ärger",
        "ärger",
        "arger",
        "ΟΔΟΣ",
        "οδος",
        "Expense report approvals (EMEA)",
        "expense report approvals (APAC)",
        "Expense Report Approvals",
        "",
        "a\u{0}b",
        "a",
        "Émile",
        "emile",
    ];
    let mut w = World::new().link(1, OURS);
    for (i, name) in names.iter().enumerate() {
        for (j, env) in ["env", "Env-2", "env-10"].iter().enumerate() {
            let mut r = if (i + j) % 2 == 0 {
                app(1, vec![], vec![])
            } else {
                flow(Some(1), vec![])
            };
            r.id = ResourceId::new(format!("r-{}", (i * 7 + j) % 5));
            r.name = (*name).into();
            r.environment = EnvironmentId::new(env);
            w = w.resource(r);
        }
    }
    let made = w.findings();
    let mut sorted = made.clone();
    sorted.reverse();
    sort_findings(&mut sorted);
    let key = |f: &Finding| {
        (
            f.product,
            f.environment_id.clone(),
            f.resource_name.to_lowercase(),
            f.resource_id.clone(),
        )
    };
    assert_eq!(
        made.iter().map(key).collect::<Vec<_>>(),
        sorted.iter().map(key).collect::<Vec<_>>()
    );
    assert_eq!(made.len(), names.len() * 3);
}

mod unread {
    //! Facts a failed read would have given: never taken as absent.
    use super::*;
    use crate::inventory::{Unread, UnreadFact};

    fn unread(fact: UnreadFact, environment: Option<&str>, resource: Option<&str>) -> Unread {
        Unread {
            fact,
            environment: environment.map(EnvironmentId::new),
            resource: resource.map(ResourceId::new),
            why: "HTTP 403".into(),
        }
    }

    /// Graph could not resolve the link naming this UPN.
    fn unresolved(upn: &str) -> Unread {
        unread(
            UnreadFact::LinkPrincipal {
                reference: upn.into(),
                upn: true,
            },
            None,
            None,
        )
    }

    #[test]
    fn a_solution_membership_not_read_makes_a_model_driven_app_unknown() {
        let mut w = World::new().link(1, OURS).resource(model_driven(1));
        assert_eq!(w.one().verdict, Verdict::Credited);
        w.inv.unread.push(unread(
            UnreadFact::SolutionMembership {
                solution: Some("ContosoCore".into()),
            },
            Some("env"),
            None,
        ));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Unknown);
        assert_eq!(f.credited_partner_id, None);
        assert!(
            f.reasons
                .iter()
                .any(|r| r.contains("managed solution ContosoCore") && r.contains("HTTP 403")),
            "{:?}",
            f.reasons
        );
        // Another environment's gap says nothing of this one.
        w.inv.unread[0].environment = Some(EnvironmentId::new("elsewhere"));
        assert_eq!(w.one().verdict, Verdict::Credited);
    }

    #[test]
    fn a_solution_membership_not_read_leaves_datasets_and_instances_alone() {
        let mut w = World::new().link(1, OURS).resource(dataset(Some(1)));
        w.inv.unread.push(unread(
            UnreadFact::SolutionMembership { solution: None },
            None,
            None,
        ));
        assert_eq!(w.one().verdict, Verdict::Credited);
    }

    #[test]
    fn an_unresolved_link_that_could_be_an_attributed_users_makes_it_unknown() {
        // The co-owner is known only by id (Power Apps did not say its
        // UPN), and Graph failed to resolve another partner's UPN link.
        let mut w =
            World::new()
                .link(1, OURS)
                .resource(app(1, vec![role(20, Role::CoOwner)], vec![]));
        w.links.push(Link {
            principal: PrincipalRef::Upn("rival@fabrikam.com".into()),
            ..w.links[0].clone()
        });
        w.links[1].partner_id = PartnerId::parse(OTHER).unwrap();
        assert_eq!(w.one().verdict, Verdict::Credited, "before the failure");
        w.inv.unread.push(unresolved("rival@fabrikam.com"));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Unknown);
        assert!(f.flags.contains(&Flag::LinkUnresolved), "{:?}", f.flags);
        assert!(
            f.reasons.iter().any(|r| r.contains("rival@fabrikam.com")),
            "{:?}",
            f.reasons
        );
    }

    #[test]
    fn an_unresolved_link_that_cannot_be_an_attributed_users_changes_nothing() {
        // Every attributed user's UPN is known: the link is someone else's.
        let mut w =
            World::new()
                .link(1, OURS)
                .resource(app(1, vec![role(2, Role::CoOwner)], vec![]));
        w.links.push(Link {
            principal: PrincipalRef::Upn("rival@fabrikam.com".into()),
            ..w.links[0].clone()
        });
        w.inv.unread.push(unresolved("rival@fabrikam.com"));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Credited);
        assert!(!f.flags.contains(&Flag::LinkUnresolved));
        // A lookup that failed for a UPN no link names changes nothing either.
        w.inv.unread[0].fact = UnreadFact::LinkPrincipal {
            reference: "nobody@fabrikam.com".into(),
            upn: true,
        };
        w.inv.resources[0] = app(1, vec![role(20, Role::CoOwner)], vec![]);
        assert_eq!(w.one().verdict, Verdict::Credited);
    }

    /// Found by `tests/properties.rs`: the importer of a flow's managed
    /// solution looked unlinked because Graph had failed to resolve its link
    /// to another partner, so the solution reading vanished and the flow was
    /// credited by its creator alone.
    #[test]
    fn an_unresolved_link_that_could_be_the_importers_makes_a_flow_unknown() {
        let mut w = World::new()
            .link(1, OURS)
            .resource(with_solution(flow(Some(1), vec![]), "Sol"));
        w.inv
            .solutions
            .push(solution("Sol", true, vec![(Some(20), 5)]));
        w.links.push(Link {
            principal: PrincipalRef::Upn("rival@fabrikam.com".into()),
            partner_id: PartnerId::parse(OTHER).unwrap(),
            ..w.links[0].clone()
        });
        assert_eq!(w.one().verdict, Verdict::Credited, "before the failure");
        w.inv.unread.push(unresolved("rival@fabrikam.com"));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Unknown);
        assert!(f.flags.contains(&Flag::LinkUnresolved), "{:?}", f.flags);
        assert!(
            f.reasons
                .iter()
                .any(|r| r.contains("importer of its managed solution")),
            "{:?}",
            f.reasons
        );
        // An importer whose UPN is known cannot be the link's.
        let mut p = Principal::new(id(20), PrincipalType::User);
        p.upn = Some("customer@contoso.com".into());
        w.inv.add_principal(p);
        assert_eq!(w.one().verdict, Verdict::Credited);
    }

    /// Found by `tests/properties.rs`: an unresolved `Deleted` link was
    /// skipped, although winning it would take an attributed user's link
    /// away.
    #[test]
    fn an_unresolved_deleted_link_that_could_end_an_attributed_users_link_makes_it_unknown() {
        let mut w = World::new()
            .link(20, OURS)
            .resource(app(20, vec![], vec![]));
        w.links.push(Link {
            principal: PrincipalRef::Upn("someone@contoso.com".into()),
            active: false,
            ..w.links[0].clone()
        });
        w.links[1].attested_at = Some(now());
        w.links[1].source = LinkSource::Attested;
        assert_eq!(w.one().verdict, Verdict::Credited, "before the failure");
        w.inv.unread.push(unresolved("someone@contoso.com"));
        assert_eq!(w.one().verdict, Verdict::Unknown);
        // With no link to end, a Deleted one changes nothing.
        let mut w = World::new().resource(app(20, vec![], vec![]));
        w = w.link(1, OURS);
        w.links[0].principal = PrincipalRef::Upn("someone@contoso.com".into());
        w.links[0].active = false;
        w.inv.unread.push(unresolved("someone@contoso.com"));
        assert_eq!(w.one().verdict, Verdict::Uncredited);
    }

    #[test]
    fn an_uncredited_app_with_an_unresolved_link_is_unknown() {
        let mut w = World::new().resource(app(20, vec![], vec![]));
        w = w.link(1, OURS);
        w.links[0].principal = PrincipalRef::Upn("consultant@partner.com".into());
        assert_eq!(w.one().verdict, Verdict::Uncredited);
        w.inv.unread.push(unresolved("consultant@partner.com"));
        assert_eq!(w.one().verdict, Verdict::Unknown);
    }

    #[test]
    fn stamps_not_read_make_a_decision_by_stamps_unknown() {
        let stamps = vec![
            Stamp {
                kind: StampKind::Modified,
                principal: id(1),
                at: at(10),
            },
            Stamp {
                kind: StampKind::Created,
                principal: id(2),
                at: at(2),
            },
        ];
        // Owner (ours) and co-owner (the other partner): the stamps decide.
        let mut w = World::new().link(1, OURS).link(2, OTHER).resource(app(
            1,
            vec![role(2, Role::CoOwner)],
            stamps,
        ));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Credited);
        assert_eq!(f.decided_by, Some(DecidedBy::ResourceStamps));
        w.inv
            .unread
            .push(unread(UnreadFact::Stamps, None, Some("app-1")));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Unknown);
        assert_eq!(f.decided_by, None);
        // One partner decides alone: stamps do not matter.
        let mut w =
            World::new()
                .link(1, OURS)
                .resource(app(1, vec![role(2, Role::CoOwner)], vec![]));
        w.inv
            .unread
            .push(unread(UnreadFact::Stamps, None, Some("app-1")));
        assert_eq!(w.one().verdict, Verdict::Credited);
    }
}

mod links_v2 {
    //! attribution-rules.md v2, "Links: which evidence wins": the newest
    //! evidence wins, a winning Deleted attestation is no link, and declared
    //! rows that cannot be ordered leave the link undecided.
    use super::*;

    impl World {
        /// A declared row of principal `n` naming `partner`, dated `day`.
        fn declared(self, n: u8, partner: &str, day: Option<u32>) -> Self {
            self.link(n, partner).last_link(|l| {
                l.source = LinkSource::Declared;
                l.attested_at = None;
                l.linked_at = day.map(at);
                l.origin = format!("links.csv:{}", day.unwrap_or(0));
            })
        }

        /// An attestation of principal `n` naming `partner`, observed `ago`
        /// days before `now()`, in state Active or Deleted. The link itself
        /// was made on day 1, before any declared row: only `attested_at`
        /// may count.
        fn attested(self, n: u8, partner: &str, ago: i64, active: bool) -> Self {
            self.link(n, partner).last_link(|l| {
                l.attested_at = Some(now() - Duration::days(ago));
                l.linked_at = Some(at(1));
                l.active = active;
            })
        }
    }

    fn settled_unknown(f: &Finding) {
        assert_eq!(f.verdict, Verdict::Unknown, "{:?}", f.reasons);
        assert_eq!(f.credited_partner_id, None);
        assert!(f.flags.contains(&Flag::ConflictingLinks), "{:?}", f.flags);
        let why = f
            .reasons
            .iter()
            .find(|r| r.contains("does not settle which partner"))
            .unwrap_or_else(|| panic!("no reason names the undecided link: {:?}", f.reasons));
        assert!(why.contains("user1@contoso.com"), "{why}");
        assert!(
            why.contains("pal-audit attest") && why.contains("linked_at"),
            "{why}"
        );
    }

    /// The same links in both orders, on a canvas app (owner 1) and on a
    /// flow (creator 1): a verdict must not hang on input order.
    fn both(w: impl Fn() -> World) -> Vec<Finding> {
        let mut out = Vec::new();
        for reversed in [false, true] {
            for r in [app(1, vec![], vec![]), flow(Some(1), vec![])] {
                let mut w = w();
                if reversed {
                    w.links.reverse();
                }
                out.push(w.resource(r).one());
            }
        }
        out
    }

    #[test]
    fn two_undated_declared_rows_to_different_partners_are_unknown() {
        for f in both(|| {
            World::new()
                .declared(1, OURS, None)
                .declared(1, OTHER, None)
        }) {
            settled_unknown(&f);
            let why = f
                .reasons
                .iter()
                .find(|r| r.contains("does not settle which"))
                .unwrap();
            assert!(why.contains(OURS) && why.contains(OTHER), "{why}");
            // Shown as undecided, never as unlinked, and the fix settles it.
            assert!(f.attributed[0].link_undecided);
            assert!(f.attributed[0].describe().contains("link undecided"));
            let fix = f.fix.as_ref().map(ToString::to_string).unwrap_or_default();
            assert!(fix.contains("pal-audit attest"), "{fix}");
        }
    }

    #[test]
    fn two_undated_declared_rows_to_one_partner_are_that_partner() {
        for f in both(|| {
            World::new()
                .declared(1, OURS, None)
                .declared(1, OURS, Some(3))
        }) {
            assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
            assert!(!f.flags.contains(&Flag::ConflictingLinks));
        }
    }

    #[test]
    fn dated_and_undated_declared_rows_to_different_partners_are_unknown() {
        for f in both(|| {
            World::new()
                .declared(1, OURS, Some(9))
                .declared(1, OTHER, None)
        }) {
            settled_unknown(&f);
        }
        for f in both(|| {
            World::new()
                .declared(1, OTHER, Some(9))
                .declared(1, OURS, None)
        }) {
            settled_unknown(&f);
        }
    }

    #[test]
    fn two_dated_declared_rows_newest_wins_with_conflicting_links() {
        for f in both(|| {
            World::new()
                .declared(1, OURS, Some(9))
                .declared(1, OTHER, Some(5))
        }) {
            assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
            assert!(f.flags.contains(&Flag::ConflictingLinks));
            assert!(f.flags.contains(&Flag::DeclaredLinkOnly));
        }
        for f in both(|| {
            World::new()
                .declared(1, OURS, Some(5))
                .declared(1, OTHER, Some(9))
        }) {
            assert_eq!(f.verdict, Verdict::CreditedToOther, "{:?}", f.reasons);
            assert_eq!(partner(&f), Some(OTHER));
            assert!(f.flags.contains(&Flag::ConflictingLinks));
        }
    }

    #[test]
    fn a_deleted_attestation_newer_than_a_declared_row_naming_us_is_no_link() {
        for f in both(|| {
            World::new()
                .declared(1, OURS, Some(20))
                .attested(1, OURS, 1, false)
        }) {
            assert_eq!(f.verdict, Verdict::Uncredited, "{:?}", f.reasons);
            assert_eq!(f.attributed[0].partner_id, None);
            // The reasons say why the declared row counts for nothing.
            assert!(
                f.reasons.iter().any(|r| r.contains("found it Deleted")),
                "{:?}",
                f.reasons
            );
        }
        // Whatever partner the deleted link named.
        for f in both(|| {
            World::new()
                .declared(1, OURS, Some(20))
                .attested(1, OTHER, 1, false)
        }) {
            assert_eq!(f.verdict, Verdict::Uncredited, "{:?}", f.reasons);
        }
    }

    /// Two `Deleted` attestations at one time (ours and another partner's):
    /// no link, and the reasons name both, the same whatever order the
    /// evidence was read in (a property test found the order deciding which
    /// one the reasons named).
    #[test]
    fn deleted_attestations_at_one_time_are_all_named_in_any_order() {
        let found = both(|| {
            World::new()
                .attested(1, OTHER, 1, false)
                .attested(1, OURS, 1, false)
        });
        for f in &found {
            assert_eq!(f.verdict, Verdict::Uncredited, "{:?}", f.reasons);
            let ended: Vec<&str> = f
                .reasons
                .iter()
                .filter(|r| r.contains("found it Deleted"))
                .map(|r| &**r)
                .collect();
            assert_eq!(ended.len(), 2, "{ended:?}");
            assert!(ended[0].contains(&format!("partner {}", OURS.min(OTHER))));
        }
        // Reversed, the same reasons (findings 0 and 1 are read in order, 2
        // and 3 reversed).
        assert_eq!(found[0].reasons, found[2].reasons);
        assert_eq!(found[1].reasons, found[3].reasons);
    }

    #[test]
    fn a_declared_row_newer_than_a_deleted_attestation_counts() {
        // Day 31 noon is after the attestation, made at midnight that day.
        for f in both(|| {
            World::new()
                .attested(1, OURS, 1, false)
                .declared(1, OURS, Some(31))
        }) {
            assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
            assert!(f.flags.contains(&Flag::DeclaredLinkOnly));
        }
    }

    #[test]
    fn a_fresh_attestation_naming_another_partner_beats_an_older_declared_row_naming_us() {
        for f in both(|| {
            World::new()
                .declared(1, OURS, Some(20))
                .attested(1, OTHER, 1, true)
        }) {
            assert_eq!(f.verdict, Verdict::CreditedToOther, "{:?}", f.reasons);
            assert_eq!(partner(&f), Some(OTHER));
            assert!(f.flags.contains(&Flag::ConflictingLinks));
        }
    }

    #[test]
    fn a_fresh_attestation_naming_us_beats_an_older_declared_row_naming_another() {
        for f in both(|| {
            World::new()
                .declared(1, OTHER, Some(20))
                .attested(1, OURS, 1, true)
        }) {
            assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
            assert!(f.flags.contains(&Flag::ConflictingLinks));
            assert!(!f.flags.contains(&Flag::DeclaredLinkOnly), "{:?}", f.flags);
        }
    }

    #[test]
    fn an_undated_declared_row_loses_to_any_attestation() {
        // Even a stale one, and even one whose link was made long ago.
        for f in both(|| {
            World::new()
                .declared(1, OURS, None)
                .attested(1, OTHER, 200, true)
        }) {
            assert_eq!(f.verdict, Verdict::CreditedToOther, "{:?}", f.reasons);
        }
        for f in both(|| {
            World::new()
                .declared(1, OTHER, None)
                .attested(1, OURS, 200, true)
        }) {
            assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
            assert!(f.flags.contains(&Flag::StaleAttestation));
        }
        for f in both(|| {
            World::new()
                .declared(1, OURS, None)
                .attested(1, OURS, 200, false)
        }) {
            assert_eq!(f.verdict, Verdict::Uncredited, "{:?}", f.reasons);
        }
        // An attestation dates every undated row: a dated row newer than
        // it still wins.
        for f in both(|| {
            World::new()
                .declared(1, OTHER, None)
                .attested(1, THIRD, 200, true)
                .declared(1, OURS, Some(20))
        }) {
            assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
        }
    }

    #[test]
    fn a_tie_of_equal_times_with_different_partners_is_unknown() {
        for f in both(|| {
            World::new()
                .declared(1, OURS, Some(9))
                .declared(1, OTHER, Some(9))
        }) {
            settled_unknown(&f);
        }
        for f in both(|| {
            World::new()
                .attested(1, OURS, 3, true)
                .attested(1, OTHER, 3, true)
        }) {
            settled_unknown(&f);
        }
        // An attestation observed at the very time a row was declared.
        for f in both(|| {
            World::new()
                .attested(1, OURS, 3, true)
                .declared(1, OTHER, Some(9))
                .last_link(|l| l.linked_at = Some(now() - Duration::days(3)))
        }) {
            settled_unknown(&f);
        }
    }

    #[test]
    fn an_undecided_co_owner_that_could_change_the_verdict_makes_it_unknown() {
        let f = World::new()
            .link(2, OURS)
            .declared(1, OURS, None)
            .declared(1, OTHER, None)
            .resource(app(2, vec![role(1, Role::CoOwner)], vec![]))
            .one();
        settled_unknown(&f);
        // Not uncredited either, when the owner is unlinked.
        let f = World::new()
            .declared(1, OURS, None)
            .declared(1, OTHER, None)
            .resource(app(2, vec![role(1, Role::CoOwner)], vec![]))
            .one();
        settled_unknown(&f);
    }

    #[test]
    fn an_undecided_co_owner_that_cannot_change_the_verdict_leaves_it() {
        // Whichever of OTHER and THIRD user 1 is linked to, our owner's
        // later activity decides.
        let f = World::new()
            .link(2, OURS)
            .declared(1, OTHER, None)
            .declared(1, THIRD, None)
            .resource(app(
                2,
                vec![role(1, Role::CoOwner)],
                vec![
                    stamp(2, StampKind::Modified, 20),
                    stamp(1, StampKind::Published, 3),
                ],
            ))
            .one();
        assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
        assert_eq!(f.decided_by, Some(DecidedBy::ResourceStamps));
        assert!(f.flags.contains(&Flag::ConflictingLinks));
        // The same, with user 1's activity the latest: it decides, so unknown.
        let f = World::new()
            .link(2, OURS)
            .declared(1, OTHER, None)
            .declared(1, THIRD, None)
            .resource(app(
                2,
                vec![role(1, Role::CoOwner)],
                vec![
                    stamp(2, StampKind::Modified, 3),
                    stamp(1, StampKind::Published, 20),
                ],
            ))
            .one();
        settled_unknown(&f);
    }
}

mod v2_cases {
    //! Issue 15's cases not covered above, each named after its number.
    use super::*;

    #[test]
    fn case_4_a_model_driven_app_whose_latest_import_has_no_import_job_is_unknown() {
        // Imported by our linked account on day 3, then again on day 8 with
        // no import job: the older linked importer must not decide.
        let mut w = World::new()
            .link(2, OURS)
            .resource(with_solution(model_driven(1), "Sol"));
        w.inv
            .solutions
            .push(solution("Sol", true, vec![(Some(2), 3), (None, 8)]));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Unknown);
        assert!(f.flags.contains(&Flag::ImporterUnknown), "{:?}", f.flags);
        // With the job found, the newest linked importer decides.
        w.inv.solutions[0] = solution("Sol", true, vec![(Some(2), 3), (Some(3), 8)]);
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Credited);
        assert_eq!(f.decided_by, Some(DecidedBy::SolutionImport));
        assert!(f.flags.contains(&Flag::ImportedByUnlinkedAccount));
    }

    #[test]
    fn case_6_a_canvas_app_and_a_flow_in_one_managed_solution_get_the_same_reading() {
        // Both created/owned by an unlinked customer, imported by us: the
        // readings disagree for both, so both are unknown (never opposite
        // verdicts for the same solution).
        let mut w = World::new()
            .link(2, OURS)
            .resource(with_solution(app(1, vec![], vec![]), "Sol"))
            .resource(with_solution(flow(Some(1), vec![]), "Sol"));
        w.inv
            .solutions
            .push(solution("Sol", true, vec![(Some(2), 5)]));
        let verdicts: Vec<Verdict> = w.findings().iter().map(|f| f.verdict).collect();
        assert_eq!(verdicts, vec![Verdict::Unknown, Verdict::Unknown]);
        for f in w.findings() {
            assert!(f.flags.contains(&Flag::OwnerChangedSinceImport));
        }
        // A model-driven app in it follows the solution reading.
        let mut w = World::new()
            .link(2, OURS)
            .resource(with_solution(model_driven(1), "Sol"));
        w.inv
            .solutions
            .push(solution("Sol", true, vec![(Some(2), 5)]));
        assert_eq!(w.one().verdict, Verdict::Credited);
    }

    #[test]
    fn case_6_a_flow_s_reason_speaks_of_its_creator() {
        let mut w = World::new()
            .link(2, OURS)
            .resource(with_solution(flow(Some(1), vec![]), "Sol"));
        w.inv
            .solutions
            .push(solution("Sol", true, vec![(Some(2), 5)]));
        let f = w.one();
        let both = f
            .reasons
            .iter()
            .find(|r| r.contains("two readings disagree"))
            .unwrap();
        assert!(
            both.contains("its creator") && !both.contains("owner"),
            "{both}"
        );
    }

    #[test]
    fn case_9_creation_is_activity() {
        // Our owner created the app after the other partner's co-owner last
        // modified it: creation is the latest activity.
        let f = World::new()
            .link(1, OURS)
            .link(2, OTHER)
            .resource(app(
                1,
                vec![role(2, Role::CoOwner)],
                vec![
                    stamp(2, StampKind::Modified, 3),
                    stamp(1, StampKind::Created, 9),
                ],
            ))
            .one();
        assert_eq!(f.verdict, Verdict::Credited);
        assert_eq!(f.decided_by, Some(DecidedBy::ResourceStamps));
    }

    #[test]
    fn case_9_our_own_later_activity_never_raises_other_partner_activity() {
        let mut w = World::new()
            .link(1, OURS)
            .link(4, OURS)
            .resource(dataset(Some(1)));
        w.inv.activity = vec![event("ds-1", 4, 20, "Import")];
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Credited);
        assert!(!f.flags.contains(&Flag::OtherPartnerActivity));
    }

    /// The table "the verdict of a component with both readings", row by row.
    #[test]
    fn both_readings_none_no_linked_importer_leaves_the_product_reading() {
        // Imported only by an unlinked account: no solution reading.
        let mut w = World::new()
            .link(1, OURS)
            .resource(with_solution(app(1, vec![], vec![]), "Sol"))
            .resource(with_solution(flow(Some(1), vec![]), "Sol"));
        w.inv
            .solutions
            .push(solution("Sol", true, vec![(Some(20), 5)]));
        for f in w.findings() {
            assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
            assert!(f.flags.contains(&Flag::ImportedByUnlinkedAccount));
            assert_ne!(f.decided_by, Some(DecidedBy::SolutionImport));
        }
    }

    #[test]
    fn both_readings_undecided_makes_every_component_unknown() {
        // The latest import has no import job; our older import is not
        // enough, whatever the product reading says.
        let mut w = World::new()
            .link(1, OURS)
            .resource(with_solution(app(1, vec![], vec![]), "Sol"))
            .resource(with_solution(flow(Some(1), vec![]), "Sol"))
            .resource(with_solution(model_driven(1), "Sol"));
        w.inv
            .solutions
            .push(solution("Sol", true, vec![(Some(1), 5), (None, 9)]));
        for f in w.findings() {
            assert_eq!(f.verdict, Verdict::Unknown, "{:?}", f.reasons);
            assert!(f.flags.contains(&Flag::ImporterUnknown));
        }
    }

    #[test]
    fn both_readings_agreeing_decide() {
        let mut w = World::new()
            .link(1, OURS)
            .link(2, OURS)
            .resource(with_solution(app(1, vec![], vec![]), "Sol"))
            .resource(with_solution(flow(Some(1), vec![]), "Sol"));
        w.inv
            .solutions
            .push(solution("Sol", true, vec![(Some(2), 5)]));
        for f in w.findings() {
            assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
            assert!(!f.flags.contains(&Flag::OwnerChangedSinceImport));
        }
        // Agreeing on another partner: credited to them.
        let mut w = World::new()
            .link(1, OTHER)
            .link(2, OTHER)
            .resource(with_solution(flow(Some(1), vec![]), "Sol"));
        w.inv
            .solutions
            .push(solution("Sol", true, vec![(Some(2), 5)]));
        assert_eq!(w.one().verdict, Verdict::CreditedToOther);
    }

    #[test]
    fn non_production_environment_is_flagged_and_puts_credit_at_risk() {
        let mut w = World::new()
            .link(1, OURS)
            .principal(1, PrincipalType::ServicePrincipal)
            .resource(app(1, vec![], vec![]));
        for (sku, flagged) in [
            (None, false),
            (Some("Production"), false),
            (Some("Default"), false),
            (Some("Sandbox"), true),
            (Some("Trial"), true),
            (Some("Developer"), true),
            (Some("Teams"), true),
        ] {
            w.inv.environments[0].sku = sku.map(str::to_string);
            let f = w.one();
            assert_eq!(f.verdict, Verdict::Credited);
            assert_eq!(
                f.flags.contains(&Flag::NonProductionEnvironment),
                flagged,
                "{sku:?}"
            );
            assert_eq!(f.at_risk(), flagged, "{sku:?}: {:?}", f.flags);
        }
    }

    #[test]
    fn sandbox_and_trial_customer_insights_instances_are_non_production() {
        // An instance credited to us by its activity; only its own type
        // changes. `pitchDemo`, `pov`, an unknown or no type raise nothing.
        let mut w = World::new()
            .link(1, OURS)
            .principal(1, PrincipalType::ServicePrincipal)
            .resource(instance(&[1], vec![]));
        w.inv.activity = vec![event("inst-1", 1, 3, "a")];
        for (t, flagged) in [
            (None, false),
            (Some("production"), false),
            (Some("pitchDemo"), false),
            (Some("pov"), false),
            (Some("ci"), false),
            (Some(""), false),
            (Some("sandbox"), true),
            (Some("Trial"), true),
            (Some("SANDBOX"), true),
        ] {
            w.inv.resources[0].instance_type = t.map(str::to_string);
            let f = w.one();
            assert_eq!(f.verdict, Verdict::Credited, "{t:?}");
            assert_eq!(
                f.flags.contains(&Flag::NonProductionEnvironment),
                flagged,
                "{t:?}"
            );
            assert_eq!(f.at_risk(), flagged, "{t:?}: {:?}", f.flags);
        }
        // A production instance in a sandbox environment: the environment
        // flags it; a sandbox instance in a production one: the instance.
        w.inv.environments[0].sku = Some("Sandbox".into());
        w.inv.resources[0].instance_type = Some("production".into());
        assert!(w.one().flags.contains(&Flag::NonProductionEnvironment));
        w.inv.environments[0].sku = Some("Production".into());
        w.inv.resources[0].instance_type = Some("sandbox".into());
        let f = w.one();
        assert!(f.flags.contains(&Flag::NonProductionEnvironment));
        assert!(
            f.reasons.iter().any(|r| r.contains("type sandbox")),
            "{:?}",
            f.reasons
        );
        // The type of a canvas app's resource is never read as an instance's.
        let mut w = World::new()
            .link(1, OURS)
            .principal(1, PrincipalType::ServicePrincipal)
            .resource(app(1, vec![], vec![]));
        w.inv.resources[0].instance_type = Some("sandbox".into());
        assert!(!w.one().flags.contains(&Flag::NonProductionEnvironment));
    }

    #[test]
    fn linked_to_other_id_of_ours_is_flagged_with_a_re_link_fix() {
        let w = World::new().link(1, OTHER).resource(app(1, vec![], vec![]));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::CreditedToOther);
        assert!(!f.flags.contains(&Flag::LinkedToOtherIdOfOurs));
        // The same tenant, OTHER named as one of our own IDs.
        let mut o = opts();
        o.our_other_ids = vec![PartnerId::parse(OTHER).unwrap()];
        let f = attribute(&w.inv, &w.links, &o).findings.remove(0);
        assert_eq!(
            f.verdict,
            Verdict::CreditedToOther,
            "the credit goes to that ID"
        );
        assert!(
            f.flags.contains(&Flag::LinkedToOtherIdOfOurs),
            "{:?}",
            f.flags
        );
        let fix = f.fix.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(fix.contains(&format!("attest --link {OURS}")), "{fix}");
    }

    #[test]
    fn at_risk_is_credited_with_a_risk_flag_only() {
        // A person's account: credited, at risk.
        let f = World::new()
            .link(1, OURS)
            .last_link(|l| l.kind = LinkKind::User)
            .resource(app(1, vec![], vec![]))
            .one();
        assert!(f.flags.contains(&Flag::UserAccountLink));
        assert!(f.at_risk());
        // A flag that is not a risk, or a verdict that is not credited.
        let mut g = f.clone();
        g.flags = vec![Flag::ImportedByUnlinkedAccount];
        assert!(!g.at_risk());
        let mut g = f.clone();
        g.verdict = Verdict::CreditedToOther;
        assert!(!g.at_risk());
    }

    #[test]
    fn other_partner_activity_is_raised_for_another_partner_s_later_activity() {
        // Our owner; another partner's user (no longer a co-owner) modified
        // it last. One candidate partner: credited, at risk.
        let w = World::new().link(1, OURS).link(2, OTHER).resource(app(
            1,
            vec![],
            vec![
                stamp(1, StampKind::Created, 3),
                stamp(2, StampKind::Modified, 20),
            ],
        ));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Credited);
        assert!(
            f.flags.contains(&Flag::OtherPartnerActivity),
            "{:?}",
            f.flags
        );
        assert!(
            f.reasons
                .iter()
                .any(|r| r.contains(&format!("partner {OTHER}"))),
            "{:?}",
            f.reasons
        );
        // Our later activity answers it.
        let w = World::new().link(1, OURS).link(2, OTHER).resource(app(
            1,
            vec![],
            vec![
                stamp(2, StampKind::Modified, 20),
                stamp(1, StampKind::Published, 21),
            ],
        ));
        assert!(!w.one().flags.contains(&Flag::OtherPartnerActivity));
        // A dataset refreshed by another partner's user after our publish.
        let mut w = World::new()
            .link(1, OURS)
            .link(2, OTHER)
            .resource(dataset(Some(1)));
        w.inv.activity = vec![event("ds-1", 2, 20, "RefreshDataset")];
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
        assert!(
            f.flags.contains(&Flag::OtherPartnerActivity),
            "{:?}",
            f.flags
        );
        // An unlinked user's activity is nobody's.
        let mut w = World::new().link(1, OURS).resource(dataset(Some(1)));
        w.inv.activity = vec![event("ds-1", 2, 20, "RefreshDataset")];
        assert!(!w.one().flags.contains(&Flag::OtherPartnerActivity));
    }

    #[test]
    fn case_1_our_owner_and_another_partner_s_co_owner_with_no_activity_is_unknown() {
        let f = World::new()
            .link(1, OURS)
            .link(2, OTHER)
            .resource(app(1, vec![role(2, Role::CoOwner)], vec![]))
            .one();
        assert_eq!(f.verdict, Verdict::Unknown);
        assert!(f.flags.contains(&Flag::ActivityUnknown));
    }
}

// --- Involvement: which of our identities took part, and how ----------------

fn involvement(f: &Finding) -> Vec<(InvolvementRole, PrincipalId, Option<PrincipalId>, bool)> {
    f.involvement
        .as_ref()
        .expect("attribution always records involvement")
        .iter()
        .map(|i| {
            (
                i.role,
                i.principal_id.clone(),
                i.through_group.clone(),
                i.latest,
            )
        })
        .collect()
}

#[test]
fn involvement_names_our_owner_and_co_owners_directly_or_through_a_group() {
    let mut w = World::new()
        .principal(5, PrincipalType::Group)
        .link(1, OURS)
        .link(2, OURS)
        .link(3, OTHER)
        .resource(app(
            4,
            vec![
                role(1, Role::CoOwner),
                role(2, Role::Viewer),
                role(3, Role::CoOwner),
                group_role(5),
            ],
            vec![],
        ));
    w.inv
        .group_members
        .insert(id(5), Fact::Known(vec![id(2), id(3)]));
    let f = w.one();
    // A viewer takes no part; another partner's co-owner is not ours.
    assert_eq!(
        involvement(&f),
        [
            (InvolvementRole::CoOwner, id(1), None, false),
            (InvolvementRole::CoOwner, id(2), Some(id(5)), false),
        ]
    );
}

#[test]
fn a_customer_app_we_can_only_view_is_not_ours_to_fix() {
    let f = World::new()
        .link(1, OURS)
        .resource(app(4, vec![role(1, Role::Viewer)], vec![]))
        .one();
    assert_eq!(f.verdict, Verdict::Uncredited);
    assert!(involvement(&f).is_empty());
    let fix = f.fix.unwrap().to_string();
    assert!(
        fix.starts_with("no fix: not delivered by this partner"),
        "{fix}"
    );
    assert!(
        !fix.contains("modifyAppOwner") && !fix.contains("modifyPermissions"),
        "{fix}"
    );
}

#[test]
fn our_co_owner_is_already_done_and_a_canvas_fix_adds_a_co_owner_not_an_owner() {
    // Ours co-owns it; the other partner's owner was active later.
    let f = World::new()
        .link(1, OURS)
        .link(2, OTHER)
        .resource(app(
            2,
            vec![role(1, Role::CoOwner)],
            vec![stamp(2, StampKind::Modified, 9)],
        ))
        .one();
    assert_eq!(f.verdict, Verdict::CreditedToOther);
    let fix = f.fix.unwrap().to_string();
    assert!(fix.starts_with("Nothing to add"), "{fix}");
    // Ours only publishes it (a stamp): a co-owner is proposed, never an owner change.
    let f = World::new()
        .link(1, OURS)
        .resource(app(4, vec![], vec![stamp(1, StampKind::Published, 9)]))
        .one();
    assert_eq!(
        involvement(&f),
        [(InvolvementRole::Publisher, id(1), None, false)]
    );
    let fix = f.fix.unwrap().to_string();
    assert!(
        fix.contains("modifyPermissions") && fix.contains("\"roleName\":\"CanEdit\""),
        "{fix}"
    );
    assert!(
        !fix.contains("modifyAppOwner") && !fix.contains("Set-AdminPowerAppOwner"),
        "{fix}"
    );
    assert!(!fix.contains("remove the other partner"), "{fix}");
}

#[test]
fn a_service_principal_gets_no_gui_or_powershell_canvas_fix() {
    let f = World::new()
        .principal(1, PrincipalType::ServicePrincipal)
        .link(1, OURS)
        .link(2, OURS)
        .last_link(|l| l.kind = LinkKind::User)
        .resource(app(
            4,
            vec![role(2, Role::Viewer)],
            vec![stamp(1, StampKind::Published, 9)],
        ))
        .one();
    let fix = f.fix.unwrap().to_string();
    assert!(
        fix.contains("Power Platform CLI or build tools only"),
        "{fix}"
    );
    assert!(
        !fix.contains("-PrincipalType User") && !fix.contains("Set-Admin"),
        "{fix}"
    );
}

#[test]
fn importers_of_the_managed_solution_are_involved_and_the_latest_one_is_done() {
    let mut w = World::new()
        .link(1, OURS)
        .link(2, OTHER)
        .resource(with_solution(flow(Some(3), vec![]), "Sol"));
    w.inv
        .solutions
        .push(solution("Sol", true, vec![(Some(2), 2), (Some(1), 5)]));
    let f = w.one();
    assert_eq!(
        involvement(&f),
        [(InvolvementRole::Importer, id(1), None, true)]
    );
    assert_eq!(f.solution_managed, Some(true));
    // An older import of ours is involvement, not done: re-import.
    let mut w = World::new()
        .link(1, OURS)
        .link(2, OTHER)
        .resource(with_solution(model_driven(3), "Sol"));
    w.inv
        .solutions
        .push(solution("Sol", true, vec![(Some(1), 2), (Some(2), 5)]));
    let f = w.one();
    assert_eq!(f.verdict, Verdict::CreditedToOther);
    assert_eq!(
        involvement(&f),
        [(InvolvementRole::Importer, id(1), None, false)]
    );
    let fix = f.fix.unwrap().to_string();
    assert!(
        fix.starts_with("Re-import managed solution Sol as"),
        "{fix}"
    );
    // An unmanaged solution gives no importer and no re-import.
    let mut w = World::new()
        .link(1, OURS)
        .resource(with_solution(model_driven(3), "Sol"));
    w.inv
        .solutions
        .push(solution("Sol", false, vec![(Some(1), 2)]));
    let f = w.one();
    assert!(involvement(&f).is_empty());
    assert_eq!(f.solution_managed, Some(false));
}

#[test]
fn dataset_publishers_are_involved_and_the_latest_publish_is_marked() {
    // Ours configured it, the other partner republished later: take over.
    let mut w = World::new()
        .link(1, OURS)
        .link(2, OTHER)
        .resource(dataset(Some(1)));
    w.inv.activity.push(event("ds-1", 1, 3, "Import"));
    w.inv.activity.push(event("ds-1", 2, 8, "Import"));
    let f = w.one();
    assert_eq!(f.verdict, Verdict::CreditedToOther);
    assert_eq!(
        involvement(&f),
        [(InvolvementRole::Publisher, id(1), None, false)]
    );
    assert!(f.fix.unwrap().to_string().contains("Default.TakeOver"));
    // Ours republished last.
    let mut w = World::new()
        .link(1, OURS)
        .link(2, OTHER)
        .resource(dataset(Some(2)));
    w.inv.activity.push(event("ds-1", 1, 8, "Import"));
    let f = w.one();
    assert_eq!(
        involvement(&f),
        [(InvolvementRole::Publisher, id(1), None, true)]
    );
    // A viewer's activity is no publish: the customer's dataset is not ours.
    let mut w = World::new().link(1, OURS).resource(dataset(Some(4)));
    w.inv.activity.push(event("ds-1", 1, 8, "ViewReport"));
    let f = w.one();
    assert!(involvement(&f).is_empty());
    assert!(
        f.fix
            .unwrap()
            .to_string()
            .starts_with("no fix: not delivered")
    );
}

#[test]
fn two_publishes_at_the_same_instant_mark_no_one_latest_in_any_order() {
    // Found by the order property: the newest of two publishes at the same
    // time was whichever came last from the API.
    for order in [[1, 2], [2, 1]] {
        let mut w = World::new()
            .link(1, OURS)
            .link(2, OTHER)
            .resource(dataset(Some(1)));
        for who in order {
            w.inv.activity.push(event("ds-1", who, 8, "Import"));
        }
        let f = w.one();
        assert_eq!(
            involvement(&f),
            [(InvolvementRole::Publisher, id(1), None, false)],
            "{order:?}"
        );
    }
}

#[test]
fn instance_role_holders_and_active_users_are_involved() {
    let mut w = World::new()
        .link(1, OURS)
        .link(2, OURS)
        .resource(instance(&[1, 3], vec![]));
    w.inv.activity.push(event("inst-1", 2, 8, "Query"));
    w.inv.activity.push(event("inst-1", 3, 9, "Query"));
    let f = w.one();
    assert_eq!(
        involvement(&f),
        [
            (InvolvementRole::ActiveUser, id(2), None, false),
            (InvolvementRole::RoleHolder, id(1), None, false),
        ]
    );
}

mod desktop_flows {
    //! Issue 18, point 7: a desktop flow (Dataverse `workflow` category 6)
    //! follows its creator, exactly as a cloud flow does.
    use super::*;
    use crate::inventory::{Unread, UnreadFact};

    fn desktop(creator: Option<u8>, owners: Vec<RoleAssignment>) -> Resource {
        Resource {
            id: ResourceId::new("desktop-1"),
            kind: ResourceKind::DesktopFlow,
            name: "Desktop".into(),
            ..flow(creator, owners)
        }
    }

    #[test]
    fn a_desktop_flow_follows_its_creator_and_is_power_automate() {
        let f = World::new()
            .link(1, OURS)
            .resource(desktop(Some(1), vec![]))
            .one();
        assert_eq!(f.verdict, Verdict::Credited);
        assert_eq!(f.product, crate::inventory::Product::PowerAutomate);
        assert_eq!(f.kind.as_str(), "desktop-flow");
        assert_eq!(f.attributed[0].principal_id, id(1));
        // Another partner's creator; an unlinked creator; no creator read.
        let other = World::new()
            .link(1, OTHER)
            .resource(desktop(Some(1), vec![]));
        assert_eq!(other.one().verdict, Verdict::CreditedToOther);
        let unlinked = World::new()
            .link(9, OURS)
            .resource(desktop(Some(1), vec![]));
        assert_eq!(unlinked.one().verdict, Verdict::Uncredited);
        let unread = World::new().link(1, OURS).resource(desktop(None, vec![]));
        assert_eq!(unread.one().verdict, Verdict::Unknown);
    }

    #[test]
    fn a_linked_owner_of_a_desktop_flow_who_did_not_create_it_earns_nothing() {
        let f = World::new()
            .link(2, OURS)
            .resource(desktop(
                Some(1),
                vec![role(1, Role::Owner), role(2, Role::Owner)],
            ))
            .one();
        assert_eq!(f.verdict, Verdict::Uncredited);
        assert!(f.flags.contains(&Flag::LinkedOwnerNotCreator));
        // The fix says no API re-creates it, and proposes no write.
        let fix = f.fix.as_ref().unwrap().to_string();
        assert!(
            fix.contains("desktop flow") && fix.contains("no API"),
            "{fix}"
        );
        assert!(fix.contains("Power Automate for desktop"), "{fix}");
    }

    #[test]
    fn a_desktop_flow_in_a_managed_solution_gets_both_readings_like_a_cloud_flow() {
        // Created by an unlinked customer, imported by us: unknown, flagged,
        // the reason speaking of its creator.
        let mut w = World::new()
            .link(2, OURS)
            .resource(with_solution(desktop(Some(1), vec![]), "Sol"));
        w.inv
            .solutions
            .push(solution("Sol", true, vec![(Some(2), 5)]));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Unknown);
        assert!(f.flags.contains(&Flag::OwnerChangedSinceImport));
        assert!(
            f.reasons.iter().any(|r| r.contains("(its creator)")),
            "{:?}",
            f.reasons
        );
        // Created and imported by us: the readings agree.
        w.inv.resources[0].creator = Fact::Known(id(2));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Credited);
        assert!(
            f.fix
                .as_ref()
                .is_none_or(|x| !x.to_string().contains("re-create")),
            "{:?}",
            f.fix
        );
    }

    #[test]
    fn unread_solution_membership_makes_a_desktop_flow_unknown() {
        // Credited by its creator, but a managed solution's components were
        // not read: its last linked importer could decide instead.
        let mut w = World::new()
            .link(1, OURS)
            .resource(desktop(Some(1), vec![]));
        w.inv.unread.push(Unread {
            fact: UnreadFact::SolutionMembership { solution: None },
            environment: Some(EnvironmentId::new("env")),
            resource: None,
            why: "403".into(),
        });
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Unknown);
        assert!(
            f.reasons.iter().any(|r| r.contains("the desktop flow")),
            "{:?}",
            f.reasons
        );
    }
}

/// The unified audit log (`--audit-log`) deciding between partners on a
/// canvas app, and what part of the window it covers.
mod audit_log_activity {
    use super::*;
    use crate::inventory::{ActivitySource, ActivityWindow};

    /// The activity window of `opts()`: 30 days back from `now()`.
    fn window(covered: Option<(DateTime<Utc>, DateTime<Utc>)>) -> ActivityWindow {
        ActivityWindow {
            source: ActivitySource::AuditLog,
            kinds: vec![ResourceKind::CanvasApp, ResourceKind::CloudFlow],
            from: now() - Duration::days(30),
            to: now(),
            covered,
            files: vec!["audit.csv".into()],
        }
    }

    fn whole() -> ActivityWindow {
        window(Some((
            now() - Duration::days(30),
            now() - Duration::hours(2),
        )))
    }

    fn launch(n: u8, day: u32) -> Activity {
        Activity {
            source: Some(ActivitySource::AuditLog),
            ..event("app-1", n, day, "LaunchPowerApp")
        }
    }

    /// Our owner (1) and another partner's co-owner (2); the other partner
    /// published the app on day 10.
    fn two_partners(w: ActivityWindow, events: Vec<Activity>) -> Finding {
        let mut world = World::new().link(1, OURS).link(2, OTHER).resource(app(
            1,
            vec![role(2, Role::CoOwner)],
            vec![stamp(2, StampKind::Published, 10)],
        ));
        world.inv.activity_windows.push(w);
        world.inv.activity.extend(events);
        world.one()
    }

    #[test]
    fn launches_decide_between_partners_and_the_finding_names_the_audit_log() {
        let f = two_partners(whole(), vec![launch(1, 20), launch(3, 28)]);
        assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
        assert_eq!(f.decided_by, Some(DecidedBy::AuditEvents));
        assert_eq!(f.decided_by_source, Some(ActivitySource::AuditLog));
        assert!(
            f.reasons
                .iter()
                .any(|r| r.contains("LaunchPowerApp") && r.contains("audit events: audit log")),
            "{:?}",
            f.reasons
        );
        // Two distinct launchers, one of them no attributed user.
        let usage = f.usage.expect("the log covers the window");
        assert_eq!(usage.active_users, 2);
        assert_eq!(usage.source, ActivitySource::AuditLog);
    }

    #[test]
    fn the_other_partner_s_user_active_after_ours_takes_it() {
        let f = two_partners(whole(), vec![launch(1, 20), launch(2, 25)]);
        assert_eq!(f.verdict, Verdict::CreditedToOther);
        assert_eq!(partner(&f), Some(OTHER));
        assert_eq!(f.decided_by_source, Some(ActivitySource::AuditLog));
        // Never other-partner-activity: activity decided.
        assert!(!f.flags.contains(&Flag::OtherPartnerActivity));
    }

    #[test]
    fn a_stamp_after_the_log_ends_competes_with_its_events() {
        // The log ends 20 hours before now (within the day the audit log
        // itself may lag); the other partner published 12 hours before now,
        // after our launch: the stamp is activity the log could not show.
        let mut world = World::new().link(1, OURS).link(2, OTHER).resource(app(
            1,
            vec![role(2, Role::CoOwner)],
            vec![Stamp {
                kind: StampKind::Published,
                principal: id(2),
                at: now() - Duration::hours(12),
            }],
        ));
        world.inv.activity_windows.push(window(Some((
            now() - Duration::days(30),
            now() - Duration::hours(20),
        ))));
        world.inv.activity.push(launch(1, 30));
        let f = world.one();
        assert_eq!(f.verdict, Verdict::CreditedToOther, "{:?}", f.reasons);
        assert_eq!(f.decided_by_source, None, "a stamp decided");
        // The log ending days before now: what came after is not known,
        // whoever the stamps name.
        world.inv.activity_windows[0] = window(Some((now() - Duration::days(30), at(20))));
        world.inv.activity[0] = launch(1, 19);
        let f = world.one();
        assert_eq!(f.verdict, Verdict::Unknown, "{:?}", f.reasons);
    }

    #[test]
    fn an_audit_log_missing_the_window_s_start_is_no_evidence_of_no_activity() {
        // The files start on day 15; nothing of the attributed users in
        // them, so our owner's stamp of day 12 (in the uncovered start)
        // would decide: the other partner's user could have launched it on
        // day 13.
        let mut world = World::new().link(1, OURS).link(2, OTHER).resource(app(
            1,
            vec![role(2, Role::CoOwner)],
            vec![
                stamp(2, StampKind::Published, 10),
                stamp(1, StampKind::Modified, 12),
            ],
        ));
        world
            .inv
            .activity_windows
            .push(window(Some((at(15), now() - Duration::hours(1)))));
        world.inv.activity.push(launch(3, 20));
        let f = world.one();
        assert_eq!(f.verdict, Verdict::Unknown, "{:?}", f.reasons);
        assert!(
            f.reasons
                .iter()
                .any(|r| r.contains("does not cover") && r.contains("audit.csv")),
            "{:?}",
            f.reasons
        );
        // Usage over part of the window is not the window's usage.
        assert_eq!(f.usage, None);
        // A launch inside the covered part, later than anything uncovered
        // before it, still decides.
        let f = two_partners(
            window(Some((at(15), now() - Duration::hours(1)))),
            vec![launch(1, 20)],
        );
        assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
    }

    #[test]
    fn an_audit_log_ending_early_leaves_later_activity_unknown() {
        let f = two_partners(
            window(Some((now() - Duration::days(30), at(21)))),
            vec![launch(1, 20)],
        );
        assert_eq!(f.verdict, Verdict::Unknown, "{:?}", f.reasons);
        // A log covering none of the window is no evidence either.
        let f = two_partners(window(None), vec![]);
        assert_eq!(f.verdict, Verdict::Unknown, "{:?}", f.reasons);
    }

    #[test]
    fn same_instant_launches_of_two_partners_are_undecided() {
        let f = two_partners(whole(), vec![launch(1, 20), launch(2, 20)]);
        assert_eq!(f.verdict, Verdict::Unknown);
        assert!(
            f.reasons.iter().any(|r| r.contains("same time")),
            "{:?}",
            f.reasons
        );
    }

    #[test]
    fn an_unresolvable_user_who_could_be_an_attributed_one_makes_it_unknown() {
        let ghost = Activity {
            principal: PrincipalId::upn_placeholder("ghost@fabrikam.example"),
            ..launch(1, 25)
        };
        // Every attributed user's UPN is known: the ghost is none of them,
        // but is still a user of the app.
        let f = two_partners(whole(), vec![launch(1, 20), ghost.clone()]);
        assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
        assert_eq!(f.usage.unwrap().active_users, 2);
        // The other partner's co-owner has no known UPN: the ghost could be
        // them, launching after ours.
        let mut world = World::new().link(1, OURS).link(2, OTHER).resource(app(
            1,
            vec![role(2, Role::CoOwner)],
            vec![stamp(2, StampKind::Published, 10)],
        ));
        world.inv.principals.get_mut(&id(2)).unwrap().upn = None;
        world.inv.activity_windows.push(whole());
        world.inv.activity.extend([launch(1, 20), ghost]);
        let f = world.one();
        assert_eq!(f.verdict, Verdict::Unknown, "{:?}", f.reasons);
        assert!(
            f.reasons.iter().any(
                |r| r.contains("ghost@fabrikam.example") && r.contains("could not be resolved")
            ),
            "{:?}",
            f.reasons
        );
    }

    #[test]
    fn one_partner_needs_no_activity_and_usage_without_a_log_is_unknown() {
        let mut world = World::new().link(1, OURS).resource(app(1, vec![], vec![]));
        let f = world.one();
        assert_eq!(f.verdict, Verdict::Credited);
        assert_eq!(f.usage, None, "no audit log: usage unknown, not zero");
        world
            .inv
            .activity_windows
            .push(window(Some((at(15), now()))));
        let f = world.one();
        assert_eq!(
            f.verdict,
            Verdict::Credited,
            "a gap changes no single-partner verdict"
        );
        world.inv.activity_windows[0] = whole();
        assert_eq!(world.one().usage.unwrap().active_users, 0);
    }
}

/// Platform-made components (contract: "Platform-made components"): left
/// out and counted, never on a guess; each tenant below would fool a
/// looser reading.
mod first_party {
    use super::*;
    use crate::attribution::{Attribution, FirstPartyOptions};
    use crate::inventory::{Unread, UnreadFact};
    use crate::report::{FailOn, Summary};

    fn publisher(unique: &str, friendly: &str) -> Fact<Publisher> {
        Fact::Known(Publisher {
            unique_name: unique.into(),
            friendly_name: Some(friendly.into()),
        })
    }

    /// A managed solution of publisher `unique`, imported once by user 9.
    fn published(name: &str, unique: &str, friendly: &str) -> Solution {
        Solution {
            publisher: publisher(unique, friendly),
            ..solution(name, true, vec![(Some(9), 2)])
        }
    }

    fn microsoft(name: &str) -> Solution {
        published(name, "MicrosoftCorporation", "MicrosoftCorporation")
    }

    /// A model-driven app created by user 1 (unlinked), in `solutions`
    /// (the first is the one `solution` holds).
    fn app_in(solutions: &[&str]) -> Resource {
        let mut r = model_driven(1);
        r.solution = solutions.first().map(|s| s.to_string());
        r.other_solutions = solutions.iter().skip(1).map(|s| s.to_string()).collect();
        r
    }

    /// A flow created by SYSTEM (its creator unknown as a principal).
    fn system_flow(solution: Option<&str>) -> Resource {
        Resource {
            solution: solution.map(str::to_string),
            platform_creator: Some("SYSTEM".into()),
            ..flow(None, vec![])
        }
    }

    fn run(w: &World, first_party: FirstPartyOptions) -> Attribution {
        let options = Options {
            first_party,
            ..opts()
        };
        attribute(&w.inv, &w.links, &options)
    }

    /// Left out (and counted once), by default.
    fn left_out(w: &World) -> bool {
        let a = run(w, FirstPartyOptions::default());
        let gone = a.findings.is_empty();
        assert_eq!(
            a.first_party.components,
            u64::from(gone),
            "counted iff left out"
        );
        gone
    }

    #[test]
    fn a_component_of_a_microsoft_published_managed_solution_is_left_out_and_counted() {
        let mut w = World::new().resource(app_in(&["msdynce_Sales"]));
        w.inv.solutions.push(microsoft("msdynce_Sales"));
        assert!(left_out(&w));
        let a = run(&w, FirstPartyOptions::default());
        assert_eq!(
            a.first_party
                .by_product
                .get(&crate::inventory::Product::PowerApps),
            Some(&1)
        );
        assert!(!a.first_party.included);
        // The publisher's unique name is compared in any case.
        w.inv.solutions[0].publisher = publisher("microsoftcorporation", "x");
        assert!(left_out(&w));
    }

    #[test]
    fn a_partner_publisher_whose_friendly_name_says_microsoft_is_not_microsoft() {
        let mut w = World::new().resource(app_in(&["ContosoHR"]));
        w.inv.solutions.push(published(
            "ContosoHR",
            "fabrikampartner",
            "MicrosoftCorporation",
        ));
        assert!(!left_out(&w));
    }

    #[test]
    fn an_unread_publisher_is_not_microsoft() {
        let mut w = World::new().resource(app_in(&["Sol"]));
        w.inv.solutions.push(Solution {
            publisher: Fact::Unknown("the solutions answer gave no publisher".into()),
            ..microsoft("Sol")
        });
        assert!(!left_out(&w));
        // A solution the resource names that the inventory lacks: the same.
        let w = World::new().resource(app_in(&["Missing"]));
        assert!(!left_out(&w));
    }

    #[test]
    fn a_microsoft_component_also_in_a_partner_s_managed_solution_stays_a_finding() {
        // Layering: the component sits in Microsoft's solution and in a
        // partner's managed one; whichever `solution` names first.
        for order in [
            ["msdynce_Sales", "PartnerSales"],
            ["PartnerSales", "msdynce_Sales"],
        ] {
            let mut w = World::new().link(9, OURS).resource(app_in(&order));
            w.inv.solutions.push(microsoft("msdynce_Sales"));
            w.inv
                .solutions
                .push(published("PartnerSales", "fabrikampartner", "Fabrikam"));
            assert!(!left_out(&w), "{order:?}");
        }
        // A customer's unmanaged customisation of it changes nothing.
        let mut w = World::new().resource(app_in(&["msdynce_Sales", "Customisations"]));
        w.inv.solutions.push(microsoft("msdynce_Sales"));
        w.inv.solutions.push(Solution {
            publisher: publisher("contoso", "Contoso"),
            ..solution("Customisations", false, vec![])
        });
        assert!(left_out(&w));
    }

    /// A partner's managed solution layered on Microsoft's: Microsoft's
    /// import (by the platform, its importer unreadable) says nothing of
    /// partners, so the partner's importer decides, in either order.
    #[test]
    fn microsoft_s_layer_under_a_partner_s_solution_leaves_the_partner_s_reading() {
        for order in [
            ["msdynce_Sales", "PartnerSales"],
            ["PartnerSales", "msdynce_Sales"],
        ] {
            let mut w = World::new().link(9, OURS).resource(app_in(&order));
            w.inv.solutions.push(Solution {
                publisher: publisher("MicrosoftCorporation", "MicrosoftCorporation"),
                ..solution("msdynce_Sales", true, vec![(None, 1)])
            });
            w.inv
                .solutions
                .push(published("PartnerSales", "fabrikampartner", "Fabrikam"));
            let f = w.one();
            assert_eq!(f.verdict, Verdict::Credited, "{order:?}: {:?}", f.reasons);
        }
    }

    #[test]
    fn an_unmanaged_solution_under_microsoft_s_publisher_is_no_evidence() {
        // Any maker can pick an installed publisher for a new solution.
        let mut w = World::new().resource(app_in(&["MySolution"]));
        w.inv.solutions.push(Solution {
            publisher: publisher("MicrosoftCorporation", "MicrosoftCorporation"),
            ..solution("MySolution", false, vec![])
        });
        assert!(!left_out(&w));
    }

    #[test]
    fn system_created_alone_never_drops_a_component_in_a_partner_s_solution() {
        // Dataverse shows SYSTEM as the creator of imported flows.
        let mut w = World::new().resource(system_flow(Some("PartnerFlows")));
        w.inv
            .solutions
            .push(published("PartnerFlows", "fabrikampartner", "Fabrikam"));
        assert!(!left_out(&w));
        // An unmanaged import too: it could be a partner's.
        w.inv.solutions[0].managed = false;
        assert!(!left_out(&w));
        // Its publisher unread: the same.
        w.inv.solutions[0].managed = true;
        w.inv.solutions[0].publisher = Fact::Unknown("not read".into());
        assert!(!left_out(&w));
    }

    #[test]
    fn system_created_outside_any_solution_is_left_out() {
        let w = World::new().resource(system_flow(None));
        assert!(left_out(&w));
        // Created by a person: a finding.
        let w = World::new().resource(flow(Some(1), vec![]));
        assert!(!left_out(&w));
    }

    #[test]
    fn an_unread_solution_membership_keeps_it_a_finding() {
        let unread = |solution: Option<&str>| Unread {
            fact: UnreadFact::SolutionMembership {
                solution: solution.map(str::to_string),
            },
            environment: Some(EnvironmentId::new("env")),
            resource: None,
            why: "403".into(),
        };
        // A failed solutions read: it could be in a partner's solution.
        let mut w = World::new().resource(system_flow(None));
        w.inv.unread.push(unread(None));
        assert!(!left_out(&w));
        // Microsoft's, but a partner's solution's components were not read.
        let mut w = World::new().resource(app_in(&["msdynce_Sales"]));
        w.inv.solutions.push(microsoft("msdynce_Sales"));
        w.inv
            .solutions
            .push(published("PartnerSales", "fabrikampartner", "Fabrikam"));
        w.inv.unread.push(unread(Some("PartnerSales")));
        assert!(!left_out(&w));
        // Only a Microsoft solution's components unread: still Microsoft's.
        w.inv.unread[0] = unread(Some("msdynce_Other"));
        w.inv.solutions.push(microsoft("msdynce_Other"));
        assert!(left_out(&w));
    }

    #[test]
    fn another_microsoft_publisher_counts_only_when_given() {
        let mut w = World::new().resource(app_in(&["D365Sol"]));
        w.inv
            .solutions
            .push(published("D365Sol", "dynamics365", "Dynamics 365"));
        assert!(!left_out(&w));
        let mut options = FirstPartyOptions::default();
        options.microsoft_publishers.push("Dynamics365".into());
        assert!(run(&w, options).findings.is_empty());
    }

    #[test]
    fn datasets_and_instances_are_never_platform_made() {
        let mut d = dataset(Some(1));
        d.platform_creator = Some("SYSTEM".into());
        let w = World::new().resource(d);
        assert!(!left_out(&w));
    }

    #[test]
    fn include_first_party_shows_them_flagged_never_in_the_summary_nor_the_gate() {
        let mut w = World::new()
            .resource(app_in(&["msdynce_Sales"]))
            .resource(flow(Some(2), vec![]));
        w.inv.solutions.push(microsoft("msdynce_Sales"));
        let a = run(
            &w,
            FirstPartyOptions {
                include: true,
                ..FirstPartyOptions::default()
            },
        );
        assert_eq!(a.findings.len(), 2);
        assert!(a.first_party.included);
        assert_eq!(a.first_party.components, 1);
        let fp: Vec<&Finding> = a
            .findings
            .iter()
            .filter(|f| f.flags.contains(&Flag::FirstParty))
            .collect();
        assert_eq!(fp.len(), 1);
        assert!(
            fp[0]
                .reasons
                .iter()
                .any(|r| r.contains("MicrosoftCorporation"))
        );
        // Nobody delivered it: the fix says so, whatever the verdict.
        assert_ne!(fp[0].verdict, Verdict::Credited);
        assert!(
            fp[0]
                .fix
                .as_ref()
                .is_some_and(|x| x.to_string().contains(crate::attribution::NOT_DELIVERED))
        );
        let s = Summary::of(&a.findings);
        assert_eq!(
            s.by_verdict.values().sum::<u64>(),
            1,
            "only the flow counts"
        );
        let any = FailOn::parse("any").unwrap();
        assert!(!any.matches(fp[0]));
        assert!(FailOn::parse("flag:first-party").unwrap().matches(fp[0]));
        // Not asked: only the flow.
        let a = run(&w, FirstPartyOptions::default());
        assert_eq!(a.findings.len(), 1);
        assert_eq!(a.findings[0].kind, ResourceKind::CloudFlow);
    }
}

/// Dataset usage (attribution-rules.md, "Usage"): distinct `ViewReport`
/// viewers, known only from the structured record that every day of the
/// window's Power BI activity was read, never from a coverage text.
mod dataset_usage {
    use super::*;
    use crate::inventory::{ActivitySource, ActivityWindow, Coverage, CoverageStatus};

    fn read_in_full() -> ActivityWindow {
        ActivityWindow {
            source: ActivitySource::PowerBiActivity,
            kinds: vec![ResourceKind::Dataset],
            from: now() - Duration::days(30),
            to: now(),
            covered: Some((now() - Duration::days(30), now())),
            files: Vec::new(),
        }
    }

    #[test]
    fn viewers_count_once_each_and_only_with_the_window_read() {
        let mut w = World::new().resource(dataset(Some(1)));
        w.inv.activity.extend([
            event("ds-1", 2, 20, "ViewReport"),
            event("ds-1", 2, 21, "viewreport"),
            event("ds-1", 3, 22, "ViewReport"),
            // A publish is no view; another dataset's views are not its.
            event("ds-1", 4, 22, "Import"),
            event("ds-2", 5, 22, "ViewReport"),
        ]);
        // Words saying events were read are no evidence: usage unknown.
        w.inv.coverage.push(Coverage {
            source: "power-bi".into(),
            environment_id: None,
            status: CoverageStatus::Complete,
            detail: "6 datasets; 5 activity events of the last 30 days".into(),
            requests: 1,
        });
        assert_eq!(w.one().usage, None);
        w.inv.activity_windows.push(read_in_full());
        let usage = w.one().usage.expect("every day read");
        assert_eq!(usage.active_users, 2);
        assert_eq!(usage.source, ActivitySource::PowerBiActivity);
        // Part of the window unread: not the window's usage.
        w.inv.activity_windows[0].covered = Some((now() - Duration::days(10), now()));
        assert_eq!(w.one().usage, None);
        // The audit log's window says nothing of Power BI.
        w.inv.activity_windows[0] = ActivityWindow {
            source: ActivitySource::AuditLog,
            ..read_in_full()
        };
        assert_eq!(w.one().usage, None);
    }

    #[test]
    fn a_dataset_nobody_viewed_in_a_read_window_has_zero_users() {
        let mut w = World::new().resource(dataset(Some(1)));
        w.inv.activity_windows.push(read_in_full());
        assert_eq!(w.one().usage.map(|u| u.active_users), Some(0));
    }
}

mod adversary {
    //! Tenants built to fool the rules into a verdict the evidence does not
    //! carry. A test marked `ignore` is a bug the rules forbid and the engine
    //! still commits: its reason names the section of
    //! docs/attribution-rules.md it breaks. The others guard corners no test
    //! above reaches.
    use super::*;
    use crate::inventory::{ActivitySource, ActivityWindow, Product, Unread, UnreadFact};

    /// A managed solution of the test environment whose imports are `imports`
    /// (importer, day), in the order given.
    fn managed(name: &str, imports: Vec<(Option<u8>, u32)>) -> Solution {
        solution(name, true, imports)
    }

    #[test]
    fn same_instant_imports_by_two_partners_do_not_hang_on_input_order() {
        // Importer 2 (ours) and importer 3 (another partner) imported the
        // solution at the same time: no import is the newest.
        let verdicts: Vec<Verdict> = [
            vec![(Some(2), 9), (Some(3), 9)],
            vec![(Some(3), 9), (Some(2), 9)],
        ]
        .into_iter()
        .map(|imports| {
            let mut w = World::new()
                .link(2, OURS)
                .link(3, OTHER)
                .resource(with_solution(model_driven(1), "Sol"));
            w.inv.solutions.push(managed("Sol", imports));
            w.one().verdict
        })
        .collect();
        assert_eq!(verdicts[0], verdicts[1], "the verdict hangs on input order");
        assert_eq!(verdicts[0], Verdict::Unknown);
    }

    #[test]
    fn a_upn_naming_two_principals_credits_neither() {
        let mut w = World::new().link(1, OURS);
        w.links[0].principal = PrincipalRef::Upn("pal@contoso.com".into());
        // Two objects answer to the UPN (a user and a guest, say).
        for n in [1, 2] {
            w.inv.principals.get_mut(&id(n)).unwrap().upn = Some("PAL@contoso.com".into());
        }
        for owner in [1, 2] {
            let mut w = World {
                inv: w.inv.clone(),
                links: w.links.clone(),
            };
            w.inv.resources.push(app(owner, vec![], vec![]));
            let f = w.one();
            assert_ne!(
                f.verdict,
                Verdict::Credited,
                "owner {owner}: credit rests on a guess between two objects: {:?}",
                f.reasons
            );
            assert_eq!(f.verdict, Verdict::Unknown, "owner {owner}");
        }
    }

    /// Graph could not resolve the link naming this UPN.
    fn unresolved(upn: &str) -> Unread {
        Unread {
            fact: UnreadFact::LinkPrincipal {
                reference: upn.into(),
                upn: true,
            },
            environment: None,
            resource: None,
            why: "HTTP 503".into(),
        }
    }

    #[test]
    fn an_unresolved_link_could_be_an_instance_role_holder_s() {
        // Role holder 20 is known only by id; Graph failed on our link's UPN.
        let mut w = World::new().link(1, OURS).resource(instance(&[20], vec![]));
        w.links[0].principal = PrincipalRef::Upn("consultant@partner.com".into());
        w.inv.unread.push(activity_unread());
        assert_eq!(w.one().verdict, Verdict::Uncredited, "before the failure");
        w.inv.unread.push(unresolved("consultant@partner.com"));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Unknown, "{:?}", f.reasons);
        assert!(f.flags.contains(&Flag::LinkUnresolved), "{:?}", f.flags);
    }

    #[test]
    fn a_co_owner_without_the_app_s_owner_is_not_credited() {
        // Our co-owner is listed; the owner, who could be another partner's
        // with later activity, is not.
        let mut r = app(1, vec![role(2, Role::CoOwner)], vec![]);
        r.roles = Fact::Known(vec![role(2, Role::CoOwner)]);
        let f = World::new().link(2, OURS).resource(r).one();
        assert_eq!(f.verdict, Verdict::Unknown, "{:?}", f.reasons);
    }

    /// Power BI's activity, read for part of the window only.
    fn power_bi_window(covered: Option<(DateTime<Utc>, DateTime<Utc>)>) -> ActivityWindow {
        ActivityWindow {
            source: ActivitySource::PowerBiActivity,
            kinds: vec![ResourceKind::Dataset],
            from: now() - Duration::days(30),
            to: now(),
            covered,
            files: Vec::new(),
        }
    }

    #[test]
    fn a_power_bi_gap_named_for_another_dataset_leaves_this_one_decided() {
        let mut w = World::new().link(1, OURS).resource(dataset(Some(1)));
        w.inv
            .activity_windows
            .push(power_bi_window(Some((now() - Duration::days(30), now()))));
        w.inv.unread.push(Unread {
            fact: UnreadFact::Activity {
                product: Product::PowerBi,
            },
            environment: None,
            resource: Some(ResourceId::new("ds-2")),
            why: "the Import event of x@contoso.com could not be tied to an Entra object".into(),
        });
        assert_eq!(w.one().verdict, Verdict::Credited);
        // Named for this dataset, it could hide another publisher.
        w.inv.unread[0].resource = Some(ResourceId::new("DS-1"));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Unknown);
        assert!(f.flags.contains(&Flag::ActivityUnknown));
    }

    #[test]
    fn a_component_of_a_solution_the_inventory_lacks_is_not_credited_by_its_creator() {
        let w = World::new()
            .link(1, OURS)
            .resource(with_solution(model_driven(1), "Hidden"));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Unknown, "{:?}", f.reasons);
    }

    #[test]
    fn a_component_in_two_managed_solutions_imported_by_two_partners_is_not_credited() {
        // Ours imported Base on day 5; another partner layered Ext on it on day 9.
        let mut r = with_solution(model_driven(1), "Base");
        r.other_solutions = vec!["Ext".into()];
        let mut w = World::new().link(2, OURS).link(3, OTHER).resource(r);
        w.inv.solutions.push(managed("Base", vec![(Some(2), 5)]));
        w.inv.solutions.push(managed("Ext", vec![(Some(3), 9)]));
        let f = w.one();
        assert_ne!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
    }

    #[test]
    fn an_unresolved_link_that_could_be_a_group_member_s_keeps_the_app_unknown() {
        let mut w = World::new()
            .link(1, OURS)
            .resource(app(3, vec![group_role(5)], vec![]));
        w.links[0].principal = PrincipalRef::Upn("consultant@partner.com".into());
        w.inv.group_members.insert(id(5), Fact::Known(vec![id(20)]));
        assert_eq!(w.one().verdict, Verdict::Uncredited, "before the failure");
        w.inv.unread.push(unresolved("consultant@partner.com"));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Unknown, "{:?}", f.reasons);
    }

    /// A co-owner group's member that is itself a group (nested) holds no
    /// link: an unresolved link cannot be its, and the app stays uncredited.
    #[test]
    fn an_unresolved_link_is_never_a_nested_group_s() {
        let mut w = World::new()
            .link(1, OURS)
            .resource(app(3, vec![group_role(5)], vec![]));
        w.links[0].principal = PrincipalRef::Upn("consultant@partner.com".into());
        w.inv.group_members.insert(id(5), Fact::Known(vec![id(20)]));
        w.inv.add_principal(crate::inventory::Principal {
            id: id(20),
            principal_type: PrincipalType::Group,
            display_name: Some("Nested".into()),
            upn: None,
            app_id: None,
            enabled: None,
            deleted: false,
        });
        w.inv.unread.push(unresolved("consultant@partner.com"));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Uncredited, "{:?}", f.reasons);
    }

    /// With `--as-of` in the past, a stamp after the audit's time (the other
    /// partner's publish, two days later) decides nothing: ours, before it,
    /// is the latest.
    #[test]
    fn a_stamp_after_the_audit_s_time_decides_nothing() {
        let mut later = stamp(2, StampKind::Published, 1);
        later.at = now() + Duration::days(2);
        let f = World::new()
            .link(1, OURS)
            .link(2, OTHER)
            .resource(app(
                1,
                vec![role(2, Role::CoOwner)],
                vec![stamp(1, StampKind::Modified, 10), later],
            ))
            .one();
        assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
        assert_eq!(f.decided_by, Some(DecidedBy::ResourceStamps));
    }

    #[test]
    fn a_stale_attestation_naming_us_loses_to_a_newer_declared_row_naming_another() {
        // Attested for us 200 days ago; a row dated day 20 names another
        // partner: the newest evidence wins, whatever its kind.
        for reversed in [false, true] {
            let mut w = World::new()
                .link(1, OURS)
                .last_link(|l| l.attested_at = Some(now() - Duration::days(200)))
                .link(1, OTHER)
                .last_link(|l| {
                    l.source = LinkSource::Declared;
                    l.attested_at = None;
                    l.linked_at = Some(at(20));
                    l.origin = "links.csv:2".into();
                })
                .resource(app(1, vec![], vec![]));
            if reversed {
                w.links.reverse();
            }
            let f = w.one();
            assert_eq!(f.verdict, Verdict::CreditedToOther, "{:?}", f.reasons);
            assert_eq!(partner(&f), Some(OTHER));
            assert!(f.flags.contains(&Flag::ConflictingLinks));
            assert!(!f.flags.contains(&Flag::StaleAttestation), "not our credit");
        }
    }

    #[test]
    fn a_partly_expanded_group_keeps_an_unlinked_owner_s_app_unknown() {
        // Group 5 was expanded (nobody linked), group 6 could not be.
        let mut w =
            World::new()
                .link(1, OURS)
                .resource(app(3, vec![group_role(5), group_role(6)], vec![]));
        w.inv.group_members.insert(id(5), Fact::Known(vec![id(4)]));
        w.inv
            .group_members
            .insert(id(6), Fact::Unknown("403 on transitiveMembers".into()));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Unknown, "{:?}", f.reasons);
        assert!(
            f.reasons
                .iter()
                .any(|r| r.contains("could not be expanded"))
        );
        // Once expanded without a linked member: uncredited.
        w.inv.group_members.insert(id(6), Fact::Known(vec![id(7)]));
        assert_eq!(w.one().verdict, Verdict::Uncredited);
    }

    #[test]
    fn a_newest_import_by_an_unlinked_account_does_not_hide_an_undecided_older_importer() {
        // Newest import: unlinked 3; before it, importer 2 whose evidence
        // disagrees at one time: the walk stops there, undecided.
        let mut w = World::new()
            .link(2, OURS)
            .link(2, OTHER)
            .resource(with_solution(model_driven(1), "Sol"));
        w.inv
            .solutions
            .push(managed("Sol", vec![(Some(2), 3), (Some(3), 9)]));
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Unknown, "{:?}", f.reasons);
        assert!(f.flags.contains(&Flag::ConflictingLinks));
        assert!(f.flags.contains(&Flag::ImportedByUnlinkedAccount));
    }

    #[test]
    fn activity_after_the_audit_s_time_decides_nothing() {
        let later = Activity {
            at: now() + Duration::days(2),
            ..event("inst-1", 1, 1, "Query")
        };
        // Another partner's user was active on day 10; ours only after the
        // moment audited.
        let mut w = World::new()
            .link(1, OURS)
            .link(2, OTHER)
            .resource(instance(&[1, 2], vec![]));
        w.inv.activity = vec![event("inst-1", 2, 10, "Query"), later.clone()];
        let f = w.one();
        assert_eq!(f.verdict, Verdict::CreditedToOther, "{:?}", f.reasons);
        // The same for a dataset: a take-over after the audit's time is no
        // publish in its window.
        let mut w = World::new()
            .link(1, OURS)
            .link(2, OTHER)
            .resource(dataset(Some(1)));
        w.inv.activity = vec![
            event("ds-1", 1, 10, "Import"),
            Activity {
                resource: ResourceId::new("ds-1"),
                principal: id(2),
                action: "TakeOverDataset".into(),
                ..later
            },
        ];
        let f = w.one();
        assert_eq!(f.verdict, Verdict::Credited, "{:?}", f.reasons);
    }
}
