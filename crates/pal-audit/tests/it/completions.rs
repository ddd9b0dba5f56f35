//! Shell completions: every shell completes commands, options and option
//! values. Each script runs the binary with PAL_AUDIT_COMPLETE=SHELL and the
//! words up to the cursor. bash, zsh, fish and elvish run their script for
//! real (Debian's packages, which `.ci/run` installs): bash's function over
//! the shared table and readline itself on a pseudo-terminal; zsh's and
//! elvish's completion functions called as their line editors call them
//! (which need a terminal); fish's `complete -C`. PowerShell cannot be
//! installed here: the binary's answers are checked as its script (clap's)
//! asks for them.

use std::path::Path;
use std::process::Command;

use crate::common::{bin, installed};

/// `pal-audit completions SHELL`'s script, in a file.
fn script(shell: &str, dir: &Path) -> std::path::PathBuf {
    let out = bin().args(["completions", shell]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{shell}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("pal-audit") && text.contains("PAL_AUDIT_COMPLETE"),
        "{shell}: {text}"
    );
    let file = dir.join(format!("pal-audit.{shell}"));
    std::fs::write(&file, text).unwrap();
    file
}

/// A PATH on which `pal-audit` is the binary under test, as the scripts
/// expect.
fn path_with_binary() -> std::ffi::OsString {
    let dir = Path::new(env!("CARGO_BIN_EXE_pal-audit")).parent().unwrap();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&rest)))
        .unwrap()
}

/// `program` run with the binary on PATH; its stdout's lines, each cut at
/// the first `cut` (the candidate without its help text).
fn lines_of(mut program: Command, what: &str, cut: char) -> Vec<String> {
    let out = program
        .env("PATH", path_with_binary())
        .env_remove("PAL_AUDIT_COMPLETE")
        .current_dir(crate::common::ROOT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split(cut).next().unwrap().to_owned())
        .collect()
}

/// The words of a command line up to the cursor at its end: an empty last
/// word when it ends in a space.
fn words(line: &str) -> Vec<&str> {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    if line.ends_with(' ') {
        words.push("");
    }
    words
}

/// Single-quoted for bash, zsh and elvish (the test lines hold no quote).
fn quoted(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The lines every shell completes, and what it must offer.
fn completes_what_clap_knows(shell: &str, complete: impl Fn(&str) -> Vec<String>) {
    let exactly = |line: &str, want: &[&str]| {
        assert_eq!(complete(line), want, "{shell}: `{line}`");
    };
    let offers = |line: &str, want: &[&str]| {
        let got = complete(line);
        for w in want {
            assert!(
                got.iter().any(|g| g == w),
                "{shell}: `{line}` offers {w}: {got:?}"
            );
        }
    };
    exactly(
        "pal-audit audit --format ",
        &["table", "json", "csv", "markdown", "html"],
    );
    exactly("pal-audit report r.json --format m", &["markdown"]);
    exactly("pal-audit audit --fail-on cr", &["credited-to-other"]);
    exactly(
        "pal-audit audit --products power-bi,power-a",
        &["power-bi,power-apps", "power-bi,power-automate"],
    );
    exactly("pal-audit completions e", &["elvish"]);
    // --fail-on is a list of levels and flags: each item completes.
    exactly(
        "pal-audit audit --fail-on uncredited,un",
        &["uncredited,unknown"],
    );
    exactly(
        "pal-audit report r.json --fail-on unknown,flag:st",
        &["unknown,flag:stale-attestation"],
    );
    offers(
        "pal-audit audit --fail-on fl",
        &["flag:group-co-owner", "flag:first-party"],
    );
    offers(
        "pal-audit audit --auth ",
        &["azure-cli", "client-certificate"],
    );
    offers(
        "pal-audit diff a.json b.json --color ",
        &["always", "never"],
    );
    offers("pal-audit ", &["audit", "demo", "fix", "report"]);
    offers(
        "pal-audit audit --",
        &[
            "--format",
            "--fail-on",
            "--output",
            "--products",
            "--redact",
        ],
    );
    // Paths complete as files (run from the package root), after `=` too.
    offers("pal-audit report Car", &["Cargo.toml"]);
    offers("pal-audit demo --output=Car", &["--output=Cargo.toml"]);
}

/// bash's words for a command line as bash splits it: at blanks, and
/// runs of `=`, `:` and `@` (from COMP_WORDBREAKS) as words of their own;
/// an empty last word after a blank.
fn bash_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    for token in line.split_whitespace() {
        let mut word = String::new();
        for c in token.chars() {
            let breaks = "=:@".contains(c);
            let last_breaks = word.chars().last().is_some_and(|l| "=:@".contains(l));
            if !word.is_empty() && breaks != last_breaks {
                words.push(std::mem::take(&mut word));
            }
            word.push(c);
        }
        words.push(word);
    }
    if line.ends_with(' ') {
        words.push(String::new());
    }
    words
}

/// bash: the script sourced and its function called as bash calls it on
/// Tab (COMP_WORDS split at `=`, `:` and `@`); each reply, which replaces
/// only bash's last word, put back after the rest of the whole word, so the
/// shared table can check it.
#[test]
fn bash_completes_commands_options_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = script("bash", dir.path());
    completes_what_clap_knows("bash", |line| {
        let words = bash_words(line);
        let cword = words.len() - 1;
        let program = format!(
            "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={cword}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\n\
             _pal_audit pal-audit '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
            file.display(),
            quoted(&words.iter().map(String::as_str).collect::<Vec<_>>()),
            words[cword],
            words.get(cword.wrapping_sub(1)).map_or("", String::as_str),
        );
        let mut bash = Command::new("bash");
        bash.args(["--norc", "--noprofile", "-c", &program]);
        let whole = if line.ends_with(' ') {
            ""
        } else {
            line.rsplit(' ').next().unwrap()
        };
        let before = &whole[..whole.len() - words[cword].len()];
        lines_of(bash, line, '\0')
            .into_iter()
            .filter(|r| !r.is_empty())
            .map(|r| format!("{before}{}", r.replace('\\', "")))
            .collect()
    });
}

/// bash for real: an interactive bash on a pseudo-terminal (`script`),
/// typing a line and Tab, then `printf '[%s]'` in front of what readline
/// made of it: each word in brackets. Values after `=` and `:`, and a path
/// with a space (one word, not two).
#[test]
fn bash_s_readline_completes_whole_words() {
    let dir = tempfile::tempdir().unwrap();
    let file = script("bash", dir.path());
    std::fs::create_dir(dir.path().join("sp ace")).unwrap();
    std::fs::write(dir.path().join("sp ace").join("r.json"), "{}").unwrap();
    let folder = dir.path().display().to_string();
    let typed = |line: &str| -> String {
        // Ctrl-A goes to the line's start; readline reads what is typed in
        // order, so Tab's completion is done before the printf is typed.
        let input = format!(
            "source '{}'\n{line}\t\x01printf '[%s]' \nexit\n",
            file.display()
        );
        let mut child = Command::new("script")
            .args(["-qec", "bash --norc --noprofile -i", "/dev/null"])
            .env("PATH", path_with_binary())
            .env("TERM", "dumb")
            .env_remove("PAL_AUDIT_COMPLETE")
            .current_dir(crate::common::ROOT)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        text.lines()
            .rev()
            // printf ends no line: the next prompt follows its last `]`.
            .find_map(|l| {
                let at = l.find("[pal-audit]")?;
                let end = l.rfind(']')?;
                Some(l[at..=end].to_owned())
            })
            .unwrap_or_else(|| panic!("{line:?}: no printf output in {text:?}"))
    };
    let printed = |words: &str| format!("[pal-audit]{words}");
    assert_eq!(
        typed("pal-audit demo --fail-on flag:st"),
        printed("[demo][--fail-on][flag:stale-attestation]")
    );
    assert_eq!(
        typed("pal-audit demo --fail-on unknown,flag:gr"),
        printed("[demo][--fail-on][unknown,flag:group-co-owner]")
    );
    assert_eq!(
        typed("pal-audit demo --output=Cargo.t"),
        printed("[demo][--output=Cargo.toml]")
    );
    assert_eq!(
        typed(&format!("pal-audit report {folder}/sp")),
        printed(&format!("[report][{folder}/sp ace/]"))
    );
}

/// zsh: the script sourced and its function called with the line editor's
/// `words` and `CURRENT`; `_describe` (compsys, which needs a terminal)
/// prints the candidates it is given instead of offering them.
#[test]
fn zsh_completes_commands_options_and_values() {
    let Some(zsh) = installed(&["zsh"], "zsh") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = script("zsh", dir.path());
    completes_what_clap_knows("zsh", |line| {
        let words = words(line);
        let program = format!(
            "compdef() {{}}\n_describe() {{ local n=${{@[-1]}}; print -rl -- ${{(P)n}} }}\n\
             source '{}'\nwords=({})\nCURRENT={}\n_clap_dynamic_completer_pal_audit\n",
            file.display(),
            quoted(&words),
            words.len(),
        );
        let mut z = Command::new(&zsh);
        z.args(["-f", "-c", &program]);
        lines_of(z, line, '\0')
            .iter()
            .map(|item| described_value(item))
            .collect()
    });
}

/// The value of a `_describe` item, `value:help` with `\:` and `\\` escaping
/// the value's own colons and backslashes, as zsh reads it.
fn described_value(item: &str) -> String {
    let mut value = String::new();
    let mut chars = item.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.extend(chars.next()),
            ':' => break,
            c => value.push(c),
        }
    }
    value
}

/// fish: the script sourced and `complete -C`, fish's own completion of a
/// command line.
#[test]
fn fish_completes_commands_options_and_values() {
    let Some(fish) = installed(&["fish"], "fish") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = script("fish", dir.path());
    completes_what_clap_knows("fish", |line| {
        let program = format!("source '{}'\ncomplete -C '{line}'\n", file.display());
        let mut f = Command::new(&fish);
        f.args(["--no-config", "-c", &program]);
        lines_of(f, line, '\t')
    });
}

/// elvish: its completer closure (`edit:` exists only in an interactive
/// shell) bound to a variable instead, and called with the words.
#[test]
fn elvish_completes_commands_options_and_values() {
    let Some(elvish) = installed(&["elvish"], "elvish") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let registration = std::fs::read_to_string(script("elvish", dir.path())).unwrap();
    let binding = "set edit:completion:arg-completer[pal-audit] = ";
    assert!(registration.contains(binding), "{registration}");
    let closure = registration.replace(binding, "var complete = ");
    completes_what_clap_knows("elvish", |line| {
        let program = format!("{closure}\n$complete {}\n", quoted(&words(line)));
        let mut e = Command::new(&elvish);
        e.args(["-norc", "-c", &program]);
        lines_of(e, line, '\t')
    });
}

/// PowerShell's script registers a completer that runs
/// `pal-audit -- WORDS` with PAL_AUDIT_COMPLETE=powershell, the words cut at
/// the cursor and an empty one after a space; each answer line is
/// `value<TAB>help`.
#[test]
fn powershell_s_script_asks_the_binary_which_answers_values() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["powershell", "pwsh"] {
        let s = std::fs::read_to_string(script(shell, dir.path())).unwrap();
        assert!(
            s.contains("Register-ArgumentCompleter -Native -CommandName pal-audit"),
            "{s}"
        );
        assert!(
            s.contains("$env:PAL_AUDIT_COMPLETE = \"powershell\""),
            "{s}"
        );
        assert!(s.contains("& pal-audit -- $args"), "{s}");
    }
    completes_what_clap_knows("powershell", |line| {
        // What the script's `& pal-audit -- $args` runs, with the variable set.
        let mut p = Command::new("env");
        p.arg("PAL_AUDIT_COMPLETE=powershell")
            .arg("pal-audit")
            .arg("--")
            .args(words(line));
        lines_of(p, line, '\t')
    });
}

/// The variable only asks for completions when it names a shell: empty or
/// `0` is an ordinary run; an unknown shell is a usage error.
#[test]
fn the_completion_variable_is_inert_unless_it_names_a_shell() {
    for off in ["", "0"] {
        let out = bin()
            .env("PAL_AUDIT_COMPLETE", off)
            .args(["completions", "bash"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(
            String::from_utf8(out.stdout)
                .unwrap()
                .contains("complete -o")
        );
    }
    let out = bin()
        .env("PAL_AUDIT_COMPLETE", "tcsh")
        .args(["--", "pal-audit", ""])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PAL_AUDIT_COMPLETE"));
}
