//! `leakwatch report --out DIR`: one static HTML page with the recent
//! matches and the health of every source, for a browser with no network.
//!
//! The page has no scripts and loads nothing: its styles are inline and a
//! Content-Security-Policy forbids everything else, so even a mistake in
//! escaping could not run code. Every value that came from a leak site or
//! the database goes through [`escape`] — posting text is written by
//! criminals.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::notify::email::escape;
use crate::store::{Filter, LastFetch, MatchRow, RunRow, Store, StoreError};

/// A configured source and how its fetches have gone.
pub struct SourceHealth {
    pub name: String,
    pub label: String,
    pub kind: &'static str,
    pub url: String,
    pub last: Option<LastFetch>,
    pub failures_in_row: i64,
}

/// Every configured source with its last fetch (also the workspace's Sources page).
pub fn source_health(config: &Config, store: &Store) -> Result<Vec<SourceHealth>, StoreError> {
    let mut sources = Vec::with_capacity(config.sources.len());
    for s in &config.sources {
        sources.push(SourceHealth {
            name: s.name.clone(),
            label: s.label.clone(),
            kind: s.extractor.kind(),
            url: s.url.to_string(),
            last: store.last_fetch(&s.name)?,
            failures_in_row: store.source_state(&s.name)?.failures_in_row,
        });
    }
    Ok(sources)
}

/// Everything on the page.
pub struct Report {
    pub generated_at: String,
    pub since: String,
    pub sources: Vec<SourceHealth>,
    pub matches: Vec<MatchRow>,
    pub runs: Vec<RunRow>,
}

impl Report {
    /// Reads what the page shows: matches since `since` (stored timestamp form).
    pub fn load(config: &Config, store: &Store, since: &str) -> Result<Report, StoreError> {
        let sources = source_health(config, store)?;
        Ok(Report {
            generated_at: crate::store::now(),
            since: since.to_owned(),
            sources,
            matches: store.matches(&Filter {
                since: Some(since.to_owned()),
                ..Filter::default()
            })?,
            runs: store.runs(10)?,
        })
    }

    /// The page.
    pub fn render(&self) -> String {
        let mut h = String::with_capacity(16 * 1024);
        h.push_str(HEAD);
        let _ = write!(
            h,
            "<h1>leakwatch report</h1>\n<p class=\"meta\">Generated {} · matches since {}</p>\n",
            escape(&self.generated_at),
            escape(&self.since)
        );
        self.render_matches(&mut h);
        self.render_sources(&mut h);
        self.render_runs(&mut h);
        h.push_str("</body>\n</html>\n");
        h
    }

    fn render_matches(&self, h: &mut String) {
        let _ = writeln!(h, "<h2>Matches ({})</h2>", self.matches.len());
        if self.matches.is_empty() {
            h.push_str("<p>No watched name was posted in this period.</p>\n");
            return;
        }
        h.push_str(
            "<table>\n<tr><th>Matched</th><th>Watched name</th><th>Why</th><th>Source</th><th>Posting</th><th>Posted</th><th>Emails</th></tr>\n",
        );
        for m in &self.matches {
            let source = match m.also_reported_by.as_slice() {
                [] => escape(&m.source),
                also => format!(
                    "{}<br><small>also reported by {}</small>",
                    escape(&m.source),
                    escape(&also.join(", "))
                ),
            };
            let posting = match &m.link {
                Some(link) => format!("{}<br><span class=\"link\">{}</span>", escape(&m.title), escape(link)),
                None => escape(&m.title),
            };
            let emails = if let Some(of) = m.repeat_of {
                format!("repeat of #{of}")
            } else if m.emails_pending + m.emails_failed > 0 {
                format!(
                    "<span class=\"bad\">{} sent, {} pending, {} failed</span>",
                    m.emails_sent, m.emails_pending, m.emails_failed
                )
            } else {
                format!("{} sent", m.emails_sent)
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td><b>{}</b> ({})</td><td>{} “{}” in {}</td><td>{source}</td><td>{posting}</td><td>{}</td><td>{emails}</td></tr>",
                escape(&m.matched_at),
                escape(&m.entry),
                escape(&m.kind),
                escape(&m.reason),
                escape(&m.term),
                escape(&m.field),
                escape(m.posted_at.as_deref().unwrap_or("")),
            );
        }
        h.push_str("</table>\n");
    }

    fn render_sources(&self, h: &mut String) {
        let failing = self
            .sources
            .iter()
            .filter(|s| {
                s.last
                    .as_ref()
                    .is_some_and(|l| !matches!(l.status.as_str(), "ok" | "empty"))
            })
            .count();
        let _ = writeln!(h, "<h2>Sources ({}, {failing} failing)</h2>", self.sources.len());
        h.push_str(
            "<table>\n<tr><th>Source</th><th>Kind</th><th>Last fetch</th><th>Status</th><th>Postings</th><th>Last success</th><th>Failures in a row</th><th>Error</th></tr>\n",
        );
        for s in &self.sources {
            let (at, status, postings, success, error) = match &s.last {
                Some(l) => (
                    l.at.as_str(),
                    l.status.as_str(),
                    l.postings.to_string(),
                    l.last_success.as_deref().unwrap_or("never"),
                    l.error.as_deref().unwrap_or(""),
                ),
                None => ("never", "not fetched yet", String::new(), "", ""),
            };
            let class = if matches!(status, "ok" | "empty") { "ok" } else { "bad" };
            let _ = writeln!(
                h,
                "<tr><td><b>{}</b><br>{}<br><span class=\"link\">{}</span></td><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td>{postings}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&s.label),
                escape(&s.name),
                escape(&s.url),
                s.kind,
                escape(at),
                escape(status),
                escape(success),
                s.failures_in_row,
                escape(error),
            );
        }
        h.push_str("</table>\n");
    }

    fn render_runs(&self, h: &mut String) {
        h.push_str("<h2>Recent runs</h2>\n<table>\n<tr><th>Run</th><th>Started</th><th>Status</th><th>Sources ok / failed</th><th>Postings new / changed</th><th>Matches</th><th>Emails sent / pending</th></tr>\n");
        for r in &self.runs {
            let c = &r.counts;
            let class = if r.status == "ok" { "ok" } else { "bad" };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td>{} / {}</td><td>{} / {}</td><td>{}</td><td>{} / {}</td></tr>",
                r.id,
                escape(&r.started_at),
                escape(&r.status),
                c.sources_ok,
                c.sources_failed,
                c.postings_new,
                c.postings_changed,
                c.matches,
                c.emails_sent,
                c.emails_pending
            );
        }
        h.push_str("</table>\n");
    }
}

/// Writes `DIR/index.html` (through a temporary file, so a reader never
/// sees half a page) and returns its path.
pub fn write(dir: &Path, report: &Report) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("index.html");
    let tmp = dir.join(".index.html.tmp");
    std::fs::write(&tmp, report.render()).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>leakwatch report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.meta { color: #666; }
.link { color: #555; font-size: 12px; word-break: break-all; }
.ok { color: #17612a; }
.bad { color: #a4161a; font-weight: bold; }
</style>
</head>
<body>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RunCounts;

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let evil = "<script>alert(1)</script>\"'&";
        let report = Report {
            generated_at: "2026-01-01T00:00:00Z".into(),
            since: "2025-12-01T00:00:00Z".into(),
            sources: vec![SourceHealth {
                name: "clop".into(),
                label: evil.into(),
                kind: "html",
                url: "http://example.onion/".into(),
                last: Some(LastFetch {
                    status: "blocked".into(),
                    postings: 0,
                    at: "2026-01-01T00:00:00Z".into(),
                    error: Some(evil.into()),
                    last_success: None,
                }),
                failures_in_row: 2,
            }],
            matches: vec![MatchRow {
                id: 1,
                status: "new".into(),
                matched_at: "2026-01-01T00:00:00Z".into(),
                entry: evil.into(),
                kind: "supplier".into(),
                term: evil.into(),
                reason: "name".into(),
                field: "title".into(),
                source: "clop".into(),
                title: evil.into(),
                link: Some("javascript:alert(1)\"><img src=x onerror=alert(1)>".into()),
                posted_at: None,
                emails_sent: 0,
                emails_pending: 1,
                emails_failed: 0,
                also_reported_by: vec![evil.into()],
                repeat_of: None,
            }],
            runs: vec![RunRow {
                id: 1,
                started_at: "2026-01-01T00:00:00Z".into(),
                finished_at: None,
                status: "failed".into(),
                counts: RunCounts::default(),
                error: None,
            }],
        };
        let page = report.render();
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"));
        assert!(!page.contains("href="), "no live links to leak sites");
        assert!(page.contains("1 failing"));
    }
}
