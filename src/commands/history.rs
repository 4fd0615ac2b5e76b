//! `postings`, `matches`, `runs` and `report`: what past runs stored, with
//! the filters they share.

use std::path::{Path, PathBuf};

use super::output::print_rows;
use super::{CommandError, Exit, Format, Result, load, open_store};
use crate::store::Store;

/// `--source`, `--since`, `--entry` as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub source: Option<String>,
    pub since: Option<String>,
    pub entry: Option<String>,
    /// `matches --status`
    pub status: Option<crate::store::Status>,
}

impl Filters {
    /// Checks the date and that the entry exists (a typo would list nothing, silently).
    fn resolve(self, store: &Store) -> Result<crate::store::Filter> {
        if let Some(name) = &self.entry
            && !store.entries()?.iter().any(|e| e.name.eq_ignore_ascii_case(name))
        {
            return Err(CommandError::Usage(format!(
                "--entry {name}: no watch entry of that name (see `leakwatch watch list`)"
            )));
        }
        Ok(crate::store::Filter {
            source: self.source,
            since: self.since.map(|s| parse_since(&s)).transpose()?,
            entry: self.entry,
            status: self.status,
        })
    }
}

pub fn postings(config: Option<PathBuf>, filters: Filters, format: Format) -> Result<Exit> {
    let config = load(config)?;
    let store = open_store(&config)?;
    let rows = store.postings(&filters.resolve(&store)?)?;
    print_rows(
        &rows,
        format,
        &[
            "SOURCE",
            "TITLE",
            "POSTED",
            "FIRST SEEN",
            "LINK",
            "DETAIL",
            "GROUP",
            "WEBSITE",
            "VENDOR",
            "PRODUCT",
            "ID",
        ],
        |p| {
            let fact = |f: &Option<String>| f.clone().unwrap_or_default();
            vec![
                p.source.clone(),
                p.title.clone(),
                p.posted_at.clone().unwrap_or_default(),
                p.first_seen_at.clone(),
                p.link.clone().unwrap_or_default(),
                p.detail.clone().unwrap_or_default(),
                fact(&p.group),
                fact(&p.website),
                fact(&p.vendor),
                fact(&p.product),
                fact(&p.id),
            ]
        },
    )
}

pub fn matches(config: Option<PathBuf>, filters: Filters, format: Format) -> Result<Exit> {
    let config = load(config)?;
    let store = open_store(&config)?;
    let rows = store.matches(&filters.resolve(&store)?)?;
    print_rows(
        &rows,
        format,
        &[
            "ID", "STATUS", "MATCHED", "ENTRY", "KIND", "TERM", "WHY", "SOURCE", "TITLE", "SENT", "PENDING", "FAILED",
        ],
        |m| {
            // A repeat was never meant to be emailed: 0/0/0 would read as lost.
            let delivery = match m.repeat_of {
                Some(of) => [format!("repeat of #{of}"), String::new(), String::new()],
                None => [
                    m.emails_sent.to_string(),
                    m.emails_pending.to_string(),
                    m.emails_failed.to_string(),
                ],
            };
            let [sent, pending, failed] = delivery;
            vec![
                m.id.to_string(),
                m.status.clone(),
                m.matched_at.clone(),
                m.entry.clone(),
                m.kind.clone(),
                m.term.clone(),
                format!("{} in {}", m.reason, m.field),
                m.source.clone(),
                m.title.clone(),
                sent,
                pending,
                failed,
            ]
        },
    )
}

pub fn report(config: Option<PathBuf>, out: &Path, since: Option<String>) -> Result<Exit> {
    let since = match since {
        Some(s) => parse_since(&s)?,
        None => (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let config = load(config)?;
    let store = open_store(&config)?;
    let report = crate::report::Report::load(&config, &store, &since)?;
    let path = crate::report::write(out, &report).map_err(CommandError::Other)?;
    say!(
        "wrote {}: {} matches since {}, {} sources",
        path.display(),
        report.matches.len(),
        since,
        report.sources.len()
    );
    Ok(Exit::Success)
}

pub fn runs(config: Option<PathBuf>, json: bool) -> Result<Exit> {
    let config = load(config)?;
    let rows = open_store(&config)?.runs(50)?;
    let format = if json { Format::Json } else { Format::Table };
    print_rows(
        &rows,
        format,
        &[
            "RUN", "STARTED", "TOOK", "STATUS", "OK", "FAILED", "PAGES", "NEW", "CHANGED", "MATCHES", "SENT",
            "PENDING", "DETAILS", "WAITING",
        ],
        |r| {
            vec![
                r.id.to_string(),
                r.started_at.clone(),
                took(&r.started_at, r.finished_at.as_deref()),
                r.status.clone(),
                r.counts.sources_ok.to_string(),
                r.counts.sources_failed.to_string(),
                r.counts.pages_fetched.to_string(),
                r.counts.postings_new.to_string(),
                r.counts.postings_changed.to_string(),
                r.counts.matches.to_string(),
                r.counts.emails_sent.to_string(),
                r.counts.emails_pending.to_string(),
                r.counts.details_fetched.to_string(),
                r.counts.details_waiting.to_string(),
            ]
        },
    )
}

/// How long a run took, from its stored start and finish ("" while unfinished).
fn took(started: &str, finished: Option<&str>) -> String {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    match (parse(started), finished.and_then(parse)) {
        (Some(s), Some(f)) => format!("{}s", (f - s).num_seconds().max(0)),
        _ => String::new(),
    }
}

/// `YYYY-MM-DD` (or a full RFC 3339 time) as the stored timestamp form.
fn parse_since(s: &str) -> Result<String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(format!("{d}T00:00:00Z"));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .map_err(|_| CommandError::Usage(format!("--since {s}: write a date as YYYY-MM-DD")))
}
