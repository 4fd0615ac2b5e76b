//! How the commands print: to stdout, quietly stopping when the reader
//! closed the pipe, and with posting text cleaned ([`text::clean`]) so a
//! hostile page cannot send escape sequences to the analyst's terminal or
//! formulas to their spreadsheet.

use std::io::Write;

use serde::Serialize;

use super::{CommandError, Exit, Format, Result};
use crate::text;

/// Writes to stdout; a closed pipe is not an error, any other failure is
/// reported on stderr once per write.
pub(super) fn write_out(args: std::fmt::Arguments) {
    if let Err(e) = std::io::stdout().lock().write_fmt(args)
        && !closed(&e)
    {
        eprintln!("leakwatch: cannot write to stdout: {e}");
    }
}

/// The reader of stdout went away (`| head`).
fn closed(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

/// A CSV write to stdout that failed: fine when the reader closed the pipe.
pub(super) fn csv_written(r: std::result::Result<(), csv::Error>) -> Result<()> {
    match r {
        Err(e) if !matches!(e.kind(), csv::ErrorKind::Io(io) if closed(io)) => {
            Err(CommandError::Other(format!("cannot write CSV to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// Listing rows as JSON, CSV or an aligned table.
pub(super) fn print_rows<T: Serialize>(
    rows: &[T],
    format: Format,
    header: &[&str],
    cells: impl Fn(&T) -> Vec<String>,
) -> Result<Exit> {
    match format {
        Format::Json => print_json(rows)?,
        Format::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout().lock());
            csv_written((|| {
                w.write_record(header)?;
                for r in rows {
                    w.write_record(cells(r).iter().map(|c| spreadsheet_safe(c)))?;
                }
                Ok(w.flush()?)
            })())?;
        }
        Format::Table => {
            let mut table = vec![header.iter().map(|h| h.to_string()).collect()];
            table.extend(rows.iter().map(&cells));
            print_table(&table);
        }
    }
    Ok(Exit::Success)
}

/// A cell a spreadsheet will not run as a formula: posting text is written
/// by criminals, and `=HYPERLINK(…)` in a title would be live in Excel.
/// Such cells get a leading `'`, the usual guard.
fn spreadsheet_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

pub(super) fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_string_pretty(value)
        .map_err(std::io::Error::from)
        .and_then(|json| writeln!(out, "{}", crate::terminal::escape_json(&json)));
    match written {
        Err(e) if !closed(&e) => Err(CommandError::Other(format!("cannot write JSON to stdout: {e}"))),
        _ => Ok(()),
    }
}

/// Aligned columns; each cell cleaned of control characters and cut at 60 characters.
pub(super) fn print_table(rows: &[Vec<String>]) {
    const MAX: usize = 60;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| {
                    let c = text::clean(c);
                    if c.chars().count() > MAX {
                        format!("{}…", c.chars().take(MAX - 1).collect::<String>())
                    } else {
                        c
                    }
                })
                .collect()
        })
        .collect();
    let cols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            cells
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    for r in &cells {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = if i + 1 == r.len() { 0 } else { widths[i] }))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
}
