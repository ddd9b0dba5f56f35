//! Files and streams end to end: where reports go (stdout, --output, a
//! device, a folder), what happens when writing fails, and the limits on
//! what is read (size, duplicate columns, byte order marks, UTF-16, `;` and tabs
//! as Excel saves them, workbooks refused, quotes never closed, numbers).

use crate::common::*;

/// The binary as a std `Command`, for stdout redirections assert_cmd lacks.
fn std_bin() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("pal-audit"));
    for (k, _) in std::env::vars() {
        if k.starts_with("PAL_AUDIT_") || k.starts_with("AZURE_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(crate::common::ROOT);
    cmd
}

/// A stdout that cannot be written (a full disk) is an error, exit 2, and
/// the message names stdout and the OS error; it used to exit 0 with a
/// truncated report.
#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_an_error_not_a_truncated_report() {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for args in [
        vec!["demo", "--format", "json"],
        vec!["demo", "--format", "table"],
        vec!["completions", "bash"],
    ] {
        let out = std_bin().args(&args).stdout(full()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write stdout") && stderr.contains("No space left"),
            "{args:?}: {stderr}"
        );
    }
    // Commands that read a report print through the same check.
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let ok = bin()
        .args(["demo", "--format", "json", "--output"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    let out = std_bin()
        .arg("diff")
        .arg(&report)
        .arg(&report)
        .stdout(full())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std_bin()
        .arg("explain")
        .arg(&report)
        .args(["--format", "dot"])
        .stdout(full())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An audit against a listener that never answers: if the audit made a
/// call, the listener has a connection waiting.
struct Silent(std::net::TcpListener);

impl Silent {
    fn new() -> Self {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        Self(l)
    }
    fn base(&self) -> String {
        format!("http://{}", self.0.local_addr().unwrap())
    }
    fn was_called(&self) -> bool {
        self.0.accept().is_ok()
    }
    fn audit(&self, extra: &[&str]) -> std::process::Output {
        let base = self.base();
        let mut args = vec![
            "audit",
            "--auth",
            "static-token",
            "--api-base",
            &base,
            "--partner-id",
            PARTNER,
            "--links",
            "crates/pal-emulator/contoso/links.csv",
            "--timeout",
            "3s",
        ];
        args.extend_from_slice(extra);
        bin()
            .env("PAL_AUDIT_TOKEN", TOKEN)
            .args(args)
            .output()
            .unwrap()
    }
}

/// `--output` into a folder that does not exist, or onto a folder, is
/// refused before the first call (it used to fail after the whole audit).
#[test]
fn an_unwritable_output_is_refused_before_the_audit() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder").join("r.json");
    let folder = dir.path().to_str().unwrap().to_string();
    for target in [missing.to_str().unwrap(), folder.as_str()] {
        let emu = Silent::new();
        let out = emu.audit(&["--output", target]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{target}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot write {target}")),
            "{stderr}"
        );
        assert!(!emu.was_called(), "{target}: the audit ran first");
    }
    // The demo and `fix --out` check first too; a folder is named.
    let out = bin().args(["demo", "--output", &folder]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&folder) && stderr.contains("directory"),
        "{stderr}"
    );
}

/// A FIFO at `--output` is written through, and is still a FIFO after:
/// renaming a temporary over it made it a 0600 report file (and, as root,
/// did the same to /dev/null).
#[cfg(unix)]
#[test]
fn a_fifo_at_output_is_written_through_not_replaced() {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            std::fs::File::open(&fifo)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            text
        })
    };
    let out = bin()
        .args(["demo", "--format", "json", "--output"])
        .arg(&fifo)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kind = std::fs::metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the FIFO was replaced by a file");
    let text = reader.join().unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["schema"], "pal-audit/report/v1");
}

/// `--record` into a folder that is not empty is refused before the audit
/// (a replay would mix the old answers in); `--force` replaces the old
/// recording, leaving no old answer behind.
#[test]
fn record_into_a_non_empty_folder_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    std::fs::write(rec.join("999999.json"), "{}").unwrap();
    let rec_s = rec.to_str().unwrap();
    let silent = Silent::new();
    let out = silent.audit(&["--record", rec_s]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(rec_s) && stderr.contains("not empty") && stderr.contains("--force"),
        "{stderr}"
    );
    assert!(!silent.was_called(), "the audit ran first");
    let emu = Emulator::start("", 100);
    let out = audit(&emu, &["--format", "json", "--record", rec_s, "--force"]);
    assert!(
        out.status.code().is_some_and(|c| c <= 4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!rec.join("999999.json").exists(), "an old answer was left");
    assert!(rec.join("recording.json").exists());
    assert!(rec.join("000001.json").exists());
}

/// An endless input ends at the size cap with an error naming it, exit 2
/// (`--links /dev/zero` grew to 24 GB).
#[cfg(unix)]
#[test]
fn an_endless_input_is_refused_at_the_cap() {
    let silent = Silent::new();
    let out = silent.audit(&["--attestations", "/dev/zero"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("/dev/zero: cannot read: larger than the 256 MiB"),
        "{stderr}"
    );
    assert!(!silent.was_called());
}

/// Inputs saved with a UTF-8 byte order mark (Windows editors write one)
/// are read: an attestation, the config file, a report.
#[test]
fn inputs_with_a_byte_order_mark_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let bom = |from: &std::path::Path, to: &std::path::Path| {
        let mut bytes = "\u{feff}".as_bytes().to_vec();
        bytes.extend(std::fs::read(from).unwrap());
        std::fs::write(to, bytes).unwrap();
    };
    let atts = dir.path().join("attestations");
    std::fs::create_dir(&atts).unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pal-emulator/contoso/attestations");
    for f in std::fs::read_dir(&fixtures).unwrap() {
        let f = f.unwrap().path();
        bom(&f, &atts.join(f.file_name().unwrap()));
    }
    let config = dir.path().join("pal-audit.toml");
    std::fs::write(&config, "\u{feff}fail_on = \"none\"\n").unwrap();
    let emu = Emulator::start("", 100);
    let base = emu.base();
    let out = bin()
        .env("PAL_AUDIT_TOKEN", TOKEN)
        .env("PAL_AUDIT_CI_KEY", CI_KEY)
        .args([
            "audit",
            "--auth",
            "static-token",
            "--api-base",
            &base,
            "--partner-id",
            PARTNER,
        ])
        .args([
            "--links",
            "crates/pal-emulator/contoso/links.csv",
            "--as-of",
            AS_OF,
            "--format",
            "json",
        ])
        .arg("--attestations")
        .arg(&atts)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 4),
        "{stderr}"
    );
    let report = json(&out);
    assert!(
        report["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["source"] == "attested"),
        "the attestations were read: {}",
        report["links"]
    );
    let plain = dir.path().join("plain.json");
    std::fs::write(&plain, &out.stdout).unwrap();
    let with_bom = dir.path().join("bom.json");
    bom(&plain, &with_bom);
    let out = bin()
        .arg("explain")
        .arg(&with_bom)
        .args(["--format", "dot"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Numbers out of range are exit 2 naming the flag, or the file and key;
/// they used to wrap (`max_body_mb` huge became a cap of 0) or panic.
#[test]
fn out_of_range_numbers_are_exit_2_naming_the_setting() {
    for (args, named) in [
        (vec!["audit", "--concurrency", "0"], "--concurrency"),
        (vec!["audit", "--concurrency", "100000"], "--concurrency"),
        (vec!["audit", "--activity-days", "0"], "--activity-days"),
        (
            vec!["audit", "--attestation-max-age", "99999999"],
            "--attestation-max-age",
        ),
        (vec!["audit", "--timeout", "99999999999h"], "--timeout"),
        (
            vec![
                "emulate",
                "--synthetic",
                "envs=1",
                "--latency",
                "18446744073709551615",
            ],
            "--latency",
        ),
        (
            vec!["emulate", "--synthetic", "envs=1", "--page-size", "0"],
            "--page-size",
        ),
        (
            vec!["emulate", "--synthetic", "envs=1", "--time-scale", "1e300"],
            "--time-scale",
        ),
    ] {
        let out = bin()
            .args(&args)
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pal-audit.toml");
    std::fs::write(&config, "[http]\nmax_body_mb = 17592186044416\n").unwrap();
    let silent = Silent::new();
    let out = silent.audit(&["--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}: [http] max_body_mb", config.display())),
        "{stderr}"
    );
    assert!(!silent.was_called());
}

/// A resource name with terminal escapes (ESC, BEL, CR, DEL, C1) and HTML:
/// the table, `explain` and `diff` show the escapes instead of obeying them,
/// Markdown escapes the HTML, and JSON keeps the name exact.
#[test]
fn tenant_text_cannot_drive_the_terminal_or_inject_html() {
    let evil = "Quote\u{1b}]0;owned\u{7}\r\u{7f}\u{9b}2J<img src=x onerror=alert(1)>";
    let toml = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../pal-emulator/contoso/tenant.toml"),
    )
    .unwrap()
    .replace(
        "name = \"Quote Builder\"",
        "name = \"Quote\\u001b]0;owned\\u0007\\r\\u007f\\u009b2J<img src=x onerror=alert(1)>\"",
    );
    let model = pal_emulator::TenantModel::parse("tenant.toml", &toml).unwrap();
    let emu = Emulator::serve(model, "", 100);
    let raw = |s: &str| {
        s.contains('\u{1b}') || s.contains('\u{7}') || s.contains('\r') || s.contains('\u{9b}')
    };
    let out = audit(&emu, &["--format", "table", "--color", "always"]);
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(table.contains("Quote\\u{1b}]0;"), "{table}");
    assert!(
        !table.contains("\u{1b}]0;"),
        "the OSC sequence reached the terminal"
    );
    assert!(!table.contains('\u{9b}') && !table.contains('\u{7}') && !table.contains('\r'));
    let out = audit(&emu, &["--format", "markdown"]);
    let md = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!raw(&md), "{md}");
    assert!(md.contains("&lt;img src=x onerror=alert(1)&gt;"), "{md}");
    assert!(!md.contains("<img"), "{md}");
    let out = audit(&emu, &["--format", "json"]);
    let report = json(&out);
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["resource_name"] == evil),
        "JSON keeps the name exact"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    std::fs::write(&path, &out.stdout).unwrap();
    let explain = bin()
        .arg("explain")
        .arg(&path)
        .args(["--format", "dot"])
        .output()
        .unwrap();
    assert_eq!(explain.status.code(), Some(0));
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(text.contains("u{1b}]0;owned") && !raw(&text), "{text}");
    let clean = dir.path().join("clean.json");
    let demo = bin()
        .args(["demo", "--format", "json", "--output"])
        .arg(&clean)
        .output()
        .unwrap();
    assert_eq!(demo.status.code(), Some(0));
    let diff = bin().arg("diff").arg(&clean).arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(!raw(&text), "{text}");
}

/// Links files as Excel saves them: `;`-separated, UTF-16 (little and big
/// endian) with a byte order mark, "Unicode Text" (UTF-16LE, tab-separated);
/// the same links as the comma-separated
/// UTF-8 file. A workbook (zip or OLE by its magic bytes, whatever its
/// name) is refused with exit 2, naming the file and how to save it.
#[test]
fn links_files_as_excel_saves_them_are_read_and_workbooks_refused() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../pal-emulator/contoso/links.csv"),
    )
    .unwrap();
    let semicolons = original.replace(',', ";").replace("\n", "\r\n");
    // Excel's "Unicode Text": UTF-16LE with a byte order mark, tabs, CRLF.
    let tabs = original.replace(',', "\t").replace("\n", "\r\n");
    let utf16 = |text: &str, bom: [u8; 2], le: bool| -> Vec<u8> {
        let mut bytes = bom.to_vec();
        for u in text.encode_utf16() {
            bytes.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        bytes
    };
    let emu = Emulator::start("", 100);
    let base = emu.base();
    // The audit with only this links file.
    let with_links = |path: &std::path::Path| {
        let mut cmd = bin();
        cmd.env("PAL_AUDIT_TOKEN", TOKEN)
            .env("PAL_AUDIT_CI_KEY", CI_KEY)
            .args(["audit", "--auth", "static-token", "--api-base", &base])
            .args([
                "--partner-id",
                PARTNER,
                "--as-of",
                AS_OF,
                "--products",
                "power-apps",
            ])
            .arg("--links")
            .arg(path);
        cmd
    };
    let links_of = |path: &std::path::Path| {
        let out = with_links(path)
            .args(["--format", "json", "--fail-on", "none"])
            .output()
            .unwrap();
        // 4: Contoso Finance's Dataverse is refused in the fixture.
        assert!(
            matches!(out.status.code(), Some(0 | 4)),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out)["links"].clone()
    };
    let want = links_of(std::path::Path::new(
        "crates/pal-emulator/contoso/links.csv",
    ));
    for (name, bytes) in [
        ("semicolons.csv", semicolons.clone().into_bytes()),
        ("utf16le.csv", utf16(&semicolons, [0xff, 0xfe], true)),
        ("unicode-text.txt", utf16(&tabs, [0xff, 0xfe], true)),
        ("utf16be.txt", utf16(&original, [0xfe, 0xff], false)),
        (
            "utf8bom.csv",
            [&b"\xef\xbb\xbf"[..], semicolons.as_bytes()].concat(),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(links_of(&path), want, "{name}");
    }
    // A bad row of a UTF-16 file is named by its line, counted after decoding.
    let bad = dir.path().join("bad16.csv");
    std::fs::write(
        &bad,
        utf16(
            "principal;partner_id\r\n# c\r\nana.costa@contoso.com;12a\r\n",
            [0xff, 0xfe],
            true,
        ),
    )
    .unwrap();
    let out = with_links(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{}:3", bad.display())), "{stderr}");
    // So is a bad row of a tab-separated one, with its field.
    let bad = dir.path().join("bad-tabs.txt");
    std::fs::write(
        &bad,
        utf16(
            "principal\tpartner_id\tnote\r\nana.costa@contoso.com\t4567890\tok\r\nana.costa@contoso.com\t12a\tx\r\n",
            [0xff, 0xfe],
            true,
        ),
    )
    .unwrap();
    let out = with_links(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:3: partner_id", bad.display())),
        "{stderr}"
    );
    // Workbooks, whatever their extension.
    for (name, magic) in [
        ("links.xlsx", &b"PK\x03\x04\x14\x00\x06\x00"[..]),
        ("links.csv", &b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00"[..]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, magic).unwrap();
        let out = with_links(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
        assert!(
            stderr.contains("save it as CSV UTF-8 (Comma delimited)"),
            "{stderr}"
        );
    }
}

/// A quote never closed in a links file (it took in the rest of the file:
/// 1 link of 9, silently, and the verdicts changed) and a row with more
/// fields than the header: exit 2 before any call, naming the file, the
/// line and the column, and no report written.
#[test]
fn a_links_file_with_a_stray_quote_or_a_long_row_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let contoso = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../pal-emulator/contoso/links.csv"),
    )
    .unwrap();
    let stray = dir.path().join("x.csv");
    std::fs::write(
        &stray,
        contoso.replacen(",Northwind consultant", ",\"Northwind consultant", 1),
    )
    .unwrap();
    let long = dir.path().join("longrow.csv");
    std::fs::write(
        &long,
        "principal,partner_id\nana.costa@contoso.com,4567890,x,y\n",
    )
    .unwrap();
    for (file, want) in [
        (&stray, ":2: note: a quote opened here is never closed"),
        (
            &long,
            ":2: 4 fields, the header has 2 (principal, partner_id)",
        ),
    ] {
        let report = dir.path().join("report.json");
        let emu = Silent::new();
        let out = emu.audit(&[
            "--links",
            file.to_str().unwrap(),
            "--output",
            report.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("{}{want}", file.display())),
            "{stderr}"
        );
        assert!(!report.exists(), "a report was written");
        assert!(!emu.was_called(), "the audit ran");
    }
}

/// `--redact` hides the local paths of the inputs, spaces and all: a reason
/// names the links file a link came from.
#[test]
fn redact_hides_the_input_paths() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("Ana Costa's customers");
    std::fs::create_dir(&folder).unwrap();
    let links = folder.join("contoso links.csv");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../pal-emulator/contoso/links.csv"),
        &links,
    )
    .unwrap();
    let emu = Emulator::start("", 100);
    let base = emu.base();
    let run = |redact: bool| {
        let mut cmd = bin();
        cmd.env("PAL_AUDIT_TOKEN", TOKEN)
            .args(["audit", "--auth", "static-token", "--api-base", &base])
            .args([
                "--partner-id",
                PARTNER,
                "--as-of",
                AS_OF,
                "--products",
                "power-apps",
            ])
            .args(["--format", "json", "--fail-on", "none", "--links"])
            .arg(&links);
        if redact {
            cmd.arg("--redact");
        }
        String::from_utf8(cmd.output().unwrap().stdout).unwrap()
    };
    let path = links.display().to_string();
    assert!(run(false).contains(&path), "the path is in the reasons");
    let redacted = run(true);
    for part in [path.as_str(), "Ana Costa", "contoso links.csv", "customers"] {
        assert!(!redacted.contains(part), "{part}");
    }
}
