//! Snapshots of the renderers on the bundled tenant (insta). Times and the
//! tool version are redacted; the demo judges attestations as of the
//! tenant's own date, so nothing else moves.

use crate::common::bin;

fn demo(args: &[&str]) -> String {
    let out = bin().arg("demo").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .replace(env!("CARGO_PKG_VERSION"), "[version]")
}

#[test]
fn table() {
    insta::assert_snapshot!(demo(&["--color", "never"]));
}

#[test]
fn json() {
    let report: serde_json::Value = serde_json::from_str(&demo(&["--format", "json"])).unwrap();
    insta::assert_json_snapshot!(report, {
        ".generated_at" => "[time]",
        ".tool_version" => "[version]",
    });
}
