//! The watch-list CSV: `name,aliases,domains,kind,recipients,exclude`, lists
//! `;`-separated. Spreadsheets export it; analysts re-import it.
//!
//! Spreadsheets write it in more than one way: European Excel separates
//! fields with `;`, "Unicode text" exports are UTF-16 with tabs. The
//! separator is read from the header line (it names known columns, so the
//! first of `,` `;` tab found there is the one), and a byte-order mark says
//! the encoding. Export can write what Excel opens with accents intact: a
//! UTF-8 BOM and CRLF line ends.

use std::io::{Read, Write};

use super::{EntryKind, WatchEntry};

pub const HEADER: [&str; 6] = ["name", "aliases", "domains", "kind", "recipients", "exclude"];

/// A CSV problem, naming the line and column.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}line {line}{}: {message}", file.as_deref().map(|f| format!("{f}: ")).unwrap_or_default(), column.as_deref().map(|c| format!(", column {c}")).unwrap_or_default())]
pub struct CsvError {
    pub file: Option<String>,
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

/// Reads every row; the first bad row stops it, and nothing is returned, so
/// an import is all or nothing.
pub fn read(mut input: impl Read, file: Option<&str>) -> Result<Vec<WatchEntry>, CsvError> {
    let err = |line: u64, column: Option<&str>, message: String| CsvError {
        file: file.map(str::to_owned),
        line,
        column: column.map(str::to_owned),
        message,
    };
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| err(1, None, format!("cannot read: {e}")))?;
    let text = decode(&bytes).map_err(|m| err(1, None, m))?;
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .delimiter(delimiter(&text))
        .from_reader(text.as_bytes());
    let header = rdr
        .headers()
        .map_err(|e| err(1, None, format!("cannot read the header: {e}")))?
        .clone();
    let names: Vec<&str> = header.iter().map(str::trim).collect();
    // A spreadsheet export may start with a byte-order mark.
    let first = names.first().map(|n| n.trim_start_matches('\u{feff}'));
    if first != Some("name") {
        return Err(err(
            1,
            None,
            format!(
                "the header must be `{}` (found `{}`)",
                HEADER.join(","),
                names.join(",")
            ),
        ));
    }
    for (i, n) in names.iter().enumerate().skip(1) {
        if !HEADER.contains(n) {
            return Err(err(
                1,
                Some(n),
                format!("unknown column `{n}`: the columns are {}", HEADER.join(",")),
            ));
        }
        if names[..i].contains(n) {
            return Err(err(1, Some(n), format!("column `{n}` appears twice")));
        }
    }
    let col = |name: &str| names.iter().position(|n| n.trim_start_matches('\u{feff}') == name);
    let idx: Vec<Option<usize>> = HEADER.iter().map(|h| col(h)).collect();
    let mut entries: Vec<WatchEntry> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for record in rdr.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            err(line, None, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() > names.len() {
            return Err(err(
                line,
                None,
                format!("{} fields, but the header has {}", record.len(), names.len()),
            ));
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get = |i: usize| idx[i].and_then(|c| record.get(c)).unwrap_or("").trim();
        for (i, column) in HEADER.iter().enumerate() {
            if get(i).split(';').any(|item| looks_like_formula(item.trim())) {
                return Err(err(
                    line,
                    Some(column),
                    format!(
                        "`{}` starts like a spreadsheet formula (=, +, @): no organisation is named that way; remove the sign",
                        crate::text::clean(get(i))
                    ),
                ));
            }
        }
        let name = crate::text::clean(get(0));
        if name.is_empty() {
            return Err(err(line, Some("name"), "the name is empty".into()));
        }
        let kind = match get(3) {
            "" => EntryKind::Supplier,
            k => k.parse().map_err(|m| err(line, Some("kind"), m))?,
        };
        let recipients = list(get(4));
        for r in &recipients {
            r.parse::<lettre::Address>()
                .map_err(|e| err(line, Some("recipients"), format!("`{r}` is not a mail address: {e}")))?;
        }
        let domains: Vec<String> = list(get(2)).into_iter().map(|d| d.to_ascii_lowercase()).collect();
        if let Some(d) = domains
            .iter()
            .find(|d| !d.contains('.') || d.contains(char::is_whitespace) || d.contains('/'))
        {
            return Err(err(
                line,
                Some("domains"),
                format!("`{d}` is not a domain like example.com"),
            ));
        }
        let key = crate::text::normalize(&name);
        if let Some(prev) = seen.insert(key, line) {
            return Err(err(
                line,
                Some("name"),
                format!("`{name}` is already on line {prev}: each name once"),
            ));
        }
        entries.push(WatchEntry {
            id: 0,
            name,
            aliases: list(get(1)),
            domains,
            kind,
            recipients,
            exclude: list(get(5)),
        });
    }
    Ok(entries)
}

/// A cell a spreadsheet would run (`=HYPERLINK(…)`, `+cmd|…`, `@SUM(…)`):
/// refused on import, so nothing the list exports can be one.
fn looks_like_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '@'])
}

/// The file as text: UTF-8, or UTF-16 when a byte-order mark says so.
fn decode(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, String> {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        return encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[bom..])
            .ok_or_else(|| {
                format!(
                    "the file starts as {} but is not: save it again as CSV UTF-8",
                    encoding.name()
                )
            });
    }
    // NUL is valid UTF-8 but never in a CSV: every other byte 0 is UTF-16.
    if bytes.contains(&0) {
        return Err(
            "the file looks like UTF-16 without a byte-order mark: save it from the spreadsheet as \"CSV UTF-8\" or \"Unicode text\"".into(),
        );
    }
    std::str::from_utf8(bytes).map(std::borrow::Cow::Borrowed).map_err(|e| {
        format!(
            "the file is not UTF-8 (byte {}): save it from the spreadsheet as \"CSV UTF-8\" or \"Unicode text\"",
            e.valid_up_to() + 1
        )
    })
}

/// The field separator: the first of `,` `;` or tab on the header line.
fn delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    header
        .bytes()
        .find(|b| matches!(b, b',' | b';' | b'\t'))
        .unwrap_or(b',')
}

fn list(field: &str) -> Vec<String> {
    field
        .split(';')
        .map(crate::text::clean)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Writes entries in the import format, so export → edit → import round-trips.
/// `excel`: a UTF-8 byte-order mark first and CRLF line ends, so Excel reads
/// the accents right.
pub fn write(mut out: impl Write, entries: &[WatchEntry], excel: bool) -> Result<(), ::csv::Error> {
    let mut builder = ::csv::WriterBuilder::new();
    if excel {
        out.write_all("\u{feff}".as_bytes())?;
        builder.terminator(::csv::Terminator::CRLF);
    }
    let mut w = builder.from_writer(out);
    w.write_record(HEADER)?;
    for e in entries {
        w.write_record([
            e.name.as_str(),
            &e.aliases.join(";"),
            &e.domains.join(";"),
            e.kind.as_str(),
            &e.recipients.join(";"),
            &e.exclude.join(";"),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name,aliases,domains,kind,recipients,exclude\n\
        Accellion,Accellion FTA;Accellion Inc,accellion.com,supplier,vendor-risk@example.org,\n\
        Qualys,Qualys Inc,qualys.com,supplier,,\n\
        Example Corp,,example.com,self,,Example Corpus\n";

    #[test]
    fn reads_the_design_example_and_round_trips() {
        let entries = read(GOOD.as_bytes(), None).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].aliases, ["Accellion FTA", "Accellion Inc"]);
        assert_eq!(entries[0].recipients, ["vendor-risk@example.org"]);
        assert_eq!(entries[2].kind, EntryKind::Own);
        assert_eq!(entries[2].exclude, ["Example Corpus"]);
        let mut out = Vec::new();
        write(&mut out, &entries, false).unwrap();
        assert_eq!(read(out.as_slice(), None).unwrap(), entries);
        let mut excel = Vec::new();
        write(&mut excel, &entries, true).unwrap();
        assert!(excel.starts_with("\u{feff}name,".as_bytes()));
        assert_eq!(read(excel.as_slice(), None).unwrap(), entries);
    }

    #[test]
    fn separators_and_encodings_of_spreadsheet_exports() {
        let want = read(GOOD.as_bytes(), None).unwrap();
        // European Excel: `;` between fields, lists quoted.
        let semi = "name;aliases;domains;kind;recipients;exclude\r\n\
            Accellion;\"Accellion FTA;Accellion Inc\";accellion.com;supplier;vendor-risk@example.org;\r\n\
            Qualys;Qualys Inc;qualys.com;supplier;;\r\n\
            Example Corp;;example.com;self;;Example Corpus\r\n";
        assert_eq!(read(semi.as_bytes(), None).unwrap(), want);
        // "Unicode text": UTF-16LE with a BOM, tabs between fields.
        let tabs = semi.replace(';', "\t").replace("FTA\tAccellion", "FTA;Accellion");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(tabs.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(read(utf16.as_slice(), None).unwrap(), want);
        let e = read(&utf16[2..], Some("w.txt")).unwrap_err();
        assert!(e.message.contains("UTF-16 without a byte-order mark"), "{e}");
    }

    #[test]
    fn bad_kind_names_line_and_column() {
        let text = GOOD.replace("Qualys Inc,qualys.com,supplier", "Qualys Inc,qualys.com,vendor");
        let e = read(text.as_bytes(), Some("list.csv")).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (3, Some("kind")));
        assert_eq!(
            e.to_string(),
            "list.csv: line 3, column kind: `vendor` is not a kind: use self, supplier, customer or other"
        );
    }

    #[test]
    fn formula_cells_are_refused_naming_line_and_column() {
        let e = read(
            "name,aliases\nAcme,\"x;=HYPERLINK(\"\"http://e.example\"\")\"\n".as_bytes(),
            None,
        )
        .unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (2, Some("aliases")));
        let e = read("name\n@SUM(A1)\n".as_bytes(), None).unwrap_err();
        assert_eq!(e.column.as_deref(), Some("name"));
        assert!(read("name\nAT&T\n".as_bytes(), None).is_ok());
    }

    #[test]
    fn missing_header_is_refused() {
        let e = read("Accellion,,accellion.com,supplier,,\n".as_bytes(), None).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("the header must be"), "{e}");
    }

    #[test]
    fn extra_column_and_duplicates_are_refused() {
        let e = read("name,kind,notes\nA,supplier,x\n".as_bytes(), None).unwrap_err();
        assert_eq!(e.column.as_deref(), Some("notes"));
        let e = read("name,kind\nAcme,supplier\nACME ,other\n".as_bytes(), None).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (3, Some("name")));
        let e = read("name,recipients\nAcme,not-an-address\n".as_bytes(), None).unwrap_err();
        assert_eq!(e.column.as_deref(), Some("recipients"));
    }
}
