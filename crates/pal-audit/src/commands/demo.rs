//! `pal-audit demo`: the Contoso tenant served by an in-process emulator,
//! audited as a real tenant would be.

use super::audit::{collect_and_attribute, emit};
use crate::cli::DemoArgs;
use crate::config::{self, AuditConfig, OutputConfig};
use crate::error::{Error, Outcome};
use pal_client::auth::{Credential, Secret};
use pal_client::http::ApiBase;
use pal_client::sources::customer_insights;
use pal_core::links::PartnerId;
use pal_core::output;
use pal_emulator as emulator;

/// `pal-audit demo`: the Contoso tenant on an in-process emulator.
pub(crate) async fn demo(
    args: DemoArgs,
    config: Option<&std::path::Path>,
    quiet: bool,
    color: bool,
) -> Result<Outcome, Error> {
    let file = config::load_file(config)?;
    // The demo shows; it fails only when asked to (`--fail-on`).
    let asked_to_fail = args.output.fail_on.is_some() || file.fail_on.is_some();
    let output = OutputConfig::resolve(args.output, &file, "none")?;
    if let Some(path) = &output.output {
        output::check_output(path)?;
    }
    let (model, links) = pal_emulator::contoso::load()?;
    let partner = model
        .partner_id
        .as_deref()
        .map(PartnerId::parse)
        .transpose()
        .map_err(Error::Usage)?
        .ok_or_else(|| Error::Usage("the demo tenant names no partner_id".into()))?;
    let as_of = model.as_of;
    // Small pages, so the demo's own requests follow next links.
    let options = emulator::Options {
        page_size: 2,
        ..Default::default()
    };
    let server = emulator::start(model, options, 0).await?;
    let api_base = ApiBase::parse(&server.base_url()).map_err(Error::Usage)?;
    let cfg = AuditConfig {
        partner_id: partner,
        links: Vec::new(),
        attestations: Vec::new(),
        environments: Vec::new(),
        products: pal_core::inventory::Product::ALL.into_iter().collect(),
        activity_days: 30,
        ci_activity: None,
        ci_workspace: None,
        audit_log: Vec::new(),
        audit_api: None,
        ci_audience: customer_insights::DEFAULT_AUDIENCE.into(),
        flow_owners: true,
        cache: None,
        since: None,
        timeout: config::DEFAULT_TIMEOUT,
        record: None,
        record_force: false,
        conn: config::Connection {
            tenant: None,
            auth: pal_client::auth::AuthKind::StaticToken,
            api_base,
            http: Default::default(),
        },
        as_of,
        attestation_max_age: chrono::Duration::days(30),
        our_other_ids: Vec::new(),
        allow_unlinked_partner: false,
        first_party: Default::default(),
        environment_concurrency: 4,
        output,
    };
    let activity = customer_insights::parse_activity(
        pal_emulator::contoso::CI_ACTIVITY.0,
        pal_emulator::contoso::CI_ACTIVITY.1,
    )?;
    let audit_log = pal_core::audit_log::parse_audit_log(
        pal_emulator::contoso::AUDIT_LOG.0,
        pal_emulator::contoso::AUDIT_LOG.1,
    )?;
    let audited = collect_and_attribute(
        &cfg,
        &links,
        Credential::Static(Secret::new("demo")),
        &Some(Secret::new("demo-ci-key")),
        &Some(activity),
        &Some(audit_log),
    )
    .await;
    server.stop().await;
    let audited = audited?;
    let known = super::audit::known_text(&cfg, audited.tenant_text);
    let code = emit(&audited.report, &known, &cfg.output, quiet, color)?;
    Ok(if asked_to_fail { code } else { Outcome::Clean })
}
