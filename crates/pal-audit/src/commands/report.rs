//! `pal-audit report`: a saved report rendered in any format, or gated by
//! `--fail-on`, without a new audit (each audit spends the tenant's shared
//! Power BI activity budget, and takes minutes on a large tenant).

use crate::commands::audit::emit;
use crate::config::{FileConfig, OutputConfig};
use crate::error::{Error, Outcome};
use pal_core::{fix, output};

/// `pal-audit report`.
pub(crate) fn report(
    args: crate::cli::ReportArgs,
    file: &FileConfig,
    quiet: bool,
    color: bool,
) -> Result<Outcome, Error> {
    let out = OutputConfig::resolve(args.output, file, "any")?;
    if let Some(path) = &out.output {
        output::check_output(path)?;
    }
    let report = fix::read_report(&args.report)?;
    emit(&report, &[], &out, quiet, color)
}
