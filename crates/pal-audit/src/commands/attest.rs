//! `pal-audit attest`, run as the partner identity: who the token belongs to
//! (claims, confirmed through Graph), its own PAL link (read, and on request
//! created, moved or deleted), and the attestation JSON that audits read.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Error, Outcome};
use pal_client::auth::{Claims, Tokens};
use pal_client::http::{HttpClient, HttpError};
use pal_client::sources::{graph, management_partner as mp, wire::parse_time};
use pal_core::links::{ATTESTATION_SCHEMA, LinkKind, PartnerId};

/// What `attest` should do besides reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    None,
    Link(PartnerId),
    Unlink,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub change: Change,
    /// The user object is a dedicated service account.
    pub service_account: bool,
    pub out: Option<PathBuf>,
    /// Do not ask before changing the link.
    pub yes: bool,
}

/// The attestation file, field for field (design.md).
#[derive(Debug, Serialize)]
pub struct Attestation {
    pub schema: &'static str,
    pub tenant_id: String,
    pub principal_id: String,
    pub principal_name: Option<String>,
    pub principal_kind: LinkKind,
    pub partner_id: String,
    pub partner_name: Option<String>,
    pub state: String,
    pub link_created: Option<DateTime<Utc>>,
    pub link_updated: Option<DateTime<Utc>>,
    pub attested_at: DateTime<Utc>,
}

/// The signed-in identity.
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: String,
    pub tenant: String,
    pub name: Option<String>,
    pub kind: LinkKind,
}

fn http_error(e: HttpError) -> Error {
    match e {
        HttpError::Auth(a) => Error::Auth(a),
        other => Error::Service(other.to_string()),
    }
}

/// Who holds the token, from its claims, confirmed through Graph.
pub async fn identity(
    http: &HttpClient,
    tokens: &Tokens,
    service_account: bool,
) -> Result<Identity, Error> {
    let token = tokens.token(mp::AUDIENCE).await?;
    let claims = Claims::of(&token).ok_or_else(|| {
        Error::Usage("the token is not a JWT, so it names no identity to attest".into())
    })?;
    let (Some(oid), Some(tid)) = (claims.oid.clone(), claims.tid.clone()) else {
        return Err(Error::Usage(
            "the token carries no oid/tid claims: sign in as the user or service principal to attest".into(),
        ));
    };
    let confirmed = if claims.app_only {
        match &claims.app_id {
            Some(app) => graph::service_principal_of_app(http, app)
                .await
                .map(|p| p.map(|p| (p.id.to_string(), p.display_name))),
            None => Ok(None),
        }
    } else {
        graph::me(http)
            .await
            .map(|p| Some((p.id.to_string(), p.upn.clone().or(p.display_name))))
    };
    let name = match confirmed {
        Ok(Some((id, name))) if id.eq_ignore_ascii_case(&oid) => name,
        Ok(Some((id, _))) => {
            return Err(Error::Service(format!(
                "Graph says the signed-in object is {id}, but the token names {oid}"
            )));
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("Graph could not confirm the identity ({e}); using the token's claims");
            None
        }
    }
    .or(claims.upn.clone());
    let kind = if claims.app_only {
        LinkKind::ServicePrincipal
    } else if service_account {
        LinkKind::ServiceAccount
    } else {
        LinkKind::User
    };
    Ok(Identity {
        id: oid,
        tenant: tid,
        name,
        kind,
    })
}

/// Asks before a change: `--yes` answers for the user; without a terminal
/// and without `--yes` nothing is changed.
fn confirm(question: &str, yes: bool) -> Result<bool, Error> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "{question}: no terminal to ask on; add --yes to proceed"
        )));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::Usage(format!("cannot read the answer: {e}")))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn describe(p: &mp::WirePartner) -> String {
    let props = &p.properties;
    format!(
        "partner {}{} ({})",
        props.partner_id.as_deref().unwrap_or("?"),
        props
            .partner_name
            .as_deref()
            .map(|n| format!(" {n}"))
            .unwrap_or_default(),
        props.state.as_deref().unwrap_or("Active")
    )
}

/// Runs `attest`; prints what it found and did on stdout; returns the exit code.
pub async fn run(http: &HttpClient, tokens: &Tokens, opts: &Options) -> Result<Outcome, Error> {
    let me = identity(http, tokens, opts.service_account).await?;
    let who = me.name.clone().unwrap_or_else(|| me.id.clone());
    say(&format!(
        "identity: {who} ({}, object id {}, tenant {})",
        kind_words(me.kind),
        me.id,
        me.tenant
    ))?;
    let mut current = mp::get(http).await.map_err(http_error)?;
    match &current {
        Some(p) => say(&format!("current link: {}", describe(p)))?,
        None => say("current link: none")?,
    }
    let active_id = current
        .as_ref()
        .filter(|p| !is_deleted(p))
        .and_then(|p| p.properties.partner_id.clone());
    match &opts.change {
        Change::None => {}
        Change::Link(partner) if active_id.as_deref() == Some(partner.as_str()) => {
            say(&format!(
                "already linked to partner {partner}: nothing to change"
            ))?;
        }
        Change::Link(partner) => {
            let (question, moving) = match &active_id {
                Some(old) => (
                    format!("move the link of {who} from partner {old} to partner {partner}?"),
                    true,
                ),
                None => (format!("link {who} to partner {partner}?"), false),
            };
            say(&format!("plan: {}", question.trim_end_matches('?')))?;
            if !confirm(&question, opts.yes)? {
                say("nothing changed")?;
                return Ok(Outcome::Findings);
            }
            let result = if moving {
                mp::update(http, partner).await
            } else {
                mp::create(http, partner).await
            };
            match result {
                Ok(_) => say(&format!("linked to partner {partner}"))?,
                Err(e) if e.status() == Some(409) => {
                    eprintln!(
                        "error: the service answered 409 Conflict: this identity already has a link. Run `pal-audit attest` to see it, then `--link {partner}` again to move it."
                    );
                    return Ok(Outcome::Findings);
                }
                Err(e) if e.status() == Some(400) => {
                    eprintln!("error: the service refused partner ID {partner}: {e}");
                    return Ok(Outcome::Findings);
                }
                Err(e) => return Err(http_error(e)),
            }
            current = mp::get(http).await.map_err(http_error)?;
        }
        Change::Unlink => {
            let Some(old) = active_id.clone() else {
                say("no active link to delete")?;
                return Ok(Outcome::Findings);
            };
            let question = format!("delete the link of {who} to partner {old}?");
            say(&format!("plan: {}", question.trim_end_matches('?')))?;
            if !confirm(&question, opts.yes)? {
                say("nothing changed")?;
                return Ok(Outcome::Findings);
            }
            mp::delete(http, &old).await.map_err(http_error)?;
            say(&format!("link to partner {old} deleted"))?;
            current = mp::get(http).await.map_err(http_error)?;
            if current.is_none() {
                // Attest the deletion, so audits stop counting a declared link.
                let attestation = Attestation {
                    schema: ATTESTATION_SCHEMA,
                    tenant_id: me.tenant.clone(),
                    principal_id: me.id.clone(),
                    principal_name: me.name.clone(),
                    principal_kind: me.kind,
                    partner_id: old,
                    partner_name: None,
                    state: "Deleted".into(),
                    link_created: None,
                    link_updated: Some(Utc::now()),
                    attested_at: Utc::now(),
                };
                write(&attestation, opts.out.as_deref(), &me)?;
                return Ok(Outcome::Clean);
            }
        }
    }
    let Some(link) = current else {
        eprintln!(
            "no PAL link for this identity: nothing to attest. Link it with `pal-audit attest --link <partner id>` (or `az managementpartner create --partner-id <partner id>`)."
        );
        return Ok(Outcome::Findings);
    };
    let props = &link.properties;
    let Some(partner) = props.partner_id.clone() else {
        return Err(Error::Service("the link names no partnerId".into()));
    };
    check_link_is_mine(&link, &me)?;
    let attestation = Attestation {
        schema: ATTESTATION_SCHEMA,
        tenant_id: me.tenant.to_ascii_lowercase(),
        principal_id: me.id.clone(),
        principal_name: me.name.clone(),
        principal_kind: me.kind,
        partner_id: partner,
        partner_name: props.partner_name.clone(),
        state: if is_deleted(&link) {
            "Deleted"
        } else {
            "Active"
        }
        .into(),
        link_created: props.created_time.as_deref().and_then(parse_time),
        link_updated: props.updated_time.as_deref().and_then(parse_time),
        attested_at: Utc::now(),
    };
    write(&attestation, opts.out.as_deref(), &me)?;
    if is_deleted(&link) {
        eprintln!("the link is in state Deleted: audits treat it as no link");
        return Ok(Outcome::Findings);
    }
    Ok(Outcome::Clean)
}

/// The link must be the signed-in identity's own: its `tenantId` the token's
/// `tid` and its `objectId` the token's `oid`. ManagementPartner answers for
/// whoever holds the token, so a link naming anyone else means the answer
/// and the token disagree (another identity's token, a proxy or a wrong
/// `--api-base`): attesting it would vouch for a link nobody checked.
fn check_link_is_mine(link: &mp::WirePartner, me: &Identity) -> Result<(), Error> {
    let props = &link.properties;
    let differs = |theirs: &Option<String>, ours: &str| {
        theirs
            .as_deref()
            .is_some_and(|t| !t.trim().eq_ignore_ascii_case(ours))
    };
    let mut wrong = Vec::new();
    if differs(&props.tenant_id, &me.tenant) {
        wrong.push(format!(
            "tenant {} (the token's tid is {})",
            props.tenant_id.as_deref().unwrap_or_default(),
            me.tenant
        ));
    }
    if differs(&props.object_id, &me.id) {
        wrong.push(format!(
            "object {} (the token's oid is {})",
            props.object_id.as_deref().unwrap_or_default(),
            me.id
        ));
    }
    if wrong.is_empty() {
        return Ok(());
    }
    Err(Error::Service(format!(
        "the PAL link read back is not the signed-in identity's: it names {}; nothing attested",
        wrong.join(" and ")
    )))
}

fn is_deleted(p: &mp::WirePartner) -> bool {
    p.properties
        .state
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("Deleted"))
}

fn kind_words(k: LinkKind) -> &'static str {
    match k {
        LinkKind::User => "user",
        LinkKind::ServiceAccount => "service account",
        LinkKind::ServicePrincipal => "service principal",
    }
}

/// One line on stdout; a failed write is an error (exit 2).
fn say(line: &str) -> Result<(), Error> {
    crate::run::print_text(&pal_core::report::terminal_safe(&format!("{line}\n")))
}

/// `attestation-<name>.json` unless `--out` says otherwise.
fn default_name(me: &Identity) -> PathBuf {
    let base = me.name.as_deref().unwrap_or(&me.id);
    let safe: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(format!("attestation-{safe}.json"))
}

fn write(a: &Attestation, out: Option<&Path>, me: &Identity) -> Result<(), Error> {
    let path = out.map_or_else(|| default_name(me), Path::to_path_buf);
    let mut text = serde_json::to_string_pretty(a).expect("an attestation serializes");
    text.push('\n');
    pal_core::output::write_atomic(&path, &text)?;
    say(&format!("attestation written to {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(tenant: Option<&str>, object: Option<&str>) -> mp::WirePartner {
        serde_json::from_value(serde_json::json!({
            "properties": {"partnerId": "4567890", "tenantId": tenant, "objectId": object}
        }))
        .unwrap()
    }

    #[test]
    fn a_link_of_another_tenant_or_object_is_refused() {
        let me = Identity {
            id: "11111111-1111-4111-8111-000000000001".into(),
            tenant: "7c1e5b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c".into(),
            name: None,
            kind: LinkKind::User,
        };
        // Ids compare case-insensitively; a field the link leaves out is no mismatch.
        check_link_is_mine(
            &link(
                Some("7C1E5B2A-3D4F-4E6A-8B9C-0D1E2F3A4B5C"),
                Some("11111111-1111-4111-8111-000000000001"),
            ),
            &me,
        )
        .unwrap();
        check_link_is_mine(&link(None, None), &me).unwrap();
        let err = check_link_is_mine(
            &link(
                Some("7c1e5b2a-3d4f-4e6a-8b9c-0d1e2f3a4b5c"),
                Some("44444444-4444-4444-8444-000000000006"),
            ),
            &me,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("object 44444444-4444-4444-8444-000000000006")
                && err.contains("oid is 11111111"),
            "{err}"
        );
        let err = check_link_is_mine(
            &link(Some("00000000-0000-4000-8000-0000000000ff"), None),
            &me,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("tid is 7c1e5b2a"), "{err}");
    }
}
