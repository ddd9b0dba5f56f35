//! pal-core: the offline half of pal-audit. The inventory model and its
//! ids, PAL links and attestations, the attribution rules, the report with
//! its renderers, `explain`, `diff`, the fix plan and its scripts, the
//! recording format, atomic output and the endpoint table. Nothing here
//! opens a socket or reads a command line: data flows one way, from
//! pal-client's sources into an [`inventory::Inventory`], through
//! [`attribution::attribute`], into a [`report::Report`].

#![deny(missing_docs)]

pub mod attribution;
pub mod audit_log;
pub mod diff;
pub mod endpoints;
pub mod error;
pub mod explain;
pub mod fix;
pub mod input;
pub mod inventory;
pub mod links;
pub mod output;
pub mod record;
pub mod report;
pub mod secrets;

pub use error::InputError;
