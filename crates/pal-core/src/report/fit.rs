//! Text fitted to a width in terminal columns (display width, not bytes: a
//! CJK character or an emoji takes two): names cut with an ellipsis, prose
//! wrapped at spaces, long ids shortened, column widths shared out, and a
//! table's cells fitted to them (the report's table, `diff`'s).

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Columns `text` takes on a terminal.
pub(crate) fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

fn char_width(c: char) -> usize {
    UnicodeWidthChar::width(c).unwrap_or(0)
}

/// `text` on one line (newlines as spaces), cut to at most `max` columns
/// with `…` when it is longer.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    let one_line = text.replace('\n', " ");
    if width(&one_line) <= max {
        return one_line;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in one_line.chars() {
        let w = char_width(c);
        // One column is kept for the ellipsis.
        if used + w + 1 > max {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// An id short enough for a narrow column, whole when it has 13 characters
/// or fewer: else its first 8 and last 4 around `…` (`a0000000…0013`), so
/// ids that share a prefix stay apart. Never wrapped over two lines.
pub(crate) fn short_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 13 {
        return id.to_string();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// `text` wrapped to lines of at most `max` columns: at spaces, else after
/// a hyphen, and a word longer than a whole line is split (a URL). Newlines
/// in `text` are kept.
pub(crate) fn wrap(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let sep = usize::from(!line.is_empty());
            if width(&line) + sep + width(word) <= max {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(word);
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone on new lines: in pieces after hyphens, else
            // split where the line is full.
            for piece in split_long(word, max) {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                line = piece;
            }
        }
        lines.push(line);
    }
    lines
}

/// `word` in pieces of at most `max` columns, broken after hyphens where
/// possible; the last piece may be joined by what follows.
fn split_long(word: &str, max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = word;
    while width(rest) > max {
        let mut used = 0;
        let mut cut = 0;
        let mut hyphen = None;
        for (i, c) in rest.char_indices() {
            let w = char_width(c);
            if used + w > max {
                break;
            }
            used += w;
            cut = i + c.len_utf8();
            if c == '-' {
                hyphen = Some(cut);
            }
        }
        // A character wider than the line still goes somewhere.
        let at = hyphen
            .unwrap_or(cut)
            .max(rest.chars().next().map_or(1, char::len_utf8));
        pieces.push(rest[..at].to_string());
        rest = &rest[at..];
    }
    pieces.push(rest.to_string());
    pieces
}

/// `text` wrapped to `max` columns, the first line after `first` and the
/// others after `indent` (a list item's hanging indent).
pub(crate) fn hang(first: &str, indent: &str, text: &str, max: Option<usize>) -> String {
    let Some(max) = max else {
        return format!("{first}{text}");
    };
    let room = max.saturating_sub(width(first).max(width(indent))).max(20);
    wrap(text, room)
        .into_iter()
        .enumerate()
        .map(|(i, l)| format!("{}{l}", if i == 0 { first } else { indent }))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One column's widths, in terminal columns.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Column {
    /// The width it takes unwrapped.
    pub natural: usize,
    /// Narrower than this, its content would not read.
    pub min: usize,
}

/// The width of each column so that the table, with `UTF8_FULL_CONDENSED`
/// borders and one space of padding each side, takes at most `total`
/// columns: every column at its natural width if they fit, else the widest
/// narrowed first, never below its minimum (a terminal narrower than the
/// minimums overflows).
pub(crate) fn share(columns: &[Column], total: usize) -> Vec<usize> {
    let chrome = 3 * columns.len() + 1;
    let room = total.saturating_sub(chrome);
    let mut widths: Vec<usize> = columns.iter().map(|c| c.natural.max(1)).collect();
    while widths.iter().sum::<usize>() > room {
        let widest = widths
            .iter()
            .enumerate()
            .filter(|(i, w)| **w > columns[*i].min)
            .max_by_key(|(i, w)| (**w, std::cmp::Reverse(*i)))
            .map(|(i, _)| i);
        match widest {
            Some(i) => widths[i] -= 1,
            None => break,
        }
    }
    widths
}

/// Part of a cell, and how it narrows to a column's width.
pub(crate) enum Piece {
    /// One line, cut with `…` (a name).
    Name(String),
    /// Wrapped (words, sentences, kebab-case words at hyphens).
    Words(String),
    /// Shortened, never wrapped (an id).
    Id(String),
    /// A name then words: on one line when both fit, else the name cut on
    /// its line and the words wrapped below (an attributed user).
    Lead(String, String),
    /// Names joined by `, `, as many to a line as fit, none split over two
    /// lines: one longer than a line is cut with `…` (the findings resting
    /// on an identity).
    Names(Vec<String>),
}

impl Piece {
    /// Its width unwrapped, at a fitted width.
    fn natural(&self) -> usize {
        match self {
            Piece::Name(s) => width(&s.replace('\n', " ")),
            Piece::Words(s) => s.split('\n').map(width).max().unwrap_or(0),
            Piece::Id(s) => width(&short_id(s)),
            Piece::Lead(a, b) => width(&a.replace('\n', " ")) + 1 + width(b),
            Piece::Names(names) => width(&names.join(", ").replace('\n', " ")),
        }
    }

    /// The narrowest it can be.
    fn min(&self) -> usize {
        match self {
            Piece::Id(s) => width(&short_id(s)),
            _ => 0,
        }
    }

    fn lines(&self, width: Option<usize>, out: &mut Vec<String>) {
        let Some(w) = width else {
            out.push(match self {
                Piece::Name(s) | Piece::Words(s) | Piece::Id(s) => s.clone(),
                Piece::Lead(a, b) => format!("{a} {b}"),
                Piece::Names(names) => names.join(", "),
            });
            return;
        };
        match self {
            Piece::Name(s) => out.push(truncate(s, w)),
            Piece::Words(s) => out.extend(wrap(s, w)),
            Piece::Id(s) => out.push(short_id(s)),
            Piece::Lead(a, b) if self.natural() <= w && !a.contains('\n') => {
                out.push(format!("{a} {b}"));
            }
            Piece::Lead(a, b) => {
                out.push(truncate(a, w));
                out.extend(wrap(b, w));
            }
            Piece::Names(names) => out.extend(pack(names, w)),
        }
    }
}

/// `names` joined by `, ` into lines of at most `max` columns: a name goes
/// on the line when it fits there (with its comma), else it starts the next
/// one, cut with `…` when even a line of its own is too narrow.
fn pack(names: &[String], max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for (i, name) in names.iter().enumerate() {
        let comma = if i + 1 < names.len() { "," } else { "" };
        let item = format!("{name}{comma}").replace('\n', " ");
        let sep = usize::from(!line.is_empty());
        if !line.is_empty() && width(&line) + sep + width(&item) <= max {
            line.push(' ');
            line.push_str(&item);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        line = if width(&item) <= max {
            item
        } else {
            // The comma kept after the cut: the list still reads as one.
            let cut = truncate(name, max.saturating_sub(width(comma)).max(1));
            format!("{cut}{comma}")
        };
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A table's text, fitted: its header and rows as the lines of each cell.
/// `mins` are the columns' narrowest widths.
pub(crate) fn fitted(
    header: &[&str],
    mins: &[usize],
    rows: &[Vec<Vec<Piece>>],
    width: Option<usize>,
) -> (Vec<String>, Vec<Vec<String>>) {
    let widths: Vec<Option<usize>> = match width {
        None => vec![None; header.len()],
        Some(total) => {
            let columns: Vec<Column> = (0..header.len())
                .map(|i| {
                    let cells = rows.iter().flat_map(|r| r[i].iter());
                    let natural = cells
                        .clone()
                        .map(Piece::natural)
                        .chain([self::width(header[i])])
                        .max()
                        .unwrap_or(1);
                    let min = cells.map(Piece::min).chain([mins[i]]).max().unwrap_or(1);
                    Column {
                        natural,
                        min: min.min(natural),
                    }
                })
                .collect();
            share(&columns, total).into_iter().map(Some).collect()
        }
    };
    let header = header
        .iter()
        .zip(&widths)
        .map(|(h, w)| match w {
            Some(w) => wrap(h, *w).join("\n"),
            None => h.to_string(),
        })
        .collect();
    let rows = rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(&widths)
                .map(|(cell, w)| {
                    let mut lines = Vec::new();
                    for piece in cell {
                        piece.lines(*w, &mut lines);
                    }
                    lines.join("\n")
                })
                .collect()
        })
        .collect();
    (header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_columns_not_bytes() {
        assert_eq!(truncate("Quote Builder", 20), "Quote Builder");
        assert_eq!(truncate("Quote Builder", 8), "Quote B…");
        // Each CJK character takes two columns: 3 of them and the ellipsis
        // fill 7 of 8, a fourth would overflow.
        let cut = truncate("販売管理アプリ", 8);
        assert_eq!(cut, "販売管…");
        assert!(width(&cut) <= 8);
        let cut = truncate("🚀🚀🚀🚀🚀 launch", 6);
        assert_eq!(cut, "🚀🚀…");
        assert_eq!(truncate("two\nlines", 20), "two lines");
    }

    #[test]
    fn ids_are_shortened_whole_never_split() {
        assert_eq!(
            short_id("a0000000-0000-4000-8000-000000000013"),
            "a0000000…0013"
        );
        assert_eq!(short_id("customer-ins"), "customer-ins");
    }

    #[test]
    fn wrapping_keeps_words_and_fits_the_width() {
        let text = "Republish the dataset as svc-northwind@contoso.com (11111111-1111-4111-8111-000000000001), or take it over";
        let lines = wrap(text, 40);
        assert!(lines.iter().all(|l| width(l) <= 40), "{lines:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("(11111111-1111-4111-8111-000000000001),")),
            "{lines:?}"
        );
        assert_eq!(lines.join(" "), text);
        assert_eq!(
            wrap("imported-by-unlinked-account", 12),
            ["imported-by-", "unlinked-", "account"]
        );
        let lines = wrap("https://contosofinance.api.crm4.dynamics.com/api", 20);
        assert!(lines.iter().all(|l| width(l) <= 20), "{lines:?}");
        assert_eq!(
            lines.concat(),
            "https://contosofinance.api.crm4.dynamics.com/api"
        );
        let wide = wrap("販売管理アプリケーション", 5);
        assert!(wide.iter().all(|l| width(l) <= 5), "{wide:?}");
    }

    #[test]
    fn names_in_a_list_are_cut_never_wrapped() {
        let long = "Quarterly Revenue Forecast ".repeat(8);
        let names =
            ["Budget 2026", long.trim(), "Field Insights", "and 2 more"].map(str::to_string);
        assert_eq!(
            pack(&names, 20),
            [
                "Budget 2026,",
                "Quarterly Revenue …,",
                "Field Insights,",
                "and 2 more"
            ]
        );
        // Short names share a line; the last has no comma.
        assert_eq!(pack(&names[2..], 40), ["Field Insights, and 2 more"]);
        assert_eq!(pack(&[], 20), [""]);
    }

    #[test]
    fn columns_share_the_width_widest_first() {
        let c = |natural, min| Column { natural, min };
        // 3 columns: 10 of chrome, 70 of room.
        assert_eq!(share(&[c(10, 10), c(30, 8), c(20, 8)], 80), [10, 30, 20]);
        assert_eq!(share(&[c(17, 17), c(60, 8), c(40, 8)], 80), [17, 26, 27]);
        // Below the minimums, the table overflows rather than lose a column.
        assert_eq!(share(&[c(17, 17), c(60, 8)], 20), [17, 8]);
    }
}
