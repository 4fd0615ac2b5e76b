//! Matching one posting against the [`Matcher`].
//!
//! Terms and posting text are both normalized ([`crate::text::normalize`]),
//! then one word index ([`crate::watch::index`]) finds every whole-word term
//! occurrence in a single pass. Domain-shaped strings (`files.accellion.com`)
//! are cut out of the word text and matched as domains through the public
//! suffix list ([`crate::watch::domain`]), so a look-alike such as
//! `accellion.com.evil.io` never matches "Accellion" word by word. Names too
//! common to match freely ([`crate::watch::noise`]) count only in titles, as
//! written; masked and truncated titles go through [`crate::watch::partial`].

use std::cell::RefCell;

use super::snippet::snippet;
use super::terms::{is_label_form, spelled_as};
use super::{COLLIDED, Field, Hit, Matcher, Reason, Term, confidence, str_hash};
use crate::extract::Posting;
use crate::text;
use crate::watch::domain::{self, FoundDomain};
use crate::watch::index::Word;
use crate::watch::partial;

/// A field's text in both forms: as written, and normalized with the
/// offset in `original` of every normalized byte.
struct WordText<'a> {
    original: &'a str,
    norm: &'a str,
    offsets: &'a [u32],
}

/// Per-thread buffers, so matching a posting allocates nothing on the usual path.
#[derive(Default)]
struct Scratch {
    norm: String,
    offsets: Vec<u32>,
    blanked: String,
    domains: Vec<FoundDomain>,
    words: Vec<Word>,
    spans: Vec<(usize, usize, u32)>,
    valid: Vec<(usize, usize, Term)>,
    seen: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Matcher {
    /// Every entry the posting names, at most once each, the best place first
    /// (title before body before link; whole names before partial ones).
    pub fn find(&self, posting: &Posting) -> Vec<Hit> {
        SCRATCH.with_borrow_mut(|scratch| self.find_with(posting, scratch))
    }

    fn find_with(&self, posting: &Posting, s: &mut Scratch) -> Vec<Hit> {
        let mut hits: Vec<Hit> = Vec::new();
        // The entries hit so far: few, so a list beats a set.
        let mut seen = std::mem::take(&mut s.seen);
        seen.clear();
        if self.entries.is_empty() {
            return hits;
        }
        self.find_stated(posting, &mut seen, &mut hits);
        let fields = [
            (Field::Title, posting.title.as_str()),
            (Field::Body, posting.body.as_str()),
            (Field::Link, posting.link.as_deref().unwrap_or("")),
        ];
        for (field, original) in fields {
            if original.is_empty() {
                continue;
            }
            s.domains.clear();
            if original.contains('.') {
                domain::scan(original, &mut s.domains);
            }
            self.find_domains(field, original, &s.domains, &mut seen, &mut hits);
            if field == Field::Link {
                continue;
            }
            // Domains are matched as domains only: blank them out of the word text.
            let words = if s.domains.is_empty() {
                original
            } else {
                s.blanked.clear();
                let mut at = 0;
                for d in &s.domains {
                    s.blanked.push_str(&original[at..d.start]);
                    s.blanked.extend(std::iter::repeat_n(' ', d.end - d.start));
                    at = d.end;
                }
                s.blanked.push_str(&original[at..]);
                s.blanked.as_str()
            };
            text::normalize_reusing(words, &mut s.norm, &mut s.offsets);
            self.index.find(&s.norm, &mut s.words, &mut s.spans);
            if !s.spans.is_empty() {
                let text = WordText {
                    original,
                    norm: &s.norm,
                    offsets: &s.offsets,
                };
                self.find_words(field, &text, &s.spans, &mut s.valid, &mut seen, &mut hits);
            }
            if field == Field::Title {
                self.find_partial(posting, &mut seen, &mut hits);
            }
        }
        s.seen = seen;
        hits
    }

    /// Records a hit of `entry` through its term `written` (both indexes).
    fn push(
        &self,
        hits: &mut Vec<Hit>,
        seen: &mut Vec<u32>,
        (entry, written): (u32, u32),
        reason: Reason,
        field: Field,
        snippet: String,
    ) {
        seen.push(entry);
        hits.push(Hit {
            entry_id: self.entries[entry as usize].id,
            term: String::from(&*self.written[written as usize]),
            reason,
            field,
            snippet,
            confidence: confidence(reason, field),
        });
    }

    /// Entries listing `host` exactly.
    fn domain_owners(&self, host: &str) -> &[(Box<str>, u32, u32)] {
        let from = match self.domain_at.get(&str_hash(host)) {
            None => return &[],
            Some(&COLLIDED) => self.domains.partition_point(|d| d.0.as_ref() < host),
            Some(&start) => start as usize,
        };
        let to = from + self.domains[from..].iter().take_while(|d| d.0.as_ref() == host).count();
        &self.domains[from..to]
    }

    pub(super) fn find_domains(
        &self,
        field: Field,
        original: &str,
        found: &[FoundDomain],
        seen: &mut Vec<u32>,
        hits: &mut Vec<Hit>,
    ) {
        for d in found {
            let domains = d.candidates().flat_map(|candidate| {
                self.domain_owners(candidate)
                    .iter()
                    .map(|&(_, e, w)| (e, w, Reason::Domain, false))
            });
            let label = d.label();
            let hash = str_hash(label);
            let b = (hash >> self.label_shift) as usize;
            let bucket = &self.labels[self.label_buckets[b] as usize..self.label_buckets[b + 1] as usize];
            let from = bucket.partition_point(|l| l.0 < hash);
            let labels = bucket[from..]
                .iter()
                .take_while(|l| l.0 == hash)
                .filter(|&&(_, t)| is_label_form(self.term(t), label))
                .flat_map(|&(_, t)| {
                    let noisy = self.noisy[t as usize];
                    self.owners(t)
                        .iter()
                        .map(move |o| (o.entry, o.written, Reason::Label, noisy))
                });
            for (e, w, reason, noisy) in domains.chain(labels) {
                // A noisy name as a domain label (`target.com`) counts in titles only.
                if seen.contains(&e) || (noisy && field != Field::Title) {
                    continue;
                }
                let excludes = !self.entries[e as usize].exclude.is_empty();
                if excludes && self.excluded(e, &text::normalize(&d.host)) {
                    continue;
                }
                self.push(hits, seen, (e, w), reason, field, snippet(original, d.start, d.end));
            }
        }
    }

    fn find_words(
        &self,
        field: Field,
        text: &WordText,
        spans: &[(usize, usize, u32)],
        valid: &mut Vec<(usize, usize, Term)>,
        seen: &mut Vec<u32>,
        hits: &mut Vec<Hit>,
    ) {
        let WordText {
            original,
            norm,
            offsets,
        } = *text;
        // The original text of norm[s..e]: from the character its first byte
        // came from to the end of the one its last byte came from.
        let span = |s: usize, e: usize| {
            let start = offsets[s] as usize;
            let last = offsets[e - 1] as usize;
            (start, last + original[last..].chars().next().map_or(0, char::len_utf8))
        };
        valid.clear();
        for &(s, e, t) in spans {
            let noisy = self.noisy[t as usize];
            for &owner in self.owners(t) {
                // A noisy term counts only in titles, spelled as the entry writes it.
                if noisy {
                    let (a, b) = span(s, e);
                    let letters = self.term(t).chars().filter(|c| *c != ' ').count();
                    if field != Field::Title
                        || !spelled_as(&original[a..b], &self.written[owner.written as usize], letters)
                    {
                        continue;
                    }
                }
                if self.excluded_at(owner.entry, norm, s, e) {
                    continue;
                }
                valid.push((s, e, owner));
            }
        }
        for &(s, e, owner) in valid.iter() {
            // "Bombardier" inside "Bombardier Recreational Products" belongs
            // to the longer entry when both are watched.
            let inside_longer = valid
                .iter()
                .any(|&(s2, e2, o2)| o2.entry != owner.entry && s2 <= s && e <= e2 && (s2, e2) != (s, e));
            // "Acme Corp" in full is a name hit, not the suffix-stripped
            // "Acme" found at the same place first.
            let better = valid
                .iter()
                .any(|&(_, _, o2)| o2.entry == owner.entry && o2.reason.confidence() > owner.reason.confidence());
            if inside_longer || better || seen.contains(&owner.entry) {
                continue;
            }
            let (a, b) = span(s, e);
            self.push(
                hits,
                seen,
                (owner.entry, owner.written),
                owner.reason,
                field,
                snippet(original, a, b),
            );
        }
    }

    /// Masked and truncated titles: entries the visible part can stand for.
    fn find_partial(&self, posting: &Posting, seen: &mut Vec<u32>, hits: &mut Vec<Hit>) {
        let title = posting.title.as_str();
        let mut candidates: Vec<(u32, u32, Reason)> = Vec::new();
        let owners_of = |t: u32| self.owners(t).iter().map(|o| (o.entry, o.written));
        // Only on the extractor's word: `MAIL** PUBLISHED` on Cl0p is markup, not a mask.
        if posting.masked {
            for t in self.masks.find(title, |t| self.term(t)) {
                candidates.extend(owners_of(t).map(|(e, w)| (e, w, Reason::Masked)));
            }
        }
        let shown_end = title.trim_end();
        let cut = shown_end.ends_with("...") || shown_end.ends_with('…');
        if posting.truncated || cut {
            for t in self.prefixes.find(title, |t| self.term(t)) {
                candidates.extend(owners_of(t).map(|(e, w)| (e, w, Reason::Truncated)));
            }
            // `denverhousing.o...`: a domain cut short.
            let shown = partial::shown(title).to_ascii_lowercase();
            if shown.len() >= partial::MIN_PREFIX && shown.contains('.') {
                let from = self.domains.partition_point(|d| d.0.as_ref() < shown.as_str());
                let cut_domains = self.domains[from..]
                    .iter()
                    .take_while(|d| d.0.starts_with(shown.as_str()))
                    .take(partial::MAX_CANDIDATES);
                candidates.extend(cut_domains.map(|&(_, e, w)| (e, w, Reason::Truncated)));
            }
        }
        for (e, w, reason) in candidates {
            if !seen.contains(&e) {
                self.push(hits, seen, (e, w), reason, Field::Title, snippet(title, 0, title.len()));
            }
        }
    }

    /// An exclude phrase of the entry covers the match at `norm[s..e]`.
    fn excluded_at(&self, entry: u32, norm: &str, s: usize, e: usize) -> bool {
        self.entries[entry as usize].exclude.iter().any(|x| {
            !x.is_empty()
                && norm.match_indices(x.as_str()).any(|(xs, _)| {
                    let xe = xs + x.len();
                    xs <= s
                        && xe >= e
                        && (xs == 0 || norm.as_bytes()[xs - 1] == b' ')
                        && (xe == norm.len() || norm.as_bytes()[xe] == b' ')
                })
        })
    }

    fn excluded(&self, entry: u32, normalized_match: &str) -> bool {
        self.entries[entry as usize]
            .exclude
            .iter()
            .any(|x| !x.is_empty() && normalized_match.contains(x.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::{EntryKind, WatchEntry};

    fn entry(id: i64, name: &str, aliases: &[&str], domains: &[&str], exclude: &[&str]) -> WatchEntry {
        WatchEntry {
            id,
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            domains: domains.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            ..WatchEntry::new(name, EntryKind::Supplier)
        }
    }

    fn posting(title: &str, body: &str) -> Posting {
        Posting {
            source: "t".into(),
            key: String::new(),
            title: title.into(),
            link: None,
            posted_at: None,
            body: body.into(),
            victim: String::new(),
            masked: false,
            truncated: false,
            facts: Default::default(),
        }
    }

    fn matcher() -> Matcher {
        Matcher::new(&[
            entry(1, "Accellion", &["Accellion FTA"], &["accellion.com"], &[]),
            entry(2, "Qualys, Inc.", &[], &["qualys.com"], &[]),
            entry(3, "Ace", &[], &[], &[]),
            entry(4, "Example Corp", &[], &[], &["Example Corpus"]),
            entry(5, "Bombardier Recreational Products", &["BRP"], &[], &[]),
            entry(6, "Zürich Versicherung", &[], &[], &[]),
        ])
    }

    fn ids(title: &str, body: &str) -> Vec<i64> {
        let mut v: Vec<i64> = matcher()
            .find(&posting(title, body))
            .iter()
            .map(|h| h.entry_id)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn names_aliases_suffixes_and_domains() {
        assert_eq!(ids("Accellion Inc.", ""), [1]);
        assert_eq!(ids("QUALYS", ""), [2]);
        assert_eq!(ids("QUALYS.COM FILES PART1 PUBLISHED", ""), [2]);
        assert_eq!(ids("files.accellion.com leaked", ""), [1]);
        assert_eq!(ids("ZURICH VERSICHERUNG AG", ""), [6]);
    }

    #[test]
    fn look_alikes_and_substrings_do_not_match() {
        assert!(ids("accellion.com.evil.io", "").is_empty());
        assert!(ids("notaccellion.com", "").is_empty());
        assert_eq!(ids("Acer Inc", "Grace Hospital"), Vec::<i64>::new());
        assert_eq!(ids("Bombardier", ""), Vec::<i64>::new());
        assert_eq!(ids("Example Corpus Christi", ""), Vec::<i64>::new());
        assert_eq!(ids("Example Corp", ""), [4]);
    }

    #[test]
    fn title_hit_wins_over_body_and_snippet_marks_original_text() {
        let hits = matcher().find(&posting("Data of Accellion, Inc. published", "Accellion again"));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].field, Field::Title);
        assert_eq!(hits[0].reason, Reason::Name);
        assert_eq!(hits[0].snippet, "Data of [[Accellion]], Inc. published");
        let hits = matcher().find(&posting("Breach at Accellion.", ""));
        assert_eq!(hits[0].snippet, "Breach at [[Accellion]].");
        let hits = matcher().find(&posting(
            "Some hospital",
            "hacked through their IT supplier Accellion FTA appliance",
        ));
        assert_eq!(hits[0].field, Field::Body);
        assert!(hits[0].snippet.contains("[[Accellion"), "{}", hits[0].snippet);
    }
}
