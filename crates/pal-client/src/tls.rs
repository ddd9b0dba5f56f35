//! The process's one TLS crypto provider (rustls on ring), installed once
//! before the first client is built: reqwest is built without a provider of
//! its own, and azure_identity's credentials panic without one.

use std::sync::Once;

static INSTALL: Once = Once::new();

/// Installs ring as rustls's default provider, once; later calls do nothing.
pub fn ensure() {
    INSTALL.call_once(|| {
        // Err: another provider is installed already (a test harness, an
        // embedding program): that one is used, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
