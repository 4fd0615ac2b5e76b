//! Extract: turn a fetched page into [`Posting`]s.
//!
//! One submodule per source kind — `html` (CSS selectors), `feed` (RSS/Atom/
//! JSON Feed) and `json` (JSON pointers) — all producing the same
//! [`Extraction`]. This stage is pure: no I/O, no clock except for relative
//! dates, so it is unit-tested on fixture pages and fuzzed.

mod csv;
mod dates;
mod depth;
mod detail;
mod entities;
mod facts;
mod feed;
mod html;
mod json;
mod scripted;
mod victim;

use chrono::{DateTime, Utc};
use url::Url;

use crate::config::{Extractor, Source};
use crate::text;

pub use dates::parse_date;
pub use depth::{MAX_NESTING, nesting_depth};
pub use detail::{Detail, read as read_detail};
pub use entities::decode as decode_entities;
pub use facts::{PostingFacts, website_domain};
pub use html::{blocked_reason, read_field};
pub use scripted::{SCRIPTED_HINT, looks_scripted};
// The selector workbench reads text exactly as extraction does.
pub(crate) use html::{element_text, own_text};
pub(crate) use json::unwrap as unwrap_title;
pub use victim::{is_masked, is_truncated};

/// The most body text kept per posting; descriptions beyond it add nothing
/// to matching or to an email.
pub const MAX_BODY_BYTES: usize = 4096;

/// One victim or announcement as a source lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub source: String,
    /// Stable across runs: see [`posting_key`].
    pub key: String,
    pub title: String,
    pub link: Option<String>,
    pub posted_at: Option<DateTime<Utc>>,
    pub body: String,
    /// Groups postings that are parts of one leak (`QUALYS.COM FILES PART1`,
    /// `… PART2`): the same victim on the same source. See [`victim_key`].
    pub victim: String,
    /// The site hides part of the name (`Ac*****on`, `M*** ****`).
    pub masked: bool,
    /// The site cut the name short (`Bombardier Recreational Pro...`).
    pub truncated: bool,
    /// What the source states beyond the title: group, website, vendor, product, id.
    pub facts: PostingFacts,
}

/// What a page is, judged from what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageClass {
    /// Postings found.
    Ok,
    /// A real listing with nothing on it today.
    Empty,
    /// A CAPTCHA, login or ransom portal, or an error page: it says nothing
    /// about what the source lists, so it must never read as "all removed".
    Blocked,
}

/// Everything extracted from one page.
#[derive(Debug, Default)]
pub struct Extraction {
    pub postings: Vec<Posting>,
    /// Postings handed over one by one as they were read ([`extract_each`]),
    /// not in `postings`.
    pub handed_over: usize,
    /// Items the `item` selector found that had no title, skipped.
    pub untitled: usize,
    /// The next page to fetch, when the source paginates.
    pub next_page: Option<Url>,
    /// Things an analyst fixing selectors wants to know.
    pub warnings: Vec<String>,
    /// Why the page looks blocked, if it does: set by the heuristics only
    /// when nothing was found, by a source's `blocked_if` whenever it matches.
    pub blocked: Option<String>,
}

impl Extraction {
    pub fn class(&self) -> PageClass {
        if self.blocked.is_some() {
            PageClass::Blocked
        } else if self.postings.is_empty() && self.handed_over == 0 {
            PageClass::Empty
        } else {
            PageClass::Ok
        }
    }
}

/// A page body that cannot be read as its source's kind says.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("the feed cannot be parsed: {0}")]
    Feed(String),
    #[error("the JSON cannot be parsed: {0}")]
    Json(String),
    #[error("the JSON pointer items = \"{0}\" does not lead to an array")]
    NotAnArray(String),
    #[error("the CSV cannot be read: {0}")]
    Csv(String),
    #[error("page nests {0} elements deep, more than {MAX_NESTING}: refused as hostile")]
    TooDeep(usize),
}

/// Refuses a page nested deeper than any real listing before it is parsed
/// as HTML: see [`depth`].
pub fn check_nesting(body: &str) -> Result<(), ExtractError> {
    match nesting_depth(body) {
        d if d > MAX_NESTING => Err(ExtractError::TooDeep(d)),
        _ => Ok(()),
    }
}

/// Extracts the postings of `source` from one page at `url`.
pub fn extract(source: &Source, url: &Url, body: &str) -> Result<Extraction, ExtractError> {
    let mut handed = Vec::new();
    let mut out = extract_each(source, url, body, || (), |p| handed.push(p))?;
    if out.handed_over > 0 {
        (out.postings, out.handed_over) = (handed, 0);
    }
    Ok(out)
}

/// Whether [`extract_each`] hands `source`'s postings over one by one: a
/// JSON API's (not JSON inside an HTML page, which may read as blocked).
pub fn hands_over(source: &Source) -> bool {
    matches!(&source.extractor, Extractor::Json(rules) if rules.embedded.is_none())
}

/// As [`extract`], but when [`hands_over`] says so, each posting goes to
/// `each` as it is read instead of into [`Extraction::postings`], so a page
/// of 200 000 items never holds them all. `ready` is called first, once the
/// page has been read as far as its items. An error after `ready` (a
/// hostile item that does not parse) fails the page as [`extract`] would:
/// the postings already handed over are the caller's to drop.
pub fn extract_each(
    source: &Source,
    url: &Url,
    body: &str,
    ready: impl FnOnce(),
    mut each: impl FnMut(Posting),
) -> Result<Extraction, ExtractError> {
    // A feed's summaries are HTML too (parsed one by one; an entry's end tag
    // closes what its summary left open, so the scan sees them the same way).
    let parses_html = match &source.extractor {
        Extractor::Html(_) | Extractor::Feed(_) | Extractor::Pending => true,
        Extractor::Json(rules) => rules.embedded.is_some(),
        Extractor::Csv(_) => false,
    };
    if parses_html {
        check_nesting(body)?;
    }
    // A leak site's own postings are its group's; aggregators say per item.
    let site_group = match &source.extractor {
        Extractor::Html(_) | Extractor::Feed(_) => source.group.clone().or_else(|| Some(source.name.clone())),
        Extractor::Json(_) | Extractor::Csv(_) | Extractor::Pending => source.group.clone(),
    };
    let parsed = match &source.extractor {
        Extractor::Html(rules) => Ok(html::extract(rules, url, body)),
        Extractor::Feed(rules) => feed::extract(rules, url, body),
        Extractor::Json(rules) => {
            let finish = |p: &mut Posting| finish(source, site_group.as_ref(), p);
            json::extract_each(rules, url, body, ready, &finish, &mut each)
        }
        Extractor::Csv(rules) => csv::extract(rules, url, body),
        // No rules yet: only whether the page is a listing at all.
        Extractor::Pending => Ok(Extraction {
            blocked: html::classify(&scraper::Html::parse_document(body), None, true),
            ..Extraction::default()
        }),
    };
    let mut out = match parsed {
        Ok(out) => out,
        // A feed or API behind a CAPTCHA or login answers with an HTML page:
        // that is "blocked", not a broken source.
        Err(e) => {
            check_nesting(body)?;
            match html::classify(&scraper::Html::parse_document(body), None, true) {
                Some(reason) => Extraction {
                    blocked: Some(reason),
                    ..Extraction::default()
                },
                None => return Err(e),
            }
        }
    };
    for p in &mut out.postings {
        finish(source, site_group.as_ref(), p);
    }
    Ok(out)
}

/// What every posting of `source` gets once read: its source, key, group
/// and victim.
fn finish(source: &Source, site_group: Option<&String>, p: &mut Posting) {
    p.source.clone_from(&source.name);
    let normalized = text::normalize(&p.title);
    p.key = match (&p.facts.id, &p.facts.group) {
        (Some(id), _) => format!("id\u{1f}{id}"),
        // An aggregator lists the same name once per group claiming it.
        (None, group) => key(&normalized, p.link.as_deref(), group.as_deref()),
    };
    if p.facts.group.is_none() {
        p.facts.group = site_group.cloned();
    }
    p.masked = victim::is_masked(&p.title);
    p.truncated = victim::is_truncated(&p.title);
    p.victim = victim::victim_key_normalized(&p.title, p.masked, Some(&normalized));
    // A disclosure about a product is one per id (each CVE is news),
    // however alike the titles read.
    if (p.facts.vendor.is_some() || p.facts.product.is_some())
        && let Some(id) = &p.facts.id
    {
        p.victim = text::normalize(id);
    }
}

/// The key that says "same posting" from run to run: the normalized title and
/// the link, so a change of case or spacing on the page is not a new posting.
pub fn posting_key(title: &str, link: Option<&str>) -> String {
    key(&text::normalize(title), link, None)
}

/// The normalized title and the link, and the group when given, joined by U+001F.
fn key(normalized: &str, link: Option<&str>, group: Option<&str>) -> String {
    let mut key = String::with_capacity(normalized.len() + 64);
    key.push_str(normalized);
    for part in [link.or(Some("")), group].into_iter().flatten() {
        key.push('\u{1f}');
        key.push_str(part);
    }
    key
}

/// The victim a posting is about, for grouping the parts of one leak
/// (`QUALYS.COM FILES PART1 PUBLISHED` and `PART2` share `qualys com`).
pub fn victim_key(title: &str) -> String {
    victim::victim_key(title, victim::is_masked(title))
}

/// Builds a posting from raw field values, cleaning each.
fn posting(
    title: &str,
    link: Option<String>,
    posted_at: Option<DateTime<Utc>>,
    body: &str,
    facts: PostingFacts,
) -> Option<Posting> {
    let decoded = entities::decode(title);
    let title = text::clean_cow(&decoded);
    if title.is_empty() {
        return None;
    }
    Some(Posting {
        source: String::new(),
        key: String::new(),
        title: text::truncate(&title, 512),
        link,
        posted_at,
        body: text::truncate(&text::clean_cow(&entities::decode(body)), MAX_BODY_BYTES),
        victim: String::new(),
        masked: false,
        truncated: false,
        facts: facts.cleaned(),
    })
}

/// Resolves a link as written on the page; keeps only web links, since a
/// `javascript:` or `mailto:` target is nothing a reader should click.
fn resolve_link(base: &Url, href: &str) -> Option<String> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    let url = base.join(href).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    #[test]
    fn a_feed_or_api_answering_with_a_captcha_page_is_blocked() {
        let text = "[database]\npath = \"x.db\"\n[[source]]\nname = \"f\"\nkind = \"feed\"\nurl = \"http://f.example/\"\n[[source]]\nname = \"j\"\nkind = \"json\"\nurl = \"http://j.example/\"\n[source.json]\ntitle = \"/t\"\n";
        let c = Config::parse(Path::new("t.toml"), text).unwrap();
        let url = Url::parse("http://f.example/").unwrap();
        let captcha = "<html><title>DDOS Protection</title><body><form>Prove that you are human</form></body></html>";
        for s in &c.sources {
            assert_eq!(
                extract(s, &url, captcha).unwrap().class(),
                PageClass::Blocked,
                "{}",
                s.name
            );
            assert!(
                extract(s, &url, "<html><body>garbage</body></html>").is_err(),
                "{}",
                s.name
            );
        }
    }

    #[test]
    fn a_feed_with_deeply_nested_summaries_is_refused_and_real_feeds_pass() {
        let text =
            "[database]\npath = \"x.db\"\n[[source]]\nname = \"f\"\nkind = \"feed\"\nurl = \"http://f.example/\"\n";
        let c = Config::parse(Path::new("t.toml"), text).unwrap();
        let url = Url::parse("http://f.example/").unwrap();
        let feed = |summary: &str| {
            let item = format!(
                "<item><title>ACME</title><link>http://f.example/a</link><description><![CDATA[{summary}]]></description></item>"
            );
            format!(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>{}</channel></rss>",
                item.repeat(300)
            )
        };
        // Each entry's end tag closes what its summary left open.
        let sloppy = extract(&c.sources[0], &url, &feed("<div><b>leaked <i>files")).unwrap();
        assert_eq!(sloppy.postings.len(), 300);
        let err = extract(&c.sources[0], &url, &feed(&"<div>".repeat(2000))).unwrap_err();
        assert!(matches!(err, ExtractError::TooDeep(d) if d > 2000), "{err}");
    }
}
