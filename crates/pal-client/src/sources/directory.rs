//! The directory's side of collection: co-owner groups' members, UPNs and
//! application ids no source resolved, and account status, read from Graph.
//! Groups and account status start while the platform is still read: each
//! environment's resources are fed here as soon as they are merged.

use std::collections::{BTreeSet, HashSet, VecDeque};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;

use super::graph::{self, Lookup};
use super::plural;
use crate::http::{HttpClient, HttpError};
use pal_core::inventory::{
    Coverage, CoverageStatus, Fact, Inventory, Principal, PrincipalId, PrincipalType, Resource,
    Role, Unread, UnreadFact,
};
use pal_core::links::{Link, LinkKind, PrincipalRef};

/// Ids per status lookup sent early: a full `$batch`, so reading early
/// sends no more batches than reading everything at the end.
const BATCH: usize = 20;

/// Hands merged resources to `read_early`; dropping it says the platform
/// read is over.
pub struct Feed(mpsc::UnboundedSender<Vec<Need>>);

/// What `read_early` is fed.
pub struct Needs(mpsc::UnboundedReceiver<Vec<Need>>);

pub enum Need {
    Group(PrincipalId),
    Status(PrincipalId),
}

pub fn feed() -> (Feed, Needs) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Feed(tx), Needs(rx))
}

impl Feed {
    /// Sends the groups and the principals whose account status `resources`
    /// (just merged into `inv`) need.
    pub fn merged(&self, resources: &[Resource], inv: &Inventory) {
        let needs: Vec<Need> = resources
            .iter()
            .flat_map(|r| {
                let groups = groups_of(r).cloned().map(Need::Group);
                let status = status_candidates(r)
                    .filter(|id| status_unknown(inv, id))
                    .cloned()
                    .map(Need::Status);
                groups.chain(status)
            })
            .collect();
        if !needs.is_empty() {
            // The reader outlives the platform read; a send fails only if
            // it was cancelled, and then the audit is being cancelled too.
            let _ = self.0.send(needs);
        }
    }
}

/// The co-owner groups among a resource's roles.
fn groups_of(r: &Resource) -> impl Iterator<Item = &PrincipalId> {
    r.roles
        .known()
        .into_iter()
        .flatten()
        .filter(|a| a.principal_type == PrincipalType::Group)
        .map(|a| &a.principal)
}

/// Who can be a resource's attributed user: its creator and every role
/// holder but viewers, groups and the tenant (placeholders are resolved
/// first, and looked up as the object they resolve to).
fn status_candidates(r: &Resource) -> impl Iterator<Item = &PrincipalId> {
    let roles = r
        .roles
        .known()
        .into_iter()
        .flatten()
        .filter(|a| !matches!(a.role, Role::Viewer))
        .filter(|a| {
            !matches!(
                a.principal_type,
                PrincipalType::Group | PrincipalType::Tenant
            )
        })
        .map(|a| &a.principal);
    r.creator
        .known()
        .into_iter()
        .chain(roles)
        .filter(|id| id.placeholder_upn().is_none())
}

fn status_unknown(inv: &Inventory, id: &PrincipalId) -> bool {
    inv.principals
        .get(id)
        .is_none_or(|p| p.enabled.is_none() && !p.deleted)
}

/// One principal's account status as Graph answered it.
enum Status {
    Found(Principal),
    /// Neither a user nor a service principal.
    Deleted,
    Failed,
}

/// What `read_early` read while the platform was read.
#[derive(Default)]
pub struct Early {
    groups: Vec<(PrincipalId, Result<Vec<Principal>, HttpError>)>,
    /// Ids whose user lookup went out.
    sent: HashSet<PrincipalId>,
    status: Vec<(PrincipalId, Status)>,
    /// Not users: their service principal lookup is still to be made.
    not_users: Vec<PrincipalId>,
}

enum Job {
    Group(PrincipalId),
    Users(Vec<PrincipalId>),
    ServicePrincipals(Vec<PrincipalId>),
}

enum Done {
    Group(PrincipalId, Result<Vec<Principal>, HttpError>),
    Users(Vec<PrincipalId>, Vec<Lookup<Principal>>),
    ServicePrincipals(Vec<PrincipalId>, Vec<Lookup<Principal>>),
}

fn keys(ids: &[PrincipalId]) -> Vec<String> {
    ids.iter().map(|i| i.to_string()).collect()
}

async fn run(http: &HttpClient, job: Job) -> Done {
    match job {
        Job::Group(g) => {
            let members = graph::transitive_members(http, &g).await;
            Done::Group(g, members)
        }
        Job::Users(ids) => {
            let answers = graph::users(http, &keys(&ids)).await;
            Done::Users(ids, answers)
        }
        Job::ServicePrincipals(ids) => {
            let answers = graph::service_principals(http, &keys(&ids)).await;
            Done::ServicePrincipals(ids, answers)
        }
    }
}

/// Expands each group and looks up account status in full batches as the
/// merged environments name them, `graph::BATCHES_IN_FLIGHT` requests at
/// once, until the feed is dropped and what went out has come back. Ids
/// short of a full batch are left to `read_graph`, which sees them again.
pub async fn read_early(http: &HttpClient, needs: Needs) -> Early {
    let Needs(mut rx) = needs;
    let mut early = Early::default();
    let (mut groups_seen, mut ids_seen) = (HashSet::new(), HashSet::new());
    let mut users: Vec<PrincipalId> = Vec::new();
    let mut ready: VecDeque<Job> = VecDeque::new();
    let mut running = FuturesUnordered::new();
    let mut open = true;
    loop {
        while running.len() < graph::BATCHES_IN_FLIGHT {
            let Some(job) = ready.pop_front() else { break };
            running.push(run(http, job));
        }
        if !open && running.is_empty() {
            break;
        }
        tokio::select! {
            needs = rx.recv(), if open => match needs {
                None => open = false,
                Some(needs) => {
                    for need in needs {
                        match need {
                            Need::Group(g) if groups_seen.insert(g.clone()) => {
                                ready.push_back(Job::Group(g));
                            }
                            Need::Status(id) if ids_seen.insert(id.clone()) => users.push(id),
                            _ => {}
                        }
                    }
                    while users.len() >= BATCH {
                        let chunk: Vec<PrincipalId> = users.drain(..BATCH).collect();
                        early.sent.extend(chunk.iter().cloned());
                        ready.push_back(Job::Users(chunk));
                    }
                }
            },
            Some(done) = running.next(), if !running.is_empty() => match done {
                Done::Group(g, members) => early.groups.push((g, members)),
                Done::Users(ids, answers) => {
                    users_answered(ids, answers, &mut early.status, &mut early.not_users);
                    while early.not_users.len() >= BATCH {
                        let chunk = early.not_users.drain(..BATCH).collect();
                        ready.push_back(Job::ServicePrincipals(chunk));
                    }
                }
                Done::ServicePrincipals(ids, answers) => {
                    service_principals_answered(ids, answers, &mut early.status);
                }
            },
        }
    }
    early
}

/// Users found, or whose lookup failed, have a status; those not found are
/// looked up next as service principals.
fn users_answered(
    ids: Vec<PrincipalId>,
    answers: Vec<Lookup<Principal>>,
    status: &mut Vec<(PrincipalId, Status)>,
    not_users: &mut Vec<PrincipalId>,
) {
    for (id, answer) in ids.into_iter().zip(answers) {
        match answer {
            Lookup::Found(p) => status.push((id, Status::Found(p))),
            Lookup::NotFound => not_users.push(id),
            Lookup::Failed(_) => status.push((id, Status::Failed)),
        }
    }
}

/// Not a user and not a service principal either: deleted.
fn service_principals_answered(
    ids: Vec<PrincipalId>,
    answers: Vec<Lookup<Principal>>,
    status: &mut Vec<(PrincipalId, Status)>,
) {
    for (id, answer) in ids.into_iter().zip(answers) {
        let s = match answer {
            Lookup::Found(p) => Status::Found(p),
            Lookup::NotFound => Status::Deleted,
            Lookup::Failed(_) => Status::Failed,
        };
        status.push((id, s));
    }
}

/// Adds account statuses to the inventory in id order (whatever order they
/// were answered in); returns how many could not be read.
fn add_status(inv: &mut Inventory, mut status: Vec<(PrincipalId, Status)>) -> usize {
    status.sort_by(|a, b| a.0.cmp(&b.0));
    let mut failed = 0;
    for (id, s) in status {
        match s {
            Status::Found(p) => inv.add_principal(p),
            Status::Deleted => {
                let mut p = Principal::new(id, PrincipalType::Unknown);
                p.deleted = true;
                inv.add_principal(p);
            }
            Status::Failed => failed += 1,
        }
    }
    failed
}

/// Graph after the other sources: adds what `early` read, expands the groups
/// it did not, resolves links and UPN placeholders the inventory cannot
/// resolve by itself (a UPN no resource names, a service principal's app
/// id), then reads whether each attributed principal still exists and is
/// enabled.
pub async fn read_graph(
    http: &HttpClient,
    inv: &mut Inventory,
    links: &[Link],
    extra_upns: &BTreeSet<String>,
    early: Early,
) {
    let Early {
        groups: early_groups,
        sent,
        status: early_status,
        not_users,
    } = early;
    let mut errors = Vec::new();
    let mut not_found = Vec::new();
    let groups: BTreeSet<PrincipalId> = inv.resources.iter().flat_map(groups_of).cloned().collect();
    let expanded_early: HashSet<PrincipalId> =
        early_groups.iter().map(|(g, _)| g.clone()).collect();
    let late: Vec<&PrincipalId> = groups
        .iter()
        .filter(|g| !expanded_early.contains(*g))
        .collect();
    let expanded_late: Vec<_> = futures::stream::iter(&late)
        .map(|group| graph::transitive_members(http, group))
        .buffered(graph::BATCHES_IN_FLIGHT)
        .collect()
        .await;
    let mut expansions: Vec<_> = early_groups
        .into_iter()
        .chain(late.into_iter().cloned().zip(expanded_late))
        .collect();
    // Merged in group order, whenever each was read.
    expansions.sort_by(|a, b| a.0.cmp(&b.0));
    let group_count = expansions.len();
    for (group, expansion) in expansions {
        match expansion {
            Ok(members) => {
                let ids = members.iter().map(|m| m.id.clone()).collect();
                members.into_iter().for_each(|m| inv.add_principal(m));
                inv.group_members.insert(group, Fact::Known(ids));
            }
            Err(e) => {
                errors.push(format!("members of group {group}: {e}"));
                inv.group_members
                    .insert(group, Fact::Unknown(e.to_string()));
            }
        }
    }
    // Before the UPNs: a user looked up by id already gave its UPN.
    let mut status_errors = add_status(inv, early_status);
    let mut upns: BTreeSet<String> = extra_upns
        .iter()
        .filter(|u| inv.principal_by_upn(u).is_none())
        .cloned()
        .collect();
    let mut app_ids = BTreeSet::new();
    for link in links.iter().filter(|l| l.active) {
        match &link.principal {
            PrincipalRef::Upn(u) if inv.principal_by_upn(u).is_none() => {
                upns.insert(u.clone());
            }
            PrincipalRef::Id(id)
                if link.kind == LinkKind::ServicePrincipal
                    && !inv.principals.contains_key(id)
                    && inv.principal_by_app_id(id.as_str()).is_none() =>
            {
                app_ids.insert(id.to_string());
            }
            _ => {}
        }
    }
    if group_count == 0 && upns.is_empty() && app_ids.is_empty() && inv.resources.is_empty() {
        super::resolve_placeholders(inv);
        return;
    }
    let upns: Vec<String> = upns.into_iter().collect();
    let app_ids: Vec<String> = app_ids.into_iter().collect();
    // Neither lookup depends on the other: they go out together.
    let (users, apps) = tokio::join!(
        graph::users(http, &upns),
        graph::service_principals_by_app_id(http, &app_ids)
    );
    // A lookup that failed leaves its link unresolved, never dropped: the
    // rules hold any verdict it could change as unknown (link-unresolved).
    let unresolved = |reference: &str, upn: bool, e: &dyn std::fmt::Display| Unread {
        fact: UnreadFact::LinkPrincipal {
            reference: reference.to_string(),
            upn,
        },
        environment: None,
        resource: None,
        why: format!("Graph could not look it up: {e}"),
    };
    for (upn, found) in upns.iter().zip(users) {
        match found {
            Lookup::Found(p) => inv.add_principal(p),
            Lookup::NotFound => not_found.push(upn.clone()),
            Lookup::Failed(e) => {
                errors.push(format!("user {upn}: {e}"));
                inv.unread.push(unresolved(upn, true, &e));
            }
        }
    }
    for (app_id, found) in app_ids.iter().zip(apps) {
        match found {
            Lookup::Found(p) => inv.add_principal(p),
            // Not an app id: the GUID is an object id that no resource names.
            Lookup::NotFound => {}
            Lookup::Failed(e) => {
                errors.push(format!("service principal {app_id}: {e}"));
                inv.unread.push(unresolved(app_id, false, &e));
            }
        }
    }
    super::resolve_placeholders(inv);
    status_errors += read_account_status(http, inv, &sent, not_users).await;
    let mut detail = format!(
        "{} expanded, {} and {} looked up",
        plural(group_count, "group"),
        plural(upns.len(), "UPN"),
        plural(app_ids.len(), "application id")
    );
    if !not_found.is_empty() {
        detail.push_str(&format!(
            "; not found in the tenant (links and publishers naming them resolve to nothing): {}",
            not_found.join(", ")
        ));
    }
    if status_errors > 0 {
        // Only `orphaned-owner` depends on it: a flag is missing, no verdict.
        detail.push_str(&format!(
            "; account status of {} could not be read (orphaned-owner not checked for them)",
            plural(status_errors, "principal")
        ));
    }
    // The row's status follows what was read: account status unread is
    // data unread, even though only a flag depends on it.
    let status = if errors.is_empty() && status_errors == 0 {
        CoverageStatus::Complete
    } else {
        if !errors.is_empty() {
            detail.push_str(&format!("; could not be read: {}", errors.join("; ")));
        }
        CoverageStatus::Partial
    };
    inv.coverage.push(Coverage {
        source: graph::SOURCE.into(),
        environment_id: None,
        status,
        detail,
        requests: http.requests(graph::SOURCE, None),
    });
}

/// Looks up every principal that can be an attributed user (owners,
/// co-owners, creators, role holders) whose account status is not known and
/// was not `sent` early: users first, then service principals (with the
/// early reader's `not_users`); in neither means deleted. Returns how many
/// could not be read.
async fn read_account_status(
    http: &HttpClient,
    inv: &mut Inventory,
    sent: &HashSet<PrincipalId>,
    mut not_users: Vec<PrincipalId>,
) -> usize {
    let ids: Vec<PrincipalId> = inv
        .resources
        .iter()
        .flat_map(status_candidates)
        .filter(|id| !sent.contains(*id) && status_unknown(inv, id))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut status = Vec::new();
    let answers = graph::users(http, &keys(&ids)).await;
    users_answered(ids, answers, &mut status, &mut not_users);
    let answers = graph::service_principals(http, &keys(&not_users)).await;
    service_principals_answered(not_users, answers, &mut status);
    add_status(inv, status)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::auth::{Credential, Secret, Tokens};
    use crate::http::{ApiBase, HttpConfig};
    use pal_core::inventory::{EnvironmentId, ResourceId, ResourceKind};
    use pal_emulator::{self as emulator, TenantModel};

    fn guid(i: usize) -> String {
        format!("00000000-0000-4000-8000-{i:012x}")
    }

    /// Users `0..users`, service principals up to `users + sps`; the ids
    /// after those are unknown to Graph. User 0 is disabled.
    fn tenant(users: usize, sps: usize) -> TenantModel {
        let principals: Vec<serde_json::Value> = (0..users + sps)
            .map(|i| {
                if i < users {
                    serde_json::json!({"id": guid(i), "kind": "user",
                        "upn": format!("u{i}@contoso.com"), "enabled": i != 0})
                } else {
                    serde_json::json!({"id": guid(i), "kind": "service-principal",
                        "app_id": guid(1000 + i)})
                }
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "tenant_id": "5e1f0000-0000-4000-8000-000000000001",
            "principals": principals,
        }))
        .unwrap()
    }

    fn flow(i: usize, creator: PrincipalId) -> Resource {
        Resource {
            id: ResourceId::new(format!("flow-{i}")),
            kind: ResourceKind::CloudFlow,
            name: "a flow".into(),
            environment: EnvironmentId::new("env"),
            environment_name: None,
            solution: None,
            creator: Fact::Known(creator),
            roles: Fact::Known(Vec::new()),
            stamps: Vec::new(),
            instance_type: None,
            other_solutions: Vec::new(),
            platform_creator: None,
        }
    }

    fn client(base: &str) -> HttpClient {
        let tokens = Arc::new(Tokens::new(Credential::Static(Secret::new("t"))));
        HttpClient::new(ApiBase::parse(base).unwrap(), tokens, HttpConfig::default()).unwrap()
    }

    /// Flows created by ids `0..n`, one each.
    fn inventory(n: usize) -> Inventory {
        let mut inv = Inventory::default();
        inv.add_resources((0..n).map(|i| flow(i, PrincipalId::new(guid(i)))));
        inv
    }

    #[tokio::test]
    async fn status_goes_out_in_full_batches_while_environments_merge_and_costs_no_extra_batch() {
        // 45 users, 5 service principals, 3 ids Graph does not know: three
        // batches of users and one of service principals however it is read.
        // User 3's lookup is refused: counted once, not asked again.
        let options = emulator::Options {
            faults: emulator::Faults::parse(&format!("403@users/{}*all", guid(3))).unwrap(),
            ..Default::default()
        };
        let server = emulator::start(tenant(45, 5), options, 0).await.unwrap();
        let mut inv = inventory(53);
        let http = client(&server.base_url());
        let (feed, needs) = feed();
        let feeding = async {
            feed.merged(&inv.resources[..45], &inv);
            // Two full batches go out before the platform read ends; the
            // five ids left wait for the next environment.
            let sent = async {
                while http.requests(graph::SOURCE, None) < 2 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(10), sent)
                .await
                .expect("two batches sent while the feed is open");
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(http.requests(graph::SOURCE, None), 2);
            feed.merged(&inv.resources[45..], &inv);
            drop(feed);
        };
        let ((), early) = tokio::join!(feeding, read_early(&http, needs));
        read_graph(&http, &mut inv, &[], &BTreeSet::new(), early).await;
        assert_eq!(http.requests(graph::SOURCE, None), 4);

        // All of it read at the end: the same requests, the same principals.
        let mut late = inventory(53);
        let http_late = client(&server.base_url());
        read_graph(
            &http_late,
            &mut late,
            &[],
            &BTreeSet::new(),
            Early::default(),
        )
        .await;
        assert_eq!(http_late.requests(graph::SOURCE, None), 4);
        assert_eq!(late.principals, inv.principals);
        for read in [&inv, &late] {
            let detail = &read.coverage.last().unwrap().detail;
            assert!(
                detail.contains("account status of 1 principal could not be read"),
                "{detail}"
            );
        }

        let p = |i: usize| &inv.principals[&PrincipalId::new(guid(i))];
        assert_eq!(p(0).enabled, Some(false));
        assert_eq!(p(44).enabled, Some(true));
        assert_eq!(p(47).principal_type, PrincipalType::ServicePrincipal);
        assert!(p(52).deleted && !p(47).deleted);
    }

    #[tokio::test]
    async fn a_placeholder_creator_is_looked_up_as_the_user_it_resolves_to() {
        let server = emulator::start(tenant(1, 0), emulator::Options::default(), 0)
            .await
            .unwrap();
        let http = client(&server.base_url());
        let mut inv = Inventory::default();
        // Known by UPN from another source, its account status unread.
        let mut known = Principal::new(PrincipalId::new(guid(0)), PrincipalType::User);
        known.upn = Some("u0@contoso.com".into());
        inv.add_principal(known);
        inv.add_resources([flow(0, PrincipalId::upn_placeholder("u0@contoso.com"))]);
        read_graph(&http, &mut inv, &[], &BTreeSet::new(), Early::default()).await;
        assert_eq!(
            inv.resources[0].creator,
            Fact::Known(PrincipalId::new(guid(0)))
        );
        assert_eq!(
            inv.principals[&PrincipalId::new(guid(0))].enabled,
            Some(false)
        );
        assert!(
            inv.principals
                .keys()
                .all(|id| id.placeholder_upn().is_none()),
            "no principal for the placeholder itself"
        );
        // One batch: the user by id; no service principal lookup.
        assert_eq!(http.requests(graph::SOURCE, None), 1);
    }
}
