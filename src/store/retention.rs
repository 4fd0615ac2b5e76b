//! Retention: `[database] keep_days` keeps the database small.
//!
//! What grows without bound is the record of runs: a `run` row per run and a
//! `fetch` row per source per run — thousands a day under cron. Those older
//! than the cut-off go, except what `source list` and the report still need
//! (each source's last fetch and last success) and the newest run. Postings,
//! matches, the watch list and the outbox are never pruned: a posting is the
//! diff state that keeps an old listing from looking new, a match is the
//! record that an alert went out, and an unsent alert must still be sent.

use rusqlite::named_params;

use super::{Result, Store};

/// `VACUUM` only when at least this share of the file is free pages…
const VACUUM_FREE_SHARE: f64 = 0.25;
/// …and the file has at least this many pages (a small file is not worth rewriting).
const VACUUM_MIN_PAGES: i64 = 256;

/// What one pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub runs: usize,
    pub fetches: usize,
    pub vacuumed: bool,
}

impl Store {
    /// Removes run records and fetch metadata from before `before` (stored
    /// timestamp form), then rewrites the file if much of it is free.
    pub fn prune(&mut self, before: &str) -> Result<Pruned> {
        let w = self.write()?;
        let fetches =
            w.tx.prepare_cached(
                "DELETE FROM fetch WHERE at < :before
                   AND (run_id, source) NOT IN (SELECT max(run_id), source FROM fetch GROUP BY source)
                   AND (run_id, source) NOT IN
                       (SELECT max(run_id), source FROM fetch WHERE status IN ('ok', 'empty') GROUP BY source)",
            )?
            .execute(named_params! {":before": before})?;
        let runs =
            w.tx.prepare_cached(
                "DELETE FROM run WHERE started_at < :before AND status <> 'running'
                   AND id <> (SELECT max(id) FROM run)
                   AND NOT EXISTS (SELECT 1 FROM fetch f WHERE f.run_id = run.id)",
            )?
            .execute(named_params! {":before": before})?;
        w.commit()?;
        let vacuumed = self.vacuum_if_sparse()?;
        Ok(Pruned {
            runs,
            fetches,
            vacuumed,
        })
    }

    /// `VACUUM` when the free pages are a large share of a large file: it
    /// rewrites the whole database, so it is worth doing rarely.
    fn vacuum_if_sparse(&mut self) -> Result<bool> {
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = self.conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        if pages < VACUUM_MIN_PAGES || (free as f64) < pages as f64 * VACUUM_FREE_SHARE {
            return Ok(false);
        }
        self.conn.execute_batch("VACUUM")?;
        Ok(true)
    }
}
