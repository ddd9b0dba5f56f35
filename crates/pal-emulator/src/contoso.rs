//! The bundled Contoso tenant: its model, PAL links, attestations,
//! Customer Insights activity and unified audit log, embedded so `pal-audit demo` runs from any
//! folder. `expected.csv` beside them says which verdict each resource must
//! get and which rule it exercises. Files are named as seen from the
//! repository's root.

use pal_core::InputError;
use pal_core::links::Link;

use crate::TenantModel;

const TENANT: &str = include_str!("../contoso/tenant.toml");
const LINKS: &str = include_str!("../contoso/links.csv");
/// The demo's Customer Insights diagnostics export.
pub const CI_ACTIVITY: (&str, &str) = (
    "crates/pal-emulator/contoso/ci-activity.jsonl",
    include_str!("../contoso/ci-activity.jsonl"),
);
/// The demo's unified audit log export (Purview audit search, new CSV
/// header): app launches and edits.
pub const AUDIT_LOG: (&str, &str) = (
    "crates/pal-emulator/contoso/audit-log.csv",
    include_str!("../contoso/audit-log.csv"),
);
const ATTESTATIONS: &[(&str, &str)] = &[
    (
        "crates/pal-emulator/contoso/attestations/svc-delivery.json",
        include_str!("../contoso/attestations/svc-delivery.json"),
    ),
    (
        "crates/pal-emulator/contoso/attestations/fabrikam-automation.json",
        include_str!("../contoso/attestations/fabrikam-automation.json"),
    ),
    (
        "crates/pal-emulator/contoso/attestations/old-integration.json",
        include_str!("../contoso/attestations/old-integration.json"),
    ),
    (
        "crates/pal-emulator/contoso/attestations/grace-lee.json",
        include_str!("../contoso/attestations/grace-lee.json"),
    ),
];

/// The bundled Contoso tenant, its links and attestations (embedded, so the
/// demo runs from any folder).
pub fn load() -> Result<(TenantModel, Vec<Link>), InputError> {
    let mut model = TenantModel::parse("crates/pal-emulator/contoso/tenant.toml", TENANT)?;
    // The Management Activity API serves the export's records.
    model.audit_records = pal_core::audit_log::audit_records(AUDIT_LOG.0, AUDIT_LOG.1)?;
    let mut links =
        pal_core::links::parse_links_csv("crates/pal-emulator/contoso/links.csv", LINKS)?;
    for (name, text) in ATTESTATIONS {
        links.push(pal_core::links::parse_attestation(name, text)?);
    }
    Ok((model, links))
}
