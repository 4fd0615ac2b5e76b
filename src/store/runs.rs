//! Runs, what each fetched, per-source state, and conditional-GET validators.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, named_params};
use serde::Serialize;

use super::{Result, Store, Writer};
use crate::fetch::Validators;

/// The counters of one run, as stored in its row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    pub sources_ok: i64,
    pub sources_failed: i64,
    pub pages_fetched: i64,
    pub pages_not_modified: i64,
    pub postings_new: i64,
    pub postings_changed: i64,
    pub matches: i64,
    pub emails_sent: i64,
    pub emails_pending: i64,
    pub emails_failed: i64,
    pub details_fetched: i64,
    pub details_failed: i64,
    pub details_waiting: i64,
}

/// A run as `leakwatch runs` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    #[serde(flatten)]
    pub counts: RunCounts,
    /// Why a failed run stopped, when a fatal error ended it.
    pub error: Option<String>,
}

/// What one source's fetch came to in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRecord {
    pub source: String,
    /// ok | empty | blocked | http-error | proxy-error
    pub status: String,
    pub pages: i64,
    pub postings: i64,
    pub tries: i64,
    pub error: Option<String>,
}

/// The state of a source that outlives runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceState {
    pub first_run_id: Option<i64>,
    pub last_count: i64,
    pub failures_in_row: i64,
}

/// The last fetch of a source, for `source list`.
#[derive(Debug, Clone, Serialize)]
pub struct LastFetch {
    pub status: String,
    pub postings: i64,
    pub at: String,
    pub error: Option<String>,
    pub last_success: Option<String>,
}

impl Store {
    /// Opens a run record. Runs left 'running' were killed: they become
    /// 'interrupted' (the caller holds the run lock, so none is alive).
    pub fn begin_run(&mut self, now: &str) -> Result<i64> {
        let w = self.write()?;
        w.tx.prepare_cached("UPDATE run SET status = 'interrupted' WHERE status = 'running'")?
            .execute([])?;
        w.tx.prepare_cached("INSERT INTO run (started_at, pid) VALUES (:now, :pid)")?
            .execute(named_params! {":now": now, ":pid": std::process::id()})?;
        let id = w.tx.last_insert_rowid();
        w.commit()?;
        Ok(id)
    }

    /// Closes the run record with its counters.
    pub fn finish_run(&mut self, run_id: i64, counts: &RunCounts, status: &str, now: &str) -> Result<()> {
        let w = self.write()?;
        w.tx.prepare_cached(
            "UPDATE run SET finished_at = :now, status = :status, sources_ok = :sources_ok, sources_failed = :sources_failed,
             pages_fetched = :pages_fetched, pages_not_modified = :pages_not_modified, postings_new = :postings_new,
             postings_changed = :postings_changed, matches = :matches, emails_sent = :emails_sent,
             emails_pending = :emails_pending, emails_failed = :emails_failed, details_fetched = :details_fetched,
             details_failed = :details_failed, details_waiting = :details_waiting WHERE id = :id",
        )?
        .execute(named_params! {
            ":now": now, ":status": status, ":sources_ok": counts.sources_ok, ":sources_failed": counts.sources_failed,
            ":pages_fetched": counts.pages_fetched, ":pages_not_modified": counts.pages_not_modified,
            ":postings_new": counts.postings_new, ":postings_changed": counts.postings_changed, ":matches": counts.matches,
            ":emails_sent": counts.emails_sent, ":emails_pending": counts.emails_pending, ":emails_failed": counts.emails_failed,
            ":details_fetched": counts.details_fetched, ":details_failed": counts.details_failed,
            ":details_waiting": counts.details_waiting, ":id": run_id,
        })?;
        w.commit()
    }

    /// Closes a run that stopped on a fatal error, with the error. Its
    /// counters stay as they were: what it did is in `fetch` and the postings.
    pub fn fail_run(&mut self, run_id: i64, error: &str, now: &str) -> Result<()> {
        let w = self.write()?;
        w.tx.prepare_cached("UPDATE run SET finished_at = :now, status = 'failed', error = :error WHERE id = :id")?
            .execute(named_params! {":now": now, ":error": error, ":id": run_id})?;
        w.commit()
    }

    /// Emails and webhook posts waiting in the outbox: pending digests, each
    /// recipient's alerts not yet in one, and pending admin alerts.
    pub fn pending_deliveries(&self) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT (SELECT count(*) FROM digest WHERE state = 'pending')
                      + (SELECT count(DISTINCT recipient) FROM outbox WHERE digest_id IS NULL)
                      + (SELECT count(*) FROM admin_alert WHERE state = 'pending')",
            )?
            .query_row([], |r| r.get(0))?)
    }

    /// The most recent runs, newest first.
    pub fn runs(&self, limit: i64) -> Result<Vec<RunRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, started_at, finished_at, status, sources_ok, sources_failed, pages_fetched, pages_not_modified,
                    postings_new, postings_changed, matches, emails_sent, emails_pending, emails_failed,
                    details_fetched, details_failed, details_waiting, error
             FROM run ORDER BY id DESC LIMIT :limit",
        )?;
        let rows = stmt.query_map(named_params! {":limit": limit}, |r| {
            Ok(RunRow {
                id: r.get(0)?,
                started_at: r.get(1)?,
                finished_at: r.get(2)?,
                status: r.get(3)?,
                counts: RunCounts {
                    sources_ok: r.get(4)?,
                    sources_failed: r.get(5)?,
                    pages_fetched: r.get(6)?,
                    pages_not_modified: r.get(7)?,
                    postings_new: r.get(8)?,
                    postings_changed: r.get(9)?,
                    matches: r.get(10)?,
                    emails_sent: r.get(11)?,
                    emails_pending: r.get(12)?,
                    emails_failed: r.get(13)?,
                    details_fetched: r.get(14)?,
                    details_failed: r.get(15)?,
                    details_waiting: r.get(16)?,
                },
                error: r.get(17)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn source_state(&self, name: &str) -> Result<SourceState> {
        Ok(self
            .conn
            .prepare_cached("SELECT first_run_id, last_count, failures_in_row FROM source WHERE name = :name")?
            .query_row(named_params! {":name": name}, |r| {
                Ok(SourceState {
                    first_run_id: r.get(0)?,
                    last_count: r.get(1)?,
                    failures_in_row: r.get(2)?,
                })
            })
            .optional()?
            .unwrap_or_default())
    }

    /// The last fetch of `name` and its last success, if it was ever fetched.
    pub fn last_fetch(&self, name: &str) -> Result<Option<LastFetch>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT status, postings, at, error,
                        (SELECT max(at) FROM fetch WHERE source = :name AND status IN ('ok', 'empty'))
                 FROM fetch WHERE source = :name ORDER BY run_id DESC LIMIT 1",
            )?
            .query_row(named_params! {":name": name}, |r| {
                Ok(LastFetch {
                    status: r.get(0)?,
                    postings: r.get(1)?,
                    at: r.get(2)?,
                    error: r.get(3)?,
                    last_success: r.get(4)?,
                })
            })
            .optional()?)
    }

    /// The validators stored for each page of a source, by URL, for conditional GETs.
    pub fn source_validators(&self, source: &str) -> Result<HashMap<String, Validators>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT url, etag, last_modified FROM page WHERE source = :source")?;
        let rows = stmt.query_map(named_params! {":source": source}, |r| {
            Ok((
                r.get(0)?,
                Validators {
                    etag: r.get(1)?,
                    last_modified: r.get(2)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Writer<'_> {
    /// Records what a source's fetch came to in this run.
    pub fn record_fetch(&self, run_id: i64, f: &FetchRecord, now: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO fetch (run_id, source, status, pages, postings, tries, error, at)
                 VALUES (:run, :source, :status, :pages, :postings, :tries, :error, :now)",
            )?
            .execute(named_params! {
                ":run": run_id, ":source": f.source, ":status": f.status, ":pages": f.pages,
                ":postings": f.postings, ":tries": f.tries, ":error": f.error, ":now": now,
            })?;
        Ok(())
    }

    /// Saves a source's lasting state, writing only when it changed.
    pub fn save_source_state(&self, name: &str, old: &SourceState, new: &SourceState) -> Result<()> {
        if old == new {
            return Ok(());
        }
        self.tx
            .prepare_cached(
                "INSERT INTO source (name, first_run_id, last_count, failures_in_row) VALUES (:name, :first, :count, :failures)
                 ON CONFLICT (name) DO UPDATE SET first_run_id = :first, last_count = :count, failures_in_row = :failures",
            )?
            .execute(named_params! {
                ":name": name, ":first": new.first_run_id, ":count": new.last_count, ":failures": new.failures_in_row,
            })?;
        Ok(())
    }

    /// Saves a page's validators when they changed.
    pub fn save_validators(&self, source: &str, url: &str, old: &Validators, new: &Validators) -> Result<()> {
        if old == new {
            return Ok(());
        }
        self.tx
            .prepare_cached(
                "INSERT INTO page (source, url, etag, last_modified) VALUES (:source, :url, :etag, :lm)
                 ON CONFLICT (source, url) DO UPDATE SET etag = :etag, last_modified = :lm",
            )?
            .execute(named_params! {":source": source, ":url": url, ":etag": new.etag, ":lm": new.last_modified})?;
        Ok(())
    }
}
