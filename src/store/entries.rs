//! The watch list in the database.

use rusqlite::{OptionalExtension, named_params};

use super::{Result, Store, StoreError, Writer, from_json, now, to_json};
use crate::watch::{EntryKind, WatchEntry};

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub removed: usize,
}

fn entry_from_row(r: &rusqlite::Row) -> rusqlite::Result<WatchEntry> {
    let kind: String = r.get(4)?;
    Ok(WatchEntry {
        id: r.get(0)?,
        name: r.get(1)?,
        aliases: from_json(&r.get::<_, String>(2)?),
        domains: from_json(&r.get::<_, String>(3)?),
        kind: kind.parse().unwrap_or(EntryKind::Other),
        recipients: from_json(&r.get::<_, String>(5)?),
        exclude: from_json(&r.get::<_, String>(6)?),
    })
}

const SELECT_ENTRY: &str = "SELECT id, name, aliases, domains, kind, recipients, exclude FROM watch_entry";

/// A watch entry with its bookkeeping, for `watch list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListedEntry {
    #[serde(flatten)]
    pub entry: WatchEntry,
    pub created_at: String,
    pub updated_at: String,
}

impl Store {
    /// The whole watch list with created/updated times, by name.
    pub fn entries_listed(&self) -> Result<Vec<ListedEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, aliases, domains, kind, recipients, exclude, created_at, updated_at FROM watch_entry ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ListedEntry {
                entry: entry_from_row(r)?,
                created_at: r.get(7)?,
                updated_at: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The whole watch list, by name.
    pub fn entries(&self) -> Result<Vec<WatchEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!("{SELECT_ENTRY} ORDER BY name"))?;
        let rows = stmt.query_map([], entry_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Entries added or changed since they were last matched against stored postings.
    pub fn entries_to_backfill(&self) -> Result<Vec<WatchEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{SELECT_ENTRY} WHERE backfilled = 0 ORDER BY id"))?;
        let rows = stmt.query_map([], entry_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds `entry`, or updates the entry of that name. True when it was
    /// new. Audited as done by `actor`.
    pub fn upsert_entry(&mut self, entry: &WatchEntry, actor: &str) -> Result<bool> {
        let now = now();
        let w = self.write()?;
        let outcome = w.upsert_entry(entry, &now)?;
        let action = match outcome {
            None => Some("watch-add"),
            Some(true) => Some("watch-edit"),
            Some(false) => None,
        };
        if let Some(action) = action {
            w.audit(actor, action, &entry.name, &describe(entry), &now)?;
        }
        w.commit()?;
        Ok(outcome.is_none())
    }

    /// Removes the entry named `name` (and its matches). False when there
    /// was none. Audited as done by `actor`.
    pub fn remove_entry(&mut self, name: &str, actor: &str) -> Result<bool> {
        let now = now();
        let w = self.write()?;
        let n =
            w.tx.prepare_cached("DELETE FROM watch_entry WHERE name = :name")?
                .execute(named_params! {":name": name})?;
        if n == 1 {
            w.audit(actor, "watch-rm", name, "", &now)?;
        }
        w.commit()?;
        Ok(n == 1)
    }

    /// Loads `entries` in one transaction. With `replace`, entries not in
    /// `entries` are removed, so the database equals the file.
    pub fn import_entries(&mut self, entries: &[WatchEntry], replace: bool, actor: &str) -> Result<ImportReport> {
        let now = now();
        let w = self.write()?;
        let mut report = ImportReport::default();
        for e in entries {
            match w.upsert_entry(e, &now)? {
                None => report.added += 1,
                Some(true) => report.changed += 1,
                Some(false) => report.unchanged += 1,
            }
        }
        if replace {
            let keep: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            let keep = serde_json::to_string(&keep).map_err(|e| StoreError::Data(e.to_string()))?;
            report.removed =
                w.tx.prepare_cached("DELETE FROM watch_entry WHERE name NOT IN (SELECT value FROM json_each(:keep))")?
                    .execute(named_params! {":keep": keep})?;
        }
        let r = &report;
        w.audit(
            actor,
            "watch-import",
            "watch list",
            &format!(
                "{} added, {} changed, {} unchanged, {} removed",
                r.added, r.changed, r.unchanged, r.removed
            ),
            &now,
        )?;
        w.commit()?;
        Ok(report)
    }
}

/// An entry in one line, for the audit trail.
fn describe(e: &WatchEntry) -> String {
    let mut parts = vec![format!("kind {}", e.kind)];
    for (label, list) in [
        ("aliases", &e.aliases),
        ("domains", &e.domains),
        ("recipients", &e.recipients),
        ("exclude", &e.exclude),
    ] {
        if !list.is_empty() {
            parts.push(format!("{label} {}", list.join(";")));
        }
    }
    parts.join(", ")
}

impl Writer<'_> {
    /// Inserts or updates by name. `None`: inserted; `Some(changed)`: it existed.
    /// A new or changed entry is marked for backfill.
    fn upsert_entry(&self, e: &WatchEntry, now: &str) -> Result<Option<bool>> {
        let existing = self
            .tx
            .prepare_cached(&format!("{SELECT_ENTRY} WHERE name = :name"))?
            .query_row(named_params! {":name": e.name}, entry_from_row)
            .optional()?;
        let params = named_params! {
            ":name": e.name, ":aliases": to_json(&e.aliases), ":domains": to_json(&e.domains),
            ":kind": e.kind.as_str(), ":recipients": to_json(&e.recipients), ":exclude": to_json(&e.exclude), ":now": now,
        };
        match existing {
            None => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO watch_entry (name, aliases, domains, kind, recipients, exclude, created_at, updated_at)
                         VALUES (:name, :aliases, :domains, :kind, :recipients, :exclude, :now, :now)",
                    )?
                    .execute(params)?;
                Ok(None)
            }
            Some(old)
                if WatchEntry {
                    id: e.id,
                    ..old.clone()
                } == *e =>
            {
                Ok(Some(false))
            }
            Some(_) => {
                self.tx
                    .prepare_cached(
                        "UPDATE watch_entry SET aliases = :aliases, domains = :domains, kind = :kind, recipients = :recipients,
                         exclude = :exclude, updated_at = :now, backfilled = 0 WHERE name = :name",
                    )?
                    .execute(params)?;
                Ok(Some(true))
            }
        }
    }

    /// Marks entries as matched against every stored posting.
    pub fn mark_backfilled(&self, ids: &[i64]) -> Result<()> {
        let mut stmt = self
            .tx
            .prepare_cached("UPDATE watch_entry SET backfilled = 1 WHERE id = :id")?;
        for id in ids {
            stmt.execute(named_params! {":id": id})?;
        }
        Ok(())
    }
}
