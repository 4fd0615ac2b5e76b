//! What the pages show, as askama templates (`templates/`): typed page
//! values, and the pure helpers that shape stored data for them — marked
//! snippets, the weekly chart, the exclude phrase a dismissal offers.
//!
//! Templates escape every value; nothing here builds HTML by hand.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::report::SourceHealth;
use crate::store::{AuditRow, FoundPosting, InboxRow, Status, WeekCount};
use crate::text;

/// The header of every signed-in page.
pub struct Nav {
    pub user: String,
    pub role: String,
    pub csrf: String,
    pub active: &'static str,
}

impl Nav {
    pub fn links(&self) -> [(&'static str, &'static str); 6] {
        [
            ("/", "Overview"),
            ("/matches?status=new", "Matches"),
            ("/watch", "Watch list"),
            ("/sources", "Sources"),
            ("/postings", "Postings"),
            ("/audit", "Audit"),
        ]
    }

    pub fn is_active(&self, href: &str) -> bool {
        href.split('?').next() == Some(self.active)
    }

    pub fn analyst(&self) -> bool {
        self.role == "analyst"
    }
}

/// A run of text, marked (the matched term) or not.
pub struct Part {
    pub text: String,
    pub mark: bool,
}

/// `text` cleaned of control and invisible characters, keeping one space
/// at either end where it had whitespace (it sits between other parts).
fn clean_part(text: &str) -> String {
    let inner = text::clean(text);
    if inner.is_empty() {
        return if text.chars().any(char::is_whitespace) {
            " ".into()
        } else {
            inner
        };
    }
    let lead = if text.starts_with(char::is_whitespace) { " " } else { "" };
    let trail = if text.ends_with(char::is_whitespace) { " " } else { "" };
    format!("{lead}{inner}{trail}")
}

/// Splits a stored snippet (`… [[term]] …`) into marked and plain parts,
/// each cleaned of control and invisible characters.
pub fn parts(snippet: &str) -> Vec<Part> {
    let mut out = Vec::new();
    let mut rest = snippet;
    while let Some(start) = rest.find("[[") {
        let Some(len) = rest[start + 2..].find("]]") else {
            break;
        };
        out.push(Part {
            text: clean_part(&rest[..start]),
            mark: false,
        });
        out.push(Part {
            text: text::clean(&rest[start + 2..start + 2 + len]),
            mark: true,
        });
        rest = &rest[start + 2 + len + 2..];
    }
    out.push(Part {
        text: clean_part(rest),
        mark: false,
    });
    out.retain(|p| !p.text.is_empty());
    out
}

/// The phrase a dismissal offers to exclude: the marked term and the word
/// after it (or before it), so the exclusion is narrower than the name.
pub fn exclude_suggestion(snippet: &str) -> String {
    let ps = parts(snippet);
    let Some(i) = ps.iter().position(|p| p.mark) else {
        return String::new();
    };
    let term = ps[i].text.trim();
    let next = ps.get(i + 1).and_then(|p| first_word(&p.text));
    let prev = i.checked_sub(1).and_then(|j| ps[j].text.split_whitespace().last());
    match (next, prev) {
        (Some(n), _) => format!("{term} {n}"),
        (None, Some(p)) => format!("{p} {term}"),
        (None, None) => term.to_owned(),
    }
}

fn first_word(text: &str) -> Option<&str> {
    if text.starts_with(char::is_alphanumeric) {
        return None; // the term ended inside a word: no clean phrase
    }
    // Only a plain word: markup or punctuation around the name is no phrase.
    text.split_whitespace()
        .next()
        .map(|w| w.trim_end_matches([',', '.', ';', ':']))
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '&'))
}

/// A match as the pages show it.
pub struct MatchView {
    pub id: i64,
    pub status: String,
    pub note: String,
    pub triaged: String,
    pub matched_at: String,
    pub entry: String,
    pub kind: String,
    pub term: String,
    pub why: String,
    /// "60% (truncated title: only the start of the name is shown)", as alerts say it.
    pub confidence: String,
    pub snippet: Vec<Part>,
    pub source: String,
    pub title: String,
    /// Shown as text, never as a live link: it points at a criminal's site.
    pub link: String,
    pub posted_at: String,
    pub body: String,
    pub change_note: String,
    pub repeat_of: String,
    pub exclude: String,
}

impl From<InboxRow> for MatchView {
    fn from(m: InboxRow) -> MatchView {
        MatchView {
            id: m.id,
            triaged: match (&m.triaged_by, &m.triaged_at) {
                (Some(by), Some(at)) => format!("{} by {}", day(at), text::clean(by)),
                _ => String::new(),
            },
            status: m.status,
            note: text::clean(m.note.as_deref().unwrap_or_default()),
            matched_at: day(&m.matched_at),
            why: format!("{} in {}", m.reason, m.field),
            exclude: exclude_suggestion(&m.snippet),
            snippet: parts(&m.snippet),
            entry: m.entry,
            kind: m.kind,
            term: m.term,
            confidence: crate::notify::email::confidence_why(m.confidence, &m.reason, &m.field),
            source: m.source,
            title: text::clean(&m.title),
            link: text::clean(m.link.as_deref().unwrap_or_default()),
            posted_at: m.posted_at.as_deref().map(day).unwrap_or_default(),
            body: text::clean(&m.body),
            change_note: m.change_note.unwrap_or_default(),
            repeat_of: m.repeat_of.map(|r| r.to_string()).unwrap_or_default(),
        }
    }
}

/// `YYYY-MM-DD` of a stored timestamp.
pub fn day(ts: &str) -> String {
    ts.get(..10).unwrap_or(ts).to_owned()
}

/// One bar of the weekly chart, in SVG user units.
pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub height: u32,
    pub week: String,
    pub matches: i64,
}

pub const CHART_WEEKS: i64 = 12;
/// Room above the tallest bar for its count; bars stand on y = 80.
const CHART_TOP: u32 = 12;
const CHART_HEIGHT: u32 = 68;
const BAR_STEP: u32 = 30;

/// Bars for the last [`CHART_WEEKS`] weeks ending with the week of `today`,
/// empty weeks included.
pub fn chart(weeks: &[WeekCount], today: chrono::NaiveDate) -> Vec<Bar> {
    use chrono::Datelike;
    let monday = today - chrono::Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let max = weeks.iter().map(|w| w.matches).max().unwrap_or(0).max(1);
    (0..CHART_WEEKS)
        .map(|i| {
            let week = (monday - chrono::Duration::weeks(CHART_WEEKS - 1 - i)).to_string();
            let matches = weeks.iter().find(|w| w.week == week).map_or(0, |w| w.matches);
            let height = (matches * i64::from(CHART_HEIGHT) / max) as u32;
            Bar {
                x: i as u32 * BAR_STEP,
                y: CHART_TOP + CHART_HEIGHT - height,
                height,
                week,
                matches,
            }
        })
        .collect()
}

/// A source's health in one word, and the class the page colours it by.
pub struct SourceView {
    pub name: String,
    pub label: String,
    pub kind: &'static str,
    pub url: String,
    pub status: String,
    pub class: &'static str,
    pub last_fetch: String,
    pub last_success: String,
    pub postings: i64,
    pub failures_in_row: i64,
    pub error: String,
}

impl From<SourceHealth> for SourceView {
    fn from(s: SourceHealth) -> SourceView {
        let last = s.last;
        let status = last.as_ref().map_or("never fetched".to_owned(), |l| l.status.clone());
        SourceView {
            class: match status.as_str() {
                "ok" => "ok",
                "empty" | "never fetched" => "warn",
                _ => "bad",
            },
            name: s.name,
            label: s.label,
            kind: s.kind,
            url: s.url,
            status,
            last_fetch: last.as_ref().map(|l| l.at.clone()).unwrap_or_default(),
            last_success: last.as_ref().and_then(|l| l.last_success.clone()).unwrap_or_default(),
            postings: last.as_ref().map_or(0, |l| l.postings),
            failures_in_row: s.failures_in_row,
            error: last.and_then(|l| l.error).map(|e| text::clean(&e)).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub nav: Nav,
    /// Where triage forms on the page return to.
    pub back: String,
    pub counts: Vec<(Status, i64)>,
    pub bars: Vec<Bar>,
    pub sources: Vec<SourceView>,
    pub rows: Vec<MatchView>,
}

/// The inbox's filter, as the form shows it back.
#[derive(Default, serde::Deserialize)]
pub struct MatchQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub entry: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
}

impl MatchQuery {
    /// This inbox view's own address, for the triage forms to return to.
    pub fn path(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("status", &self.status),
            ("entry", &self.entry),
            ("kind", &self.kind),
            ("source", &self.source),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        format!("/matches?{}", q.finish())
    }
}

#[derive(Template)]
#[template(path = "matches.html")]
pub struct MatchesPage {
    pub nav: Nav,
    pub back: String,
    pub q: MatchQuery,
    pub rows: Vec<MatchView>,
    pub limit: i64,
}

#[derive(Template)]
#[template(path = "match.html")]
pub struct MatchPage {
    pub nav: Nav,
    pub m: MatchView,
    pub related: Vec<MatchView>,
    pub history: Vec<AuditRow>,
}

/// A watch entry as the list shows it.
pub struct EntryView {
    pub name: String,
    pub kind: String,
    pub aliases: String,
    pub domains: String,
    pub recipients: String,
    pub exclude: String,
    pub updated_at: String,
    pub note: String,
}

/// The add/edit form's fields: the CSV columns.
#[derive(Default, serde::Deserialize)]
pub struct EntryForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub aliases: String,
    #[serde(default)]
    pub domains: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub recipients: String,
    #[serde(default)]
    pub exclude: String,
}

#[derive(Template)]
#[template(path = "watch.html")]
pub struct WatchPage {
    pub nav: Nav,
    pub entries: Vec<EntryView>,
    pub form: EntryForm,
    pub error: String,
    pub notice: String,
}

#[derive(Template)]
#[template(path = "sources.html")]
pub struct SourcesPage {
    pub nav: Nav,
    pub sources: Vec<SourceView>,
}

/// A search hit as the Postings page shows it.
pub struct FoundView {
    pub source: String,
    pub title: String,
    pub link: String,
    pub first_seen: String,
    pub snippet: Vec<Part>,
    pub entries: String,
}

impl From<FoundPosting> for FoundView {
    fn from(p: FoundPosting) -> FoundView {
        FoundView {
            source: p.source,
            title: text::clean(&p.title),
            link: text::clean(p.link.as_deref().unwrap_or_default()),
            first_seen: day(&p.first_seen_at),
            snippet: parts(&p.snippet),
            entries: p.entries.join(", "),
        }
    }
}

#[derive(Template)]
#[template(path = "postings.html")]
pub struct PostingsPage {
    pub nav: Nav,
    pub q: String,
    pub found: Vec<FoundView>,
    pub searched: bool,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub nav: Nav,
    pub rows: Vec<AuditRow>,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub csrf: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
}

/// Renders a page, or says why it could not be.
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!("workspace: rendering a page: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot render the page").into_response()
        }
    }
}

pub fn error_page(status: StatusCode, message: &str) -> Html<String> {
    Html(
        ErrorPage {
            status: status.as_u16(),
            message,
        }
        .render()
        .unwrap_or_else(|_| "error".to_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_parts_mark_the_term_and_drop_invisible_characters() {
        let p = parts("Data of [[Acme\u{202e}]] Stores\u{200b} leaked");
        let shown: Vec<(&str, bool)> = p.iter().map(|p| (p.text.as_str(), p.mark)).collect();
        assert_eq!(shown, [("Data of ", false), ("Acme", true), (" Stores leaked", false)]);
        assert_eq!(parts("no mark [[ open").len(), 1);
    }

    #[test]
    fn exclusion_offered_is_the_term_and_its_neighbour() {
        assert_eq!(exclude_suggestion("the [[Target]] Stores, Inc."), "Target Stores");
        assert_eq!(exclude_suggestion("hit the [[Target]]"), "the Target");
        assert_eq!(exclude_suggestion("[[Target]]"), "Target");
        assert_eq!(exclude_suggestion("[[Acme]] <script>x</script>"), "Acme");
        assert_eq!(exclude_suggestion("no mark"), "");
    }

    #[test]
    fn chart_has_every_week_and_scales_to_the_busiest() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(); // a Thursday
        let weeks = [
            WeekCount {
                week: "2026-11-30".into(),
                matches: 4,
            },
            WeekCount {
                week: "2026-11-16".into(),
                matches: 2,
            },
        ];
        let bars = chart(&weeks, today);
        assert_eq!(bars.len(), CHART_WEEKS as usize);
        assert_eq!(bars.last().unwrap().week, "2026-11-30");
        assert_eq!(bars.last().unwrap().height, CHART_HEIGHT);
        assert_eq!(bars[CHART_WEEKS as usize - 3].height, CHART_HEIGHT / 2);
        assert_eq!(bars[0].height, 0);
    }
}
