//! The writer: one source at a time, in one transaction — its postings
//! (the diff), the matches of the new and changed ones, their alerts in the
//! outbox, and the source's bookkeeping. It is the run's only writer.
//!
//! Postings arrive in chunks ([`Arrival`]): a source crawled to the end
//! brings them all at once, a streamed one hands them over while its last
//! page is still being extracted. Either way the transaction commits only
//! after the source's outcome arrived, so a kill at any point leaves the
//! source as it was before the run or wholly written.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::crawl::SourceOutcome;
use super::stream::Arrival;
use super::{Queue, about, detail, mirrors};
use crate::config::Config;
use crate::extract::Posting;
use crate::notify;
use crate::store::{self, ChangeKind, FetchRecord, RunCounts, SourceState, Store, StoreError};
use crate::summary::StageTimes;
use crate::watch::{Hit, Matcher, WatchEntry};

/// A source written: its outcome, how many postings it listed, and the
/// time the writer's stages took.
pub(super) struct Written {
    pub(super) outcome: SourceOutcome,
    pub(super) found: usize,
    pub(super) stages: StageTimes,
}

/// A new or changed posting, on its way to the matcher.
struct Changed {
    posting_id: i64,
    kind: ChangeKind,
    posting: Posting,
}

impl Changed {
    fn change(&self) -> store::Change<'_> {
        store::Change {
            posting_id: self.posting_id,
            posting: &self.posting,
            kind: self.kind,
        }
    }
}

/// Writes one source. `None` when its task ended before handing over its
/// outcome (it panicked): nothing of it is written.
pub(super) fn source(
    store: &mut Store,
    config: &Config,
    run_id: i64,
    matcher: &Matcher,
    entries: &HashMap<i64, WatchEntry>,
    arrival: Arrival,
    counts: &mut RunCounts,
) -> Result<Option<Written>, StoreError> {
    let mut stages = StageTimes::default();
    let mut clock = Instant::now();
    let mut lap = |into: &mut Duration, waited: Duration| {
        let now = Instant::now();
        *into += (now - clock).saturating_sub(waited);
        clock = now;
    };
    let source = arrival.source().clone();
    let now = store::now();
    let old_state = store.source_state(&source.name)?;
    // Postings of the first successful crawl were there before leakwatch looked.
    let first_run = old_state.first_run_id.unwrap_or(run_id);
    let first_look = first_run == run_id;
    let w = store.write()?;
    lap(&mut stages.commit, Duration::ZERO);
    let (mut whole, stream) = match arrival {
        Arrival::Whole(outcome) => (Some(*outcome), None),
        Arrival::Streamed(stream) => (None, Some(stream)),
    };
    let mut first = whole.as_mut().map(|o| std::mem::take(&mut o.postings));
    // Counted once the outcome arrived: a stream rolled back counts nothing.
    let (mut found, mut new, mut revised) = (0, 0, 0);
    let (hits, busy) = std::thread::scope(|scope| {
        // The matcher takes each chunk's changes as the diff finds them, on
        // the other core; its hits are written after the diff, in the same
        // transaction.
        let (to_match, changes) = std::sync::mpsc::channel::<Vec<Changed>>();
        let matching = scope.spawn(|| {
            let mut busy = Duration::ZERO;
            let mut matched: Vec<(Changed, Vec<Hit>)> = Vec::new();
            for changed in changes.into_iter().flatten() {
                let clock = Instant::now();
                let mut hits = about::hits(matcher, &source, &changed.change(), first_look);
                hits.extend(matcher.find(&changed.posting));
                busy += clock.elapsed();
                if !hits.is_empty() {
                    matched.push((changed, hits));
                }
            }
            (matched, busy)
        });
        let mut waited = Duration::ZERO;
        loop {
            let clock = Instant::now();
            let chunk = match first.take() {
                Some(chunk) => chunk,
                None => match stream.as_ref().map(|s| s.chunks.recv()) {
                    Some(Ok(chunk)) => chunk,
                    None | Some(Err(_)) => break,
                },
            };
            waited += clock.elapsed();
            found += chunk.len();
            let stored = w.store_postings(&chunk, run_id, &now, first_look)?;
            let mut changed = Vec::new();
            for (posting, stored) in chunk.into_iter().zip(stored) {
                let Some((posting_id, kind)) = stored else { continue };
                match kind {
                    ChangeKind::New => new += 1,
                    ChangeKind::Changed => revised += 1,
                }
                let changed_posting = Changed {
                    posting_id,
                    kind,
                    posting,
                };
                if source.detail.is_some() {
                    detail::queue(&w, &source, &changed_posting.change(), &now)?;
                }
                changed.push(changed_posting);
            }
            if !changed.is_empty() {
                // The receiver lives until every chunk is sent.
                let _ = to_match.send(changed);
            }
        }
        drop(to_match);
        let matched = matching.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        lap(&mut stages.diff, waited);
        Ok::<_, StoreError>(matched)
    })?;
    stages.matching += busy;
    let waiting = Instant::now();
    let outcome = match whole {
        Some(outcome) => outcome,
        None => match stream.map(|s| s.outcome.recv()) {
            Some(Ok(outcome)) => outcome,
            _ => {
                // Its page failed part-way (the outcome comes whole), or its task died.
                tracing::debug!("source {}: stream dropped, what it stored is rolled back", source.name);
                return Ok(None);
            }
        },
    };
    lap(&mut stages.diff, waiting.elapsed());
    counts.postings_new += new;
    counts.postings_changed += revised;
    let queue = Queue {
        w: &w,
        config,
        entries,
        run_id,
        now: &now,
    };
    for (changed, hits) in hits {
        let is_change = changed.kind == ChangeKind::Changed;
        for hit in hits {
            counts.matches += queue.hit(changed.posting_id, &changed.posting, &hit, false, is_change)?;
        }
    }
    lap(&mut stages.outbox, Duration::ZERO);
    let name = &source.name;
    let listed = matches!(outcome.status, "ok" | "empty") && outcome.not_modified == 0;
    let failed = outcome.error.is_some();
    for (url, old, new) in &outcome.pages {
        w.save_validators(name, url, old, new)?;
    }
    mirrors::record(&w, &outcome, &now)?;
    counts.pages_fetched += (outcome.pages.len() - outcome.not_modified) as i64;
    counts.pages_not_modified += outcome.not_modified as i64;
    if failed {
        counts.sources_failed += 1;
    } else {
        counts.sources_ok += 1;
    }
    w.record_fetch(
        run_id,
        &FetchRecord {
            source: name.clone(),
            status: outcome.status.to_owned(),
            pages: outcome.pages.len() as i64,
            postings: found as i64,
            tries: outcome.tries as i64,
            error: outcome.error.clone(),
        },
        &now,
    )?;
    let new_state = SourceState {
        first_run_id: if failed && found == 0 {
            old_state.first_run_id
        } else {
            Some(first_run)
        },
        last_count: if listed { found as i64 } else { old_state.last_count },
        failures_in_row: if failed { old_state.failures_in_row + 1 } else { 0 },
    };
    w.save_source_state(name, &old_state, &new_state)?;
    let health = notify::health::Observation {
        status: outcome.status,
        error: outcome.error.as_deref(),
        failures_in_row: new_state.failures_in_row,
        listed,
        postings: found,
        previous_count: old_state.last_count,
        page: outcome.empty_page.as_ref().map(|(body, url)| (body.as_str(), url)),
        answered: outcome.answered.as_ref(),
        addresses: &outcome.addresses,
    };
    notify::health::record(&w, config, &source, &health, &now)?;
    w.commit()?;
    lap(&mut stages.commit, Duration::ZERO);
    Ok(Some(Written { outcome, found, stages }))
}
