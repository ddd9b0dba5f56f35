//! The errors that end a run, and the one place that maps them (and audit
//! outcomes) to the documented exit codes.

use std::process::ExitCode;

use crate::auth::AuthError;

/// Exit codes, as documented in the README and `--help`.
pub mod code {
    /// Audit complete, nothing at or above `--fail-on`.
    pub const OK: u8 = 0;
    /// Findings at or above `--fail-on`.
    pub const FINDINGS: u8 = 1;
    /// Bad usage or bad input (flags, config, links file, attestation).
    pub const USAGE: u8 = 2;
    /// Authentication failed: no call could be made.
    pub const AUTH: u8 = 3;
    /// Audit incomplete: some source could not be read.
    pub const INCOMPLETE: u8 = 4;
    /// Interrupted (Ctrl-C): the report of what was read was still written.
    pub const INTERRUPTED: u8 = 130;
}

/// A bad input file: names the file and the line or JSON path.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct InputError {
    /// `links.csv:7`, `att.json: $.partner_id`, `pal-audit.toml:3:1`, ...
    pub location: String,
    pub message: String,
}

impl InputError {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
        }
    }

    /// A JSON file `name` that did not decode: at its JSON path, or at its
    /// line when the text itself is not JSON.
    pub fn json(name: &str, e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            Self::new(format!("{name}:{}", inner.line()), inner.to_string())
        } else {
            Self::new(format!("{name}: $.{path}"), inner.to_string())
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Flags, environment variables or the config file do not make sense.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),
    /// The report could not be written where asked.
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    /// The emulator could not start (port taken, bad tenant model).
    #[error("emulator: {0}")]
    Emulator(String),
    /// An API answered, but not with what the command needs.
    #[error("{0}")]
    Service(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Input(_) | Self::Output(_) | Self::Emulator(_) => code::USAGE,
            Self::Auth(_) => code::AUTH,
            Self::Service(_) => code::INCOMPLETE,
        }
    }
}

impl From<Error> for ExitCode {
    fn from(e: Error) -> Self {
        ExitCode::from(e.exit_code())
    }
}
