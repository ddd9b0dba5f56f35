//! ARM Partner Admin Link routes on `management.azure.com`
//! (`Microsoft.ManagementPartner/partners`): the caller's link, the caller
//! read off its token's `oid`, and its PUT (409 when one exists), PATCH and
//! DELETE, `api-version` required.

use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Value, json};

use super::{Answer, Req, caller, empty, eq, no_caller, not_found};
use crate::model::TenantModel;

pub(super) fn get_partner(m: &TenantModel, req: &Req) -> Answer {
    if let Some(e) = req.needs_api_version() {
        return e;
    }
    let Some(oid) = caller(req) else {
        return no_caller();
    };
    match m.partner_links.iter().find(|l| eq(&l.principal, &oid)) {
        Some(l) => (StatusCode::OK, partner_json(m, l)),
        None => (
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "NotFound", "message": "No partner link found for this principal."}}),
        ),
    }
}

pub(super) fn write(m: &mut TenantModel, req: &Req, partner: &str) -> Option<Answer> {
    let ok = |v: Value| Some((StatusCode::OK, v));
    if req.param("api-version").is_none() {
        return Some(req.needs_api_version().expect("missing"));
    }
    let Some(oid) = caller(req) else {
        return Some(no_caller());
    };
    if !partner.bytes().all(|b| b.is_ascii_digit()) {
        return Some((
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "BadRequest", "message": format!("'{partner}' is not a valid partner id")}}),
        ));
    }
    let now = Utc::now();
    let existing = m.partner_links.iter().position(|l| eq(&l.principal, &oid));
    match (req.method.as_str(), existing) {
        ("PUT", Some(_)) => Some((
            StatusCode::CONFLICT,
            json!({"error": {"code": "Conflict", "message": "A partner link already exists for this principal."}}),
        )),
        ("PUT", None) => {
            m.partner_links.push(crate::model::ModelPartnerLink {
                principal: oid,
                partner_id: partner.to_string(),
                partner_name: Some(format!("Partner {partner}")),
                state: "Active".into(),
                created: Some(now),
                updated: Some(now),
            });
            let l = m.partner_links.last().expect("just pushed").clone();
            ok(partner_json(m, &l))
        }
        ("PATCH", Some(i)) => {
            let l = &mut m.partner_links[i];
            l.partner_id = partner.to_string();
            l.partner_name = Some(format!("Partner {partner}"));
            l.state = "Active".into();
            l.updated = Some(now);
            let l = l.clone();
            ok(partner_json(m, &l))
        }
        ("DELETE", Some(i)) if eq(&m.partner_links[i].partner_id, partner) => {
            m.partner_links.remove(i);
            empty()
        }
        ("PATCH" | "DELETE", _) => Some(not_found("partner link")),
        _ => None,
    }
}

fn partner_json(m: &TenantModel, l: &crate::model::ModelPartnerLink) -> Value {
    json!({
        "id": format!("/providers/microsoft.managementpartner/partners/{}", l.partner_id),
        "name": l.partner_id,
        "type": "Microsoft.ManagementPartner/partner",
        "etag": 1,
        "properties": {
            "partnerId": l.partner_id,
            "partnerName": l.partner_name,
            "tenantId": m.tenant_id,
            "objectId": l.principal,
            "version": 1,
            "createdTime": l.created.map(|t| t.to_rfc3339()),
            "updatedTime": l.updated.map(|t| t.to_rfc3339()),
            "state": l.state,
        },
    })
}
