//! `pal-audit emulate`: the stand-in services on a port, for a tenant folder,
//! a synthetic tenant or a recording, until Ctrl-C.

use crate::cli::EmulateArgs;
use crate::error::{Error, Outcome};
use crate::run::print_text;
use pal_core::output;
use pal_emulator::{self as emulator, Faults, TenantModel};

/// `pal-audit emulate`: serves until Ctrl-C.
pub(crate) async fn emulate(args: EmulateArgs, quiet: bool) -> Result<Outcome, Error> {
    if let Some(dir) = &args.replay {
        let (server, n) = emulator::replay::start(dir, args.port).await?;
        if !quiet {
            eprintln!(
                "pal-audit replaying {n} recorded responses from {} at {} (Ctrl-C to stop)",
                dir.display(),
                server.base_url()
            );
        }
        print_text(&format!("{}\n", server.base_url()))?;
        let _ = tokio::signal::ctrl_c().await;
        server.stop().await;
        return Ok(Outcome::Clean);
    }
    let (model, shown) = match (&args.tenant, &args.synthetic) {
        (_, Some(spec)) => {
            let spec = emulator::synthetic::Spec::parse(spec).map_err(Error::Usage)?;
            (
                emulator::synthetic::generate(&spec),
                "a synthetic tenant".to_string(),
            )
        }
        (Some(dir), None) => (TenantModel::load(dir)?, dir.display().to_string()),
        (None, None) => {
            return Err(Error::Usage(
                "--tenant DIR or --synthetic SPEC is needed".into(),
            ));
        }
    };
    if let Some(path) = &args.links_out {
        let mut csv = String::from("principal,partner_id,kind,linked_at,note\n");
        for l in &model.partner_links {
            csv.push_str(&format!(
                "{},{},service-account,{},\n",
                l.principal,
                l.partner_id,
                l.created.map(|t| t.to_rfc3339()).unwrap_or_default()
            ));
        }
        output::write_atomic(path, &csv)?;
    }
    let faults = args
        .faults
        .as_deref()
        .map(Faults::parse)
        .transpose()
        .map_err(Error::Usage)?
        .unwrap_or_default();
    let options = emulator::Options {
        time_scale: args.time_scale,
        page_size: args.page_size.max(1),
        latency: std::time::Duration::from_millis(args.latency),
        faults,
        host_limit: args.host_limit,
    };
    let partner = model.partner_id.clone();
    let server = emulator::start(model, options, args.port).await?;
    if !quiet {
        eprintln!(
            "pal-audit emulator serving {} at {} (Ctrl-C to stop)\n\nAudit it with:\n  PAL_AUDIT_TOKEN=x PAL_AUDIT_CI_KEY=x pal-audit audit --auth static-token --api-base {} --partner-id {} --links <links.csv>",
            shown,
            server.base_url(),
            server.base_url(),
            partner.as_deref().unwrap_or("<partner id>")
        );
    }
    // The address on stdout alone, for scripts.
    print_text(&format!("{}\n", server.base_url()))?;
    let _ = tokio::signal::ctrl_c().await;
    server.stop().await;
    Ok(Outcome::Clean)
}
