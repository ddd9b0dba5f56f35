//! The HTML report in a real browser (headless Chromium, Debian's package):
//! the demo page and a large synthetic one load with no script error, find
//! what is searched for (through the URL fragment the page reads), keep
//! hostile names as text, the first screen is a picture, not a blank, and
//! printing (to PDF, read back with pdftotext) keeps every fix the page
//! shows, every reason, no word broken, on a bounded number of pages.
//! Without Chromium (or poppler-utils) the tests skip, except under CI,
//! where they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pal_core::attribution::{Usage, Verdict};
use pal_core::inventory::ActivitySource;
use pal_core::report::{self, Report, Summary};

/// Chromium, or `None` when it is absent and this is not CI.
fn chromium() -> Option<PathBuf> {
    crate::common::installed(&["chromium", "chromium-browser"], "chromium")
}

/// Runs headless Chromium on `url` with `args`, in a new empty profile;
/// its stdout. A hung browser is killed after two minutes (a guard, not a
/// speed assertion).
fn run_chromium(chromium: &Path, args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish with {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "chromium failed on {url}: {status}");
    std::fs::read_to_string(out.path()).unwrap()
}

/// `#q=TEXT`, every character but letters and digits percent-encoded.
fn search(text: &str) -> String {
    let mut out = String::from("#q=");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn file_url(path: &Path, fragment: &str) -> String {
    format!("file://{}{fragment}", path.display())
}

/// The page's DOM after its script ran, asserting it ran to the end with no
/// error.
fn dom(chromium: &Path, page: &Path, fragment: &str) -> String {
    let dom = run_chromium(chromium, &["--dump-dom"], &file_url(page, fragment));
    let root = &dom[dom.find("<html").expect("an html element")..];
    let root = &root[..root.find('>').unwrap()];
    assert!(
        !root.contains("data-errors"),
        "script errors in {}: {root}",
        page.display()
    );
    assert!(
        root.contains(r#"data-ready="true""#),
        "the script did not run to its end (blocked, or failed to parse): {root}"
    );
    dom
}

/// The shown rows of the findings table.
fn rows(dom: &str) -> Vec<&str> {
    dom.split("<tr data-verdict=").skip(1).collect()
}

/// "findings 1-3 of 3 (of 45), page 1 of 1".
fn page_info(dom: &str) -> &str {
    let start = dom.find(r#"id="page-info">"#).unwrap() + r#"id="page-info">"#.len();
    &dom[start..start + dom[start..].find('<').unwrap()]
}

fn demo_page(dir: &Path) -> (Report, PathBuf) {
    let r = crate::formats::demo_report();
    let path = dir.join("demo.html");
    std::fs::write(&path, report::render_html(&r)).unwrap();
    (r, path)
}

/// A hostile name: markup, a script end, and line separators.
const HOSTILE: &str =
    "</script><img src=x onerror=\"document.title='owned'\">\u{2028}Evil & Co\u{2029}";

/// The demo's findings repeated to `n`, over `envs` environments, with
/// usage on most and a hostile name on every 997th.
fn large_report(n: usize, envs: usize) -> Report {
    let mut r = crate::formats::demo_report();
    let base = std::mem::take(&mut r.findings);
    r.findings = (0..n)
        .map(|i| {
            let mut f = base[i % base.len()].clone();
            f.resource_id = format!("f0000000-0000-4000-8000-{i:012}").into();
            f.resource_name = if i % 997 == 0 {
                format!("{HOSTILE} {i}").into()
            } else {
                format!("{} {i:06}", f.resource_name).into()
            };
            f.environment_id = format!("env-{:04}", i % envs).into();
            f.environment_name = format!("Environment {:04}", i % envs).into();
            f.usage = (i % 5 != 0).then(|| Usage {
                active_users: (i % 89) as u64,
                source: ActivitySource::AuditLog,
                counted: "users who launched it (LaunchPowerApp)".into(),
            });
            f
        })
        .collect();
    r.summary = Summary::of(&r.findings);
    r
}

#[test]
fn the_demo_page_loads_and_searches_what_it_shows() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (r, page) = demo_page(dir.path());

    let all = dom(&chromium, &page, "");
    assert_eq!(
        rows(&all).len(),
        r.findings.len(),
        "one page holds the demo"
    );
    assert!(
        page_info(&all).starts_with(&format!("findings 1-{0} of {0}", r.findings.len())),
        "{}",
        page_info(&all)
    );
    // The first rows are the ones the reports lead with.
    let first = report::ranked(&r)[0];
    assert!(rows(&all)[0].contains(&*first.resource_name));

    // A search shows exactly the findings whose shown text has it.
    let found = dom(&chromium, &page, &search("quote builder"));
    let shown = rows(&found);
    assert!(!shown.is_empty());
    assert!(shown.iter().any(|row| row.contains("<b>Quote Builder</b>")));
    for row in &shown {
        assert!(row.to_lowercase().contains("quote builder"), "{row}");
    }
    // A fix's text is shown, so it is searched: the fix of an uncredited
    // finding finds it.
    let fixed = r
        .findings
        .iter()
        .find(|f| f.verdict == Verdict::Uncredited && f.fix.is_some())
        .unwrap();
    let words: String = fixed
        .fix
        .as_ref()
        .unwrap()
        .to_string()
        .chars()
        .take(30)
        .collect();
    let by_fix = dom(&chromium, &page, &search(&words));
    assert!(
        rows(&by_fix)
            .iter()
            .any(|row| row.contains(&*fixed.resource_name)),
        "searching its fix finds {}",
        fixed.resource_name
    );
    // Nothing matches: no rows, and the page says so.
    let none = dom(&chromium, &page, "#q=no-such-thing-anywhere");
    assert!(rows(&none).is_empty());
    assert_eq!(page_info(&none), "no findings match");
    // The verdict filter, from the fragment too.
    let uncredited = dom(&chromium, &page, "#verdict=uncredited");
    assert_eq!(
        rows(&uncredited).len() as u64,
        r.summary.by_verdict[&Verdict::Uncredited]
    );
    assert!(
        rows(&uncredited)
            .iter()
            .all(|row| row.starts_with(r#""uncredited""#))
    );
}

#[test]
fn a_large_page_loads_in_pages_and_keeps_hostile_names_as_text() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (n, envs) = (30_000, 600);
    let r = large_report(n, envs);
    let page = dir.path().join("large.html");
    let html = report::render_html(&r);
    // The environment chart: the top environments and one "others" bar.
    assert!(html.contains(&format!("others ({} environments)", envs - 12)));
    std::fs::write(&page, &html).unwrap();

    let first = dom(&chromium, &page, "");
    assert_eq!(rows(&first).len(), 100, "a page of findings, not all");
    assert!(page_info(&first).ends_with(&format!("of {n}, page 1 of {}", n / 100)));
    // No tenant text became markup: no image, the title untouched.
    assert!(!first.contains("<img"), "a name became an element");
    assert!(!first.contains("owned</title>"));

    // Paging through the fragment.
    let last = dom(&chromium, &page, &format!("#page={}", n / 100));
    assert!(page_info(&last).starts_with(&format!("findings {}-{n} of {n}", n - 99)));

    // One finding among them all, by its name.
    let name = r.findings[12_345].resource_name.to_string();
    let one = dom(&chromium, &page, &search(&name));
    let shown = rows(&one);
    assert_eq!(shown.len(), 1, "{}", page_info(&one));
    assert!(shown[0].contains("f0000000-0000-4000-8000-000000012345"));

    // The hostile names are found as the text they are, and shown as text.
    let hostile = dom(&chromium, &page, &search("</script><img"));
    let expected = n.div_ceil(997);
    assert!(
        page_info(&hostile).starts_with(&format!("findings 1-{expected} of {expected}")),
        "{}",
        page_info(&hostile)
    );
    assert!(rows(&hostile)[0].contains("&lt;/script&gt;&lt;img src=x onerror="));
    assert!(!hostile.contains("<img"));
}

#[test]
fn the_first_screen_is_a_picture_of_the_summary() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, page) = demo_page(dir.path());
    let shot = dir.path().join("first-screen.png");
    run_chromium(
        &chromium,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,800",
        ],
        &file_url(&page, ""),
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("a screenshot was written"),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 800));
    let bytes = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    let mut counts: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    for px in bytes.chunks(channels * (info.bit_depth as usize / 8).max(1)) {
        *counts.entry(px).or_default() += 1;
    }
    let pixels = (info.width * info.height) as usize;
    let background = counts.values().max().copied().unwrap_or(0);
    // Text and the verdict colours: many colours, and the background is
    // not nearly everything (fonts differ between machines; no pixel is
    // compared to a stored picture).
    assert!(
        counts.len() >= 16,
        "{} colours: a blank page?",
        counts.len()
    );
    assert!(
        background * 100 < pixels * 97,
        "the background is {background} of {pixels} pixels: a blank page?"
    );
    // The summary's verdict colours are on the first screen: the red of
    // `uncredited` and the green of `credited`.
    let has = |rgb: [u8; 3]| counts.keys().any(|px| px.len() >= 3 && px[..3] == rgb);
    assert!(
        has([0xc6, 0x28, 0x28]),
        "no uncredited red on the first screen"
    );
    assert!(
        has([0x2e, 0x7d, 0x32]),
        "no credited green on the first screen"
    );
}

/// Not a check but a measurement, run by hand for docs/performance.md:
/// `cargo test -p pal-audit --test it -- --ignored --nocapture
/// measure_a_150000_finding_page`. It prints the page's size and when its
/// script was ready (`data-ready-ms`, from the start of navigation), with
/// and without a search.
#[test]
#[ignore = "a measurement for docs/performance.md, run by hand"]
fn measure_a_150000_finding_page() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let r = large_report(150_000, 551);
    let page = dir.path().join("150k.html");
    let html = report::render_html(&r);
    std::fs::write(&page, &html).unwrap();
    for fragment in ["", "", "#q=expense%20tracker", "#q=expense%20tracker"] {
        let started = Instant::now();
        let dom = dom(&chromium, &page, fragment);
        let root = &dom[dom.find("<html").unwrap()..];
        let root = &root[..root.find('>').unwrap()];
        eprintln!(
            "150,000 findings{fragment}: {} bytes; {root}; {}; chromium ran {:?} in all",
            html.len(),
            page_info(&dom),
            started.elapsed()
        );
    }
}

/// `page` printed by Chromium to `pdf`, and read back by pdftotext with
/// `options`.
fn printed(chromium: &Path, pdftotext: &Path, page: &Path, pdf: &Path, options: &[&str]) -> String {
    run_chromium(
        chromium,
        &[
            &format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer",
        ],
        &file_url(page, ""),
    );
    let out = Command::new(pdftotext)
        .args(options)
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `pdftotext`, or `None` when it is absent and this is not CI.
fn pdftotext() -> Option<PathBuf> {
    crate::common::installed(&["pdftotext"], "poppler-utils")
}

/// `pdfinfo` (poppler-utils too), or `None` when it is absent and this is
/// not CI.
fn pdfinfo() -> Option<PathBuf> {
    crate::common::installed(&["pdfinfo"], "poppler-utils")
}

/// A token longer than this (an id, a path, a URL, a JSON body) may wrap
/// anywhere on paper; ordinary words may not.
const LONG_TOKEN: usize = 30;

/// Text compared as printed: white space (line and page ends included) is
/// one space, and a hyphen at a line end joins its word again (the browser
/// breaks `co-owns` after the hyphen; `pdftotext -layout` keeps it).
fn flowed(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("- ", "-")
}

/// The runs of ordinary words in `text`, which must print unbroken: its
/// long tokens (see [`LONG_TOKEN`]) separate runs instead of being in one.
fn ordinary_runs(text: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for word in text.split_whitespace().chain([""]) {
        if word.is_empty() || word.chars().count() > LONG_TOKEN {
            if !run.is_empty() {
                runs.push(flowed(&run.join(" ")));
                run.clear();
            }
        } else {
            run.push(word);
        }
    }
    runs
}

#[test]
fn printing_keeps_every_fix_the_page_shows() {
    let Some(chromium) = chromium() else { return };
    let Some(pdftotext) = pdftotext() else { return };
    let Some(pdfinfo) = pdfinfo() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (r, page) = demo_page(dir.path());
    // On screen, after the script ran: the fix-first list and every row of
    // the one page of findings (the demo has fewer than a page).
    let shown = dom(&chromium, &page, "");
    assert!(r.findings.len() <= 100);
    let on_screen = shown.matches("<b>Fix:").count();
    let with_fix = r.findings.iter().filter(|f| f.fix.is_some()).count();
    assert!(
        on_screen >= with_fix,
        "{on_screen} fixes shown of {with_fix}"
    );
    let pdf = dir.path().join("demo.pdf");
    // `-layout` keeps a hyphen at a line end (plain pdftotext drops it,
    // which would misspell `--resource`).
    let text = printed(&chromium, &pdftotext, &page, &pdf, &["-layout"]);
    assert_eq!(
        text.matches("Fix:").count(),
        on_screen,
        "printed fixes against the fixes on screen:\n{text}"
    );
    // Readable on paper: every finding's name, every reason (on screen
    // behind "why") and every fix print as running text, no ordinary word
    // broken; squeezed into a table column they broke mid-word
    // ("Headcou nt") and ran one word a line.
    let printed = flowed(&text);
    for f in &r.findings {
        let name = flowed(&f.resource_name);
        assert!(
            printed.contains(&name),
            "{name:?} is not printed whole:\n{text}"
        );
        let fix = f.fix.as_ref().map(ToString::to_string);
        for said in f.reasons.iter().map(|r| r.to_string()).chain(fix) {
            for run in ordinary_runs(&said) {
                assert!(
                    printed.contains(&run),
                    "{:?}: {run:?} is not printed whole:\n{text}",
                    f.resource_name
                );
            }
        }
    }
    // And compact: findings share pages (at least three to a page, with the
    // summary, identities and fix-first list), no page to each.
    let out = Command::new(pdfinfo)
        .arg(&pdf)
        .output()
        .expect("pdfinfo runs");
    assert!(out.status.success());
    let info = String::from_utf8_lossy(&out.stdout);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap_or_else(|| panic!("no page count in {info}"))
        .trim()
        .parse()
        .unwrap();
    assert!(
        pages <= r.findings.len() / 3,
        "{} findings on {pages} pages",
        r.findings.len()
    );
}

/// A name with no place to break (300 characters) wraps on paper: all of
/// it is printed, none cut off at the page's edge.
#[test]
fn printing_wraps_a_name_with_no_place_to_break() {
    let Some(chromium) = chromium() else { return };
    let Some(pdftotext) = pdftotext() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut r = crate::formats::demo_report();
    let long = "X".repeat(300);
    r.findings[0].resource_name = long.as_str().into();
    let page = dir.path().join("long.html");
    std::fs::write(&page, report::render_html(&r)).unwrap();
    let pdf = dir.path().join("long.pdf");
    let text = printed(&chromium, &pdftotext, &page, &pdf, &[]);
    let joined: String = text.split_whitespace().collect();
    assert!(
        joined.contains(&long),
        "the 300-character name is not printed whole:\n{text}"
    );
}
