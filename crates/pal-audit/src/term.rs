//! What the terminal decides for the report on stdout: colour (`--color`,
//! `NO_COLOR`) and the table's width (`--wide`, `COLUMNS`, the terminal's
//! size). pal-core is told both and never looks at a terminal itself.

use std::io::IsTerminal;

use crate::cli::ColorChoice;

/// Narrower than this, a `COLUMNS` or a terminal size is taken as this: the
/// findings table's columns need it.
pub const MIN_WIDTH: u16 = 70;

/// Whether the report is coloured: `always` and `never` as they say; `auto`
/// when stdout is a terminal and `NO_COLOR` is unset or empty.
pub fn color(choice: ColorChoice, stdout_is_terminal: bool, no_color: Option<&str>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout_is_terminal && no_color.is_none_or(str::is_empty),
    }
}

/// [`color`] for this process.
pub fn color_here(choice: ColorChoice) -> bool {
    color(
        choice,
        std::io::stdout().is_terminal(),
        std::env::var("NO_COLOR").ok().as_deref(),
    )
}

/// The table's width: `None` for the wide layout (whole names and ids,
/// nothing wrapped). `--wide` gives it; else `COLUMNS` when it is a number;
/// else the terminal's width when the table goes to a terminal; else (a
/// pipe, a file) the wide layout, so what a script reads never depends on
/// the terminal it ran in.
pub fn table_width(wide: bool, columns: Option<&str>, terminal: Option<u16>) -> Option<u16> {
    if wide {
        return None;
    }
    columns
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|c| *c > 0)
        .or(terminal)
        .map(|w| w.max(MIN_WIDTH))
}

/// [`table_width`] for this process: the terminal is stdout's, and counts
/// only when the table goes there (`to_stdout`).
pub fn table_width_here(wide: bool, to_stdout: bool) -> Option<u16> {
    let stdout = std::io::stdout();
    let terminal = if to_stdout && stdout.is_terminal() {
        terminal_size::terminal_size_of(&stdout).map(|(w, _)| w.0)
    } else {
        None
    };
    table_width(wide, std::env::var("COLUMNS").ok().as_deref(), terminal)
}

/// A plain table (no colour) that comfy-table fits to `width`, or leaves
/// unwrapped when `None` (piped): `doctor`'s and `fix --apply`'s.
pub fn plain_table(width: Option<u16>) -> comfy_table::Table {
    use comfy_table::ContentArrangement;
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .force_no_tty();
    match width {
        Some(w) => {
            t.set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(w);
        }
        None => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_width_comes_from_wide_then_columns_then_the_terminal() {
        assert_eq!(table_width(true, Some("80"), Some(100)), None);
        assert_eq!(table_width(false, Some("80"), Some(100)), Some(80));
        assert_eq!(table_width(false, None, Some(100)), Some(100));
        assert_eq!(table_width(false, Some("wide"), Some(100)), Some(100));
        assert_eq!(table_width(false, Some(" 132 "), None), Some(132));
        // Piped, without COLUMNS: the wide layout, whatever the terminal.
        assert_eq!(table_width(false, None, None), None);
        assert_eq!(table_width(false, Some("20"), None), Some(MIN_WIDTH));
        assert_eq!(table_width(false, Some("0"), None), None);
    }

    #[test]
    fn colour_follows_the_choice_then_the_terminal_and_no_color() {
        use ColorChoice::*;
        assert!(color(Always, false, Some("1")));
        assert!(!color(Never, true, None));
        assert!(color(Auto, true, None));
        assert!(color(Auto, true, Some("")));
        assert!(!color(Auto, true, Some("1")));
        assert!(!color(Auto, false, None));
    }
}
