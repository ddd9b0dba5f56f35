//! `pal-audit explain`: why a resource of a saved report got its verdict,
//! as text or as a Graphviz graph.

use crate::error::{Error, Outcome};
use crate::run::write_text;
use pal_core::fix;
use pal_core::report;

/// `pal-audit explain`.
pub(crate) fn explain(args: crate::cli::ExplainArgs) -> Result<Outcome, Error> {
    let output = args.output.output.as_deref();
    let format = crate::config::explain_format(args.format, output);
    if let Some(path) = output {
        pal_core::output::check_output(path)?;
    }
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
        None if format == crate::cli::ExplainFormat::Dot => report.findings.iter().collect(),
        None => {
            return Err(Error::Usage(
                "give a resource id or name, or --format dot for the whole report".into(),
            ));
        }
    };
    match format {
        crate::cli::ExplainFormat::Dot => {
            write_text(output, &pal_core::explain::dot(&report, &findings))?
        }
        crate::cli::ExplainFormat::Text => {
            let text: Vec<String> = findings
                .iter()
                .map(|f| pal_core::explain::explain(&report, f))
                .collect();
            write_text(output, &text.join("\n"))?;
        }
    }
    Ok(Outcome::Clean)
}
