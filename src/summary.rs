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
