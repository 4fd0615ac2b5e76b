//! Admin alerts: telling `notify.admin_recipients` when a source's health
//! changes, once per change, never every run.
//!
//! States, judged after each crawl of a source:
//! - **broken**: its fetch failed on `notify.broken_after` runs in a row;
//! - **blocked**: the same, with the last failure a blocked page (CAPTCHA,
//!   login, ransom portal): the selectors are fine, the site is hiding;
//! - **silent**: a fetch that worked found 0 postings where the last one
//!   found at least [`SILENT_AFTER`] — usually a changed layout;
//! - **ok**: postings found again (or an unchanged page of a broken source):
//!   reported as **recovered** when it was anything else.
//!
//! A **silent** alert carries a `suggestion` when the page still lists
//! postings in a new layout: a replacement `[source.html]` table and what it
//! extracts ([`crate::suggest::heal_hint`]), shown line for line so it can be
//! pasted into the config.

use std::fmt::Write as _;

use url::Url;

use crate::config::{Config, Source};
use crate::notify::email::Rendered;
use crate::store::{StoreError, Writer};
// Queued by the store, which owns the type so it needs nothing from notify.
pub use crate::store::AdminAlert;

/// A source whose last good fetch found at least this many postings and now
/// finds none has gone silent.
pub const SILENT_AFTER: i64 = 5;

/// What one crawl of a source showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation<'a> {
    /// ok | empty | blocked | http-error | proxy-error
    pub status: &'a str,
    pub error: Option<&'a str>,
    /// Failed runs in a row, this one included.
    pub failures_in_row: i64,
    /// Pages were fetched and read (not "not modified").
    pub listed: bool,
    pub postings: usize,
    /// Postings on the last good fetch before this one.
    pub previous_count: i64,
    /// The first page's body and URL when it read as empty (not blocked):
    /// what a replacement definition is suggested from if the source went silent.
    pub page: Option<(&'a str, &'a Url)>,
}

/// The state after `obs`, given the current one; `None` keeps it.
pub fn assess(current: &str, obs: &Observation, broken_after: u32) -> Option<&'static str> {
    if obs.error.is_some() {
        return (obs.failures_in_row >= i64::from(broken_after)).then_some(if obs.status == "blocked" {
            "blocked"
        } else {
            "broken"
        });
    }
    if !obs.listed {
        // Not modified: the site answers, but says nothing about its listing.
        return matches!(current, "broken" | "blocked").then_some("ok");
    }
    if obs.postings > 0 {
        return Some("ok");
    }
    (obs.previous_count >= SILENT_AFTER).then_some("silent")
}

/// The event to report when the state goes from `previous` to `next`.
pub fn event(previous: &str, next: &str) -> Option<&'static str> {
    match (previous, next) {
        (p, n) if p == n => None,
        (_, "ok") => Some("recovered"),
        (_, "broken") => Some("broken"),
        (_, "blocked") => Some("blocked"),
        (_, "silent") => Some("silent"),
        _ => None,
    }
}

/// What leakwatch saw, for the email.
pub fn detail(obs: &Observation, url: &str) -> String {
    let mut s = format!("{url}: ");
    match obs.error {
        Some(e) => {
            let _ = write!(
                s,
                "fetch failed ({}) on {} run(s) in a row; last error: {e}",
                obs.status, obs.failures_in_row
            );
        }
        None if obs.postings == 0 && obs.listed => {
            let _ = write!(
                s,
                "the page loaded but 0 postings were found; the last good fetch found {}",
                obs.previous_count
            );
        }
        None => {
            let _ = write!(s, "fetched fine, {} posting(s) found", obs.postings);
        }
    }
    s
}

/// Subject and body of an admin alert.
pub fn render(a: &AdminAlert, label: &str) -> Rendered {
    let what = match a.event.as_str() {
        "broken" => "is broken",
        "blocked" => "is blocked",
        "silent" => "went silent",
        "recovered" => "recovered",
        other => other,
    };
    let subject = crate::text::clean(&format!("[leakwatch] source {} ({label}) {what}", a.source));
    let advice = match a.event.as_str() {
        "recovered" => "Nothing to do: leakwatch reads it again.".to_owned(),
        "blocked" => format!(
            "The site shows a CAPTCHA, login or error page instead of its listing. Check it through Tor; `leakwatch source test {}` shows what leakwatch gets.",
            a.source
        ),
        _ => format!(
            "The selectors may no longer fit the page: `leakwatch source test {}` shows what they find.",
            a.source
        ),
    };
    let mut text = String::new();
    let _ = writeln!(text, "Source {} ({label}) {what} (was: {}).\n", a.source, a.previous);
    let _ = writeln!(text, "What leakwatch saw: {}", crate::text::clean(&a.detail));
    if let Some(s) = &a.suggestion {
        // Line by line: the suggestion is TOML to paste, its newlines matter.
        let _ = write!(text, "\nSuggestion:\n\n{}", crate::text::clean_lines(s));
    }
    let _ = writeln!(
        text,
        "\n{advice}\n\nYou get this once per change, not every run.\n-- \nleakwatch"
    );
    let esc = crate::notify::email::escape;
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>leakwatch source health</title></head>\n<body style=\"font-family:sans-serif\">\n",
    );
    let _ = writeln!(
        html,
        "<p>Source <b>{}</b> ({}) {what} (was: {}).</p>",
        esc(&a.source),
        esc(label),
        esc(&a.previous)
    );
    let _ = writeln!(html, "<p>What leakwatch saw: {}</p>", esc(&a.detail));
    if let Some(s) = &a.suggestion {
        let _ = writeln!(
            html,
            "<p>Suggestion:</p>\n<pre>{}</pre>",
            esc(&crate::text::clean_lines(s))
        );
    }
    let _ = writeln!(
        html,
        "<p>{}</p>\n<p><small>You get this once per change, not every run.</small></p>\n</body></html>",
        esc(&advice)
    );
    Rendered { subject, text, html }
}

/// Who hears about any admin event: every `notify.admin_recipients`
/// address, and every webhook (`admin = true` or not) as its outbox
/// recipient. Whatever queues an admin alert queues one per element, in the
/// transaction that caused it.
pub fn admin_audience(config: &Config) -> Vec<String> {
    let emails = config.notify.admin_recipients.iter().map(|a| a.to_string());
    emails
        .chain(config.notify.webhooks.iter().map(super::webhook::recipient))
        .collect()
}

/// Judges a crawl of `source` and, when its health changed, records the new
/// state and queues one admin alert per admin recipient — all in the
/// caller's transaction, with the source's postings.
pub fn record(w: &Writer, config: &Config, source: &Source, obs: &Observation, now: &str) -> Result<(), StoreError> {
    let current = w.source_health(&source.name)?.unwrap_or_else(|| "ok".to_owned());
    let Some(next) = assess(&current, obs, config.notify.broken_after) else {
        return Ok(());
    };
    let Some(event) = event(&current, next) else {
        return Ok(());
    };
    w.set_source_health(&source.name, next, now)?;
    tracing::warn!("source {}: {event}", source.name);
    // Suggested once per change, and only for a page that still loads: the
    // same text goes to every admin.
    let suggestion = match (event, obs.page) {
        ("silent", Some((body, url))) => crate::suggest::heal_hint(body, url),
        _ => None,
    };
    let domain = config
        .smtp
        .as_ref()
        .map_or("leakwatch.invalid", |s| s.from.email.domain());
    let stamp = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    for (i, recipient) in admin_audience(config).into_iter().enumerate() {
        w.queue_admin_alert(
            &AdminAlert {
                id: 0,
                recipient,
                source: source.name.clone(),
                event: event.to_owned(),
                previous: current.clone(),
                detail: detail(obs, source.url.as_str()),
                suggestion: suggestion.clone(),
                message_id: format!("<leakwatch.admin.{stamp:x}.{i}@{domain}>"),
            },
            now,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(status: &str, failures: i64, postings: usize, previous: i64) -> Observation<'_> {
        Observation {
            status,
            error: (!matches!(status, "ok" | "empty")).then_some("boom"),
            failures_in_row: failures,
            listed: true,
            postings,
            previous_count: previous,
            page: None,
        }
    }

    #[test]
    fn broken_only_after_n_failures_and_reported_once() {
        assert_eq!(assess("ok", &obs("http-error", 1, 0, 10), 3), None);
        assert_eq!(assess("ok", &obs("http-error", 2, 0, 10), 3), None);
        assert_eq!(assess("ok", &obs("http-error", 3, 0, 10), 3), Some("broken"));
        assert_eq!(event("ok", "broken"), Some("broken"));
        assert_eq!(event("broken", "broken"), None);
        assert_eq!(assess("ok", &obs("blocked", 3, 0, 10), 3), Some("blocked"));
    }

    #[test]
    fn silence_and_recovery() {
        assert_eq!(assess("ok", &obs("empty", 0, 0, 12), 3), Some("silent"));
        assert_eq!(assess("ok", &obs("empty", 0, 0, 2), 3), None, "a small list may empty");
        assert_eq!(assess("silent", &obs("empty", 0, 0, 0), 3), None, "still silent");
        assert_eq!(assess("silent", &obs("ok", 0, 4, 0), 3), Some("ok"));
        assert_eq!(event("silent", "ok"), Some("recovered"));
        let not_modified = Observation {
            listed: false,
            ..obs("ok", 0, 0, 10)
        };
        assert_eq!(assess("broken", &not_modified, 3), Some("ok"));
        assert_eq!(assess("silent", &not_modified, 3), None);
    }

    #[test]
    fn the_suggestion_is_shown_when_set() {
        let mut a = AdminAlert {
            id: 1,
            recipient: "ops@example.org".into(),
            source: "clop".into(),
            event: "silent".into(),
            previous: "ok".into(),
            detail: "http://x/: 0 postings".into(),
            suggestion: None,
            message_id: "<a@b>".into(),
        };
        let r = render(&a, "Cl0p leak site");
        assert_eq!(r.subject, "[leakwatch] source clop (Cl0p leak site) went silent");
        assert!(!r.text.contains("Suggestion"));
        a.suggestion = Some("[source.html]\nitem = \"article.card\"\u{1b}[31m\n  - Acme\u{200B} Corp\r\n".into());
        let r = render(&a, "Cl0p leak site");
        assert!(
            r.text
                .contains("Suggestion:\n\n[source.html]\nitem = \"article.card\"[31m\n  - Acme Corp\n"),
            "newlines kept, control and invisible characters gone:\n{}",
            r.text
        );
        assert!(!r.text.contains('\u{1b}') && !r.text.contains('\r'));
        assert!(
            r.html
                .contains("<pre>[source.html]\nitem = &quot;article.card&quot;[31m\n  - Acme Corp\n</pre>"),
            "{}",
            r.html
        );
    }
}
