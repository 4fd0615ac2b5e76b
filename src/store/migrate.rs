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
    // 1 → 2: matches by entry, for the repeat check on every hit (without
    // it each hit scanned every match: quadratic in a big first crawl).
    "CREATE INDEX match_entry ON \"match\" (entry_id);",
];

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
        for step in &STEPS[(version - 1) as usize..] {
            tx.execute_batch(step)?;
        }
    }
    tx.pragma_update(None, "user_version", CURRENT)?;
    tx.commit()?;
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
        assert_eq!(store.integrity_check().unwrap(), "ok");
        store.conn.pragma_update(None, "user_version", CURRENT + 1).unwrap();
        drop(store);
        let err = Store::open(&path).err().unwrap();
        assert!(
            err.to_string().contains("newer than this leakwatch understands"),
            "{err}"
        );
    }

    #[test]
    fn a_version_1_database_gets_the_match_entry_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let schema = |c: &Connection| -> Vec<String> {
            let mut stmt = c
                .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
                .unwrap();
            stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
        };
        let fresh = schema(&Store::open(&dir.path().join("new.db")).unwrap().conn);
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(SCHEMA).unwrap();
            c.execute_batch("DROP INDEX match_entry; PRAGMA user_version = 1;")
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(schema(&store.conn), fresh);
        let plan: String = store
            .conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT id FROM \"match\" WHERE entry_id = 1",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("match_entry"), "{plan}");
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
