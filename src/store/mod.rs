//! Store: the SQLite database — postings and their diff, the watch list,
//! matches, the outbox, and the record of runs.
//!
//! One [`Store`] owns the connection. Callers never see SQL: every query is a
//! named method here or in a submodule, with named parameters. Writes happen
//! in `BEGIN IMMEDIATE` transactions ([`Store::write`]): a deferred
//! transaction that reads then writes fails with SQLITE_BUSY when another
//! process writes meanwhile, whatever the busy timeout.

mod accounts;
mod addresses;
mod details;
mod entries;
mod health;
mod migrate;
mod outbox;
mod postings;
mod retention;
mod runs;
mod triage;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use accounts::{AuditRow, SessionUser, User};
pub use addresses::{AddressState, Proposal};
pub use details::{DueDetail, MAX_DETAIL_TRIES};
pub use entries::{ImportReport, ListedEntry};
pub use health::AdminAlert;
pub use outbox::{Alert, Announced, PendingDigest};
pub use postings::{Change, ChangeKind, Filter, MatchRow, PostingRow, StoredPosting};
pub use retention::Pruned;
pub use runs::{FetchRecord, LastFetch, RunCounts, RunRow, SourceState};
pub use triage::{FoundPosting, InboxFilter, InboxRow, Status, Triage, WeekCount};

/// How long a writer waits for another process's transaction.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The page cache per connection, in KiB.
const CACHE_KIB: i64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "database {path} has schema version {found}, newer than this leakwatch understands ({supported}): upgrade leakwatch, or point database.path at another file"
    )]
    TooNew { path: PathBuf, found: i64, supported: i64 },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("database: {0}")]
    Data(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The database, open and at the current schema.
pub struct Store {
    conn: Connection,
}

/// One write transaction (`BEGIN IMMEDIATE`). Dropped without
/// [`Writer::commit`], it rolls back.
pub struct Writer<'a> {
    tx: Transaction<'a>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, in WAL mode, and
    /// brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Data(format!("cannot create {}: {e}", dir.display())))?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        // The default 2 MB page cache is smaller than the posting table's
        // key index once a source lists tens of thousands of postings: each
        // insert then reads and writes index pages one by one (a 200 000
        // posting first crawl made 140 000 pwrite and 120 000 pread calls).
        // The cache grows only as pages are used, so small databases pay nothing.
        conn.pragma_update(None, "cache_size", -CACHE_KIB).map_err(open_err)?;
        migrate::migrate(&mut conn, path)?;
        Ok(Store { conn })
    }

    /// Starts a write transaction.
    pub fn write(&mut self) -> Result<Writer<'_>> {
        Ok(Writer {
            tx: self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?,
        })
    }

    /// `PRAGMA quick_check`: "ok" when the file is sound, else its first
    /// findings, one per line. Skips only the index-content cross-checks of
    /// `integrity_check`, so it is quick on a large database.
    pub fn quick_check(&self) -> Result<String> {
        let mut stmt = self.conn.prepare("PRAGMA quick_check(10)")?;
        let lines: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(lines.join("; "))
    }
}

impl Writer<'_> {
    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }
}

/// The current time as stored: RFC 3339, UTC, seconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A list column: JSON array text.
fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).expect("strings serialize")
}

fn from_json(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}
