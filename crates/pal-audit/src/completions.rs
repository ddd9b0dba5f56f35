//! Shell completions: the script `completions SHELL` prints, and the
//! binary's answer when a script asks (`PAL_AUDIT_COMPLETE=SHELL pal-audit
//! -- WORDS`), from the same clap command: commands, options, each option's
//! values, paths.

use std::ffi::OsString;
use std::io::Write;

use crate::cli::{Cli, CompletionShell};
use crate::error::Error;

/// The variable that asks the binary for completions: every shell's script
/// sets it to the shell's name and runs `pal-audit -- WORDS`.
pub const COMPLETE_VAR: &str = "PAL_AUDIT_COMPLETE";

const BIN: &str = "pal-audit";

/// bash's script (`@BIN@` and `@VAR@` filled in by [`script`]): clap_complete's passes
/// bash's words as they are, and bash splits them at `=`, `:` and `@`, so
/// `--fail-on flag:st` or `--output=re` completed nothing, and a path with a
/// space came back as two words.
const BASH: &str = include_str!("completions/pal-audit.bash");

/// `completions SHELL`'s script. Every script asks this binary, found on
/// PATH, for the candidates ([`answer`]). zsh, fish, PowerShell and elvish
/// get clap_complete's dynamic registration; bash gets [`BASH`]. (The
/// static scripts clap_complete also writes list no values for PowerShell
/// and elvish, and bash's, for a name with a hyphen, matches no subcommand.)
pub fn script(shell: CompletionShell, w: &mut dyn Write) -> std::io::Result<()> {
    use clap_complete::env::{Elvish, EnvCompleter, Fish, Powershell, Zsh};
    let dynamic: &dyn EnvCompleter = match shell {
        CompletionShell::Bash => {
            let script = BASH.replace("@VAR@", COMPLETE_VAR).replace("@BIN@", BIN);
            return w.write_all(script.as_bytes());
        }
        CompletionShell::Zsh => &Zsh,
        CompletionShell::Fish => &Fish,
        CompletionShell::Powershell => &Powershell,
        CompletionShell::Elvish => &Elvish,
    };
    dynamic.write_registration(COMPLETE_VAR, BIN, BIN, BIN, w)
}

/// Answers a completion script's question (with [`COMPLETE_VAR`] set to the
/// shell's name): prints the candidates and returns true. False, with the
/// variable unset, empty or `0`, for every ordinary run.
pub fn answer(args: &[OsString]) -> Result<bool, Error> {
    use clap::CommandFactory;
    if std::env::var_os(COMPLETE_VAR).is_none() {
        return Ok(false);
    }
    let here = std::env::current_dir().ok();
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(COMPLETE_VAR)
        .try_complete(args.iter().cloned(), here.as_deref())
        .map_err(|e| {
            // clap's text starts with its own "error: ".
            let text = e.to_string();
            let text = text.trim().trim_start_matches("error: ");
            Error::Usage(format!("{COMPLETE_VAR}: {text}"))
        })
}
