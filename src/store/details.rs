//! The detail-page queue ([source.detail]): which posts' own pages wait to be
//! read, what was read on them, and which failed for good.

use rusqlite::named_params;

use super::postings::posting_from_row;
use super::{Result, Store, Writer};
use crate::extract::{Detail, Posting};

/// Tries a detail page gets (one per run) before it is recorded as failed.
pub const MAX_DETAIL_TRIES: i64 = 3;

/// A detail page due for reading, with the posting it belongs to.
#[derive(Debug, Clone)]
pub struct DueDetail {
    pub posting_id: i64,
    pub url: String,
    pub posting: Posting,
}

impl Store {
    /// Up to `limit` of `source`'s queued detail pages, oldest first.
    pub fn details_due(&self, source: &str, limit: u32) -> Result<Vec<DueDetail>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.url, p.id, p.source, p.key, p.title, p.link, p.posted_at, p.body, p.victim, p.masked, p.truncated,
                    p.actor, p.website, p.vendor, p.product, p.item_id
             FROM detail d JOIN posting p ON p.id = d.posting_id
             WHERE d.source = :source AND d.state = 'queued'
             ORDER BY d.queued_at, d.posting_id LIMIT :limit",
        )?;
        let rows = stmt.query_map(named_params! {":source": source, ":limit": limit}, |r| {
            Ok(DueDetail {
                url: r.get(0)?,
                posting_id: r.get(1)?,
                posting: posting_from_row(r, 2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// `source`'s detail pages: (read, waiting, failed).
    pub fn detail_states(&self, source: &str) -> Result<(i64, i64, i64)> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT count(*) FILTER (WHERE state = 'read'), count(*) FILTER (WHERE state = 'queued'),
                        count(*) FILTER (WHERE state = 'failed')
                 FROM detail WHERE source = :source",
            )?
            .query_row(named_params! {":source": source}, |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?)
    }

    /// Detail pages still queued, across all sources.
    pub fn details_waiting(&self) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT count(*) FROM detail WHERE state = 'queued'")?
            .query_row([], |r| r.get(0))?)
    }
}

impl Writer<'_> {
    /// Queues the post's page at `url` for reading: a new posting, or one
    /// whose listing entry changed (its page is read again).
    pub fn queue_detail(&self, posting_id: i64, source: &str, url: &str, now: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO detail (posting_id, source, url, queued_at) VALUES (:id, :source, :url, :now)
                 ON CONFLICT (posting_id) DO UPDATE SET url = :url, state = 'queued', tries = 0, error = NULL, queued_at = :now",
            )?
            .execute(named_params! {":id": posting_id, ":source": source, ":url": url, ":now": now})?;
        Ok(())
    }

    /// Records what the post's page said: it is not fetched again unless the
    /// posting changes.
    pub fn detail_read(&self, posting_id: i64, detail: &Detail, now: &str) -> Result<()> {
        let posted_at = detail
            .posted_at
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        self.tx
            .prepare_cached(
                "UPDATE detail SET state = 'read', tries = tries + 1, error = NULL, read_at = :now,
                                   body = :body, website = :website, posted_at = :posted_at
                 WHERE posting_id = :id",
            )?
            .execute(named_params! {
                ":id": posting_id, ":now": now, ":body": detail.body, ":website": detail.website, ":posted_at": posted_at,
            })?;
        Ok(())
    }

    /// Records a failed try; after [`MAX_DETAIL_TRIES`] the page is marked
    /// failed and left alone. Returns whether it was.
    pub fn detail_failed(&self, posting_id: i64, error: &str) -> Result<bool> {
        let state: String = self
            .tx
            .prepare_cached(
                "UPDATE detail SET tries = tries + 1, error = :error,
                                   state = CASE WHEN tries + 1 >= :max THEN 'failed' ELSE 'queued' END
                 WHERE posting_id = :id RETURNING state",
            )?
            .query_row(
                named_params! {":id": posting_id, ":error": error, ":max": MAX_DETAIL_TRIES},
                |r| r.get(0),
            )?;
        Ok(state == "failed")
    }
}
