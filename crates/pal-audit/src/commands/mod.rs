//! The commands: each wires config -> links -> sources -> attribution ->
//! report for `audit` and `demo`, or starts the emulator for `emulate`.
//! `run.rs` parses the command line and calls them.

pub mod attest;
pub(crate) mod audit;
#[cfg(feature = "emulator")]
pub(crate) mod demo;
pub(crate) mod diff;
pub mod doctor;
#[cfg(feature = "emulator")]
pub(crate) mod emulate;
pub(crate) mod explain;
pub(crate) mod fix;
pub(crate) mod report;
