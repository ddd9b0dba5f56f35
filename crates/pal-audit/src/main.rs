//! The `pal-audit` binary: parse, run, map the outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    match pal_audit::run(std::env::args_os()) {
        Ok(code) => code,
        Err(e) => {
            // An error can quote what a server sent: never a secret, and
            // nothing that drives the terminal.
            let text = pal_core::secrets::text(&e.to_string()).into_owned();
            eprintln!("error: {}", pal_core::report::terminal_safe(&text));
            e.into()
        }
    }
}
