//! Schema versions, on `PRAGMA user_version`.
//!
//! A new database gets `schema.sql` whole. An older one runs the steps after
//! its version, in order, in one exclusive transaction. Never edit or reorder
//! a step once released: add a new one, and change `schema.sql` to match.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::{Result, StoreError};

pub const SCHEMA: &str = include_str!("../../schema.sql");

/// Step N upgrades version N to N+1. Version 1 is `schema.sql` as first released.
const STEPS: &[&str] = &[
    SOURCE_STATE,
    DETAIL_PAGES,
    WORKSPACE,
    POSTING_FACTS,
    MIRRORS,
    MATCH_ENTRY,
];

/// One row per source (`source_health` folded into `source`), the error a
/// run died on, and victim keys without spaces and legal suffixes (rewritten
/// by [`rekey_victims`] after the SQL).
const SOURCE_STATE: &str = "
    ALTER TABLE source ADD COLUMN health TEXT NOT NULL DEFAULT 'ok';
    ALTER TABLE source ADD COLUMN health_since TEXT;
    INSERT INTO source (name, health, health_since)
        SELECT source, state, since FROM source_health WHERE true
        ON CONFLICT (name) DO UPDATE SET health = excluded.health, health_since = excluded.health_since;
    DROP TABLE source_health;
    ALTER TABLE run ADD COLUMN error TEXT;
";

/// The analyst workspace (issue 17): match triage, accounts, sessions, the
/// audit trail, and full-text search over the postings already stored.
const WORKSPACE: &str = r#"
ALTER TABLE "match" ADD COLUMN status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'confirmed', 'dismissed'));
ALTER TABLE "match" ADD COLUMN note TEXT;
ALTER TABLE "match" ADD COLUMN triaged_by TEXT;
ALTER TABLE "match" ADD COLUMN triaged_at TEXT;
CREATE INDEX match_status ON "match" (status, created_at);
CREATE TABLE app_user (
    name           TEXT PRIMARY KEY,
    role           TEXT NOT NULL CHECK (role IN ('analyst', 'viewer')),
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL
) STRICT;
CREATE TABLE session (
    id          TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL REFERENCES app_user(name) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) STRICT;
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_target ON audit (target);
CREATE VIRTUAL TABLE posting_fts USING fts5(title, body, content = 'posting', content_rowid = 'id');
CREATE TRIGGER posting_fts_insert AFTER INSERT ON posting BEGIN
    INSERT INTO posting_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER posting_fts_delete AFTER DELETE ON posting BEGIN
    INSERT INTO posting_fts (posting_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TRIGGER posting_fts_update AFTER UPDATE OF title, body ON posting BEGIN
    INSERT INTO posting_fts (posting_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
    INSERT INTO posting_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
INSERT INTO posting_fts (posting_fts) VALUES ('rebuild');
"#;

/// Detail pages (`[source.detail]`) queued with their postings, and the run
/// counters that say how many were read, failed and left waiting.
const DETAIL_PAGES: &str = "
    ALTER TABLE run ADD COLUMN details_fetched INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE run ADD COLUMN details_failed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE run ADD COLUMN details_waiting INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE detail (
        posting_id  INTEGER PRIMARY KEY REFERENCES posting(id) ON DELETE CASCADE,
        source      TEXT NOT NULL,
        url         TEXT NOT NULL,
        state       TEXT NOT NULL DEFAULT 'queued',
        tries       INTEGER NOT NULL DEFAULT 0,
        error       TEXT,
        queued_at   TEXT NOT NULL,
        read_at     TEXT,
        body        TEXT NOT NULL DEFAULT '',
        website     TEXT,
        posted_at   TEXT
    ) STRICT;
    CREATE INDEX detail_due ON detail (source, queued_at, posting_id) WHERE state = 'queued';
";

/// Structured facts of a posting (group, website, vendor, product, id) and
/// the two forms the cross-source rule compares.
const POSTING_FACTS: &str = "
    ALTER TABLE posting ADD COLUMN actor TEXT;
    ALTER TABLE posting ADD COLUMN website TEXT;
    ALTER TABLE posting ADD COLUMN vendor TEXT;
    ALTER TABLE posting ADD COLUMN product TEXT;
    ALTER TABLE posting ADD COLUMN item_id TEXT;
    ALTER TABLE posting ADD COLUMN claim_group TEXT;
    ALTER TABLE posting ADD COLUMN claim_site TEXT;
";

/// Per-address state of sources with mirrors, and proposals for pending sources.
const MIRRORS: &str = "-- Every address of a source (`url` and each of `mirrors`) and how it last
-- answered: the run tries the best first (src/run/mirrors.rs).
CREATE TABLE source_address (
    source        TEXT NOT NULL,
    url           TEXT NOT NULL,
    last_status   TEXT NOT NULL,            -- ok | empty | blocked | http-error | proxy-error | pending
    last_error    TEXT,
    last_tried    TEXT NOT NULL,
    last_success  TEXT,
    PRIMARY KEY (source, url)
) STRICT;

-- Selectors proposed for a pending source (no [source.html] yet), made from
-- its last page; `announced` once the admins were told.
CREATE TABLE source_proposal (
    source      TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    proposal    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    announced   INTEGER NOT NULL DEFAULT 0
) STRICT;";

/// Matches by entry, for the repeat check on every hit: without it each hit
/// scanned every match, quadratic in a big first crawl.
const MATCH_ENTRY: &str = "CREATE INDEX match_entry ON \"match\" (entry_id);";

/// The version `schema.sql` is at.
pub const CURRENT: i64 = 1 + STEPS.len() as i64;

pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > CURRENT {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found: version,
            supported: CURRENT,
        });
    }
    if version == CURRENT {
        return Ok(());
    }
    if version == 0 {
        let tables: i64 = tx.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| {
            r.get(0)
        })?;
        if tables > 0 {
            return Err(StoreError::Data(format!(
                "{} is an SQLite database, but not leakwatch's (it has tables and no schema version): point database.path at a new file",
                path.display()
            )));
        }
        tx.execute_batch(SCHEMA)?;
    } else {
        let steps = &STEPS[(version - 1) as usize..];
        for step in steps {
            tx.execute_batch(step)?;
        }
        // Found by content, not number: steps from other branches may be merged before it.
        if steps.contains(&SOURCE_STATE) {
            rekey_victims(&tx)?;
        }
    }
    tx.pragma_update(None, "user_version", CURRENT)?;
    tx.commit()?;
    Ok(())
}

/// Recomputes every posting's victim key with the current rules, so a
/// victim announced before an upgrade is still known after it.
fn rekey_victims(tx: &rusqlite::Transaction) -> Result<()> {
    let postings: Vec<(i64, String, String)> = tx
        .prepare("SELECT id, title, victim FROM posting")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = tx.prepare("UPDATE posting SET victim = :victim WHERE id = :id")?;
    for (id, title, old) in postings {
        let key = crate::extract::victim_key(&title);
        if key != old {
            update.execute(rusqlite::named_params! {":victim": key, ":id": id})?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

    #[test]
    fn opening_twice_is_harmless_and_newer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lw.db");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        assert_eq!(store.quick_check().unwrap(), "ok");
        store.conn.pragma_update(None, "user_version", CURRENT + 1).unwrap();
        drop(store);
        let err = Store::open(&path).err().unwrap();
        assert!(
            err.to_string().contains("newer than this leakwatch understands"),
            "{err}"
        );
    }

    /// Every table's, index's and trigger's columns (name, type, NOT NULL,
    /// default), as SQLite reports them.
    fn shape(conn: &Connection) -> Vec<(String, Vec<String>)> {
        let mut names: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index', 'trigger') ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        names.retain(|n| !n.starts_with("sqlite_"));
        names
            .into_iter()
            .map(|n| {
                let cols = conn
                    .prepare("SELECT name || ' ' || type || ' ' || \"notnull\" || ' ' || ifnull(dflt_value, '') FROM pragma_table_xinfo(?1)")
                    .unwrap()
                    .query_map([&n], |r| r.get(0))
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap();
                (n, cols)
            })
            .collect()
    }

    #[test]
    fn a_version_1_database_upgrades_to_what_schema_sql_creates() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh.db");
        drop(Store::open(&fresh).unwrap());
        let old = dir.path().join("old.db");
        {
            // Version 1: schema.sql as first released.
            let conn = Connection::open(&old).unwrap();
            conn.execute_batch(include_str!("../../fixtures/schema-v1.sql"))
                .unwrap();
            conn.execute_batch(
                "INSERT INTO run (started_at, pid) VALUES ('2026-01-01T00:00:00Z', 1);
                 INSERT INTO posting (source, key, victim, title, body, first_seen_at, first_run_id)
                 VALUES ('clop', 'k', 'acme', 'Acme Corp data published', 'all of it', '2026-01-01T00:00:00Z', 1);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let store = Store::open(&old).unwrap();
        assert_eq!(shape(&store.conn), shape(&Connection::open(&fresh).unwrap()));
        let kept: i64 = store
            .conn
            .query_row("SELECT count(*) FROM run", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 1, "the old run record survives the upgrade");
        // Postings stored before the upgrade are searchable.
        let found: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM posting_fts WHERE posting_fts MATCH 'acme'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, 1);
    }

    /// The version a database is at just before `step` runs.
    fn version_before(step: &str) -> i64 {
        1 + STEPS.iter().position(|s| *s == step).expect("a migration step") as i64
    }

    #[test]
    fn the_step_before_mirrors_gets_the_address_and_proposal_tables() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (dir.path().join("old.db"), dir.path().join("new.db"));
        let conn = Connection::open(&old).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(&format!(
            "DROP TABLE source_address; DROP TABLE source_proposal; DROP INDEX match_entry; PRAGMA user_version = {};",
            version_before(MIRRORS)
        ))
        .unwrap();
        drop(conn);
        let schema = |p: &Path| -> Vec<(String, String)> {
            let store = Store::open(p).unwrap();
            let mut stmt = store
                .conn
                .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        assert_eq!(schema(&old), schema(&new));
    }

    #[test]
    fn a_foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(err.to_string().contains("not leakwatch's"), "{err}");
    }
}
