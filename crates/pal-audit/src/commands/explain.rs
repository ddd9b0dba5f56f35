//! `pal-audit explain`: why a resource of a saved report got its verdict,
//! as text or as a Graphviz graph.

use crate::error::{Error, Outcome};
use crate::run::print_text;
use pal_core::fix;
use pal_core::report;

/// `pal-audit explain`.
pub(crate) fn explain(args: crate::cli::ExplainArgs) -> Result<Outcome, Error> {
    // Names are printed: no control character gets to the terminal.
    let report = report::for_terminal(&fix::read_report(&args.report)?);
    let findings = match &args.resource {
        Some(id) => {
            let found = pal_core::explain::find(&report, id);
            if found.is_empty() {
                return Err(Error::Usage(format!(
                    "{}: no resource {id:?} (give a resource id or name from the report)",
                    args.report.display()
                )));
            }
            found
        }
        None if args.format == crate::cli::ExplainFormat::Dot => report.findings.iter().collect(),
        None => {
            return Err(Error::Usage(
                "give a resource id or name, or --format dot for the whole report".into(),
            ));
        }
    };
    match args.format {
        crate::cli::ExplainFormat::Dot => print_text(&pal_core::explain::dot(&report, &findings))?,
        crate::cli::ExplainFormat::Text => {
            let text: Vec<String> = findings
                .iter()
                .map(|f| pal_core::explain::explain(&report, f))
                .collect();
            print_text(&text.join("\n"))?;
        }
    }
    Ok(Outcome::Clean)
}
