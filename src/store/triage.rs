//! Match triage (new → confirmed | dismissed), the analyst's inbox, and the
//! read-only views the workspace shows: matches per week, full-text search
//! over postings.
//!
//! A dismissed match teaches: a later match of the same entry for the same
//! victim is recorded already dismissed and never alerts
//! ([`Writer::dismissed_for`]), and dismissing can add the matched phrase to
//! the entry's `exclude`.

use std::fmt;
use std::str::FromStr;

use rusqlite::{OptionalExtension, named_params};
use serde::Serialize;

use super::{Result, Store, Writer, from_json, now, to_json};

/// Where a match stands in triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    New,
    Confirmed,
    Dismissed,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::New, Status::Confirmed, Status::Dismissed];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Confirmed => "confirmed",
            Status::Dismissed => "dismissed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Status, String> {
        Status::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| format!("`{s}` is not a status: use new, confirmed or dismissed"))
    }
}

/// One triage decision.
#[derive(Debug, Clone)]
pub struct Triage {
    pub status: Status,
    pub note: Option<String>,
    /// With a dismissal: a phrase to add to the entry's `exclude`.
    pub exclude: Option<String>,
}

/// What the inbox is narrowed to. Dates are stored timestamps (RFC 3339).
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    pub status: Option<Status>,
    pub entry: Option<String>,
    pub kind: Option<String>,
    pub source: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// A match with its posting, as the workspace shows it.
#[derive(Debug, Clone, Serialize)]
pub struct InboxRow {
    pub id: i64,
    pub status: String,
    pub note: Option<String>,
    pub triaged_by: Option<String>,
    pub triaged_at: Option<String>,
    pub matched_at: String,
    pub entry: String,
    pub kind: String,
    pub term: String,
    pub reason: String,
    pub field: String,
    pub snippet: String,
    pub confidence: i64,
    pub source: String,
    pub title: String,
    pub link: Option<String>,
    pub posted_at: Option<String>,
    pub victim: String,
    pub body: String,
    pub repeat_of: Option<i64>,
    pub change_note: Option<String>,
}

const SELECT_INBOX: &str = "SELECT m.id, m.status, m.note, m.triaged_by, m.triaged_at, m.created_at, e.name, e.kind,
        m.term, m.reason, m.field, m.snippet, m.confidence, p.source, p.title, p.link, p.posted_at, p.victim, p.body,
        m.repeat_of, m.change_note
 FROM \"match\" m JOIN posting p ON p.id = m.posting_id JOIN watch_entry e ON e.id = m.entry_id";

fn inbox_row(r: &rusqlite::Row) -> rusqlite::Result<InboxRow> {
    Ok(InboxRow {
        id: r.get(0)?,
        status: r.get(1)?,
        note: r.get(2)?,
        triaged_by: r.get(3)?,
        triaged_at: r.get(4)?,
        matched_at: r.get(5)?,
        entry: r.get(6)?,
        kind: r.get(7)?,
        term: r.get(8)?,
        reason: r.get(9)?,
        field: r.get(10)?,
        snippet: r.get(11)?,
        confidence: r.get(12)?,
        source: r.get(13)?,
        title: r.get(14)?,
        link: r.get(15)?,
        posted_at: r.get(16)?,
        victim: r.get(17)?,
        body: r.get(18)?,
        repeat_of: r.get(19)?,
        change_note: r.get(20)?,
    })
}

/// Matches in one week (Monday, `YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekCount {
    pub week: String,
    pub matches: i64,
}

/// A posting found by full-text search, with the entries it matched.
#[derive(Debug, Clone)]
pub struct FoundPosting {
    pub id: i64,
    pub source: String,
    pub title: String,
    pub link: Option<String>,
    pub first_seen_at: String,
    /// Text around the hit, the hit between `[[` `]]`.
    pub snippet: String,
    pub entries: Vec<String>,
}

impl Store {
    /// Matches passing `filter`, newest first, at most `limit`.
    pub fn inbox(&self, filter: &InboxFilter, limit: i64) -> Result<Vec<InboxRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SELECT_INBOX}
             WHERE (:status IS NULL OR m.status = :status) AND (:entry IS NULL OR e.name = :entry COLLATE NOCASE)
               AND (:kind IS NULL OR e.kind = :kind) AND (:source IS NULL OR p.source = :source)
               AND (:since IS NULL OR m.created_at >= :since) AND (:until IS NULL OR m.created_at < :until)
             ORDER BY m.created_at DESC, m.id DESC LIMIT :limit"
        ))?;
        let params = named_params! {
            ":status": filter.status.map(Status::as_str), ":entry": filter.entry, ":kind": filter.kind,
            ":source": filter.source, ":since": filter.since, ":until": filter.until, ":limit": limit,
        };
        let rows = stmt.query_map(params, inbox_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn match_by_id(&self, id: i64) -> Result<Option<InboxRow>> {
        Ok(self
            .conn
            .prepare_cached(&format!("{SELECT_INBOX} WHERE m.id = :id"))?
            .query_row(named_params! {":id": id}, inbox_row)
            .optional()?)
    }

    /// Every match of the same entry for the same victim: the sources that
    /// reported it, and its repeats and revisions.
    pub fn same_victim(&self, row: &InboxRow) -> Result<Vec<InboxRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SELECT_INBOX} WHERE e.name = :entry AND p.victim = :victim ORDER BY m.id"
        ))?;
        let rows = stmt.query_map(named_params! {":entry": row.entry, ":victim": row.victim}, inbox_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many matches stand in each status.
    pub fn status_counts(&self) -> Result<Vec<(Status, i64)>> {
        Status::ALL
            .into_iter()
            .map(|s| {
                let n = self
                    .conn
                    .prepare_cached("SELECT count(*) FROM \"match\" WHERE status = :status")?
                    .query_row(named_params! {":status": s.as_str()}, |r| r.get(0))?;
                Ok((s, n))
            })
            .collect()
    }

    /// Matches per week since `since` (a stored timestamp), oldest first;
    /// weeks without matches are left out.
    pub fn matches_per_week(&self, since: &str) -> Result<Vec<WeekCount>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT date(created_at, 'weekday 0', '-6 days') AS week, count(*) FROM \"match\"
             WHERE created_at >= :since GROUP BY week ORDER BY week",
        )?;
        let rows = stmt.query_map(named_params! {":since": since}, |r| {
            Ok(WeekCount {
                week: r.get(0)?,
                matches: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Postings whose title or body hold the words of `query` (each word a
    /// prefix, all required), best first. The query is quoted word by word,
    /// so FTS5 syntax in it is searched for, not obeyed.
    pub fn search_postings(&self, query: &str, limit: i64) -> Result<Vec<FoundPosting>> {
        let fts: Vec<String> = query
            .split_whitespace()
            .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
            .collect();
        if fts.is_empty() {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.id, p.source, p.title, p.link, p.first_seen_at,
                    snippet(posting_fts, -1, '[[', ']]', '…', 24),
                    (SELECT json_group_array(e.name) FROM (SELECT DISTINCT entry_id FROM \"match\" WHERE posting_id = p.id) x
                       JOIN watch_entry e ON e.id = x.entry_id)
             FROM posting_fts JOIN posting p ON p.id = posting_fts.rowid
             WHERE posting_fts MATCH :query ORDER BY rank LIMIT :limit",
        )?;
        let rows = stmt.query_map(named_params! {":query": fts.join(" "), ":limit": limit}, |r| {
            Ok(FoundPosting {
                id: r.get(0)?,
                source: r.get(1)?,
                title: r.get(2)?,
                link: r.get(3)?,
                first_seen_at: r.get(4)?,
                snippet: r.get(5)?,
                entries: from_json(&r.get::<_, String>(6)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Sets match `id`'s status; with a dismissal and `exclude`, adds that
    /// phrase to the entry's exclude list too. Both audited as `actor`, in
    /// one transaction. False when there is no such match.
    pub fn triage(&mut self, id: i64, t: &Triage, actor: &str) -> Result<bool> {
        let now = now();
        let w = self.write()?;
        let entry: Option<(i64, String, String)> = w
            .tx
            .prepare_cached(
                "SELECT e.id, e.name, e.exclude FROM \"match\" m JOIN watch_entry e ON e.id = m.entry_id WHERE m.id = :id",
            )?
            .query_row(named_params! {":id": id}, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((entry_id, entry_name, exclude)) = entry else {
            return Ok(false);
        };
        w.tx.prepare_cached(
            "UPDATE \"match\" SET status = :status, note = :note, triaged_by = :actor, triaged_at = :now WHERE id = :id",
        )?
        .execute(named_params! {":status": t.status.as_str(), ":note": t.note, ":actor": actor, ":now": now, ":id": id})?;
        let detail = match &t.note {
            Some(note) => format!("{}: {note}", t.status),
            None => t.status.to_string(),
        };
        w.audit(actor, "triage", &format!("match:{id}"), &detail, &now)?;
        if let (Status::Dismissed, Some(phrase)) = (t.status, &t.exclude) {
            let mut list = from_json(&exclude);
            if !list.iter().any(|x| x.eq_ignore_ascii_case(phrase)) {
                list.push(phrase.clone());
                w.tx.prepare_cached("UPDATE watch_entry SET exclude = :exclude, updated_at = :now WHERE id = :id")?
                    .execute(named_params! {":exclude": to_json(&list), ":now": now, ":id": entry_id})?;
                w.audit(
                    actor,
                    "exclude",
                    &entry_name,
                    &format!("added \"{phrase}\" (dismissing match {id})"),
                    &now,
                )?;
            }
        }
        w.commit()?;
        Ok(true)
    }
}

impl Writer<'_> {
    /// A dismissed match of `entry` for `victim` (on any source), if any:
    /// that victim is a false positive for that entry, and stays one.
    pub fn dismissed_for(&self, entry: i64, victim: &str) -> Result<Option<i64>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT m.id FROM \"match\" m JOIN posting p ON p.id = m.posting_id
                 WHERE m.entry_id = :entry AND p.victim = :victim AND m.status = 'dismissed' ORDER BY m.id LIMIT 1",
            )?
            .query_row(named_params! {":entry": entry, ":victim": victim}, |r| r.get(0))
            .optional()?)
    }

    /// Records a new match as dismissed because match `of` was: never alerted.
    pub fn dismiss_as(&self, match_id: i64, of: i64, now: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE \"match\" SET status = 'dismissed', note = :note, triaged_by = 'leakwatch', triaged_at = :now
                 WHERE id = :id",
            )?
            .execute(named_params! {":note": format!("the same victim was dismissed in match {of}"), ":now": now, ":id": match_id})?;
        Ok(())
    }
}
