//! Source health as admins were told it, and the admin alerts waiting to go
//! out. Same shape as the alert outbox: rows are written with the state
//! change, carry a fixed Message-ID, and leave only once a server took them.

use rusqlite::{OptionalExtension, named_params};

use super::{Result, Store, Writer};

/// One email to one admin about one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminAlert {
    /// 0 until stored.
    pub id: i64,
    pub recipient: String,
    pub source: String,
    /// broken | blocked | silent | recovered
    pub event: String,
    /// The state before.
    pub previous: String,
    /// What leakwatch saw, in a sentence or two.
    pub detail: String,
    /// What to change (e.g. a replacement selector), when something knows.
    pub suggestion: Option<String>,
    pub message_id: String,
}

impl Writer<'_> {
    /// The health last reported for `source` (`None`: never reported, ok).
    pub fn source_health(&self, source: &str) -> Result<Option<String>> {
        Ok(self
            .tx
            .prepare_cached("SELECT health FROM source WHERE name = :source")?
            .query_row(named_params! {":source": source}, |r| r.get(0))
            .optional()?)
    }

    pub fn set_source_health(&self, source: &str, state: &str, now: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO source (name, health, health_since) VALUES (:source, :state, :now)
                 ON CONFLICT (name) DO UPDATE SET health = :state, health_since = :now",
            )?
            .execute(named_params! {":source": source, ":state": state, ":now": now})?;
        Ok(())
    }

    /// Queues one admin email, in the caller's transaction.
    pub fn queue_admin_alert(&self, a: &AdminAlert, now: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO admin_alert (recipient, source, event, previous, detail, suggestion, message_id, created_at)
                 VALUES (:recipient, :source, :event, :previous, :detail, :suggestion, :mid, :now)",
            )?
            .execute(named_params! {
                ":recipient": a.recipient, ":source": a.source, ":event": a.event, ":previous": a.previous,
                ":detail": a.detail, ":suggestion": a.suggestion, ":mid": a.message_id, ":now": now,
            })?;
        Ok(())
    }
}

impl Store {
    /// Admin alerts not yet delivered, oldest first.
    pub fn pending_admin_alerts(&self) -> Result<Vec<AdminAlert>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, recipient, source, event, previous, detail, suggestion, message_id
             FROM admin_alert WHERE state = 'pending' ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(AdminAlert {
                id: r.get(0)?,
                recipient: r.get(1)?,
                source: r.get(2)?,
                event: r.get(3)?,
                previous: r.get(4)?,
                detail: r.get(5)?,
                suggestion: r.get(6)?,
                message_id: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn mark_admin_alert_sent(&mut self, id: i64, now: &str) -> Result<()> {
        let w = self.write()?;
        w.tx.prepare_cached(
            "UPDATE admin_alert SET state = 'sent', sent_at = :now, attempts = attempts + 1 WHERE id = :id",
        )?
        .execute(named_params! {":now": now, ":id": id})?;
        w.commit()
    }

    /// A try failed; `permanent` (5xx): never retried.
    pub fn mark_admin_alert_failed(&mut self, id: i64, error: &str, permanent: bool) -> Result<()> {
        let w = self.write()?;
        w.tx.prepare_cached(
            "UPDATE admin_alert SET attempts = attempts + 1, last_error = :error,
             state = CASE WHEN :permanent THEN 'failed' ELSE state END WHERE id = :id",
        )?
        .execute(named_params! {":error": error, ":permanent": permanent, ":id": id})?;
        w.commit()
    }
}
