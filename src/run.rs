//! One crawl, start to finish — the whole pipeline on one screen:
//!
//! 1. take the run lock, open the database, open a run record;
//! 2. match watch entries added or changed since the last run against the
//!    postings already stored (backfill);
//! 3. fetch and extract every source concurrently ([`crawl`]);
//! 4. as each source finishes, in one transaction: store its postings (the
//!    diff), match the new and changed ones, queue alerts in the outbox;
//! 5. deliver the outbox;
//! 6. close the run record with its counters.
//!
//! A kill at any point loses nothing: a source's postings, matches and alerts
//! commit together, and delivery marks an email sent only after the server
//! took it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, Source};
use crate::extract::Posting;
use crate::fetch::Fetcher;
use crate::lock::{LockError, RunLock};
use crate::notify::{self, Delivery, Mailer, NotifyError, repeat};
use crate::progress::Stage;
use crate::store::{self, RunCounts, Store, StoreError, Writer};
use crate::watch::{Matcher, WatchEntry};

mod about;
mod crawl;
mod detail;
mod mirrors;
mod stream;
mod write;

use crawl::{SourceOutcome, crawl_source};
use stream::{Arrival, Outlet};

// What a run returns; defined apart so `logging` can print it without
// depending on the run that produced it.
pub use crate::summary::{RunSummary, StageTimes};

/// What the caller asks of a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only these sources (all when empty).
    pub sources: Vec<String>,
    /// Shorter retry delays (tests and the demo).
    pub retry_base: Option<Duration>,
    /// Becomes `true` when the run should stop (SIGTERM, Ctrl-C): the source
    /// being written finishes, the rest are dropped, the run is closed as
    /// 'interrupted' and its alerts wait in the outbox for the next run.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
    /// Draw a progress bar per stage (see [`crate::progress`]).
    pub progress: bool,
    /// Work on a copy of the database and render the emails instead of
    /// sending them: the real postings and outbox are left as they were.
    pub dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error("{0}")]
    Setup(String),
}

/// Runs the pipeline once.
pub async fn run(config: &Config, opts: &RunOptions) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let _lock = RunLock::acquire(&config.database)?;
    let scratch = opts.dry_run.then(tempfile_dir).transpose()?;
    let mut store = match &scratch {
        Some(dir) => dry_run_store(config, dir.path())?,
        None => Store::open(&config.database)?,
    };
    let sources = selected_sources(config, &opts.sources)?;
    let mailer = match opts.dry_run {
        true => None,
        false => config.smtp.as_ref().map(Mailer::new).transpose()?,
    };
    let run_id = store.begin_run(&store::now())?;
    let result = crawl(config, opts, &mut store, sources, mailer.as_ref(), run_id, started).await;
    if let Err(e) = &result {
        // Closed as failed with its reason while the database still takes a
        // write (a full disk often does once the big transaction rolled
        // back); if not, the next run marks it interrupted.
        if let Err(close) = store.fail_run(run_id, &e.to_string(), &store::now()) {
            tracing::warn!("run {run_id}: cannot record that it failed: {close}");
        }
    }
    result
}

/// The run once its record is open: everything that can fail after that.
async fn crawl(
    config: &Config,
    opts: &RunOptions,
    store: &mut Store,
    sources: Vec<Source>,
    mailer: Option<&Mailer>,
    run_id: i64,
    started: Instant,
) -> Result<RunSummary, RunError> {
    let entries = store.entries()?;
    // Built on another core while backfill runs and the first sources are
    // fetched: 50 000 entries take a fifth of a second.
    let building = {
        let entries = entries.clone();
        tokio::task::spawn_blocking(move || Matcher::new(&entries))
    };
    let entries: HashMap<i64, WatchEntry> = entries.into_iter().map(|e| (e.id, e)).collect();
    let mut counts = RunCounts::default();
    let mut stages = StageTimes::default();
    let bar = Stage::start(opts.progress, "backfill", None);
    let clock = Instant::now();
    counts.matches += backfill(store, config, run_id, &entries)?;
    stages.backfill = clock.elapsed();
    drop(bar);

    let mut fetcher = Fetcher::new(&config.crawl, &sources).map_err(RunError::Setup)?;
    if let Some(base) = opts.retry_base {
        fetcher = fetcher.with_retry_base(base);
    }
    let fetcher = Arc::new(fetcher);

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Arrival>(sources.len().max(1));
    let outlet = Outlet(tx);
    let mut tasks = Vec::with_capacity(sources.len());
    let bar = Stage::start(opts.progress, "sources", Some(sources.len() as u64));
    tracing::info!("run {run_id}: crawling {} sources", sources.len());
    let spawn = |source: Source| -> Result<_, StoreError> {
        let validators = store.source_validators(&source.name)?;
        let addresses = mirrors::order(&source, &store.addresses(&source.name)?);
        let (fetcher, outlet) = (fetcher.clone(), outlet.clone());
        Ok(tokio::spawn(async move {
            let outcome = mirrors::crawl(&fetcher, Arc::new(source), addresses, validators, &outlet).await;
            outlet.finish(outcome).await;
        }))
    };
    // A disclosure channel waits for the matcher: its `about` must name entries.
    let (disclosures, listings): (Vec<Source>, Vec<Source>) = sources.into_iter().partition(|s| !s.about.is_empty());
    for source in listings {
        tasks.push(spawn(source)?);
    }
    let matcher = match building.await {
        Ok(matcher) => matcher,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    for source in disclosures {
        match about::unknown(&matcher, &source) {
            Some(outcome) => outlet.finish(outcome).await,
            None => tasks.push(spawn(source)?),
        }
    }
    drop(outlet);

    let mut source_failures = Vec::new();
    let mut read_detail = Vec::new();
    let mut stop = opts.stop.clone();
    let mut interrupted = false;
    loop {
        let arrival = tokio::select! {
            biased;
            _ = stop_requested(&mut stop) => {
                interrupted = true;
                break;
            }
            arrival = rx.recv() => match arrival {
                Some(arrival) => arrival,
                None => break,
            },
        };
        let name = arrival.source().name.clone();
        let Some(written) = write::source(store, config, run_id, &matcher, &entries, arrival, &mut counts)? else {
            // Rolled back: its outcome arrives whole, or its task died.
            continue;
        };
        let outcome = &written.outcome;
        if let Some(e) = &outcome.error {
            tracing::warn!("source {name}: {e}");
            source_failures.push(format!("source {name}: {} ({})", e, outcome.status));
        }
        if let (None, Some(_), Some(outgoing)) = (&outcome.error, &outcome.source.detail, &outcome.outgoing) {
            read_detail.push((outcome.source.clone(), outgoing.for_detail()));
        }
        stages += outcome.stages;
        stages += written.stages;
        tracing::info!("source {name}: {}, {} postings", outcome.status, written.found);
        bar.done(&name);
    }
    drop(bar);
    if !interrupted {
        notify::health::announce_pending(store, config, &store::now())?;
    }
    // Fetches still in flight write nothing; their sources wait for the next
    // run. A stream no one reads stops at its next chunk.
    drop(rx);
    for task in &tasks {
        task.abort();
    }
    if !interrupted && !read_detail.is_empty() {
        let cx = detail::Context {
            store,
            config,
            run_id,
            matcher: &matcher,
            entries: &entries,
            fetcher: &fetcher,
        };
        interrupted = detail::read_due(cx, read_detail, &mut stop, &mut counts).await?;
    }
    counts.details_waiting = store.details_waiting()?;
    fetcher.close().await;

    let labels: notify::Labels = config
        .sources
        .iter()
        .map(|s| {
            let label = notify::SourceLabel {
                label: s.label.clone(),
                disclosure: s.disclosure.clone(),
            };
            (s.name.clone(), label)
        })
        .collect();
    let previews = match opts.dry_run {
        true => notify::preview(store, config.smtp.as_ref(), &labels)?,
        false => Vec::new(),
    };
    let clock = Instant::now();
    let mut delivery = match (&mailer, &config.smtp) {
        (Some(mailer), Some(smtp)) if !interrupted => {
            let _bar = Stage::start(opts.progress, "alerts", None);
            notify::deliver(store, mailer, smtp, &labels).await?
        }
        _ => Delivery::default(),
    };
    if !opts.dry_run && !interrupted && !config.notify.webhooks.is_empty() {
        let domain = config
            .smtp
            .as_ref()
            .map_or("leakwatch.invalid", |s| s.from.email.domain());
        let hooks = notify::webhook::deliver(store, &config.notify.webhooks, &labels, domain).await?;
        delivery.sent += hooks.sent;
        delivery.pending += hooks.pending;
        delivery.failed += hooks.failed;
        delivery.errors.extend(hooks.errors);
    }
    stages.deliver = clock.elapsed();
    for e in &delivery.errors {
        tracing::warn!("{e}");
    }
    tracing::debug!("run {run_id}: {}", stages.line());
    counts.emails_sent = delivery.sent;
    // Not delivered at all when interrupted: what waits is in the outbox.
    counts.emails_pending = match interrupted && !opts.dry_run {
        true => store.pending_deliveries()?,
        false => delivery.pending,
    };
    counts.emails_failed = delivery.failed;
    let summary = RunSummary {
        run_id,
        counts,
        source_failures,
        delivery,
        duration: started.elapsed(),
        interrupted,
        previews,
        stages,
    };
    let status = match (summary.interrupted, summary.all_ok()) {
        (true, _) => "interrupted",
        (false, true) => "ok",
        (false, false) => "failed",
    };
    store.finish_run(run_id, &summary.counts, status, &store::now())?;
    if let Some(days) = config.keep_days {
        prune(store, days);
    }
    Ok(summary)
}

/// Applies `[database] keep_days`. A failure here costs only disk space, so
/// it is logged, not made the run's failure.
fn prune(store: &mut Store, days: u32) {
    let before =
        (chrono::Utc::now() - chrono::Duration::days(days.into())).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match store.prune(&before) {
        Ok(p) if p.runs + p.fetches > 0 || p.vacuumed => tracing::info!(
            "retention: {} runs and {} fetch records older than {days} days pruned{}",
            p.runs,
            p.fetches,
            if p.vacuumed { "; database vacuumed" } else { "" }
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("retention (keep_days = {days}): {e}"),
    }
}

/// Resolves when a stop was asked for; never when none can be.
async fn stop_requested(stop: &mut Option<tokio::sync::watch::Receiver<bool>>) {
    if let Some(rx) = stop
        && rx.wait_for(|stop| *stop).await.is_ok()
    {
        return;
    }
    std::future::pending().await
}

/// A private folder for a dry run's copy of the database.
fn tempfile_dir() -> Result<tempfile::TempDir, RunError> {
    tempfile::tempdir().map_err(|e| RunError::Setup(format!("--dry-run needs a temporary folder: {e}")))
}

/// A copy of the real database (or a new one) in `dir`, for a dry run.
fn dry_run_store(config: &Config, dir: &std::path::Path) -> Result<Store, RunError> {
    let copy = dir.join("dry-run.db");
    if config.database.exists() {
        Store::open(&config.database)?.snapshot_to(&copy)?;
    }
    Ok(Store::open(&copy)?)
}

fn selected_sources(config: &Config, names: &[String]) -> Result<Vec<Source>, RunError> {
    if let Some(unknown) = names.iter().find(|n| !config.sources.iter().any(|s| &s.name == *n)) {
        let known: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
        return Err(RunError::Setup(format!(
            "no source named `{unknown}` in {} (sources: {})",
            config.path.display(),
            known.join(", ")
        )));
    }
    Ok(config
        .sources
        .iter()
        .filter(|s| names.is_empty() || names.contains(&s.name))
        .cloned()
        .collect())
}

/// Matches watch entries added or changed since their last backfill against
/// every stored posting now (`watch add --backfill`), queueing their alerts
/// for the next delivery. Returns the number of new matches.
pub fn backfill_now(config: &Config) -> Result<i64, RunError> {
    let _lock = RunLock::acquire(&config.database)?;
    let mut store = Store::open(&config.database)?;
    let run_id = store.begin_run(&store::now())?;
    let entries = store.entries()?.into_iter().map(|e| (e.id, e)).collect();
    let matches = match backfill(&mut store, config, run_id, &entries) {
        Ok(m) => m,
        Err(e) => {
            // As `run` does: closed as failed with why, if the database still takes that.
            let _ = store.fail_run(run_id, &e.to_string(), &store::now());
            return Err(e.into());
        }
    };
    let counts = RunCounts {
        matches,
        ..RunCounts::default()
    };
    store.finish_run(run_id, &counts, "ok", &store::now())?;
    Ok(matches)
}

/// Where a run's hits go: the source's transaction, and what decides who hears.
struct Queue<'a, 'w> {
    w: &'a Writer<'w>,
    config: &'a Config,
    entries: &'a HashMap<i64, WatchEntry>,
    run_id: i64,
    now: &'a str,
}

impl Queue<'_, '_> {
    /// Records a hit and queues its alerts; 1 if it was a new match.
    fn hit(
        &self,
        posting_id: i64,
        posting: &Posting,
        hit: &crate::watch::Hit,
        retroactive: bool,
        changed: bool,
    ) -> Result<i64, StoreError> {
        let match_id = match self
            .w
            .insert_match(posting_id, hit, self.run_id, retroactive, changed, self.now)?
        {
            Some(match_id) => {
                if let Some(of) = self.w.dismissed_for(hit.entry_id, &posting.victim)? {
                    self.w.dismiss_as(match_id, of, self.now)?;
                    return Ok(1);
                }
                match repeat::judge(posting, &self.w.announced_for(hit.entry_id, posting, match_id)?) {
                    repeat::Verdict::First => {}
                    repeat::Verdict::Repeat { of } => {
                        self.w.mark_repeat(match_id, of)?;
                        return Ok(1);
                    }
                    repeat::Verdict::News { note } => self.w.set_change_note(match_id, &note)?,
                }
                match_id
            }
            // Already matched: only a meaningful change of the posting is news.
            None if changed => {
                if self.w.dismissed_for(hit.entry_id, &posting.victim)?.is_some() {
                    return Ok(0);
                }
                let announced = self.w.announced_for(hit.entry_id, posting, -1)?;
                let repeat::Verdict::News { note } = repeat::judge(posting, &announced) else {
                    return Ok(0);
                };
                let match_id = self.w.insert_match_revision(posting_id, hit, self.run_id, self.now)?;
                self.w.set_change_note(match_id, &note)?;
                match_id
            }
            None => return Ok(0),
        };
        self.w.mark_announced(match_id, repeat::says_published(posting))?;
        let entry = self.entries.get(&hit.entry_id);
        let own: Vec<String> = entry.map(|e| e.recipients.clone()).unwrap_or_default();
        let recipients: Vec<String> = if own.is_empty() {
            self.config.notify.recipients.iter().map(|a| a.to_string()).collect()
        } else {
            own
        };
        if recipients.is_empty() {
            tracing::warn!(
                "{} matched, but it has no recipients and notify.recipients is empty: the match is recorded, no email queued",
                entry.map_or("a watch entry", |e| e.name.as_str())
            );
        }
        let hooks = notify::webhook::alert_recipients(&self.config.notify.webhooks);
        for r in recipients.iter().cloned().chain(hooks) {
            self.w.queue_alert(match_id, &r, self.now)?;
        }
        Ok(1)
    }
}

/// Postings a backfill reads at a time: enough to keep SQLite's reads
/// sequential, few enough that a million stored postings are never all held.
const BACKFILL_PAGE: usize = 10_000;

/// Matches entries added or changed since their last backfill against every
/// stored posting, so a supplier added today alerts on last week's posting.
fn backfill(
    store: &mut Store,
    config: &Config,
    run_id: i64,
    entries: &HashMap<i64, WatchEntry>,
) -> Result<i64, StoreError> {
    let fresh = store.entries_to_backfill()?;
    if fresh.is_empty() {
        return Ok(0);
    }
    let matcher = Matcher::new(&fresh);
    let now = store::now();
    let w = store.write()?;
    let queue = Queue {
        w: &w,
        config,
        entries,
        run_id,
        now: &now,
    };
    let mut matches = 0;
    let mut after = 0;
    loop {
        let page = w.postings_after(after, BACKFILL_PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for stored in &page {
            for hit in matcher.find(&stored.posting) {
                matches += queue.hit(stored.id, &stored.posting, &hit, true, false)?;
            }
        }
    }
    w.mark_backfilled(&fresh.iter().map(|e| e.id).collect::<Vec<_>>())?;
    w.commit()?;
    Ok(matches)
}
