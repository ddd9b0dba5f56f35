//! The errors that end a run and the outcomes of a finished command, and the
//! one place that maps both to the documented exit codes: commands return an
//! [`Outcome`] or an [`Error`], never a number.

use std::process::ExitCode;

use pal_client::auth::AuthError;
pub use pal_core::error::InputError;
use pal_core::report::Gate;

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

/// What a command that ran to its end came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done; nothing to act on at or above `--fail-on`.
    Clean,
    /// Something to act on: findings at or above `--fail-on`, fix steps left
    /// or failed, a doctor check or an attestation that failed.
    Findings,
    /// Done, but some source could not be read.
    Incomplete,
    /// `doctor`: no token could be had.
    AuthFailed,
    /// Ctrl-C: the report of what was read was written.
    Interrupted,
}

impl Outcome {
    /// The exit code: the one table.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Clean => code::OK,
            Self::Findings => code::FINDINGS,
            Self::Incomplete => code::INCOMPLETE,
            Self::AuthFailed => code::AUTH,
            Self::Interrupted => code::INTERRUPTED,
        }
    }
}

impl From<Gate> for Outcome {
    fn from(g: Gate) -> Self {
        match g {
            Gate::Passed => Self::Clean,
            Gate::Failed => Self::Findings,
            Gate::Incomplete => Self::Incomplete,
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
    /// No token could be had, with what to do about it (`doctor`).
    #[error("{0}")]
    SignIn(String),
    /// The report could not be written where asked.
    #[error(transparent)]
    Output(#[from] pal_core::output::OutputError),
    /// The emulator could not start (port taken, bad tenant model).
    #[error("emulator: {0}")]
    Emulator(String),
    /// An API answered, but not with what the command needs.
    #[error("{0}")]
    Service(String),
}

impl From<pal_client::audit::AuditError> for Error {
    fn from(e: pal_client::audit::AuditError) -> Self {
        use pal_client::audit::AuditError;
        match e {
            AuditError::Auth(e) => Self::Auth(e),
            AuditError::Input(e) => Self::Input(e),
            AuditError::Output(e) => Self::Output(e),
            AuditError::Setup(e) => Self::Usage(e),
        }
    }
}

#[cfg(feature = "emulator")]
impl From<pal_emulator::Error> for Error {
    fn from(e: pal_emulator::Error) -> Self {
        match e {
            pal_emulator::Error::Start(e) => Self::Emulator(e),
            pal_emulator::Error::Input(e) => Self::Input(e),
        }
    }
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Input(_) | Self::Output(_) | Self::Emulator(_) => code::USAGE,
            Self::Auth(_) | Self::SignIn(_) => code::AUTH,
            Self::Service(_) => code::INCOMPLETE,
        }
    }
}

impl From<Error> for ExitCode {
    fn from(e: Error) -> Self {
        ExitCode::from(e.exit_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_table_gives_the_documented_codes() {
        assert_eq!(Outcome::from(Gate::Passed).exit_code(), 0);
        assert_eq!(Outcome::from(Gate::Failed).exit_code(), 1);
        assert_eq!(Outcome::from(Gate::Incomplete).exit_code(), 4);
        assert_eq!(Outcome::AuthFailed.exit_code(), 3);
        assert_eq!(Outcome::Interrupted.exit_code(), 130);
        let dir = tempfile::tempdir().unwrap();
        let unwritable = pal_core::output::write_atomic(dir.path(), "x").unwrap_err();
        assert_eq!(Error::from(unwritable).exit_code(), code::USAGE);
        assert_eq!(Error::Service("x".into()).exit_code(), code::INCOMPLETE);
        assert_eq!(Error::SignIn("x".into()).exit_code(), code::AUTH);
    }
}
