//! `fix --apply`: the plan's steps through the APIs, each by the module of
//! the API it writes to. A step signed in to another tenant than the
//! report's is refused: the same ids could name another customer's
//! resources.

use pal_core::fix::{Action, Outcome, Plan, Step};
use pal_core::links::LinkKind;

use crate::auth::{Claims, Secret, Tokens};
use crate::http::{HttpClient, HttpError};
use crate::sources::{customer_insights, powerapps, powerbi};

/// Applies every step. A failed step stops that resource only; the rest go
/// on.
pub async fn apply(
    http: &HttpClient,
    tokens: &Tokens,
    plan: &Plan,
    tenant: &str,
    ci_key: Option<&Secret>,
    ci_audience: &str,
) -> Vec<(Step, Outcome)> {
    let mut out = Vec::new();
    for step in &plan.steps {
        let audience = match step.action {
            Action::CanvasCoOwner { .. } | Action::CanvasOwner { .. } => powerapps::AUDIENCE,
            Action::TakeOver { .. } => powerbi::AUDIENCE,
            Action::InstanceRole { .. } => ci_audience,
        };
        // An opaque token (no claims to read) cannot be checked.
        let tid = match tokens.token(audience).await {
            Ok(t) => Claims::of(&t).and_then(|c| c.tid),
            Err(e) => {
                out.push((step.clone(), Outcome::Failed(e.to_string())));
                continue;
            }
        };
        if let Some(tid) = tid.filter(|t| !t.eq_ignore_ascii_case(tenant)) {
            out.push((
                step.clone(),
                Outcome::Failed(format!(
                    "signed in to tenant {tid}, not the report's tenant {tenant}"
                )),
            ));
            continue;
        }
        let outcome = match apply_one(http, tokens, plan, step, ci_key, ci_audience).await {
            Ok(o) => o,
            Err(e) => Outcome::Failed(e.to_string()),
        };
        out.push((step.clone(), outcome));
    }
    out
}

async fn apply_one(
    http: &HttpClient,
    tokens: &Tokens,
    plan: &Plan,
    step: &Step,
    ci_key: Option<&Secret>,
    ci_audience: &str,
) -> Result<Outcome, HttpError> {
    let id = plan.identity.id.as_str();
    match &step.action {
        Action::CanvasCoOwner { environment, app } => {
            powerapps::add_co_owner(http, environment, app, id).await
        }
        Action::CanvasOwner { environment, app } => {
            powerapps::set_owner(http, environment, app, id).await
        }
        Action::TakeOver { workspace, dataset } => {
            let name = plan.identity.name.as_deref();
            powerbi::take_over(http, tokens, workspace, dataset, id, name).await
        }
        Action::InstanceRole { instance } => {
            let Some(key) = ci_key else {
                return Ok(Outcome::Failed("PAL_AUDIT_CI_KEY is not set".into()));
            };
            let sp = plan.identity.kind == LinkKind::ServicePrincipal;
            customer_insights::assign_contributor(http, key, ci_audience, instance, id, sp).await
        }
    }
}
