//! Progress: never in a pipe; on a terminal (a pseudo-terminal under
//! `script`), drawn while the audit reads and gone from the screen at the
//! end, after an error too.

use std::time::Duration;

use crate::common::{Emulator, audit_command, bin};

/// A piped run prints no progress: stderr has only the report's line.
#[test]
fn piped_runs_print_no_progress() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["demo", "--output"])
        .arg(dir.path().join("r.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("report written to"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains('\u{1b}') && !stderr.contains('\r'));
}

/// What a terminal shows once `bytes` are written to it: the lines left
/// on a `rows` x `cols` screen (the cursor moves and erasures indicatif
/// and console send; colours and modes ignored).
fn screen(bytes: &[u8], rows: usize, cols: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut grid = vec![vec![' '; cols]; rows];
    let (mut r, mut c) = (0usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\r' => c = 0,
            '\n' => {
                if r + 1 == rows {
                    grid.remove(0);
                    grid.push(vec![' '; cols]);
                } else {
                    r += 1;
                }
            }
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut params = String::new();
                let mut last = ' ';
                for p in chars.by_ref() {
                    if p.is_ascii_alphabetic() || p == '~' {
                        last = p;
                        break;
                    }
                    params.push(p);
                }
                let n = params.trim_start_matches('?').parse::<usize>().ok();
                match last {
                    'A' => r = r.saturating_sub(n.unwrap_or(1)),
                    'B' => r = (r + n.unwrap_or(1)).min(rows - 1),
                    'C' => c = (c + n.unwrap_or(1)).min(cols - 1),
                    'D' => c = c.saturating_sub(n.unwrap_or(1)),
                    'G' => c = n.unwrap_or(1).saturating_sub(1),
                    'K' => match n.unwrap_or(0) {
                        0 => grid[r][c..].fill(' '),
                        1 => grid[r][..=c.min(cols - 1)].fill(' '),
                        _ => grid[r].fill(' '),
                    },
                    'J' => {
                        grid[r][c..].fill(' ');
                        grid[r + 1..].iter_mut().for_each(|l| l.fill(' '));
                    }
                    _ => {}
                }
            }
            '\u{1b}' => {
                chars.next();
            }
            ch if ch.is_control() => {}
            ch => {
                if c >= cols {
                    c = 0;
                    if r + 1 == rows {
                        grid.remove(0);
                        grid.push(vec![' '; cols]);
                    } else {
                        r += 1;
                    }
                }
                grid[r][c] = ch;
                c += 1;
            }
        }
    }
    grid.into_iter()
        .map(|l| l.into_iter().collect::<String>().trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_screen_model_follows_cursor_moves_and_erasures() {
    let drawn = b"spin a\n  spin b\x1b[1A\r\x1b[2K\x1b[1B\r\x1b[2K\x1b[1Adone\n";
    assert_eq!(screen(drawn, 5, 20), ["done"]);
}

/// `cmd` (its program, arguments, variables and folder) run under `script`
/// on a pseudo-terminal of 100 x 40: its exit code, and every byte it drew.
fn under_script(cmd: assert_cmd::Command) -> (Option<i32>, Vec<u8>) {
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"));
    let mut line = format!("stty cols 100 rows 40; exec {}", quote(cmd.get_program()));
    for a in cmd.get_args() {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &line, "/dev/null"])
        .stdin(std::process::Stdio::null());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        script.current_dir(d);
    }
    let out = script.output().unwrap();
    (out.status.code(), out.stdout)
}

/// On a terminal, the progress is drawn while the audit reads (the
/// environments read of all, a line per running source) and nothing of it
/// is left on the screen at the end: after an audit, and after one whose
/// every read is refused.
#[test]
fn progress_on_a_terminal_leaves_nothing_behind() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("`script` (util-linux) is needed for the pseudo-terminal test");
    }
    let (model, _) = pal_emulator::contoso::load().unwrap();
    let emu = Emulator::with_options(
        model,
        pal_emulator::Options {
            page_size: 2,
            latency: Duration::from_millis(60),
            ..Default::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let mut cmd = audit_command(&emu, &["--fail-on", "none", "--output"]);
    cmd.arg(&report);
    let (code, drawn) = under_script(cmd);
    assert_eq!(code, Some(4), "{}", String::from_utf8_lossy(&drawn));
    let text = String::from_utf8_lossy(&drawn);
    assert!(text.contains(" of 4 read"), "{text}");
    assert!(text.contains("Contoso Sales"), "{text}");
    // Only the report's line is left (wrapped at 100 columns).
    let left = screen(&drawn, 40, 100).concat();
    assert!(left.starts_with("report written to"), "{left}");
    assert!(left.ends_with("(audit incomplete)"), "{left}");

    // Every read refused: the bars of the failed reads go too.
    let refusing = Emulator::start("401*all", 100);
    let mut cmd = audit_command(&refusing, &["--output"]);
    cmd.arg(&report);
    let (code, drawn) = under_script(cmd);
    assert_eq!(code, Some(4), "{}", String::from_utf8_lossy(&drawn));
    assert!(String::from_utf8_lossy(&drawn).contains("reading the tenant"));
    let left = screen(&drawn, 40, 100).concat();
    assert!(left.starts_with("report written to"), "{left}");
    assert!(left.ends_with("(audit incomplete)"), "{left}");
}
