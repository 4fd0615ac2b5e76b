//! Disclosure channels (`about`): a vendor's own advisories, where every new
//! posting concerns the watch entries the source names, whatever its text.

use std::sync::Arc;

use super::SourceOutcome;
use crate::config::Source;
use crate::store::{self, ChangeKind};
use crate::watch::Matcher;

/// How old a posting may be, on the first crawl of a disclosure channel, to
/// alert: older advisories are history, stored without an email.
const ABOUT_FIRST_LOOK_DAYS: i64 = 30;

/// A source whose `about` names entries not on the watch list fails without
/// being fetched: its postings would alert no one.
pub(super) fn unknown(matcher: &Matcher, source: &Source) -> Option<SourceOutcome> {
    let unknown = matcher.unknown_names(&source.about);
    (!unknown.is_empty()).then(|| SourceOutcome {
        status: "config-error",
        error: Some(format!(
            "about names {}, not on the watch list: add with `leakwatch watch add NAME` or fix `about` in the config",
            unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        )),
        ..SourceOutcome::new(Arc::new(source.clone()))
    })
}

/// On a disclosure channel (`about`), every new posting names its entries;
/// on its first crawl only the recent ones.
pub(super) fn hits(
    matcher: &Matcher,
    source: &Source,
    change: &store::Change,
    first_look: bool,
) -> Vec<crate::watch::Hit> {
    if source.about.is_empty() || change.kind != ChangeKind::New {
        return Vec::new();
    }
    let cutoff = chrono::Utc::now() - chrono::Duration::days(ABOUT_FIRST_LOOK_DAYS);
    if first_look && change.posting.posted_at.is_none_or(|d| d < cutoff) {
        return Vec::new();
    }
    matcher.about(&source.about, change.posting)
}
