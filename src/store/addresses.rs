//! Per-address state of sources with mirrors, and the selectors proposed
//! for pending sources.
//!
//! Each address (`url` and every mirror) keeps how it last answered and
//! when it last worked: the run tries the best first, and `source list`
//! shows them. A pending source (no `[source.html]` yet) keeps the proposal
//! made from its last page, and whether the admins were told about it.

use rusqlite::{OptionalExtension, named_params};

use super::{Result, Store, Writer};

/// How one address of a source last answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AddressState {
    pub url: String,
    /// ok | empty | blocked | http-error | proxy-error | pending
    pub last_status: String,
    pub last_error: Option<String>,
    pub last_tried: String,
    pub last_success: Option<String>,
}

/// Selectors proposed for a pending source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub source: String,
    /// The page it was made from.
    pub url: String,
    /// A `[source.html]` table and what it extracts, or why there is none.
    pub text: String,
    pub created_at: String,
}

impl Writer<'_> {
    /// Records one try of one address; `ok` also sets its last success.
    pub fn record_address(&self, source: &str, a: &AddressState) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO source_address (source, url, last_status, last_error, last_tried, last_success)
                 VALUES (:source, :url, :status, :error, :tried, :success)
                 ON CONFLICT (source, url) DO UPDATE SET last_status = :status, last_error = :error,
                   last_tried = :tried, last_success = coalesce(:success, last_success)",
            )?
            .execute(named_params! {
                ":source": source, ":url": a.url, ":status": a.last_status, ":error": a.last_error,
                ":tried": a.last_tried, ":success": a.last_success,
            })?;
        Ok(())
    }

    /// Stores the proposal for a pending source; an unchanged one is not
    /// rewritten (and keeps whether it was announced).
    pub fn save_proposal(&self, p: &Proposal) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO source_proposal (source, url, proposal, created_at)
                 VALUES (:source, :url, :text, :now)
                 ON CONFLICT (source) DO UPDATE SET url = :url, proposal = :text, created_at = :now
                 WHERE proposal IS NOT :text",
            )?
            .execute(named_params! {":source": p.source, ":url": p.url, ":text": p.text, ":now": p.created_at})?;
        Ok(())
    }

    /// Proposals the admins have not been told about, oldest first.
    pub fn unannounced_proposals(&self) -> Result<Vec<Proposal>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT source, url, proposal, created_at FROM source_proposal WHERE announced = 0 ORDER BY created_at, source",
        )?;
        let rows = stmt.query_map([], proposal_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn mark_proposal_announced(&self, source: &str) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE source_proposal SET announced = 1 WHERE source = :source")?
            .execute(named_params! {":source": source})?;
        Ok(())
    }
}

impl Store {
    /// Every address of `source` leakwatch has tried, in no set order.
    pub fn addresses(&self, source: &str) -> Result<Vec<AddressState>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT url, last_status, last_error, last_tried, last_success FROM source_address WHERE source = :source",
        )?;
        let rows = stmt.query_map(named_params! {":source": source}, |r| {
            Ok(AddressState {
                url: r.get(0)?,
                last_status: r.get(1)?,
                last_error: r.get(2)?,
                last_tried: r.get(3)?,
                last_success: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The stored proposal for a pending source.
    pub fn proposal(&self, source: &str) -> Result<Option<Proposal>> {
        Ok(self
            .conn
            .prepare_cached("SELECT source, url, proposal, created_at FROM source_proposal WHERE source = :source")?
            .query_row(named_params! {":source": source}, proposal_row)
            .optional()?)
    }
}

fn proposal_row(r: &rusqlite::Row) -> rusqlite::Result<Proposal> {
    Ok(Proposal {
        source: r.get(0)?,
        url: r.get(1)?,
        text: r.get(2)?,
        created_at: r.get(3)?,
    })
}
