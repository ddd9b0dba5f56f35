//! pal-audit, the command line: checks, resource by resource, whether a
//! partner's PAL-linked identities are the attributed users of the Power
//! Platform resources in a customer tenant. This crate is clap, the config
//! file, progress, the commands and the one table from outcomes to exit
//! codes; the audit itself is pal-client's, the rules and the report
//! pal-core's, the stand-in services pal-emulator's.

pub mod cli;
mod commands;
mod completions;
pub mod config;
pub mod error;
mod progress;
mod run;
mod term;

pub use commands::{attest, doctor};
pub use error::Error;
pub use run::run;
