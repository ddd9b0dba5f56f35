//! `pal-audit diff`: what changed between two saved reports, and whether
//! credit was lost.

use crate::error::{Error, Outcome};
use crate::run::write_text;
use pal_core::fix;
use pal_core::report::{self, Report};

/// `pal-audit diff`.
pub(crate) fn diff(args: crate::cli::DiffArgs) -> Result<Outcome, Error> {
    let output = args.output.output.as_deref();
    let format = crate::config::diff_format(args.format, output)?;
    if let Some(path) = output {
        pal_core::output::check_output(path)?;
    }
    let mut old = fix::read_report(&args.old)?;
    let mut new = fix::read_report(&args.new)?;
    // Two tenants' or two partners' reports differ everywhere: every
    // resource would show as appeared or disappeared, every credit as lost.
    let mismatch = [
        ("tenant", old.tenant_id.clone(), new.tenant_id.clone()),
        (
            "partner ID",
            old.partner_id.to_string(),
            new.partner_id.to_string(),
        ),
    ]
    .into_iter()
    .find(|(_, a, b)| !a.eq_ignore_ascii_case(b));
    if let Some((what, a, b)) = mismatch
        && !args.force
    {
        return Err(Error::Usage(format!(
            "{} is of {what} {a}, {} of {what} {b}: a diff of different {what}s shows every resource as changed; compare reports of the same audit, or add --force",
            args.old.display(),
            args.new.display()
        )));
    }
    // Shown to people: names made safe; JSON keeps the data exact.
    let safe: Option<fn(&Report) -> Report> = match format {
        crate::cli::DiffFormat::Table => Some(report::for_terminal),
        crate::cli::DiffFormat::Markdown => Some(report::for_markdown),
        crate::cli::DiffFormat::Json => None,
    };
    if let Some(safe) = safe {
        old = safe(&old);
        new = safe(&new);
    }
    let d = pal_core::diff::diff(&old, &new);
    write_text(
        output,
        &match format {
            crate::cli::DiffFormat::Table => pal_core::diff::render_table(
                &d,
                crate::term::table_width_here(false, output.is_none()),
            ),
            crate::cli::DiffFormat::Json => pal_core::diff::render_json(&d),
            crate::cli::DiffFormat::Markdown => pal_core::diff::render_markdown(&d),
        },
    )?;
    Ok(if d.lost_credit() {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
