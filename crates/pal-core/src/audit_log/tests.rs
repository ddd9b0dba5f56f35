use super::*;

const LEGACY_LAUNCH: &str = r#"{"CreationTime":"2026-11-10T09:00:00","Id":"1","Operation":"LaunchPowerApp","RecordType":45,"UserType":0,"Workload":"PowerApps","UserId":"Ann@Contoso.com","UserKey":"1003","AppName":"/providers/Microsoft.PowerApps/apps/A0000000-0000-4000-8000-000000000004","AdditionalInfo":"{\"environmentName\":\"x\"}"}"#;
const NEW_LAUNCH: &str = r#"{"CreationTime":"2026-11-11T10:00:00","Id":"2","Operation":"LaunchPowerApp","RecordType":256,"Workload":"PowerPlatform","UserId":"bob@contoso.com","PropertyCollection":[{"Name":"powerplatform.analytics.resource.type","Value":"PowerApp"},{"Name":"powerplatform.analytics.activity.name","Value":"LaunchPowerApp"},{"Name":"powerplatform.analytics.resource.power_app.id","Value":"a0000000-0000-4000-8000-000000000005"},{"Name":"enduser.id","Value":"11111111-1111-4111-8111-0000000000AB"},{"Name":"enduser.principal_name","Value":"bob@contoso.com"}]}"#;
const FLOW_EDIT: &str = r#"{"CreationTime":"2026-11-12T11:00:00Z","Id":"3","Operation":"EditFlow","RecordType":30,"Workload":"MicrosoftFlow","UserId":"carl@contoso.com","FlowDetailsUrl":"https://make.powerautomate.com/manage/environments/Default-1/flows/F0000000-0000-4000-8000-000000000001/details"}"#;
const EXCHANGE: &str = r#"{"CreationTime":"2026-11-01T00:00:00","Operation":"MailItemsAccessed","RecordType":50,"Workload":"Exchange","UserId":"x@contoso.com"}"#;
const FLOW_RUN_LIKE: &str = r#"{"CreationTime":"2026-11-19T00:00:00","Operation":"DeleteFlow","RecordType":30,"Workload":"MicrosoftFlow","UserId":"x@contoso.com","ObjectId":"f1"}"#;

fn csv_field(json: &str) -> String {
    format!("\"{}\"", json.replace('"', "\"\""))
}

fn check(log: &AuditLog) {
    assert_eq!(log.records, 5);
    assert_eq!(log.events.len(), 3, "{:?}", log.events);
    let launch = &log.events[0];
    assert_eq!(launch.kind, ResourceKind::CanvasApp);
    assert_eq!(
        launch.resource.as_str(),
        "a0000000-0000-4000-8000-000000000004"
    );
    assert_eq!(launch.user, AuditUser::Upn("Ann@Contoso.com".into()));
    assert!(launch.is_launch());
    let new = &log.events[1];
    assert_eq!(
        new.resource.as_str(),
        "a0000000-0000-4000-8000-000000000005"
    );
    assert_eq!(
        new.user,
        AuditUser::Id(PrincipalId::new("11111111-1111-4111-8111-0000000000ab"))
    );
    let flow = &log.events[2];
    assert_eq!(flow.kind, ResourceKind::CloudFlow);
    assert_eq!(
        flow.resource.as_str(),
        "f0000000-0000-4000-8000-000000000001"
    );
    assert_eq!(flow.operation, "EditFlow");
    assert!(!flow.is_launch());
    assert_eq!(log.first.unwrap().to_rfc3339(), "2026-11-01T00:00:00+00:00");
    assert_eq!(log.last.unwrap().to_rfc3339(), "2026-11-19T00:00:00+00:00");
}

#[test]
fn classic_four_column_csv() {
    let mut text = String::from("CreationDate,UserIds,Operations,AuditData\n");
    for r in [
        LEGACY_LAUNCH,
        NEW_LAUNCH,
        FLOW_EDIT,
        EXCHANGE,
        FLOW_RUN_LIKE,
    ] {
        text.push_str(&format!(
            "2026-11-10T09:00:00.0000000Z ,u,op,{}\n",
            csv_field(r)
        ));
    }
    check(&parse_audit_log("a.csv", &text).unwrap());
}

/// Saved again from Excel as "Unicode Text": tab-separated (the decoding
/// of UTF-16 is `input::decode`'s), a bad row still named by its line.
#[test]
fn tab_separated_export_as_excel_saves_it() {
    let mut text = String::from("CreationDate\tUserIds\tOperations\tAuditData\r\n");
    for r in [
        LEGACY_LAUNCH,
        NEW_LAUNCH,
        FLOW_EDIT,
        EXCHANGE,
        FLOW_RUN_LIKE,
    ] {
        text.push_str(&format!(
            "2026-11-10T09:00:00Z\tu\top\t{}\r\n",
            csv_field(r)
        ));
    }
    check(&parse_audit_log("a.txt", &text).unwrap());
    text.push_str("x\tu\to\t{oops}\r\n");
    let e = parse_audit_log("a.txt", &text).unwrap_err().to_string();
    assert!(e.starts_with("a.txt:7: AuditData: not JSON"), "{e}");
}

#[test]
fn new_purview_csv_with_a_byte_order_mark() {
    let mut text = String::from(
        "\u{feff}RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n",
    );
    for r in [
        LEGACY_LAUNCH,
        NEW_LAUNCH,
        FLOW_EDIT,
        EXCHANGE,
        FLOW_RUN_LIKE,
    ] {
        text.push_str(&format!(
            "id,9/20/2026 4:05:03 AM,PowerAppsApp,op,u,{},,\r\n",
            csv_field(r)
        ));
    }
    let log = parse_audit_log("b.csv", &text).unwrap();
    check(&log);
    assert_eq!(log.events[0].origin, "b.csv:2");
}

#[test]
fn json_lines_and_arrays_and_wrappers() {
    let lines = [
        LEGACY_LAUNCH,
        NEW_LAUNCH,
        FLOW_EDIT,
        EXCHANGE,
        FLOW_RUN_LIKE,
    ]
    .join("\n\n");
    check(&parse_audit_log("a.jsonl", &lines).unwrap());
    let array = format!(
        "[{}]",
        [
            LEGACY_LAUNCH,
            NEW_LAUNCH,
            FLOW_EDIT,
            EXCHANGE,
            FLOW_RUN_LIKE
        ]
        .join(",")
    );
    let log = parse_audit_log("a.json", &array).unwrap();
    check(&log);
    assert_eq!(log.events[2].origin, "a.json: record 3");
    // Search-UnifiedAuditLog | ConvertTo-Json: AuditData as a string.
    let wrapped = [
        LEGACY_LAUNCH,
        NEW_LAUNCH,
        FLOW_EDIT,
        EXCHANGE,
        FLOW_RUN_LIKE,
    ]
    .map(|r| serde_json::json!({"CreationDate": "x", "AuditData": r}).to_string())
    .join("\n");
    check(&parse_audit_log("w.jsonl", &wrapped).unwrap());
}

#[test]
fn a_failed_operation_and_an_admin_action_are_not_activity() {
    let failed = NEW_LAUNCH.replace(
        r#"{"Name":"enduser.id""#,
        r#"{"Name":"powerplatform.analytics.operation.is_successful","Value":"False"},{"Name":"enduser.id""#,
    );
    let admin = NEW_LAUNCH.replace(r#""Value":"LaunchPowerApp""#, r#""Value":"AdminDeleteApp""#);
    let log = parse_audit_log("a.jsonl", &format!("{failed}\n{admin}")).unwrap();
    assert_eq!(log.records, 2);
    assert!(log.events.is_empty(), "{:?}", log.events);
}

#[test]
fn a_new_record_without_an_object_id_falls_back_to_the_upn() {
    let no_id = NEW_LAUNCH.replace("11111111-1111-4111-8111-0000000000AB", "");
    let log = parse_audit_log("a.jsonl", &no_id).unwrap();
    assert_eq!(log.events[0].user, AuditUser::Upn("bob@contoso.com".into()));
}

#[test]
fn bad_records_are_named_by_file_line_and_field() {
    let err = |name: &str, text: &str| parse_audit_log(name, text).unwrap_err().to_string();
    let no_time = LEGACY_LAUNCH.replace(r#""CreationTime":"2026-11-10T09:00:00","#, "");
    let e = err("a.jsonl", &format!("{EXCHANGE}\n{no_time}"));
    assert!(
        e.starts_with("a.jsonl:2: AuditData.CreationTime: missing"),
        "{e}"
    );
    let bad_time = LEGACY_LAUNCH.replace("2026-11-10T09:00:00", "yesterday");
    let e = err("a.jsonl", &bad_time);
    assert!(
        e.starts_with("a.jsonl:1: AuditData.CreationTime: \"yesterday\""),
        "{e}"
    );
    let no_app = LEGACY_LAUNCH.replace("AppName", "AppNom");
    let e = err("a.jsonl", &no_app);
    assert!(
        e.starts_with("a.jsonl:1: AuditData.AppName: missing"),
        "{e}"
    );
    let no_user = FLOW_EDIT.replace(r#""UserId":"carl@contoso.com","#, "");
    let e = err("a.jsonl", &no_user);
    assert!(e.starts_with("a.jsonl:1: AuditData.UserId: missing"), "{e}");
    let no_oid = NEW_LAUNCH
        .replace("11111111-1111-4111-8111-0000000000AB", "")
        .replace(r#""Value":"bob@contoso.com""#, r#""Value":"""#);
    let e = err("a.jsonl", &no_oid);
    assert!(
        e.contains("AuditData.PropertyCollection[enduser.id]: missing"),
        "{e}"
    );
    let e = err("a.jsonl", "{not json");
    assert!(e.starts_with("a.jsonl:1: not a JSON record"), "{e}");
    let e = err(
        "a.csv",
        "CreationDate,UserIds,Operations,AuditData\nx,u,o,{oops}\n",
    );
    assert!(e.starts_with("a.csv:2: AuditData: not JSON"), "{e}");
    let e = err("a.csv", "CreationDate,UserIds,Operations\nx,u,o\n");
    assert!(
        e.starts_with("a.csv:1: missing column \"AuditData\""),
        "{e}"
    );
    let e = err("a.json", "[{\"CreationTime\": 3}]");
    assert!(
        e.starts_with("a.json: record 1: AuditData.CreationTime: not a string"),
        "{e}"
    );
}

#[test]
fn ids_lose_their_arm_prefix_and_case() {
    assert_eq!(
        normalise_id("/providers/Microsoft.PowerApps/apps/ABC").as_str(),
        "abc"
    );
    assert_eq!(normalise_id(" abc ").as_str(), "abc");
    assert_eq!(
        flow_of_url("https://x/manage/environments/e/flows/F1/details?v=1").as_deref(),
        Some("F1")
    );
}

/// The Management Activity API's records and a file's: one record in both
/// (same `Id` and `CreationTime`) counts once; the same `Id` at another
/// time is another record; events without an `Id` are all kept.
#[test]
fn a_record_read_twice_counts_once() {
    let file = parse_audit_log("f.jsonl", &format!("{LEGACY_LAUNCH}\n{NEW_LAUNCH}\n")).unwrap();
    let later = LEGACY_LAUNCH.replace("2026-11-10T09:00:00", "2026-11-10T10:00:00");
    let no_id = FLOW_EDIT.replace(r#""Id":"3","#, "");
    let api = parse_audit_log(
        "content blob 1",
        &format!("[{LEGACY_LAUNCH},{later},{no_id},{no_id}]"),
    )
    .unwrap();
    assert_eq!(api.events[0].record_id.as_deref(), Some("1"));
    assert_eq!(api.events[2].record_id, None);
    let mut all = file.events.clone();
    assert_eq!(union_events(&mut all, &api.events), 1);
    assert_eq!(all.len(), 5, "{all:?}");
}

/// What the emulator serves: each export's records, `AuditData` unwrapped.
#[test]
fn the_records_of_an_export_are_its_audit_data() {
    let text = format!(
        "RecordId,CreationDate,RecordType,Operation,UserId,AuditData\n1,x,45,LaunchPowerApp,a,{}\n",
        csv_field(LEGACY_LAUNCH)
    );
    let records = audit_records("e.csv", &text).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0]["AppName"],
        serde_json::json!(
            "/providers/Microsoft.PowerApps/apps/A0000000-0000-4000-8000-000000000004"
        )
    );
    let wrapped = format!("{{\"AuditData\": {}}}\n", serde_json::json!(NEW_LAUNCH));
    assert_eq!(audit_records("w.jsonl", &wrapped).unwrap()[0]["Id"], "2");
    assert!(audit_records("bad.json", "[3]").is_err());
}

/// A quote never closed took in the rest of the export, with no error; a
/// row split into more fields than the header lost the row after it.
/// Pretty-printed AuditData, over several lines, is still read.
#[test]
fn a_quote_never_closed_or_a_row_too_long_is_refused() {
    let header = "RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n";
    let row = |r: &str, tail: &str| {
        format!(
            "id,9/20/2026 4:05:03 AM,PowerAppsApp,op,u,{},{tail}\r\n",
            csv_field(r)
        )
    };
    let pretty: String = [
        LEGACY_LAUNCH,
        NEW_LAUNCH,
        FLOW_EDIT,
        EXCHANGE,
        FLOW_RUN_LIKE,
    ]
    .iter()
    .map(|r| {
        let v: Value = serde_json::from_str(r).unwrap();
        row(&serde_json::to_string_pretty(&v).unwrap(), ",")
    })
    .collect();
    let log = parse_audit_log("p.csv", &format!("{header}{pretty}")).unwrap();
    check(&log);
    // The first record takes lines 2 to 13: its JSON has 10 keys.
    assert_eq!(log.events[1].origin, "p.csv:14");

    // The end of the file cut off after the last AuditData's JSON, its
    // closing quote lost: the JSON alone parsed.
    let mut text = format!("{header}{}{}", row(LEGACY_LAUNCH, ","), row(FLOW_EDIT, ","));
    let cut = text.rfind("\",,").unwrap();
    text.replace_range(cut..cut + 3, "");
    let e = parse_audit_log("b.csv", &text).unwrap_err().to_string();
    assert!(
        e.starts_with("b.csv:3: AuditData: a quote opened here is never closed"),
        "{e}"
    );
    // A quote opened in the last column and closed by the next row's
    // AuditData: the row runs on into the next, which was lost.
    let text = format!(
        "{header}{}{}{}",
        row(LEGACY_LAUNCH, ",\"Sales"),
        row(NEW_LAUNCH, ","),
        row(FLOW_EDIT, ",")
    );
    let e = parse_audit_log("b.csv", &text).unwrap_err().to_string();
    assert!(e.starts_with("b.csv:2: "), "{e}");
    assert!(e.contains(" fields, the header has 8 (RecordId, "), "{e}");
    // A header with no separator whose rows have them.
    let text = format!("AuditData\n2026-11-10,{}\n", csv_field(LEGACY_LAUNCH));
    let e = parse_audit_log("a.csv", &text).unwrap_err().to_string();
    assert_eq!(e, "a.csv:2: 2 fields, the header has 1 (AuditData)");
    // A row cut short before AuditData.
    let e = parse_audit_log("a.csv", "CreationDate,UserIds,Operations,AuditData\nx,u\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "a.csv:2: 2 fields, the header has 4 (CreationDate, UserIds, Operations, AuditData)"
    );
}
