//! Synthetic tenants of any size, deterministic for a seed, with every rule
//! branch in a realistic mix: `emulate --synthetic SPEC` and the benchmark.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::model::{
    ModelApp, ModelCiEvent, ModelDataset, ModelDrivenApp, ModelEnvironment, ModelFlow, ModelImport,
    ModelInstance, ModelInstanceRole, ModelKind, ModelPartnerLink, ModelPrincipal, ModelRole,
    ModelSolution, ModelWorkspace, TenantModel,
};

/// `envs=200,apps=50000,shared=0.2,flows=100000,workspaces=2000,datasets=20000,instances=50,seed=7`.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub envs: usize,
    pub apps: usize,
    /// Share of apps shared with someone (their permissions are read).
    pub shared: f64,
    pub flows: usize,
    pub workspaces: usize,
    pub datasets: usize,
    pub instances: usize,
    pub seed: u64,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            envs: 5,
            apps: 200,
            shared: 0.2,
            flows: 400,
            workspaces: 10,
            datasets: 100,
            instances: 2,
            seed: 7,
        }
    }
}

impl Spec {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut s = Spec::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("--synthetic {part:?}: expected KEY=VALUE"))?;
            let n = || {
                v.parse::<usize>()
                    .map_err(|_| format!("--synthetic {k}={v:?} is not a whole number"))
            };
            match k {
                "envs" => s.envs = n()?.max(1),
                "apps" => s.apps = n()?,
                "flows" => s.flows = n()?,
                "workspaces" => s.workspaces = n()?,
                "datasets" => s.datasets = n()?,
                "instances" => s.instances = n()?,
                "seed" => s.seed = n()? as u64,
                "shared" => {
                    s.shared = v
                        .parse::<f64>()
                        .ok()
                        .filter(|x| (0.0..=1.0).contains(x))
                        .ok_or_else(|| format!("--synthetic shared={v:?} is not between 0 and 1"))?
                }
                other => {
                    return Err(format!(
                        "--synthetic: unknown key {other:?} (envs, apps, shared, flows, workspaces, datasets, instances, seed)"
                    ));
                }
            }
        }
        if s.datasets > 0 && s.workspaces == 0 {
            s.workspaces = 1;
        }
        Ok(s)
    }
}

pub const TENANT: &str = "5e1f0000-0000-4000-8000-000000000001";
pub const OUR_PARTNER: &str = "4567890";
pub const OTHER_PARTNER: &str = "1234567";
/// The Log Analytics workspace the synthetic instances' diagnostics go to.
pub const WORKSPACE: &str = "0b0b0b0b-0000-4000-8000-00000000b001";

fn guid(prefix: u32, n: usize) -> String {
    format!("{prefix:08x}-0000-4000-8000-{n:012x}")
}

/// When the synthetic tenant's history begins.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// The date every synthetic tenant is audited as of.
pub fn as_of() -> DateTime<Utc> {
    start() + Duration::days(320)
}

/// Builds the tenant. Principals: our service account and consultants, another
/// partner's, and customer users (most unlinked); a few groups.
pub fn generate(spec: &Spec) -> TenantModel {
    let mut rng = fastrand::Rng::with_seed(spec.seed);
    let t0 = start();
    let at = |rng: &mut fastrand::Rng| t0 + Duration::minutes(rng.i64(0..300 * 24 * 60));
    let resources = spec.apps + spec.flows + spec.datasets + spec.instances;
    let customers = (resources / 25).clamp(20, 20_000);
    let mut principals = Vec::new();
    let user = |id: String, name: String, upn: String| ModelPrincipal {
        id,
        kind: ModelKind::User,
        name: Some(name),
        upn: Some(upn),
        app_id: None,
        enabled: true,
        members: Vec::new(),
    };
    let ours_svc = guid(0x1111_1111, 1);
    principals.push(user(
        ours_svc.clone(),
        "Our service account".into(),
        "svc-ours@synthetic.test".into(),
    ));
    let ours_people: Vec<String> = (0..5).map(|i| guid(0x1111_1111, 100 + i)).collect();
    for (i, id) in ours_people.iter().enumerate() {
        principals.push(user(
            id.clone(),
            format!("Our consultant {i}"),
            format!("ours{i}@synthetic.test"),
        ));
    }
    let other_people: Vec<String> = (0..5).map(|i| guid(0x2222_2222, 100 + i)).collect();
    for (i, id) in other_people.iter().enumerate() {
        principals.push(user(
            id.clone(),
            format!("Other consultant {i}"),
            format!("other{i}@synthetic.test"),
        ));
    }
    let customer_ids: Vec<String> = (0..customers).map(|i| guid(0x4444_4444, i)).collect();
    for (i, id) in customer_ids.iter().enumerate() {
        let mut p = user(
            id.clone(),
            format!("Customer user {i}"),
            format!("user{i}@synthetic.test"),
        );
        // Some leave the company.
        p.enabled = i % 97 != 0;
        principals.push(p);
    }
    let groups: Vec<String> = (0..10).map(|i| guid(0x6666_6666, i)).collect();
    for (i, id) in groups.iter().enumerate() {
        let mut members: Vec<String> = (0..5)
            .map(|_| customer_ids[rng.usize(0..customer_ids.len())].clone())
            .collect();
        if i % 3 == 0 {
            members.push(ours_svc.clone());
        }
        principals.push(ModelPrincipal {
            id: id.clone(),
            kind: ModelKind::Group,
            name: Some(format!("Group {i}")),
            upn: None,
            app_id: None,
            enabled: true,
            members,
        });
    }
    let mut partner_links = vec![ModelPartnerLink {
        principal: ours_svc.clone(),
        partner_id: OUR_PARTNER.into(),
        partner_name: Some("Us".into()),
        state: "Active".into(),
        created: Some(t0),
        updated: Some(t0),
    }];
    for id in &ours_people {
        partner_links.push(ModelPartnerLink {
            principal: id.clone(),
            partner_id: OUR_PARTNER.into(),
            partner_name: None,
            state: "Active".into(),
            created: Some(t0),
            updated: Some(t0),
        });
    }
    for id in &other_people {
        partner_links.push(ModelPartnerLink {
            principal: id.clone(),
            partner_id: OTHER_PARTNER.into(),
            partner_name: None,
            state: "Active".into(),
            created: Some(t0),
            updated: Some(t0),
        });
    }
    // Who makes things: ours 25%, the other partner 10%, customers the rest.
    let maker = |rng: &mut fastrand::Rng| -> String {
        match rng.u32(0..100) {
            0..=14 => ours_svc.clone(),
            15..=24 => ours_people[rng.usize(0..ours_people.len())].clone(),
            25..=34 => other_people[rng.usize(0..other_people.len())].clone(),
            _ => customer_ids[rng.usize(0..customer_ids.len())].clone(),
        }
    };
    let environments: Vec<ModelEnvironment> = (0..spec.envs)
        .map(|i| ModelEnvironment {
            name: if i == 0 {
                format!("Default-{TENANT}")
            } else {
                guid(0x0e0e_0e0e, i)
            },
            display_name: if i == 0 {
                "Default".into()
            } else {
                format!("Environment {i}")
            },
            sku: if i == 0 {
                "Default".into()
            } else {
                "Production".into()
            },
            default: i == 0,
            // Every fourth environment has Dataverse.
            dataverse_url: (i % 4 == 1).then(|| format!("https://org{i}.api.crm.dynamics.com")),
            dataverse_refuses: false,
            created: Some(t0),
        })
        .collect();
    let env_of =
        |rng: &mut fastrand::Rng| environments[rng.usize(0..environments.len())].name.clone();
    let mut apps = Vec::with_capacity(spec.apps);
    for i in 0..spec.apps {
        let owner = maker(&mut rng);
        let mut roles = Vec::new();
        let mut tenant_share = false;
        if rng.f64() < spec.shared {
            match rng.u32(0..10) {
                0..=3 => roles.push(ModelRole {
                    principal: maker(&mut rng),
                    role: "CanEdit".into(),
                }),
                4..=6 => roles.push(ModelRole {
                    principal: maker(&mut rng),
                    role: "CanView".into(),
                }),
                7 => roles.push(ModelRole {
                    principal: groups[rng.usize(0..groups.len())].clone(),
                    role: "CanEdit".into(),
                }),
                _ => tenant_share = true,
            }
        }
        let modified = at(&mut rng);
        apps.push(ModelApp {
            id: guid(0xa0a0_a0a0, i),
            environment: env_of(&mut rng),
            name: format!("App {i}"),
            owner: owner.clone(),
            created_by: None,
            created: t0,
            modified_by: Some(if roles.is_empty() {
                owner
            } else {
                maker(&mut rng)
            }),
            modified: Some(modified),
            published_by: None,
            published: None,
            roles,
            tenant_share,
            component_library: i % 101 == 0,
            // A custom page now and then, as real apps lists carry them.
            app_type: (i % 97 == 1).then(|| "CustomCanvasPage".into()),
            omit_share_counts: false,
            solution: None,
            note: None,
        });
    }
    let flows: Vec<ModelFlow> = (0..spec.flows)
        .map(|i| {
            let creator = maker(&mut rng);
            ModelFlow {
                id: guid(0xf0f0_f0f0, i),
                environment: env_of(&mut rng),
                name: format!("Flow {i}"),
                creator: (i % 211 != 0).then_some(creator),
                created: at(&mut rng),
                modified: None,
                state: "Started".into(),
                owners: if i % 7 == 0 {
                    vec![ours_svc.clone()]
                } else {
                    Vec::new()
                },
                editors: Vec::new(),
                solution: None,
                dataverse_only: false,
                category: 5,
                workflowid: None,
                note: None,
            }
        })
        .collect();
    // Dataverse environments get a managed solution and a few model-driven apps.
    let mut solutions = Vec::new();
    let mut model_driven_apps = Vec::new();
    for (i, env) in environments
        .iter()
        .enumerate()
        .filter(|(_, e)| e.dataverse_url.is_some())
    {
        let name = format!("Solution{i}");
        let importer = if i % 2 == 1 {
            ours_svc.clone()
        } else {
            customer_ids[0].clone()
        };
        solutions.push(ModelSolution {
            id: guid(0x5050_5050, i),
            environment: env.name.clone(),
            unique_name: name.clone(),
            managed: true,
            version: Some(toml::Value::String("1.0.0.0".into())),
            imports: vec![ModelImport {
                by: importer,
                at: t0 + Duration::days(10),
                success: true,
                job: true,
            }],
            publisher: None,
            publisher_name: None,
            note: None,
        });
        for j in 0..3 {
            model_driven_apps.push(ModelDrivenApp {
                id: guid(0xd0d0_d0d0, i * 10 + j),
                environment: env.name.clone(),
                name: format!("Model-driven app {i}.{j}"),
                unique_name: format!("mda_{i}_{j}"),
                created_by: maker(&mut rng),
                created: t0,
                solution: (j == 0).then(|| name.clone()),
                unpublished: false,
                note: None,
            });
        }
    }
    let workspaces: Vec<ModelWorkspace> = (0..spec.workspaces)
        .map(|i| ModelWorkspace {
            id: guid(0xb0b0_b0b0, i),
            name: format!("Workspace {i}"),
            modified: Some(at(&mut rng)),
        })
        .collect();
    let datasets = (0..spec.datasets)
        .map(|i| ModelDataset {
            id: guid(0xc0c0_c0c0, i),
            workspace: workspaces[i % workspaces.len().max(1)].id.clone(),
            name: format!("Dataset {i}"),
            configured_by: Some(maker(&mut rng)),
            configured_by_upn: None,
            created: at(&mut rng),
            pascal_case: i % 2 == 1,
            hide_graph_id: false,
            note: None,
        })
        .collect();
    let instances: Vec<ModelInstance> = (0..spec.instances)
        .map(|i| ModelInstance {
            id: guid(0xe1e1_e1e1, i),
            name: format!("Instance {i}"),
            environment: None,
            instance_type: None,
            created_by: maker(&mut rng),
            created: t0,
            updated_by: None,
            updated: None,
            roles: (0..3)
                .map(|_| ModelInstanceRole {
                    principal: maker(&mut rng),
                    kind: "user".into(),
                    roles: vec!["Contributor".into()],
                })
                .collect(),
            note: None,
        })
        .collect();
    // Activity for the activity sources (`--audit-api`, `--ci-workspace`),
    // so the benchmark counts their requests on real content: launches of a
    // third of the apps and edits of a tenth of the flows in the API's last
    // 7 days, and Customer Insights events on every instance.
    let upn: std::collections::HashMap<&str, &str> = principals
        .iter()
        .filter_map(|p| Some((p.id.as_str(), p.upn.as_deref()?)))
        .collect();
    let recent = |rng: &mut fastrand::Rng| as_of() - Duration::minutes(rng.i64(60..7 * 24 * 60));
    let mut audit_records = Vec::new();
    let mut record = |n: usize, at: DateTime<Utc>, fields: serde_json::Value| {
        let mut r = serde_json::json!({
            "Id": guid(0xa0d1_70c0, n),
            "CreationTime": at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            "OrganizationId": TENANT,
            "ResultStatus": "Succeeded",
            "UserType": 0,
        });
        if let (Some(r), Some(f)) = (r.as_object_mut(), fields.as_object()) {
            r.extend(f.clone());
        }
        audit_records.push(r);
    };
    let mut n = 0;
    for app in apps.iter().step_by(3) {
        for _ in 0..2 {
            let who = maker(&mut rng);
            let when = recent(&mut rng);
            n += 1;
            record(
                n,
                when,
                serde_json::json!({
                    "Operation": "LaunchPowerApp", "RecordType": 45, "Workload": "PowerApps",
                    "UserId": upn.get(who.as_str()).copied().unwrap_or_default(),
                    "AppName": app.id,
                }),
            );
        }
    }
    for flow in flows.iter().step_by(10) {
        let who = maker(&mut rng);
        let when = recent(&mut rng);
        n += 1;
        record(
            n,
            when,
            serde_json::json!({
                "Operation": "EditFlow", "RecordType": 30, "Workload": "MicrosoftFlow",
                "UserId": upn.get(who.as_str()).copied().unwrap_or_default(),
                "FlowDetailsUrl": format!(
                    "https://make.powerautomate.com/manage/environments/{}/flows/{}/details",
                    flow.environment, flow.id
                ),
            }),
        );
    }
    let ci_activity = instances
        .iter()
        .flat_map(|i: &ModelInstance| {
            i.roles
                .iter()
                .map(|r| (i.id.clone(), r.principal.clone()))
                .collect::<Vec<_>>()
        })
        .map(|(instance, by)| ModelCiEvent {
            instance,
            by,
            at: as_of() - Duration::minutes(rng.i64(60..30 * 24 * 60)),
            operation: "Segmentation.WorkflowStarted".into(),
            table: "CIEventsOperational".into(),
            upn_only: false,
        })
        .collect();
    TenantModel {
        tenant_id: TENANT.into(),
        name: Some(format!("Synthetic ({})", spec.seed)),
        as_of: Some(as_of()),
        partner_id: Some(OUR_PARTNER.into()),
        principals,
        environments,
        apps,
        flows,
        model_driven_apps,
        solutions,
        workspaces,
        datasets,
        powerbi_activity: Vec::new(),
        instances,
        ci_workspace: Some(WORKSPACE.into()),
        audit_subscription: true,
        audit_records,
        ci_activity,
        partner_links,
        index: std::sync::OnceLock::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_tenant() {
        let spec =
            Spec::parse("envs=4,apps=50,flows=60,workspaces=3,datasets=9,instances=2,seed=3")
                .unwrap();
        let a = generate(&spec);
        let b = generate(&spec);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_eq!(a.apps.len(), 50);
        assert_eq!(a.flows.len(), 60);
        assert_eq!(a.datasets.len(), 9);
        let other = generate(&Spec { seed: 4, ..spec });
        assert_ne!(format!("{a:?}"), format!("{other:?}"));
    }

    #[test]
    fn bad_specs_are_refused() {
        assert!(Spec::parse("apps=many").is_err());
        assert!(Spec::parse("shared=2").is_err());
        assert!(Spec::parse("bogus=1").is_err());
        assert_eq!(Spec::parse("").unwrap(), Spec::default());
    }
}
