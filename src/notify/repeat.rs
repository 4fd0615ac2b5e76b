//! No re-announcements: is a new match news, or the same victim again?
//!
//! Leak sites repeat themselves. A page re-parsed after its source definition
//! changed yields new posting keys; a gang re-posts a victim; a leak comes in
//! parts (`PART1`…`PART4`). Each is a new posting, but not news: the watched
//! entry was already announced for that victim on that source. The extract
//! stage groups such postings under one victim key; this module decides,
//! from the postings already announced for the same (entry, source, victim),
//! whether a new one deserves an email.
//!
//! "Meaningfully different" is kept simple and explainable:
//! - **published**: the new posting says the data is out (published, leaked,
//!   released, dumped, downloadable), no announced posting said so, and its
//!   own source announced the victim before (another source merely phrasing
//!   the same listing differently is a sighting, not news);
//! - **a new leak**: the new posting is dated more than [`NEW_LEAK_AFTER_DAYS`]
//!   days after the newest announced one.
//!
//! Anything else is a repeat: the match is recorded, no email is queued.
//! A posting that changes in place (a countdown becoming "published") is
//! judged the same way against what it said when it was announced, and a
//! meaningful change gets a new revision of its match, and an email.

use crate::extract::Posting;
// Read back by the store, which owns the type so it needs nothing from notify.
pub use crate::store::Announced;

/// A posting dated this many days after the last announced one for the same
/// victim is a new leak, not a repeat.
pub const NEW_LEAK_AFTER_DAYS: i64 = 30;

/// Words (normalized, whole) that say the stolen data is out.
const PUBLISHED_WORDS: [&str; 8] = [
    "published",
    "leaked",
    "released",
    "dumped",
    "dump",
    "download",
    "downloadable",
    "uploaded",
];

/// What to do with a new match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing announced before for this victim: alert.
    First,
    /// The same victim again with nothing meaningfully new: no alert.
    Repeat { of: i64 },
    /// Announced before, but this says something new: alert, with this note.
    News { note: String },
}

/// Judges `new` against what was already announced (any order).
pub fn judge(new: &Posting, announced: &[Announced]) -> Verdict {
    let Some(first) = announced.iter().min_by_key(|a| a.match_id) else {
        return Verdict::First;
    };
    let earlier = format!("\"{}\", first seen {}", first.title, day(&first.first_seen_at));
    let own_source_announced = announced.iter().any(|a| a.source == new.source);
    if says_published(new) && own_source_announced && !announced.iter().any(|a| a.published) {
        return Verdict::News {
            note: format!("now says the data is published (earlier alert: {earlier})"),
        };
    }
    let newest = announced.iter().filter_map(|a| a.posted_at).max();
    if let (Some(new_date), Some(newest)) = (new.posted_at, newest)
        && (new_date - newest).num_days() > NEW_LEAK_AFTER_DAYS
    {
        return Verdict::News {
            note: format!(
                "a new posting dated {}, {} days after the one already alerted on ({earlier})",
                new_date.format("%Y-%m-%d"),
                (new_date - newest).num_days()
            ),
        };
    }
    Verdict::Repeat { of: first.match_id }
}

/// The posting says the stolen data is out.
pub fn says_published(f: &Posting) -> bool {
    let text = crate::text::normalize(&format!("{} {}", f.title, f.body));
    text.split_whitespace().any(|w| PUBLISHED_WORDS.contains(&w))
}

fn day(ts: &str) -> String {
    ts.get(..10).unwrap_or(ts).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(title: &str, body: &str, date: Option<&str>) -> Posting {
        Posting {
            source: "clop".into(),
            key: String::new(),
            title: title.into(),
            link: None,
            posted_at: date.map(|d| format!("{d}T00:00:00Z").parse().unwrap()),
            body: body.into(),
            victim: "acme".into(),
            masked: false,
            truncated: false,
            facts: Default::default(),
        }
    }

    fn announced(id: i64, f: Posting) -> Announced {
        Announced {
            match_id: id,
            source: f.source.clone(),
            published: says_published(&f),
            title: f.title,
            posted_at: f.posted_at,
            first_seen_at: "2021-03-03T10:00:00Z".into(),
        }
    }

    #[test]
    fn nothing_announced_is_first() {
        assert_eq!(judge(&facts("Acme", "", None), &[]), Verdict::First);
    }

    #[test]
    fn parts_reposts_and_reparses_are_repeats() {
        let before = [announced(7, facts("ACME FILES PART1", "", Some("2021-03-03")))];
        for f in [
            facts("ACME FILES PART2", "", Some("2021-03-05")),
            facts("ACME FILES PART1", "", Some("2021-03-03")),
            facts("Acme", "countdown 3 days", None),
        ] {
            assert_eq!(judge(&f, &before), Verdict::Repeat { of: 7 }, "{f:?}");
        }
    }

    #[test]
    fn publication_is_news_once() {
        let before = [announced(7, facts("Acme", "pay or we publish", Some("2021-03-03")))];
        let published = facts("Acme", "All data published, 40 GB", Some("2021-03-10"));
        let Verdict::News { note } = judge(&published, &before) else {
            panic!("publication is news")
        };
        assert!(note.contains("published"), "{note}");
        assert!(note.contains("\"Acme\", first seen 2021-03-03"), "{note}");
        let after = [before[0].clone(), announced(8, published)];
        assert_eq!(
            judge(&facts("Acme PART2", "leaked", Some("2021-03-11")), &after),
            Verdict::Repeat { of: 7 }
        );
    }

    #[test]
    fn another_source_saying_published_is_a_sighting_and_a_new_leak_is_news_anywhere() {
        // ransomware.live listed it; the leak site's own page says "PUBLISHED FULL".
        let mut listed = facts("Western Mechanical", "United States", Some("2024-06-12"));
        listed.source = "ransomware-live".into();
        let before = [announced(7, listed)];
        let page = facts("Western Mechanical", "PUBLISHED FULL", Some("2024-06-13"));
        assert_eq!(judge(&page, &before), Verdict::Repeat { of: 7 });
        let later = facts("Western Mechanical", "", Some("2024-09-01"));
        assert!(matches!(judge(&later, &before), Verdict::News { .. }));
    }

    #[test]
    fn a_much_later_posting_is_a_new_leak() {
        let before = [announced(7, facts("Acme", "", Some("2021-03-03")))];
        let Verdict::News { note } = judge(&facts("Acme", "", Some("2022-01-10")), &before) else {
            panic!("a new leak")
        };
        assert!(
            note.starts_with("a new posting dated 2022-01-10, 313 days after"),
            "{note}"
        );
        assert_eq!(
            judge(&facts("Acme", "", Some("2021-03-30")), &before),
            Verdict::Repeat { of: 7 }
        );
    }
}
