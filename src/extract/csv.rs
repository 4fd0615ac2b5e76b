//! CSV sources: breach registries (HHS OCR, state attorneys general), read
//! by column name from the header row.
//!
//! Registries are exported by hand and by robots: a UTF-8 byte-order mark,
//! every field quoted or none, newlines inside quoted fields, rows shorter
//! than the header. A row that cannot be read is skipped with a warning;
//! the rest of the file still counts.

use url::Url;

use super::{ExtractError, Extraction, PostingFacts, parse_date, posting, resolve_link};
use crate::config::CsvRules;

pub(super) fn extract(rules: &CsvRules, url: &Url, body: &str) -> Result<Extraction, ExtractError> {
    let body = body.trim_start_matches('\u{feff}');
    let mut reader = ::csv::ReaderBuilder::new()
        .flexible(true)
        .trim(::csv::Trim::Headers)
        .from_reader(body.as_bytes());
    let headers = reader.headers().map_err(|e| ExtractError::Csv(e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name.trim()));
    let Some(title_at) = column(&rules.title) else {
        return Err(ExtractError::Csv(format!(
            "no column \"{}\" in the header row ({})",
            rules.title,
            headers.iter().collect::<Vec<_>>().join(", ")
        )));
    };
    let mut out = Extraction::default();
    let missing = |name: &str, out: &mut Extraction| {
        let at = column(name);
        if at.is_none() {
            out.warnings.push(format!("no column \"{name}\" in the header row"));
        }
        at
    };
    let link_at = rules.link.as_deref().and_then(|c| missing(c, &mut out));
    let date_at = rules.date.as_ref().and_then(|d| missing(&d.column, &mut out));
    let body_at: Vec<(usize, &str)> = rules
        .body
        .iter()
        .filter_map(|c| missing(c, &mut out).map(|at| (at, c.as_str())))
        .collect();
    for c in [
        &rules.facts.group,
        &rules.facts.website,
        &rules.facts.vendor,
        &rules.facts.product,
        &rules.facts.id,
    ]
    .into_iter()
    .flatten()
    {
        missing(c, &mut out);
    }
    for (row, record) in reader.records().enumerate() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.warnings.push(format!("row {} skipped: {e}", row + 2));
                continue;
            }
        };
        let get = |at: Option<usize>| at.and_then(|i| record.get(i)).map(str::to_owned);
        let title = record.get(title_at).unwrap_or_default();
        let date = date_at.and_then(|at| {
            let raw = record.get(at)?;
            let parsed = parse_date(raw, rules.date.as_ref()?.format.as_deref());
            if parsed.is_none() && !raw.trim().is_empty() {
                out.warnings.push(format!("date `{raw}` of \"{title}\" did not parse"));
            }
            parsed
        });
        let body = body_at
            .iter()
            .filter_map(|&(at, name)| {
                let v = record.get(at)?.trim();
                (!v.is_empty()).then(|| format!("{name}: {v}"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let facts = PostingFacts::read(&rules.facts, |c| get(column(c)));
        let link = get(link_at).and_then(|l| resolve_link(url, &l));
        match posting(title, link, date, &body, facts) {
            Some(p) => out.postings.push(p),
            None => out.untitled += 1,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CsvDate, Facts};

    fn rules() -> CsvRules {
        CsvRules {
            title: "Name".into(),
            link: None,
            date: Some(CsvDate {
                column: "Date".into(),
                format: Some("%m/%d/%Y".into()),
            }),
            body: vec!["Type".into(), "Affected".into()],
            facts: Facts {
                id: Some("Id".into()),
                ..Facts::default()
            },
        }
    }

    #[test]
    fn bom_quotes_embedded_newlines_and_spaces() {
        let csv = "\u{feff}\"Name\",\"Date\",\"Type\",\"Affected\",\"Id\"\n\"Rose Dental \",\"03/02/2021\",\"Hacking\",\"500\",\"7\"\n\"The  Baton Rouge Clinic\nLLC\",\"13/45/2021\",\"\",\"\",\"8\"\n\"\",\"03/02/2021\",\"x\",\"1\",\"9\"\nshort\n";
        let out = extract(&rules(), &Url::parse("https://r.example/").unwrap(), csv).unwrap();
        let titles: Vec<_> = out.postings.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["Rose Dental", "The Baton Rouge Clinic LLC", "short"]);
        assert_eq!(out.untitled, 1);
        let first = &out.postings[0];
        assert_eq!(first.body, "Type: Hacking, Affected: 500");
        assert_eq!(first.posted_at.unwrap().format("%Y-%m-%d").to_string(), "2021-03-02");
        assert_eq!(first.facts.id.as_deref(), Some("7"));
        assert!(
            out.warnings.iter().any(|w| w.contains("13/45/2021")),
            "{:?}",
            out.warnings
        );
    }

    #[test]
    fn a_missing_title_column_names_the_header() {
        let err = extract(
            &rules(),
            &Url::parse("https://r.example/").unwrap(),
            "Org,When\nAcme,1\n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("no column \"Name\" in the header row (Org, When)"),
            "{err}"
        );
    }
}
