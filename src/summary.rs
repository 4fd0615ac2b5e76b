//! What a run did — counters, failures, delivery — and its one-line
//! summary: the last value of the pipeline, read by `run`'s callers and
//! printed by `logging`, which is why it lives below both.

use std::time::Duration;

use crate::notify::Delivery;
use crate::store::RunCounts;

/// What a run did, for the summary line and the exit code.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub run_id: i64,
    pub counts: RunCounts,
    /// One line per failed source, naming it.
    pub source_failures: Vec<String>,
    pub delivery: Delivery,
    pub duration: Duration,
    /// Stopped before every source was processed.
    pub interrupted: bool,
    /// With `dry_run`: the emails that would have been sent, rendered.
    pub previews: Vec<String>,
    /// Where the time went, stage by stage (logged at debug level; read by
    /// the `run` benchmark).
    pub stages: StageTimes,
}

/// Time spent per pipeline stage. Fetch and extract run in one task per
/// source, concurrently, so theirs is summed over sources and can exceed the
/// wall time; the writer's stages run one after another.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    /// Matching entries added since the last run against stored postings.
    pub backfill: Duration,
    /// Requests and bodies, retries included.
    pub fetch: Duration,
    /// Parsing pages and cleaning their fields into postings.
    pub extract: Duration,
    /// Looking each posting up and writing the new and changed ones (and
    /// waiting for the matcher, should it finish after the diff; not the
    /// wait for a streamed page's next chunk).
    pub diff: Duration,
    /// The matcher over new and changed postings: its own time, on a thread
    /// beside the diff.
    pub matching: Duration,
    /// Recording matches and queueing their alerts in the outbox.
    pub outbox: Duration,
    /// Per-source bookkeeping (validators, fetch record, health) and the commit.
    pub commit: Duration,
    /// Sending the outbox (email, webhooks).
    pub deliver: Duration,
}

impl std::ops::AddAssign for StageTimes {
    fn add_assign(&mut self, o: StageTimes) {
        self.backfill += o.backfill;
        self.fetch += o.fetch;
        self.extract += o.extract;
        self.diff += o.diff;
        self.matching += o.matching;
        self.outbox += o.outbox;
        self.commit += o.commit;
        self.deliver += o.deliver;
    }
}

impl StageTimes {
    /// One line, milliseconds per stage.
    pub fn line(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "backfill {:.0} ms, fetch {:.0} ms, extract {:.0} ms, diff {:.0} ms, match {:.0} ms, outbox {:.0} ms, commit {:.0} ms, deliver {:.0} ms",
            ms(self.backfill),
            ms(self.fetch),
            ms(self.extract),
            ms(self.diff),
            ms(self.matching),
            ms(self.outbox),
            ms(self.commit),
            ms(self.deliver)
        )
    }
}

impl RunSummary {
    /// Everything fetched and processed, every alert delivered.
    pub fn all_ok(&self) -> bool {
        !self.interrupted && self.source_failures.is_empty() && self.delivery.pending == 0 && self.delivery.failed == 0
    }

    /// Something worth a line in cron's mail.
    pub fn eventful(&self) -> bool {
        let c = &self.counts;
        !self.all_ok() || c.postings_new + c.postings_changed + c.matches + c.emails_sent > 0
    }

    pub fn line(&self) -> String {
        let c = &self.counts;
        let details = match c.details_fetched + c.details_failed + c.details_waiting {
            0 => String::new(),
            _ => format!(
                "; detail pages {} read, {} failed, {} waiting",
                c.details_fetched, c.details_failed, c.details_waiting
            ),
        };
        format!(
            "run {}{}: sources {} ok, {} failed; pages {} fetched, {} not modified; postings {} new, {} changed; {} matches; emails {} sent, {} pending, {} failed{details}; {:.1}s",
            self.run_id,
            if self.interrupted { " (interrupted)" } else { "" },
            c.sources_ok,
            c.sources_failed,
            c.pages_fetched,
            c.pages_not_modified,
            c.postings_new,
            c.postings_changed,
            c.matches,
            c.emails_sent,
            c.emails_pending,
            c.emails_failed,
            self.duration.as_secs_f64()
        )
    }
}
