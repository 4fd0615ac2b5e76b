//! The watch list: the organisations a team wants to hear about, and the
//! matcher that finds them in postings.
//!
//! Entries live in the database (see `store`); analysts edit them with
//! `leakwatch watch …` and bulk-load them from CSV ([`csv`]). The
//! [`Matcher`] is built once per run from all entries and searches every
//! posting for all terms at once.

pub mod csv;
mod domain;
mod index;
mod matcher;
mod noise;
mod partial;

use std::fmt;
use std::str::FromStr;

pub use matcher::{Field, Hit, Matcher, Reason, confidence, noise_flag};

/// One watched organisation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WatchEntry {
    /// Database id; 0 for an entry not stored yet.
    #[serde(skip)]
    pub id: i64,
    pub name: String,
    pub aliases: Vec<String>,
    pub domains: Vec<String>,
    pub kind: EntryKind,
    /// Who hears about it; empty means `notify.recipients`.
    pub recipients: Vec<String>,
    /// Phrases that, when they are what matched, cancel the match.
    pub exclude: Vec<String>,
}

impl WatchEntry {
    pub fn new(name: &str, kind: EntryKind) -> WatchEntry {
        WatchEntry {
            id: 0,
            name: name.to_owned(),
            aliases: Vec::new(),
            domains: Vec::new(),
            kind,
            recipients: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

/// Why the team watches an organisation; shown in every alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    #[serde(rename = "self")]
    Own,
    Supplier,
    Customer,
    Other,
}

impl EntryKind {
    pub const ALL: [EntryKind; 4] = [
        EntryKind::Own,
        EntryKind::Supplier,
        EntryKind::Customer,
        EntryKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Own => "self",
            EntryKind::Supplier => "supplier",
            EntryKind::Customer => "customer",
            EntryKind::Other => "other",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntryKind {
    type Err = String;
    fn from_str(s: &str) -> Result<EntryKind, String> {
        EntryKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| format!("`{s}` is not a kind: use self, supplier, customer or other"))
    }
}
