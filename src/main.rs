//! The `pal-audit` binary: parse, run, map the outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    match pal_audit::run(std::env::args_os()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!(
                "error: {}",
                pal_audit::report::terminal_safe(&e.to_string())
            );
            e.into()
        }
    }
}
