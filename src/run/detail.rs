//! Detail pages in a run ([source.detail]): which postings get their own
//! page read, and reading them once the listings are stored.
//!
//! A new or changed posting whose link stays on the source's host is queued
//! in the transaction that stores it, so a kill loses none. After the
//! listings, each source reads at most `max_per_run` queued pages, oldest
//! first, and stores what they say, their matches and alerts in one
//! transaction; the rest wait for later runs. A page that fails is tried
//! again next run, up to [`store::MAX_DETAIL_TRIES`] times.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Queue, stop_requested};
use crate::config::{Config, Source};
use crate::extract::{self, Detail};
use crate::fetch::{self, Fetcher, Outgoing, Validators};
use crate::store::{self, Change, DueDetail, RunCounts, Store, StoreError, Writer};
use crate::watch::{Field, Matcher, WatchEntry};

/// Queues the post's page of a new or changed posting, when it may be read.
pub(super) fn queue(w: &Writer, source: &Source, change: &Change, now: &str) -> Result<(), StoreError> {
    let Some(link) = &change.posting.link else {
        return Ok(());
    };
    match fetch::detail_target(&source.url, link) {
        Ok(url) => w.queue_detail(change.posting_id, &source.name, url.as_str(), now),
        Err(why) => {
            tracing::debug!("source {}: {link} is {why}: its page is not read", source.name);
            Ok(())
        }
    }
}

/// What reading one source's due detail pages gave.
struct Read {
    source: Arc<Source>,
    pages: Vec<(DueDetail, Result<Detail, String>)>,
}

/// What the run shares with the detail stage.
pub(super) struct Context<'a> {
    pub store: &'a mut Store,
    pub config: &'a Config,
    pub run_id: i64,
    pub matcher: &'a Matcher,
    pub entries: &'a HashMap<i64, WatchEntry>,
    pub fetcher: &'a Arc<Fetcher>,
}

/// Reads the due detail pages of `sources` (those whose listing was read
/// this run, each with the request it was read with). Returns `true` when a
/// stop cut it short.
pub(super) async fn read_due(
    mut cx: Context<'_>,
    sources: Vec<(Arc<Source>, Outgoing)>,
    stop: &mut Option<tokio::sync::watch::Receiver<bool>>,
    counts: &mut RunCounts,
) -> Result<bool, StoreError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Read>(sources.len().max(1));
    let mut tasks = Vec::new();
    for (source, outgoing) in sources {
        let Some(rules) = &source.detail else { continue };
        let due = cx.store.details_due(&source.name, rules.max_per_run)?;
        if due.is_empty() {
            continue;
        }
        let (fetcher, tx) = (cx.fetcher.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            let pages = read_pages(&fetcher, &source, &outgoing, due).await;
            let _ = tx.send(Read { source, pages }).await;
        }));
    }
    drop(tx);
    let mut interrupted = false;
    loop {
        let read = tokio::select! {
            biased;
            _ = stop_requested(stop) => {
                interrupted = true;
                break;
            }
            read = rx.recv() => match read {
                Some(read) => read,
                None => break,
            },
        };
        store_read(&mut cx, read, counts)?;
    }
    for task in &tasks {
        // Pages still in flight write nothing: they stay queued.
        task.abort();
    }
    Ok(interrupted)
}

async fn read_pages(
    fetcher: &Fetcher,
    source: &Source,
    outgoing: &Outgoing,
    due: Vec<DueDetail>,
) -> Vec<(DueDetail, Result<Detail, String>)> {
    let rules = source.detail.as_ref().expect("only sources with [source.detail]");
    let mut out = Vec::with_capacity(due.len());
    for d in due {
        let read = match url::Url::parse(&d.url) {
            Ok(url) => {
                tracing::debug!("source {}: detail GET {url}", source.name);
                match fetcher.fetch_with(&url, &Validators::default(), outgoing).await {
                    Ok(page) => {
                        extract::read_detail(rules, &page.url, &page.body).map_err(|e| format!("{}: {e}", page.url))
                    }
                    Err(failure) => Err(failure.to_string()),
                }
            }
            Err(e) => Err(format!("{}: {e}", d.url)),
        };
        out.push((d, read));
    }
    out
}

/// One transaction: what the pages said, their matches and alerts.
fn store_read(cx: &mut Context, read: Read, counts: &mut RunCounts) -> Result<(), StoreError> {
    let now = store::now();
    let w = cx.store.write()?;
    let queue = Queue {
        w: &w,
        config: cx.config,
        entries: cx.entries,
        run_id: cx.run_id,
        now: &now,
    };
    for (due, result) in read.pages {
        match result {
            Ok(detail) => {
                w.detail_read(due.posting_id, &detail, &now)?;
                counts.details_fetched += 1;
                // The title was matched with the listing: only what the page adds is new.
                let mut posting = due.posting;
                posting.body = detail.text();
                for mut hit in cx.matcher.find(&posting).into_iter().filter(|h| h.field == Field::Body) {
                    hit.field = Field::Page;
                    counts.matches += queue.hit(due.posting_id, &posting, &hit, false, false)?;
                }
            }
            Err(e) => {
                counts.details_failed += 1;
                let gave_up = w.detail_failed(due.posting_id, &e)?;
                let next = if gave_up {
                    "recorded as failed"
                } else {
                    "tried again next run"
                };
                tracing::warn!("source {}: detail page {e}; {next}", read.source.name);
            }
        }
    }
    w.commit()
}
