//! pal-audit's integration tests, one binary: the CLI end to end against the
//! emulator on loopback, every format, faults, properties and fuzzing. Each
//! module says what it covers; `common` is shared by all of them.

mod answers;
mod attest;
mod browser;
mod cli;
#[allow(dead_code)]
mod common;
mod completions;
mod delta;
mod docs;
mod doctor;
mod faults;
mod files;
mod fix;
mod formats;
mod fuzz;
mod log_analytics;
mod management_activity;
mod progress;
mod properties;
mod record;
mod secrets;
mod snapshots;
mod synthetic;
