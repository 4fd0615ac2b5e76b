//! Postings and their diff run to run; matches found in them.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, named_params};
use serde::Serialize;

use super::{Result, Store, Writer};
use crate::extract::{Posting, PostingFacts};
use crate::watch::Hit;

/// What storing a posting changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    New,
    Changed,
}

/// A posting that is new or changed in this run: what the matcher looks at.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub posting_id: i64,
    pub posting: &'a Posting,
    pub kind: ChangeKind,
}

/// A stored posting, as backfill reads it.
#[derive(Debug, Clone)]
pub struct StoredPosting {
    pub id: i64,
    pub posting: Posting,
}

/// A posting as `leakwatch postings` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct PostingRow {
    pub source: String,
    pub title: String,
    pub link: Option<String>,
    pub posted_at: Option<String>,
    pub first_seen_at: String,
    pub body: String,
    /// The post's own page ([source.detail]): queued, read, or failed with why.
    pub detail: Option<String>,
    pub group: Option<String>,
    pub website: Option<String>,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub id: Option<String>,
}

/// What `leakwatch postings` and `leakwatch matches` are narrowed to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub source: Option<String>,
    /// Stored timestamp form (RFC 3339, UTC): first seen / matched at or after.
    pub since: Option<String>,
    /// A watch entry's name (any case): postings it matched, its matches.
    pub entry: Option<String>,
    /// Matches only: their triage status.
    pub status: Option<super::Status>,
}

/// A match as `leakwatch matches` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct MatchRow {
    pub id: i64,
    pub status: String,
    pub matched_at: String,
    pub entry: String,
    pub kind: String,
    pub term: String,
    pub reason: String,
    pub field: String,
    pub source: String,
    pub title: String,
    pub link: Option<String>,
    pub posted_at: Option<String>,
    pub emails_sent: i64,
    pub emails_pending: i64,
    pub emails_failed: i64,
    /// The earlier match of the same entry and victim this one repeats: never emailed.
    pub repeat_of: Option<i64>,
    /// Other sources that reported the same victim of the same group later:
    /// recorded on this match, no email of their own.
    pub also_reported_by: Vec<String>,
}

/// A posting from the columns `source, key, title, link, posted_at, body,
/// victim, masked, truncated, actor, website, vendor, product, item_id`,
/// starting at column `at`.
pub(super) fn posting_from_row(r: &rusqlite::Row, at: usize) -> rusqlite::Result<Posting> {
    Ok(Posting {
        source: r.get(at)?,
        key: r.get(at + 1)?,
        title: r.get(at + 2)?,
        link: r.get(at + 3)?,
        posted_at: r
            .get::<_, Option<String>>(at + 4)?
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(&d).ok())
            .map(|d| d.with_timezone(&chrono::Utc)),
        body: r.get(at + 5)?,
        victim: r.get(at + 6)?,
        masked: r.get(at + 7)?,
        truncated: r.get(at + 8)?,
        facts: PostingFacts {
            group: r.get(at + 9)?,
            website: r.get(at + 10)?,
            vendor: r.get(at + 11)?,
            product: r.get(at + 12)?,
            id: r.get(at + 13)?,
        },
    })
}

fn date_text(p: &Posting) -> Option<String> {
    p.posted_at
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// New postings inserted by one statement. Each statement that writes the
/// posting table opens a savepoint, and the full-text index (`posting_fts`,
/// filled by a trigger) writes its pending terms to disk at every savepoint:
/// row by row, that flush and the merges it causes were most of a first
/// crawl's time. A batch of smaller sizes takes the rest.
const INSERT_ROWS: [usize; 3] = [128, 16, 1];

/// The columns a new posting fills.
const INSERT_COLUMNS: &str = "source, key, victim, title, link, posted_at, body, masked, truncated,
    first_seen_at, first_run_id, first_look,
    actor, website, vendor, product, item_id, claim_group, claim_site";

/// Placeholders per row: all the columns but the three shared ones.
const ROW_PARAMS: usize = 16;

/// The `INSERT` of each size in [`INSERT_ROWS`], written once: the statement
/// cache is keyed by the text, so it is not rebuilt for every batch.
static INSERT_SQL: std::sync::LazyLock<[String; 3]> = std::sync::LazyLock::new(|| INSERT_ROWS.map(insert_sql));

/// `INSERT INTO posting` of `rows` rows: `?1` now, `?2` run, `?3`
/// first_look, then [`ROW_PARAMS`] per row. Built from constants only.
fn insert_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let row: Vec<String> = (0..ROW_PARAMS)
                .map(|i| format!("?{}", 4 + r * ROW_PARAMS + i))
                .collect();
            // first_seen_at, first_run_id and first_look are the shared ?1, ?2, ?3.
            format!("({}, ?1, ?2, ?3, {})", row[..9].join(", "), row[9..].join(", "))
        })
        .collect();
    format!(
        "INSERT INTO posting ({INSERT_COLUMNS}) VALUES {} RETURNING id, source, key",
        values.join(", ")
    )
}

impl Writer<'_> {
    /// Up to `limit` stored postings with ids above `after`, in id order: a
    /// backfill reads the past a page at a time, so matching a new watch list
    /// against a million postings holds one page of them, not all.
    pub fn postings_after(&self, after: i64, limit: usize) -> Result<Vec<StoredPosting>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, source, key, title, link, posted_at, body, victim, masked, truncated,
                    actor, website, vendor, product, item_id
             FROM posting WHERE id > :after ORDER BY id LIMIT :limit",
        )?;
        let rows = stmt.query_map(named_params! {":after": after, ":limit": limit as i64}, |r| {
            Ok(StoredPosting {
                id: r.get(0)?,
                posting: posting_from_row(r, 1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores a source's `postings` in order; says for each whether it is
    /// new, changed (title, link, date or body differ from what was stored),
    /// or neither (`None`: nothing written). A key listed twice is stored
    /// once and compared the second time, as if stored one by one.
    pub fn store_postings(
        &self,
        postings: &[Posting],
        run_id: i64,
        now: &str,
        first_look: bool,
    ) -> Result<Vec<Option<(i64, ChangeKind)>>> {
        let mut out = vec![None; postings.len()];
        // New postings waiting for their insert, and their keys.
        let mut new: Vec<usize> = Vec::with_capacity(INSERT_ROWS[0]);
        let mut new_keys: HashSet<(&str, &str)> = HashSet::with_capacity(INSERT_ROWS[0]);
        let mut lookup = self.tx.prepare_cached(
            "SELECT id, title, link, posted_at, body FROM posting WHERE source = :source AND key = :key",
        )?;
        for (i, posting) in postings.iter().enumerate() {
            if new_keys.contains(&(posting.source.as_str(), posting.key.as_str())) {
                // Compared with the first one, which must be stored first.
                self.insert_postings(postings, &new, run_id, now, first_look, &mut out)?;
                new.clear();
                new_keys.clear();
            }
            let posted_at = date_text(posting);
            let existing = lookup
                .query_row(named_params! {":source": posting.source, ":key": posting.key}, |r| {
                    let same = r.get_ref(1)?.as_str()? == posting.title
                        && r.get_ref(2)?.as_str_or_null()? == posting.link.as_deref()
                        && r.get_ref(3)?.as_str_or_null()? == posted_at.as_deref()
                        && r.get_ref(4)?.as_str()? == posting.body;
                    Ok((r.get::<_, i64>(0)?, same))
                })
                .optional()?;
            match existing {
                None => {
                    new.push(i);
                    new_keys.insert((posting.source.as_str(), posting.key.as_str()));
                    if new.len() == INSERT_ROWS[0] {
                        self.insert_postings(postings, &new, run_id, now, first_look, &mut out)?;
                        new.clear();
                        new_keys.clear();
                    }
                }
                Some((id, false)) => {
                    self.tx
                        .prepare_cached(
                            "UPDATE posting SET title = :title, link = :link, posted_at = :posted_at, body = :body, changed_at = :now,
                                               actor = :actor, website = :website, vendor = :vendor, product = :product,
                                               claim_group = :claim_group, claim_site = :claim_site
                             WHERE id = :id",
                        )?
                        .execute(named_params! {
                            ":title": posting.title, ":link": posting.link, ":posted_at": posted_at,
                            ":body": posting.body, ":now": now, ":id": id,
                            ":actor": posting.facts.group, ":website": posting.facts.website,
                            ":vendor": posting.facts.vendor, ":product": posting.facts.product,
                            ":claim_group": posting.facts.claim_group(), ":claim_site": posting.facts.claim_site(),
                        })?;
                    out[i] = Some((id, ChangeKind::Changed));
                }
                Some((_, true)) => {}
            }
        }
        self.insert_postings(postings, &new, run_id, now, first_look, &mut out)?;
        Ok(out)
    }

    /// Inserts `postings[i]` for each `i` of `new` (keys neither stored nor
    /// repeated), in that order, and records their ids in `out`.
    fn insert_postings(
        &self,
        postings: &[Posting],
        new: &[usize],
        run_id: i64,
        now: &str,
        first_look: bool,
        out: &mut [Option<(i64, ChangeKind)>],
    ) -> Result<()> {
        let mut rest = new;
        while !rest.is_empty() {
            // The last size is 1, so one always fits.
            let size = INSERT_ROWS
                .iter()
                .position(|&n| n <= rest.len())
                .unwrap_or(INSERT_ROWS.len() - 1);
            let (batch, after) = rest.split_at(INSERT_ROWS[size]);
            rest = after;
            let mut stmt = self.tx.prepare_cached(&INSERT_SQL[size])?;
            stmt.raw_bind_parameter(1, now)?;
            stmt.raw_bind_parameter(2, run_id)?;
            stmt.raw_bind_parameter(3, first_look)?;
            for (r, &i) in batch.iter().enumerate() {
                let p = &postings[i];
                let at = 4 + r * ROW_PARAMS;
                stmt.raw_bind_parameter(at, &p.source)?;
                stmt.raw_bind_parameter(at + 1, &p.key)?;
                stmt.raw_bind_parameter(at + 2, &p.victim)?;
                stmt.raw_bind_parameter(at + 3, &p.title)?;
                stmt.raw_bind_parameter(at + 4, &p.link)?;
                stmt.raw_bind_parameter(at + 5, date_text(p))?;
                stmt.raw_bind_parameter(at + 6, &p.body)?;
                stmt.raw_bind_parameter(at + 7, p.masked)?;
                stmt.raw_bind_parameter(at + 8, p.truncated)?;
                stmt.raw_bind_parameter(at + 9, &p.facts.group)?;
                stmt.raw_bind_parameter(at + 10, &p.facts.website)?;
                stmt.raw_bind_parameter(at + 11, &p.facts.vendor)?;
                stmt.raw_bind_parameter(at + 12, &p.facts.product)?;
                stmt.raw_bind_parameter(at + 13, &p.facts.id)?;
                stmt.raw_bind_parameter(at + 14, p.facts.claim_group())?;
                stmt.raw_bind_parameter(at + 15, p.facts.claim_site())?;
            }
            // The order RETURNING lists rows in is not promised: matched by key.
            let index: HashMap<(&str, &str), usize> = batch
                .iter()
                .map(|&i| ((postings[i].source.as_str(), postings[i].key.as_str()), i))
                .collect();
            let mut rows = stmt.raw_query();
            while let Some(row) = rows.next()? {
                let text = |i| row.get_ref(i)?.as_str().map_err(rusqlite::Error::from);
                let at = (text(1)?, text(2)?);
                if let Some(&i) = index.get(&at) {
                    out[i] = Some((row.get(0)?, ChangeKind::New));
                }
            }
        }
        Ok(())
    }

    /// Records that `hit` was found in posting `posting_id`. `None` when this
    /// entry was already matched to this posting, or to another posting of
    /// the same victim on the same source: a match is made once, ever, and a
    /// page cut short (the last item losing its link) or a victim re-posted
    /// is not a second alert.
    pub fn insert_match(
        &self,
        posting_id: i64,
        hit: &Hit,
        run_id: i64,
        retroactive: bool,
        changed: bool,
        now: &str,
    ) -> Result<Option<i64>> {
        let inserted = self
            .tx
            .prepare_cached(
                "INSERT INTO \"match\" (posting_id, entry_id, run_id, term, reason, field, snippet, confidence, retroactive, changed, created_at)
                 VALUES (:posting, :entry, :run, :term, :reason, :field, :snippet, :confidence, :retroactive, :changed, :now)
                 ON CONFLICT (posting_id, entry_id, revision) DO NOTHING",
            )?
            .execute(named_params! {
                ":posting": posting_id, ":entry": hit.entry_id, ":run": run_id, ":term": hit.term,
                ":reason": hit.reason.as_str(), ":field": hit.field.as_str(), ":snippet": hit.snippet, ":confidence": hit.confidence,
                ":retroactive": retroactive, ":changed": changed, ":now": now,
            })?;
        Ok((inserted == 1).then(|| self.tx.last_insert_rowid()))
    }

    /// Queues an alert for one recipient, in the caller's transaction.
    pub fn queue_alert(&self, match_id: i64, recipient: &str, now: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO outbox (match_id, recipient, created_at) VALUES (:match, :recipient, :now)
                 ON CONFLICT (match_id, recipient) DO NOTHING",
            )?
            .execute(named_params! {":match": match_id, ":recipient": recipient, ":now": now})?;
        Ok(())
    }
}

impl Store {
    /// Postings passing `filter` (first seen at or after `since`), newest first.
    pub fn postings(&self, filter: &Filter) -> Result<Vec<PostingRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT source, title, link, posted_at, first_seen_at, body,
                    (SELECT CASE d.state WHEN 'failed' THEN 'failed: ' || coalesce(d.error, '') ELSE d.state END
                     FROM detail d WHERE d.posting_id = posting.id),
                    actor, website, vendor, product, item_id
             FROM posting
             WHERE (:source IS NULL OR source = :source) AND (:since IS NULL OR first_seen_at >= :since)
               AND (:entry IS NULL OR id IN (SELECT m.posting_id FROM \"match\" m JOIN watch_entry e ON e.id = m.entry_id
                                             WHERE e.name = :entry COLLATE NOCASE))
             ORDER BY first_seen_at DESC, id DESC",
        )?;
        let params = named_params! {":source": filter.source, ":since": filter.since, ":entry": filter.entry};
        let rows = stmt.query_map(params, |r| {
            Ok(PostingRow {
                source: r.get(0)?,
                title: r.get(1)?,
                link: r.get(2)?,
                posted_at: r.get(3)?,
                first_seen_at: r.get(4)?,
                body: r.get(5)?,
                detail: r.get(6)?,
                group: r.get(7)?,
                website: r.get(8)?,
                vendor: r.get(9)?,
                product: r.get(10)?,
                id: r.get(11)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Matches passing `filter` (made at or after `since`), newest first, with their delivery state.
    pub fn matches(&self, filter: &Filter) -> Result<Vec<MatchRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.created_at, e.name, e.kind, m.term, m.reason, m.field, p.source, p.title, p.link, p.posted_at,
                    (SELECT count(*) FROM outbox o JOIN digest d ON d.id = o.digest_id WHERE o.match_id = m.id AND d.state = 'sent'),
                    (SELECT count(*) FROM outbox o LEFT JOIN digest d ON d.id = o.digest_id
                       WHERE o.match_id = m.id AND (d.id IS NULL OR d.state = 'pending')),
                    (SELECT count(*) FROM outbox o JOIN digest d ON d.id = o.digest_id WHERE o.match_id = m.id AND d.state = 'failed'),
                    m.id, m.repeat_of, m.status,
                    (SELECT group_concat(DISTINCT rp.source) FROM \"match\" r JOIN posting rp ON rp.id = r.posting_id
                     WHERE r.repeat_of = m.id AND rp.source != p.source)
             FROM \"match\" m JOIN posting p ON p.id = m.posting_id JOIN watch_entry e ON e.id = m.entry_id
             WHERE (:since IS NULL OR m.created_at >= :since) AND (:source IS NULL OR p.source = :source)
               AND (:entry IS NULL OR e.name = :entry COLLATE NOCASE) AND (:status IS NULL OR m.status = :status)
             ORDER BY m.created_at DESC, m.id DESC",
        )?;
        let params = named_params! {
            ":source": filter.source, ":since": filter.since, ":entry": filter.entry,
            ":status": filter.status.map(super::Status::as_str),
        };
        let rows = stmt.query_map(params, |r| {
            Ok(MatchRow {
                id: r.get(13)?,
                matched_at: r.get(0)?,
                entry: r.get(1)?,
                kind: r.get(2)?,
                term: r.get(3)?,
                reason: r.get(4)?,
                field: r.get(5)?,
                source: r.get(6)?,
                title: r.get(7)?,
                link: r.get(8)?,
                posted_at: r.get(9)?,
                emails_sent: r.get(10)?,
                emails_pending: r.get(11)?,
                emails_failed: r.get(12)?,
                repeat_of: r.get(14)?,
                status: r.get(15)?,
                also_reported_by: super::outbox::sources_list(r.get(16)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many postings are stored, per source and in all.
    pub fn posting_count(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT count(*) FROM posting", [], |r| r.get(0))?)
    }
}
