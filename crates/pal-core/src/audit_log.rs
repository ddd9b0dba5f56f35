//! The Microsoft 365 unified audit log as Purview exports it (`--audit-log`):
//! who launched, created, edited or published a canvas app, and who created
//! or edited a cloud flow, and when. Read from a file, so it lives here, not
//! with the HTTP sources.
//!
//! Accepted: the audit search export (CSV with an `AuditData` JSON column:
//! the classic `CreationDate,UserIds,Operations,AuditData` header and the
//! newer `RecordId,CreationDate,RecordType,Operation,UserId,AuditData,...`
//! one), or JSON (one record per line, or an array of records, each the
//! `AuditData` object itself or an object carrying it in `AuditData`).
//! Two record shapes (research-activity.md §1): the legacy top-level fields
//! (RecordType 45 `PowerAppsApp`, 30 `MicrosoftFlow`) and the
//! `PropertyCollection` name/value pairs (RecordType 256
//! `PowerPlatformAdministratorActivity`). Which operations count is
//! docs/attribution-rules.md's "Activity from the unified audit log".

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::InputError;
use crate::inventory::{PrincipalId, ResourceId, ResourceKind};

/// Operations that are use of a canvas app: a launch.
pub const APP_USE: &[&str] = &["LaunchPowerApp"];
/// Operations that are a maker's work on a canvas app.
pub const APP_MAKER: &[&str] = &[
    "CreatePowerApp",
    "UpdatePowerApp",
    "PublishPowerApp",
    "PatchPowerApp",
    "PromotePowerAppVersion",
];
/// Operations that are a maker's work on a cloud flow. Flow runs are not in
/// the audit log at all.
pub const FLOW_MAKER: &[&str] = &["CreateFlow", "EditFlow"];

/// Who acted, as the record names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditUser {
    /// An Entra object id (`enduser.id`).
    Id(PrincipalId),
    /// A UPN only (`UserId`, `enduser.principal_name`): resolved against the
    /// inventory's principals later.
    Upn(String),
}

/// One counted operation on an app or a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// `canvas-app` or `cloud-flow`.
    pub kind: ResourceKind,
    /// The app's or flow's id: ARM path prefix stripped, lower-case.
    pub resource: ResourceId,
    /// Who.
    pub user: AuditUser,
    /// `AuditData.CreationTime` (UTC).
    pub at: DateTime<Utc>,
    /// The operation (`LaunchPowerApp`, `EditFlow`, ...).
    pub operation: String,
    /// Where it was read: `file:line` or `file: record N`.
    pub origin: String,
    /// The record's `Id`, when it has one: the same record read from a file
    /// and from the Management Activity API is counted once.
    pub record_id: Option<String>,
}

impl AuditEvent {
    /// A launch of a canvas app (use, not maker work).
    pub fn is_launch(&self) -> bool {
        is_launch(&self.operation)
    }
}

/// Whether an operation is a launch of a canvas app.
pub fn is_launch(operation: &str) -> bool {
    APP_USE.iter().any(|o| o.eq_ignore_ascii_case(operation))
}

/// What one or more files gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditLog {
    /// The counted operations on apps and flows.
    pub events: Vec<AuditEvent>,
    /// Records read, of any workload.
    pub records: usize,
    /// The earliest and latest `CreationTime` of any record: the span the
    /// export is taken to cover.
    pub first: Option<DateTime<Utc>>,
    /// See `first`.
    pub last: Option<DateTime<Utc>>,
    /// The files read.
    pub files: Vec<String>,
}

impl AuditLog {
    /// Adds another file's records.
    pub fn extend(&mut self, other: AuditLog) {
        self.events.extend(other.events);
        self.records += other.records;
        self.first = min_opt(self.first, other.first);
        self.last = self.last.max(other.last);
        self.files.extend(other.files);
    }
}

/// The events of both, a record read from both (same `Id` and
/// `CreationTime`) counted once: `--audit-log` files together with the
/// Management Activity API. Returns how many events were duplicates.
pub fn union_events(into: &mut Vec<AuditEvent>, other: &[AuditEvent]) -> usize {
    let key = |e: &AuditEvent| {
        e.record_id
            .clone()
            .map(|id| (id.to_ascii_lowercase(), e.at))
    };
    let known: std::collections::HashSet<(String, DateTime<Utc>)> =
        into.iter().filter_map(key).collect();
    let before = into.len();
    into.extend(
        other
            .iter()
            .filter(|e| key(e).is_none_or(|k| !known.contains(&k)))
            .cloned(),
    );
    other.len() - (into.len() - before)
}

fn min_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parses one export. `name` is the file's name, for errors: each names the
/// file, the line (CSV, JSON lines) or record (JSON array), and the field.
/// The Management Activity API's content blobs (a JSON array of records)
/// are read by this same function.
pub fn parse_audit_log(name: &str, text: &str) -> Result<AuditLog, InputError> {
    let mut log = AuditLog {
        files: vec![name.to_string()],
        ..AuditLog::default()
    };
    each_record(name, text, |at, v| record(&mut log, at, v))?;
    Ok(log)
}

/// The records of an export as JSON objects (each `AuditData`, unwrapped),
/// in the file's order: what the emulator serves as content blobs.
pub fn audit_records(name: &str, text: &str) -> Result<Vec<Value>, InputError> {
    let mut out = Vec::new();
    each_record(name, text, |at, v| {
        out.push(unwrap_audit_data(at, v)?);
        Ok(())
    })?;
    Ok(out)
}

/// Calls `f` with each record of an export and where it was read.
fn each_record(
    name: &str,
    text: &str,
    mut f: impl FnMut(&str, Value) -> Result<(), InputError>,
) -> Result<(), InputError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let records: Vec<Value> = crate::input::parse_json(name, trimmed)?;
        for (i, v) in records.into_iter().enumerate() {
            f(&format!("{name}: record {}", i + 1), v)?;
        }
    } else if trimmed.starts_with('{') {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let at = format!("{name}:{}", i + 1);
            let v: Value = serde_json::from_str(line)
                .map_err(|e| InputError::new(&at, format!("not a JSON record: {e}")))?;
            f(&at, v)?;
        }
    } else {
        csv_records(name, text, &mut f)?;
    }
    Ok(())
}

fn csv_records(
    name: &str,
    text: &str,
    f: &mut impl FnMut(&str, Value) -> Result<(), InputError>,
) -> Result<(), InputError> {
    // Saved again from Excel, the export may be `;`- or tab-separated.
    let delimiter = crate::input::csv_delimiter(text);
    // Flexible: a row may stop short after AuditData (the columns after it
    // are nothing read here); other counts are refused below, in words.
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| InputError::new(format!("{name}:1"), format!("cannot read header: {e}")))?
        .clone();
    let column = headers
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case("AuditData"))
        .ok_or_else(|| {
            InputError::new(
                format!("{name}:1"),
                format!(
                    "missing column \"AuditData\" (the header has: {}); export the audit search from Purview as CSV",
                    headers.iter().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
    // A quote never closed: the csv crate reads it as a field running to
    // the end of the file, with no error, and the records after it would be
    // lost. Unlike in a links file, a line break inside a quoted field is not
    // refused here: AuditData is JSON, one line as Purview writes it, but
    // pretty-printed JSON (PowerShell's ConvertTo-Json writes it) is the same
    // record, and the admin unit names are free text. A quote left open that
    // a later quote closes needs no rule of its own: it takes the next row's
    // AuditData up to its opening quote and splits the rest at the JSON's
    // commas, so the row has more fields than the header or an AuditData
    // that is not JSON, both refused below.
    if let Some(q) =
        crate::input::quoted_line_breaks(text, delimiter, None).find(|q| q.end.is_none())
    {
        let (line, _) = q.lines(text);
        return Err(InputError::new(
            format!("{name}:{line}"),
            format!(
                "{}: a quote opened here is never closed (it would take in the rest of the file)",
                q.column(&headers)
            ),
        ));
    }
    // The line a record starts on, from its byte offset (csv's own line
    // count is off by one after a `\r\n`).
    let line_of = |pos: Option<&csv::Position>| {
        let mut start = pos.map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        start = start.min(text.len());
        while text[start..].starts_with(['\r', '\n']) {
            start += 1;
        }
        1 + memchr::memchr_iter(b'\n', &text.as_bytes()[..start]).count()
    };
    for row in reader.records() {
        let row = row.map_err(|e| {
            InputError::new(format!("{name}:{}", line_of(e.position())), e.to_string())
        })?;
        let at = format!("{name}:{}", line_of(row.position()));
        if row.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        // More fields than the header: a field split where it should not
        // be (JSON not quoted, a header with no separator); too few to reach
        // AuditData: a row cut short.
        if row.len() > headers.len() || row.len() <= column {
            return Err(InputError::new(
                at,
                crate::input::field_count_message(row.len(), &headers),
            ));
        }
        let data = row.get(column).unwrap_or_default().trim();
        if data.is_empty() {
            return Err(InputError::new(at, "AuditData: empty"));
        }
        let v: Value = serde_json::from_str(data)
            .map_err(|e| InputError::new(&at, format!("AuditData: not JSON: {e}")))?;
        f(&at, v)?;
    }
    Ok(())
}

/// The record itself: a wrapper's `AuditData` (object or string) unwrapped.
fn unwrap_audit_data(at: &str, v: Value) -> Result<Value, InputError> {
    let v = match v.get("AuditData") {
        Some(Value::String(s)) => serde_json::from_str(s)
            .map_err(|e| InputError::new(at, format!("AuditData: not JSON: {e}")))?,
        Some(inner @ Value::Object(_)) => inner.clone(),
        _ => v,
    };
    if !v.is_object() {
        return Err(InputError::new(at, "the record is not a JSON object"));
    }
    Ok(v)
}

/// One record (`at` names it in errors).
fn record(log: &mut AuditLog, at: &str, v: Value) -> Result<(), InputError> {
    // A wrapper that carries the record in `AuditData` (object or string).
    let v = unwrap_audit_data(at, v)?;
    let bad = |field: &str, what: &str| InputError::new(at, format!("AuditData.{field}: {what}"));
    let time = match v.get("CreationTime") {
        Some(Value::String(s)) => parse_time(s).ok_or_else(|| {
            bad(
                "CreationTime",
                &format!("{s:?} is not a time (yyyy-MM-ddTHH:mm:ss, UTC)"),
            )
        })?,
        Some(_) => return Err(bad("CreationTime", "not a string")),
        None => return Err(bad("CreationTime", "missing")),
    };
    log.records += 1;
    log.first = min_opt(log.first, Some(time));
    log.last = log.last.max(Some(time));

    let props = property_collection(&v);
    let prop = |key: &str| -> Option<&str> {
        props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| *v)
    };
    let record_type = record_type(&v);
    let workload = str_field(&v, "Workload").unwrap_or_default();
    let resource_type = prop("powerplatform.analytics.resource.type").unwrap_or_default();
    let is_app_256 = !props.is_empty()
        && (resource_type.eq_ignore_ascii_case("PowerApp")
            || resource_type.eq_ignore_ascii_case("PowerAppsApp"));
    let is_app_legacy =
        props.is_empty() && (record_type == Some(45) || workload.eq_ignore_ascii_case("PowerApps"));
    let is_flow = props.is_empty()
        && (record_type == Some(30) || workload.eq_ignore_ascii_case("MicrosoftFlow"));
    if !(is_app_256 || is_app_legacy || is_flow) {
        return Ok(());
    }
    let operation = if is_app_256 {
        prop("powerplatform.analytics.activity.name").or_else(|| str_field(&v, "Operation"))
    } else {
        str_field(&v, "Operation")
    };
    let Some(operation) = operation.map(str::trim).filter(|o| !o.is_empty()) else {
        return Err(bad(
            if is_app_256 {
                "PropertyCollection[powerplatform.analytics.activity.name]"
            } else {
                "Operation"
            },
            "missing",
        ));
    };
    let counted = |list: &[&str]| list.iter().any(|o| o.eq_ignore_ascii_case(operation));
    let kind = if is_flow {
        if !counted(FLOW_MAKER) {
            return Ok(());
        }
        ResourceKind::CloudFlow
    } else {
        if !(counted(APP_USE) || counted(APP_MAKER)) {
            return Ok(());
        }
        ResourceKind::CanvasApp
    };
    // A failed operation is nothing done.
    let failed = prop("powerplatform.analytics.operation.is_successful")
        .is_some_and(|s| s.eq_ignore_ascii_case("false"))
        || str_field(&v, "ResultStatus").is_some_and(|s| s.eq_ignore_ascii_case("Failed"));
    if failed {
        return Ok(());
    }
    let (field, raw_id) = if is_app_256 {
        (
            "PropertyCollection[powerplatform.analytics.resource.power_app.id]",
            prop("powerplatform.analytics.resource.power_app.id").map(str::to_string),
        )
    } else if is_app_legacy {
        ("AppName", str_field(&v, "AppName").map(str::to_string))
    } else {
        (
            "FlowDetailsUrl",
            str_field(&v, "FlowDetailsUrl")
                .and_then(flow_of_url)
                .or_else(|| str_field(&v, "ObjectId").map(str::to_string)),
        )
    };
    let resource = raw_id
        .as_deref()
        .map(normalise_id)
        .filter(|id| !id.as_str().is_empty())
        .ok_or_else(|| bad(field, "missing: the app or flow acted on is not named"))?;
    let user = if is_app_256 {
        match (prop("enduser.id"), prop("enduser.principal_name")) {
            (Some(id), _) if crate::links::is_guid(id.trim()) => {
                Some(AuditUser::Id(PrincipalId::new(id)))
            }
            (_, Some(upn)) if !upn.trim().is_empty() => Some(AuditUser::Upn(upn.trim().into())),
            _ => None,
        }
    } else {
        str_field(&v, "UserId")
            .or_else(|| str_field(&v, "UserUPN"))
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| AuditUser::Upn(u.to_string()))
    };
    let user = user.ok_or_else(|| {
        bad(
            if is_app_256 {
                "PropertyCollection[enduser.id]"
            } else {
                "UserId"
            },
            "missing: who acted is not named",
        )
    })?;
    log.events.push(AuditEvent {
        kind,
        resource,
        user,
        at: time,
        operation: operation.to_string(),
        origin: at.to_string(),
        record_id: str_field(&v, "Id")
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_string),
    });
    Ok(())
}

fn str_field<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// `RecordType` as a number (some tools write the member name).
fn record_type(v: &Value) -> Option<i64> {
    match v.get("RecordType")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok().or(match s.trim() {
            s if s.eq_ignore_ascii_case("PowerAppsApp") => Some(45),
            s if s.eq_ignore_ascii_case("MicrosoftFlow") => Some(30),
            s if s.eq_ignore_ascii_case("PowerPlatformAdministratorActivity") => Some(256),
            _ => None,
        }),
        _ => None,
    }
}

/// The `PropertyCollection` (`[{"Name": ..., "Value": ...}]`) as pairs.
fn property_collection(v: &Value) -> Vec<(&str, &str)> {
    let Some(Value::Array(items)) = v.get("PropertyCollection") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|i| {
            let get = |k: &str, alt: &str| i.get(k).or_else(|| i.get(alt)).and_then(Value::as_str);
            Some((get("Name", "name")?, get("Value", "value")?))
        })
        .collect()
}

/// The flow id in a `FlowDetailsUrl` (`.../environments/{env}/flows/{id}/details`).
fn flow_of_url(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let mut parts = path.split('/');
    parts.find(|p| p.eq_ignore_ascii_case("flows"))?;
    parts.next().filter(|p| !p.is_empty()).map(str::to_string)
}

/// An id with any ARM path prefix (`/providers/Microsoft.PowerApps/apps/`)
/// stripped, lower-cased.
pub fn normalise_id(raw: &str) -> ResourceId {
    let raw = raw.trim().trim_end_matches('/');
    ResourceId::new(raw.rsplit('/').next().unwrap_or(raw))
}

/// `CreationTime`: ISO 8601, UTC when no offset is given.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

#[cfg(test)]
mod tests;
