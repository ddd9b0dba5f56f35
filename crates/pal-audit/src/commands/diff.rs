//! `pal-audit diff`: what changed between two saved reports, and whether
//! credit was lost.

use crate::error::{Error, Outcome};
use crate::run::print_text;
use pal_core::fix;
use pal_core::report::{self, Report};

/// `pal-audit diff`.
pub(crate) fn diff(args: crate::cli::DiffArgs) -> Result<Outcome, Error> {
    let mut old = fix::read_report(&args.old)?;
    let mut new = fix::read_report(&args.new)?;
    // Shown to people: names made safe; JSON keeps the data exact.
    let safe: Option<fn(&Report) -> Report> = match args.format {
        crate::cli::DiffFormat::Table => Some(report::for_terminal),
        crate::cli::DiffFormat::Markdown => Some(report::for_markdown),
        crate::cli::DiffFormat::Json => None,
    };
    if let Some(safe) = safe {
        old = safe(&old);
        new = safe(&new);
    }
    let d = pal_core::diff::diff(&old, &new);
    print_text(&match args.format {
        crate::cli::DiffFormat::Table => pal_core::diff::render_table(&d),
        crate::cli::DiffFormat::Json => pal_core::diff::render_json(&d),
        crate::cli::DiffFormat::Markdown => pal_core::diff::render_markdown(&d),
    })?;
    Ok(if d.lost_credit() {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
