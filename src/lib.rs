//! leakwatch: watch ransomware leak sites and disclosure channels for the
//! organisations you care about, and email the right people when one is named.
//!
//! The pipeline, one module per stage (see `run` for how they are wired):
//!
//! ```text
//! config ─► fetch ─► extract ─► store (diff) ─► watch (match) ─► notify (outbox → email)
//! ```
//!
//! Typed values flow forward: [`config::Source`] → [`fetch::Page`] →
//! [`extract::Posting`] → [`store::Change`] → [`watch::Hit`] → [`notify::Digest`]
//! → [`summary::RunSummary`].

pub mod check;
pub mod commands;
pub mod config;
pub mod demo;
pub mod extract;
pub mod fetch;
pub mod init;
#[cfg(test)]
mod layout_tests;
pub mod lock;
pub mod logging;
pub mod notify;
pub mod progress;
pub mod report;
pub mod run;
pub mod schedule;
pub mod serve;
pub mod store;
pub mod suggest;
pub mod summary;
pub mod terminal;
#[cfg(test)]
mod testdata;
pub mod text;
pub mod watch;
