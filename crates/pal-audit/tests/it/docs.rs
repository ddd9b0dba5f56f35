//! The README's and SECURITY.md's claims, checked against the code: the
//! flags and variables they name exist, and every API whose token pal-audit
//! holds is in SECURITY.md's "Where a token may go" table, and the 80-column
//! table the README shows is the one `demo` prints.

use std::collections::BTreeSet;

use clap::CommandFactory;
use pal_audit::cli::Cli;

use crate::common::ROOT;

fn read(name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(ROOT).join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every long flag and every variable of every (sub)command.
fn flags_and_vars() -> (BTreeSet<String>, BTreeSet<String>) {
    fn walk(cmd: &clap::Command, flags: &mut BTreeSet<String>, vars: &mut BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long() {
                flags.insert(format!("--{long}"));
            }
            if let Some(env) = arg.get_env() {
                vars.insert(env.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, flags, vars);
        }
    }
    let (mut flags, mut vars) = (BTreeSet::new(), BTreeSet::new());
    walk(&Cli::command(), &mut flags, &mut vars);
    (flags, vars)
}

/// `PAL_AUDIT_*` names the code reads outside clap (secrets come from the
/// environment only): string literals in the crates' sources.
fn vars_in_sources() -> BTreeSet<String> {
    fn walk(dir: &std::path::Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.extend(words(&text).filter(|w| w.starts_with("PAL_AUDIT_")));
            }
        }
    }
    let mut out = BTreeSet::new();
    for krate in ["pal-core", "pal-client", "pal-audit"] {
        walk(
            &std::path::Path::new(ROOT)
                .join("crates")
                .join(krate)
                .join("src"),
            &mut out,
        );
    }
    out
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
}

#[test]
fn every_flag_the_readme_names_exists() {
    let (flags, _) = flags_and_vars();
    let readme = read("README.md");
    // Flags as the README writes them: `--name` in backticks, alone or
    // followed by a value (`--format FORMAT`).
    let mut missing = BTreeSet::new();
    for quoted in readme.split('`').skip(1).step_by(2) {
        let Some(first) = quoted.split_whitespace().next() else {
            continue;
        };
        if !first.starts_with("--") || first.len() < 4 || !quoted.starts_with("--") {
            continue;
        }
        let name: String = first
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        // cargo's and the emulator's own flags in the README's examples
        // are not pal-audit's; they are named here so a typo still shows.
        const OTHERS: &[&str] = &[
            "--release",
            "--locked",
            "--git",
            "--bench",
            "--size",
            "--json",
            "--no-default-features",
            "--test",
            "--tenant-id",
            "--headless",
        ];
        if !flags.contains(&name) && !OTHERS.contains(&name.as_str()) {
            missing.insert(name);
        }
    }
    assert!(
        missing.is_empty(),
        "README names flags no command has: {missing:?}"
    );
}

#[test]
fn every_variable_the_readme_names_exists() {
    let (_, mut vars) = flags_and_vars();
    vars.extend(vars_in_sources());
    let named: BTreeSet<String> = words(&read("README.md"))
        .filter(|w| w.starts_with("PAL_AUDIT_") && w.len() > "PAL_AUDIT_".len())
        .collect();
    let missing: Vec<_> = named.difference(&vars).collect();
    assert!(
        missing.is_empty(),
        "README names variables nothing reads: {missing:?}"
    );
}

#[test]
fn security_md_lists_every_api_a_token_goes_to() {
    let security = read("SECURITY.md");
    let table = security
        .split("## Where a token may go")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("SECURITY.md has its \"Where a token may go\" section");
    for api in pal_core::endpoints::ALL {
        let audience = api.audience.trim_end_matches('/');
        assert!(
            table.contains(audience),
            "SECURITY.md's token table lacks {} (audience {audience})",
            api.source
        );
        // The Customer Insights audience has two spellings [?]; its host
        // is the API's, checked like the others.
        assert!(
            table.contains(&format!("`{}`", api.host())),
            "SECURITY.md's token table lacks {}'s host {}",
            api.source,
            api.host()
        );
    }
}

#[test]
fn every_audit_flag_but_the_per_run_ones_has_a_variable() {
    // Flags that name this run's own files or stop it from being repeated
    // unattended: the README says they have no variable.
    const PER_RUN: &[&str] = &[
        "--since",
        "--force",
        "--record",
        "--config",
        "--help",
        "--verbose",
        "--quiet",
    ];
    let cli = Cli::command();
    let audit = cli.find_subcommand("audit").expect("an audit command");
    let missing: Vec<String> = audit
        .get_arguments()
        .filter(|a| a.get_env().is_none())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .filter(|l| !PER_RUN.contains(&l.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "audit flags without a PAL_AUDIT_* variable: {missing:?}"
    );
    let readme = read("README.md");
    for flag in PER_RUN.iter().take(3) {
        assert!(
            readme.contains(&format!("`{flag}`")) || readme.contains(&format!("`{flag} ")),
            "README names the per-run flag {flag}"
        );
    }
}

/// The README's 80-column table is what `demo` prints at 80 columns (its
/// Power BI section): the example cannot drift from the program.
#[test]
fn the_readme_s_80_column_table_is_the_demo_s() {
    let readme = read("README.md");
    let example = readme
        .split("The table, for the demo's Power BI datasets in an 80-column terminal")
        .nth(1)
        .and_then(|s| s.split("```text\n").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("the README's 80-column example");
    let out = crate::common::bin()
        .arg("demo")
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    let section: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with("Power BI ("))
        .collect();
    let end = section
        .iter()
        .position(|l| l.starts_with('└'))
        .expect("the Power BI table");
    assert_eq!(example, section[..=end].join("\n") + "\n");
}
