//! The unified audit log into the inventory: the `--audit-log` files and the
//! Management Activity API (`--audit-api`) as one source of app and flow
//! activity. Their events are united (a record read from both, same `Id`
//! and `CreationTime`, counts once) and the part of the activity window
//! they cover is one span: the union of both spans when they overlap,
//! else the later one (the part between them is not known, so it stays a
//! gap). Attribution applies the same rules to it whichever gave it.

use chrono::{DateTime, Utc};

use super::management_activity::{self, FeedError, FeedRead};
use super::{Plan, global, plural};
use crate::http::HttpClient;
use pal_core::audit_log::{AuditEvent, AuditLog, AuditUser, union_events};
use pal_core::inventory::{
    Activity, ActivitySource, ActivityWindow, Coverage, CoverageStatus, Inventory, PrincipalId,
    ResourceKind,
};

/// The coverage row's source name of `--audit-log`.
pub const AUDIT_LOG_SOURCE: &str = "audit-log";

type Span = (DateTime<Utc>, DateTime<Utc>);

/// Adds the unified audit log's app and flow events of the activity window
/// to the inventory's activity, with the part of the window the files and
/// the API cover, and a coverage row for each (partial when together they
/// cover less than the window; the API's failed when it gave nothing).
pub(super) fn merge_audit_log(
    plan: &Plan,
    inv: &mut Inventory,
    files: Option<&AuditLog>,
    feed: Option<Result<FeedRead, FeedError>>,
    http: &HttpClient,
) {
    let to = plan.now;
    let from = to - chrono::Duration::days(i64::from(plan.activity_days));
    let clip = |s: Option<Span>| match s {
        Some((a, b)) if a <= to && b >= from => Some((a.max(from), b.min(to))),
        _ => None,
    };
    let files_span = files.and_then(|log| match (log.first, log.last) {
        (Some(a), Some(b)) => clip(Some((a, b))),
        _ => None,
    });
    let (feed_read, feed_error) = match feed {
        None => (None, None),
        Some(Ok(r)) => (Some(r), None),
        Some(Err(e)) => (None, Some(e)),
    };
    let feed_span = feed_read.as_ref().and_then(|r| clip(r.covered));
    let covered = match (files_span, feed_span) {
        (Some(f), Some(a)) if f.0 <= a.1 && a.0 <= f.1 => Some((f.0.min(a.0), f.1.max(a.1))),
        (Some(f), Some(a)) => Some(if a.1 >= f.1 { a } else { f }),
        (f, a) => f.or(a),
    };
    let mut events: Vec<AuditEvent> = files.map(|l| l.events.clone()).unwrap_or_default();
    let duplicates = feed_read
        .as_ref()
        .map_or(0, |r| union_events(&mut events, &r.log.events));
    let in_window = |e: &&AuditEvent| e.at >= from && e.at <= to;
    let counted = events.iter().filter(in_window).count();
    for e in events.iter().filter(in_window) {
        inv.activity.push(Activity {
            resource: e.resource.clone(),
            principal: match &e.user {
                AuditUser::Id(id) => id.clone(),
                AuditUser::Upn(upn) => PrincipalId::upn_placeholder(upn),
            },
            at: e.at,
            action: e.operation.clone(),
            source: Some(ActivitySource::AuditLog),
        });
    }
    let mut names: Vec<String> = files.map(|l| l.files.clone()).unwrap_or_default();
    if feed_read.is_some() || feed_error.is_some() {
        names.push(management_activity::API_NAME.to_string());
    }
    let window = ActivityWindow {
        source: ActivitySource::AuditLog,
        kinds: vec![ResourceKind::CanvasApp, ResourceKind::CloudFlow],
        from,
        to,
        covered,
        files: names,
    };
    let gaps = window.gaps();
    let show = |(a, b): &Span| format!("{} to {}", a.to_rfc3339(), b.to_rfc3339());
    let unknown = (!gaps.is_empty()).then(|| {
        format!(
            "; activity from {} is not known",
            gaps.iter().map(show).collect::<Vec<_>>().join(" and ")
        )
    });
    let both = files.is_some() && (feed_read.is_some() || feed_error.is_some());
    if let Some(log) = files {
        let mut detail = format!(
            "{} in {}; {} on apps and flows in the last {} days",
            plural(log.records, "record"),
            log.files.join(", "),
            plural(counted, "counted event"),
            plan.activity_days
        );
        if both {
            detail.push_str(" (with the Management Activity API's)");
        }
        match files_span {
            Some(s) => detail.push_str(&format!("; the files cover {}", show(&s))),
            None => detail.push_str("; the files cover none of the activity window"),
        }
        if let Some(u) = &unknown {
            detail.push_str(u);
            detail.push_str(
                " (export the audit log for the whole window, or add --audit-api for the last 7 days, to settle it)",
            );
        }
        inv.coverage.push(Coverage {
            source: AUDIT_LOG_SOURCE.into(),
            environment_id: None,
            status: if gaps.is_empty() {
                CoverageStatus::Complete
            } else {
                CoverageStatus::Partial
            },
            detail,
            requests: 0,
        });
    }
    let source = management_activity::SOURCE;
    if let Some(e) = feed_error {
        let mut detail = format!("the unified audit log could not be read: {e}");
        if matches!(&e, FeedError::Http(h) if h.is_denied()) {
            detail.push_str(
                "; the app needs the application permission ActivityFeed.Read of Office 365 Management APIs, with admin consent",
            );
        }
        if both && unknown.is_none() {
            detail.push_str("; the --audit-log files cover the activity window");
        }
        inv.coverage
            .push(global(source, CoverageStatus::Failed, detail, http));
    }
    if let Some(read) = feed_read {
        let mut detail = format!(
            "{} in {} of {}",
            plural(read.log.records, "record"),
            plural(read.blobs, "content blob"),
            management_activity::CONTENT_TYPE
        );
        if duplicates > 0 {
            detail.push_str(&format!(
                " ({} also in the --audit-log files, counted once)",
                plural(duplicates, "event")
            ));
        }
        match feed_span {
            Some(s) => detail.push_str(&format!("; the API's content covers {}", show(&s))),
            None => detail.push_str("; the API's content covers none of the activity window"),
        }
        if plan.activity_days > management_activity::KEPT_DAYS as u32 {
            detail.push_str(&format!(
                "; the API keeps {} days of the {}-day window",
                management_activity::KEPT_DAYS,
                plan.activity_days
            ));
        }
        if !read.failures.is_empty() {
            detail.push_str(&format!("; {}", read.failures.join("; ")));
        }
        if let Some(u) = &unknown {
            detail.push_str(u);
            detail.push_str(
                " (--activity-days 7, or an --audit-log export of the older days, settles it)",
            );
        }
        let status = if read.failures.is_empty() && gaps.is_empty() {
            CoverageStatus::Complete
        } else {
            CoverageStatus::Partial
        };
        inv.coverage.push(global(source, status, detail, http));
    }
    inv.activity_windows.push(window);
}
