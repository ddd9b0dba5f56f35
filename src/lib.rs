//! pal-audit: checks, resource by resource, whether a partner's PAL-linked
//! identities are the attributed users of the Power Platform resources in a
//! customer tenant. Data flows one way: sources -> inventory -> attribution
//! -> report.

pub mod attest;
pub mod attribution;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod diff;
pub mod doctor;
pub mod emulator;
pub mod error;
pub mod explain;
pub mod fix;
pub mod http;
pub mod input;
pub mod inventory;
pub mod links;
pub mod output;
pub mod report;
mod run;
pub mod secrets;
pub mod sources;
pub mod tls;

pub use error::Error;
pub use run::{contoso, run};
