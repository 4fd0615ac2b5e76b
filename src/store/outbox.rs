//! The outbox: alerts waiting for delivery, grouped into digests.
//!
//! Outbox rows are written with their match. Sending first *assembles*: each
//! recipient's unassigned rows join a new digest with a fixed Message-ID, in
//! one transaction. Then each pending digest is sent and marked sent only
//! after the server accepted it. A crash between the two resends the same
//! digest with the same Message-ID, which mail systems drop as a duplicate.

use chrono::{DateTime, Utc};
use rusqlite::named_params;

use super::{Result, Store, Writer};
use crate::extract::{Posting, PostingFacts};
use crate::watch::Hit;

/// One match, to one recipient, with everything the email says about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alert {
    pub entry: String,
    pub entry_kind: String,
    pub term: String,
    /// name | alias | domain | suffix | label | truncated | masked | about
    pub reason: String,
    /// title | body | link
    pub field: String,
    /// How sure the match is, 0–100 (`match.confidence`).
    pub confidence: i64,
    pub snippet: String,
    pub source: String,
    pub source_label: String,
    pub title: String,
    pub link: Option<String>,
    pub posted_at: Option<String>,
    pub first_seen_at: String,
    /// Found by matching a new watch entry against older postings.
    pub retroactive: bool,
    pub changed: bool,
    /// Already listed when leakwatch first crawled the source.
    pub first_look: bool,
    /// What is new since this victim was first announced (judged by `notify::repeat`).
    pub change_note: Option<String>,
    /// The posting's text (labelled facts for a disclosure: "due: 2021-11-17").
    pub body: String,
    /// What the source states beyond the title.
    pub facts: PostingFacts,
    /// Other sources that reported the same victim since: recorded, not alerted again.
    pub also_reported_by: Vec<String>,
    /// What a posting on this source means (`[[source]] disclosure`), set with the label.
    pub disclosure: Option<String>,
}

/// An announced earlier match of the same entry, victim and source: what
/// `notify::repeat` judges a new match against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    pub match_id: i64,
    /// The source it was seen on.
    pub source: String,
    pub title: String,
    pub posted_at: Option<DateTime<Utc>>,
    /// When announced, the posting said the data was out (kept with the
    /// match: the posting itself may have changed since).
    pub published: bool,
    /// When leakwatch first saw that posting (RFC 3339).
    pub first_seen_at: String,
}

/// A digest waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDigest {
    pub id: i64,
    pub recipient: String,
    pub message_id: String,
    pub attempts: i64,
}

impl Store {
    /// Groups every recipient's unassigned alerts into a new digest each.
    /// `message_domain` is the right-hand side of the Message-IDs.
    pub fn assemble_digests(&mut self, now: &str, message_domain: &str) -> Result<usize> {
        let w = self.write()?;
        let recipients: Vec<String> =
            w.tx.prepare_cached("SELECT DISTINCT recipient FROM outbox WHERE digest_id IS NULL ORDER BY recipient")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
        let stamp = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        for (i, recipient) in recipients.iter().enumerate() {
            // Unique per database and moment; fixed from here on.
            let message_id = format!("<leakwatch.{stamp:x}.{i}@{message_domain}>");
            w.tx.prepare_cached(
                "INSERT INTO digest (recipient, message_id, created_at) VALUES (:recipient, :mid, :now)",
            )?
            .execute(named_params! {":recipient": recipient, ":mid": message_id, ":now": now})?;
            let digest = w.tx.last_insert_rowid();
            w.tx.prepare_cached(
                "UPDATE outbox SET digest_id = :digest WHERE recipient = :recipient AND digest_id IS NULL",
            )?
            .execute(named_params! {":digest": digest, ":recipient": recipient})?;
        }
        w.commit()?;
        Ok(recipients.len())
    }

    /// Digests not yet delivered, oldest first.
    pub fn pending_digests(&self) -> Result<Vec<PendingDigest>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, recipient, message_id, attempts FROM digest WHERE state = 'pending' ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PendingDigest {
                id: r.get(0)?,
                recipient: r.get(1)?,
                message_id: r.get(2)?,
                attempts: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The alerts a digest carries, in the order they were found.
    pub fn digest_alerts(&self, digest_id: i64) -> Result<Vec<Alert>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.id, e.name, e.kind, m.term, m.reason, m.field, m.snippet, p.source, p.title, p.link, p.posted_at,
                    p.first_seen_at, m.retroactive, m.changed, p.first_look, m.change_note, m.confidence,
                    p.actor, p.website, p.vendor, p.product, p.item_id,
                    p.body,
                    (SELECT group_concat(DISTINCT rp.source) FROM \"match\" r JOIN posting rp ON rp.id = r.posting_id
                     WHERE r.repeat_of = m.id AND rp.source != p.source)
             FROM outbox o JOIN \"match\" m ON m.id = o.match_id JOIN posting p ON p.id = m.posting_id
                  JOIN watch_entry e ON e.id = m.entry_id
             WHERE o.digest_id = :digest ORDER BY o.id",
        )?;
        let rows = stmt.query_map(named_params! {":digest": digest_id}, |r| {
            Ok(Alert {
                entry: r.get(1)?,
                entry_kind: r.get(2)?,
                term: r.get(3)?,
                reason: r.get(4)?,
                field: r.get(5)?,
                snippet: r.get(6)?,
                source: r.get(7)?,
                source_label: r.get(7)?,
                title: r.get(8)?,
                link: r.get(9)?,
                posted_at: r.get(10)?,
                first_seen_at: r.get(11)?,
                retroactive: r.get(12)?,
                changed: r.get(13)?,
                first_look: r.get(14)?,
                change_note: r.get(15)?,
                confidence: r.get(16)?,
                facts: PostingFacts {
                    group: r.get(17)?,
                    website: r.get(18)?,
                    vendor: r.get(19)?,
                    product: r.get(20)?,
                    id: r.get(21)?,
                },
                body: r.get(22)?,
                also_reported_by: sources_list(r.get(23)?),
                disclosure: None,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The server accepted the digest.
    pub fn mark_digest_sent(&mut self, id: i64, now: &str) -> Result<()> {
        let w = self.write()?;
        w.tx.prepare_cached(
            "UPDATE digest SET state = 'sent', sent_at = :now, attempts = attempts + 1 WHERE id = :id",
        )?
        .execute(named_params! {":now": now, ":id": id})?;
        w.commit()
    }

    /// A try failed. `permanent` (the server refused with 5xx): never retried.
    pub fn mark_digest_failed(&mut self, id: i64, error: &str, permanent: bool) -> Result<()> {
        let w = self.write()?;
        w.tx.prepare_cached(
            "UPDATE digest SET attempts = attempts + 1, last_error = :error,
             state = CASE WHEN :permanent THEN 'failed' ELSE state END WHERE id = :id",
        )?
        .execute(named_params! {":error": error, ":permanent": permanent, ":id": id})?;
        w.commit()
    }
}

/// `a,b` as SQLite's `group_concat` writes it → `["a", "b"]`; source names hold no comma.
pub(super) fn sources_list(joined: Option<String>) -> Vec<String> {
    let mut list: Vec<String> = joined
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    list.sort();
    list
}

impl Store {
    /// Copies the whole database into a new file at `path` (a dry run works
    /// on the copy, so the real outbox and postings stay as they were).
    pub fn snapshot_to(&self, path: &std::path::Path) -> Result<()> {
        self.conn
            .execute("VACUUM INTO :path", named_params! {":path": path.to_string_lossy()})?;
        Ok(())
    }
}

impl Writer<'_> {
    /// The announced (not repeat) matches of `entry` for `victim` on
    /// `source`, other than `except`: what a new match is judged against.
    pub fn announced_for(&self, entry: i64, posting: &Posting, except: i64) -> Result<Vec<Announced>> {
        // The same victim: on the same source by its victim key (unless two
        // groups claim it: that is news); on any source, claimed by the same
        // group, by the website both state, or by the victim key when one of
        // them states none. Postings stored before groups were have none.
        let mut stmt = self.tx.prepare_cached(
            "SELECT m.id, p.title, p.posted_at, m.said_published, p.first_seen_at, p.source
             FROM \"match\" m JOIN posting p ON p.id = m.posting_id
             WHERE m.entry_id = :entry AND m.repeat_of IS NULL AND m.id != :except
                   AND ((p.source = :source AND p.victim = :victim
                         AND (p.claim_group IS NULL OR :group IS NULL OR p.claim_group = :group))
                        OR (p.claim_group = :group
                            AND CASE WHEN p.claim_site IS NOT NULL AND :site IS NOT NULL THEN p.claim_site = :site
                                     ELSE p.victim = :victim END))
             ORDER BY m.id",
        )?;
        let rows = stmt.query_map(
            named_params! {
                ":entry": entry, ":source": posting.source, ":victim": posting.victim, ":except": except,
                ":group": posting.facts.claim_group(), ":site": posting.facts.claim_site(),
            },
            |r| {
                Ok(Announced {
                    match_id: r.get(0)?,
                    source: r.get(5)?,
                    title: r.get(1)?,
                    posted_at: r
                        .get::<_, Option<String>>(2)?
                        .and_then(|d| chrono::DateTime::parse_from_rfc3339(&d).ok())
                        .map(|d| d.with_timezone(&chrono::Utc)),
                    published: r.get(3)?,
                    first_seen_at: r.get(4)?,
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Marks a match as repeating `of`: recorded, never emailed.
    pub fn mark_repeat(&self, match_id: i64, of: i64) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE \"match\" SET repeat_of = :of WHERE id = :id")?
            .execute(named_params! {":of": of, ":id": match_id})?;
        Ok(())
    }

    /// Records what an announced match's posting said: later versions are
    /// judged against this, not against the posting as it is then.
    pub fn mark_announced(&self, match_id: i64, published: bool) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE \"match\" SET said_published = :published WHERE id = :id")?
            .execute(named_params! {":published": published, ":id": match_id})?;
        Ok(())
    }

    /// A new revision of the match of `hit` in `posting_id`, for a posting
    /// that changed meaningfully after it was announced.
    pub fn insert_match_revision(&self, posting_id: i64, hit: &Hit, run_id: i64, now: &str) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO \"match\" (posting_id, entry_id, run_id, term, reason, field, snippet, changed, revision, created_at)
                 VALUES (:posting, :entry, :run, :term, :reason, :field, :snippet, 1,
                         (SELECT coalesce(max(revision), 0) + 1 FROM \"match\" WHERE posting_id = :posting AND entry_id = :entry),
                         :now)",
            )?
            .execute(named_params! {
                ":posting": posting_id, ":entry": hit.entry_id, ":run": run_id, ":term": hit.term,
                ":reason": hit.reason.as_str(), ":field": hit.field.as_str(), ":snippet": hit.snippet, ":now": now,
            })?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Says what a match adds to an earlier announcement of its victim.
    pub fn set_change_note(&self, match_id: i64, note: &str) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE \"match\" SET change_note = :note WHERE id = :id")?
            .execute(named_params! {":note": note, ":id": match_id})?;
        Ok(())
    }
}
