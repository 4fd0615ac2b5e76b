//! Handing a source's postings to the writer while its page is extracted.
//!
//! A JSON API of 200 000 items is one page. Extracted into one list and
//! then diffed, it held every posting at once beside its body, and the
//! second core idled while the first extracted. So when a page is the last
//! its source will fetch and the first with postings, and its kind hands
//! postings over one by one ([`extract::hands_over`]), it is extracted on a
//! blocking thread that sends them to the writer in chunks: the writer
//! diffs one chunk while the next is read, and only a few chunks wait.
//!
//! The writer's transaction stays open only while that page is extracted,
//! never across a fetch. Should the page fail part-way (a hostile item that
//! does not parse), its task drops the stream: the writer rolls back what
//! it had stored, and the source's outcome arrives whole, as any other.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::time::{Duration, Instant};

use url::Url;

use super::crawl::SourceOutcome;
use crate::config::{Extractor, Source};
use crate::extract::{self, ExtractError, Extraction, Posting};

/// Postings per chunk.
const CHUNK: usize = 1024;
/// Chunks extracted ahead of the writer.
const AHEAD: usize = 4;

/// What the writer gets from a source's task.
pub(super) enum Arrival {
    /// A source crawled to the end, its postings with it.
    Whole(Box<SourceOutcome>),
    /// A source whose page is being extracted: chunks of postings, then its outcome.
    Streamed(Stream),
}

impl Arrival {
    pub(super) fn source(&self) -> &Arc<Source> {
        match self {
            Arrival::Whole(outcome) => &outcome.source,
            Arrival::Streamed(stream) => &stream.source,
        }
    }
}

/// The writer's end of a streamed source.
pub(super) struct Stream {
    pub(super) source: Arc<Source>,
    /// Closed once the page is extracted.
    pub(super) chunks: Receiver<Vec<Posting>>,
    /// The crawl's outcome, once it is done; closed without one when the
    /// page failed part-way and the outcome comes whole instead.
    pub(super) outcome: Receiver<SourceOutcome>,
}

/// Where the sources' tasks hand over what they crawled.
#[derive(Clone)]
pub(super) struct Outlet(pub(super) tokio::sync::mpsc::Sender<Arrival>);

impl Outlet {
    /// Hands over a source's outcome: to its stream if it has one.
    pub(super) async fn finish(&self, mut outcome: SourceOutcome) {
        match outcome.streamed.take() {
            // The writer may be gone (a failed or stopped run): nothing to hand to.
            Some(to) => drop(to.send(outcome)),
            None => drop(self.0.send(Arrival::Whole(Box::new(outcome))).await),
        }
    }
}

/// Whether `source`'s page at hand streams: the last one it fetches
/// (`pages` fetched so far, this one included), the first with postings.
pub(super) fn streams(source: &Source, pages: u32, earlier: &[Posting]) -> bool {
    let last = match &source.extractor {
        Extractor::Json(rules) => rules.next_page.is_none() || pages >= rules.max_pages,
        _ => false,
    };
    last && earlier.is_empty() && extract::hands_over(source) && !source.is_pending()
}

/// What extracting a streamed page gave.
pub(super) struct Extracted {
    pub(super) result: Result<Extraction, ExtractError>,
    pub(super) body: String,
    /// Where the outcome goes, when the writer was told of the stream.
    pub(super) outcome: Option<Sender<SourceOutcome>>,
    /// Time extracting, not waiting for the writer.
    pub(super) took: Duration,
}

/// Extracts `body` on a blocking thread, announcing the stream to the
/// writer once the page has been read as far as its items.
pub(super) async fn extract(outlet: &Outlet, source: &Arc<Source>, url: &Url, body: String) -> Extracted {
    let (chunks_to, chunks) = std::sync::mpsc::sync_channel::<Vec<Posting>>(AHEAD);
    let (outcome_to, outcome) = std::sync::mpsc::channel();
    let stream = Stream {
        source: source.clone(),
        chunks,
        outcome,
    };
    let name = source.name.clone();
    let (outlet, source, url) = (outlet.clone(), source.clone(), url.clone());
    let job = tokio::task::spawn_blocking(move || {
        let clock = Instant::now();
        let mut announced = false;
        let mut chunker = Chunker::new(chunks_to);
        let result = extract::extract_each(
            &source,
            &url,
            &body,
            || {
                tracing::debug!("source {}: its page goes to the writer as it is read", source.name);
                // The writer gone (the run is ending), extraction runs on unheard.
                announced = outlet.0.blocking_send(Arrival::Streamed(stream)).is_ok();
            },
            |mut p| {
                if !source.mirrors.is_empty() {
                    super::mirrors::address_free_keys(std::slice::from_mut(&mut p));
                }
                chunker.push(p);
            },
        );
        chunker.flush();
        let took = clock.elapsed().saturating_sub(chunker.waited);
        (result, body, announced, took)
    });
    let (result, body, announced, took) = match job.await {
        Ok(done) => done,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("extraction of a page of {}: {e}", name),
    };
    Extracted {
        result,
        body,
        outcome: announced.then_some(outcome_to),
        took,
    }
}

/// Chunks postings up and sends them, noting the time spent waiting.
struct Chunker {
    to: SyncSender<Vec<Posting>>,
    chunk: Vec<Posting>,
    waited: Duration,
}

impl Chunker {
    fn new(to: SyncSender<Vec<Posting>>) -> Chunker {
        Chunker {
            to,
            chunk: Vec::with_capacity(CHUNK),
            waited: Duration::ZERO,
        }
    }

    fn push(&mut self, p: Posting) {
        self.chunk.push(p);
        if self.chunk.len() == CHUNK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        let clock = Instant::now();
        // Refused when the writer stopped listening: the run is ending.
        let _ = self.to.send(chunk);
        self.waited += clock.elapsed();
    }
}
