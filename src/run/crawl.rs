//! Crawling one source at one address: its pages through the fetcher
//! (rendered when the source says so, `next_page` links on the same host),
//! extracted into a [`SourceOutcome`] that the fetch task hands to the
//! writer. Everything here runs concurrently, one task per source; nothing
//! here writes to the database.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use url::Url;

use super::mirrors;
use super::stream::{self, Outlet};
use crate::config::{Extractor, Source};
use crate::extract::{self, PageClass, Posting};
use crate::fetch::{self, Fetcher, Validators};
use crate::store::AddressState;
use crate::summary::StageTimes;

/// What crawling one source produced, handed from the fetch tasks to the writer.
pub(super) struct SourceOutcome {
    pub(super) source: Arc<Source>,
    /// ok | empty | blocked | http-error | proxy-error | render-error
    pub(super) status: &'static str,
    pub(super) error: Option<String>,
    pub(super) postings: Vec<Posting>,
    /// (url, old validators, new validators) of every page fetched.
    pub(super) pages: Vec<(String, Validators, Validators)>,
    pub(super) not_modified: usize,
    pub(super) tries: u32,
    /// How the source was asked (cookies and token of its prelude): its
    /// detail pages are asked the same way.
    pub(super) outgoing: Option<fetch::Outgoing>,
    /// The first page's body and URL when it read as `empty` (not blocked):
    /// what a self-healing hint is suggested from. Only then, so a run does
    /// not hold every page.
    pub(super) empty_page: Option<(String, Url)>,
    /// Where the first page came from: the address that answered.
    pub(super) answered: Option<Url>,
    /// Every address tried, in order, and how it went.
    pub(super) addresses: Vec<AddressState>,
    /// A pending source's proposed selectors.
    pub(super) proposal: Option<String>,
    /// Time spent fetching and extracting this source's pages.
    pub(super) stages: StageTimes,
    /// Where the outcome goes when the postings went ahead in a stream.
    pub(super) streamed: Option<std::sync::mpsc::Sender<SourceOutcome>>,
}

impl SourceOutcome {
    /// Nothing done yet: `ok` until something fails.
    pub(super) fn new(source: Arc<Source>) -> SourceOutcome {
        SourceOutcome {
            source,
            status: "ok",
            error: None,
            postings: Vec::new(),
            pages: Vec::new(),
            not_modified: 0,
            tries: 0,
            empty_page: None,
            outgoing: None,
            answered: None,
            addresses: Vec::new(),
            proposal: None,
            stages: StageTimes::default(),
            streamed: None,
        }
    }
}

/// Fetches a source's pages at one of its addresses — `start`, then
/// `next_page` links on the same host, up to `max_pages`, never one twice —
/// and extracts their postings. A pending source gets its first page read
/// for a proposal instead.
pub(super) async fn crawl_source(
    fetcher: &Fetcher,
    source: Arc<Source>,
    start: Url,
    mut validators: HashMap<String, Validators>,
    outlet: &Outlet,
) -> SourceOutcome {
    let mut out = SourceOutcome::new(source.clone());
    let max_pages = match &source.extractor {
        Extractor::Html(rules) => rules.max_pages,
        Extractor::Json(rules) => rules.max_pages,
        Extractor::Feed(_) | Extractor::Csv(_) | Extractor::Pending => 1,
    };
    let mut outgoing = match fetch::Outgoing::for_source(&source) {
        Ok(o) => o,
        Err(e) => {
            out.status = "http-error";
            out.error = Some(e);
            return out;
        }
    };
    if let Err(failure) = fetcher.prepare(&mut outgoing).await {
        out.tries += failure.tries;
        out.status = failure.error.class();
        out.error = Some(failure.to_string());
        return out;
    }
    let mut seen: HashSet<Url> = HashSet::new();
    let mut next = Some(start.clone());
    let mut first_class = None;
    while let Some(url) = next.take() {
        if seen.len() as u32 >= max_pages || !seen.insert(url.clone()) {
            break;
        }
        let old = validators.remove(url.as_str()).unwrap_or_default();
        tracing::debug!("source {}: GET {url}", source.name);
        let clock = Instant::now();
        let fetched = fetcher.page(&source, &url, &old, &outgoing).await;
        out.stages.fetch += clock.elapsed();
        let mut page = match fetched {
            Ok(page) => page,
            Err(failure) => {
                out.tries += failure.tries;
                out.status = failure.error.class();
                out.error = Some(failure.to_string());
                break;
            }
        };
        out.tries += page.tries;
        out.answered.get_or_insert_with(|| page.url.clone());
        out.pages.push((url.to_string(), old, page.validators.clone()));
        if page.not_modified {
            out.not_modified += 1;
            // An unchanged page tells nothing new, nor where its next page is.
            break;
        }
        let extracted = if stream::streams(&source, seen.len() as u32, &out.postings) {
            let x = stream::extract(outlet, &source, &page.url, std::mem::take(&mut page.body)).await;
            (page.body, out.streamed) = (x.body, x.outcome);
            out.stages.extract += x.took;
            x.result
        } else {
            let clock = Instant::now();
            let extracted = extract::extract(&source, &page.url, &page.body);
            out.stages.extract += clock.elapsed();
            extracted
        };
        let extraction = match extracted {
            Ok(x) => x,
            Err(e) => {
                out.status = "http-error";
                out.error = Some(format!("{}: {e}", page.url));
                break;
            }
        };
        let class = extraction.class();
        if first_class.is_none() && class == PageClass::Empty {
            out.empty_page = Some((page.body.clone(), page.url.clone()));
        }
        first_class.get_or_insert(class);
        if class == PageClass::Blocked {
            out.status = "blocked";
            out.error = Some(format!(
                "{}: page is blocked: {}",
                page.url,
                extraction.blocked.as_deref().unwrap_or("not a listing")
            ));
            break;
        }
        if source.is_pending() {
            out.status = "pending";
            out.proposal = Some(crate::suggest::proposal(&page.body, &page.url));
            break;
        }
        out.postings.extend(extraction.postings);
        // A page may point anywhere; pagination stays on the source's host.
        next = extraction.next_page.filter(|n| {
            let same_host = fetch::host_key(n) == fetch::host_key(&start);
            if !same_host {
                tracing::info!("source {}: next page {n} is on another host: not followed", source.name);
            }
            same_host
        });
    }
    if !source.mirrors.is_empty() {
        mirrors::address_free_keys(&mut out.postings);
    }
    out.outgoing = Some(outgoing);
    if out.error.is_none() && first_class == Some(PageClass::Empty) && out.postings.is_empty() && !source.is_pending() {
        out.status = "empty";
        if source.render.is_none()
            && out
                .empty_page
                .as_ref()
                .is_some_and(|(body, _)| extract::looks_scripted(body))
        {
            tracing::warn!("source {}: {}", source.name, extract::SCRIPTED_HINT);
        }
    } else {
        out.empty_page = None;
    }
    out
}
