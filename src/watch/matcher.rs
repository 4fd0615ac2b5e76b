//! The matcher: every watch term against a posting, all at once.
//!
//! Terms and posting text are both normalized ([`crate::text::normalize`]),
//! then one Aho-Corasick automaton finds every term occurrence; an occurrence
//! counts only on whole words. Domain-shaped strings (`files.accellion.com`)
//! are cut out of the word text and matched as domains, so a look-alike such
//! as `accellion.com.evil.io` never matches "Accellion" word by word.

use std::collections::HashMap;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;

use super::WatchEntry;
use crate::extract::Posting;
use crate::text;

/// Legal-form suffixes, normalized, that may follow a name or not:
/// "Accellion Inc." is Accellion, and the entry "Qualys, Inc." is found in "QUALYS".
const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "ltd",
    "limited",
    "llc",
    "l l c",
    "llp",
    "lp",
    "plc",
    "gmbh",
    "ag",
    "kg",
    "sa",
    "s a",
    "sas",
    "s a s",
    "sarl",
    "spa",
    "s p a",
    "srl",
    "s r l",
    "bv",
    "b v",
    "nv",
    "n v",
    "pty",
    "kk",
    "ab",
    "oy",
    "oyj",
    "as",
    "a s",
    "ltda",
    "sl",
    "s l",
    "se",
    "group",
];

/// Most bytes of posting text shown on each side of a match.
const SNIPPET_CONTEXT: usize = 60;

static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,23}\b").expect("domain regex")
});

/// Why a term matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// The entry's name, word for word.
    Name,
    /// One of its aliases.
    Alias,
    /// One of its domains, or a subdomain of one.
    Domain,
    /// The name or an alias without its legal suffix ("Qualys, Inc." → "Qualys").
    Suffix,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Name => "name",
            Reason::Alias => "alias",
            Reason::Domain => "domain",
            Reason::Suffix => "suffix",
        }
    }
}

/// Where in the posting the term was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Title,
    Body,
    Link,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Body => "body",
            Field::Link => "link",
        }
    }
}

/// A watch entry found in a posting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub entry_id: i64,
    /// The watch term as the entry writes it.
    pub term: String,
    pub reason: Reason,
    pub field: Field,
    /// Posting text around the match, the match wrapped in `[[` `]]`.
    pub snippet: String,
}

struct Term {
    entry: usize,
    display: String,
    reason: Reason,
}

/// All watch terms, compiled once per run.
pub struct Matcher {
    entries: Vec<(i64, Vec<String>)>, // id, normalized exclude phrases
    automaton: Option<AhoCorasick>,
    /// For each automaton pattern, the terms (of possibly several entries) it stands for.
    terms: Vec<Vec<Term>>,
    /// Registrable domain or subdomain → (entry index, domain as written).
    domains: HashMap<String, Vec<(usize, String)>>,
}

/// The term without trailing legal suffixes, if it had any and a word remains.
fn strip_legal_suffix(normalized: &str) -> Option<&str> {
    let mut s = normalized;
    loop {
        let before = s;
        for suffix in LEGAL_SUFFIXES {
            if let Some(rest) = s.strip_suffix(suffix).and_then(|r| r.strip_suffix(' '))
                && !rest.is_empty()
            {
                s = rest;
            }
        }
        if s == before {
            break;
        }
    }
    (s != normalized).then_some(s)
}

impl Matcher {
    pub fn new(entries: &[WatchEntry]) -> Matcher {
        let mut patterns: Vec<String> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut terms: Vec<Vec<Term>> = Vec::new();
        let mut domains: HashMap<String, Vec<(usize, String)>> = HashMap::new();
        let mut add = |pattern: &str, term: Term| {
            if pattern.is_empty() {
                return;
            }
            let i = *index.entry(pattern.to_owned()).or_insert_with(|| {
                patterns.push(pattern.to_owned());
                terms.push(Vec::new());
                patterns.len() - 1
            });
            if !terms[i].iter().any(|t| t.entry == term.entry) {
                terms[i].push(term);
            }
        };
        for (e, entry) in entries.iter().enumerate() {
            let named =
                std::iter::once((&entry.name, Reason::Name)).chain(entry.aliases.iter().map(|a| (a, Reason::Alias)));
            for (written, reason) in named {
                let n = text::normalize(written);
                add(
                    &n,
                    Term {
                        entry: e,
                        display: written.clone(),
                        reason,
                    },
                );
                if let Some(stripped) = strip_legal_suffix(&n) {
                    add(
                        stripped,
                        Term {
                            entry: e,
                            display: written.clone(),
                            reason: Reason::Suffix,
                        },
                    );
                }
            }
            for d in &entry.domains {
                domains.entry(d.to_ascii_lowercase()).or_default().push((e, d.clone()));
            }
        }
        let automaton = (!patterns.is_empty()).then(|| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .expect("watch terms compile")
        });
        Matcher {
            entries: entries
                .iter()
                .map(|e| (e.id, e.exclude.iter().map(|x| text::normalize(x)).collect()))
                .collect(),
            automaton,
            terms,
            domains,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry the posting names, at most once each, the best place first
    /// (title before body before link).
    pub fn find(&self, posting: &Posting) -> Vec<Hit> {
        let mut hits: Vec<Hit> = Vec::new();
        let mut seen = vec![false; self.entries.len()];
        let fields = [
            (Field::Title, posting.title.as_str()),
            (Field::Body, posting.body.as_str()),
            (Field::Link, posting.link.as_deref().unwrap_or("")),
        ];
        for (field, original) in fields {
            if original.is_empty() {
                continue;
            }
            self.find_domains(field, original, &mut seen, &mut hits);
            if field != Field::Link {
                self.find_words(field, original, &mut seen, &mut hits);
            }
        }
        hits
    }

    fn find_domains(&self, field: Field, original: &str, seen: &mut [bool], hits: &mut Vec<Hit>) {
        if self.domains.is_empty() {
            return;
        }
        for m in DOMAIN.find_iter(original) {
            let found = m.as_str().to_ascii_lowercase();
            // files.accellion.com → files.accellion.com, accellion.com, com
            let mut candidate = found.as_str();
            loop {
                if let Some(owners) = self.domains.get(candidate) {
                    for (e, written) in owners {
                        if !seen[*e] && !self.excluded(*e, &text::normalize(m.as_str())) {
                            seen[*e] = true;
                            hits.push(Hit {
                                entry_id: self.entries[*e].0,
                                term: written.clone(),
                                reason: Reason::Domain,
                                field,
                                snippet: snippet(original, m.start(), m.end()),
                            });
                        }
                    }
                }
                match candidate.split_once('.') {
                    Some((_, rest)) if rest.contains('.') => candidate = rest,
                    _ => break,
                }
            }
        }
    }

    fn find_words(&self, field: Field, original: &str, seen: &mut [bool], hits: &mut Vec<Hit>) {
        let Some(ac) = &self.automaton else { return };
        // Domains are matched as domains only: blank them out of the word text.
        let masked;
        let text = if DOMAIN.is_match(original) {
            masked = DOMAIN.replace_all(original, |c: &regex::Captures| " ".repeat(c[0].len()));
            masked.as_ref()
        } else {
            original
        };
        let (norm, offsets) = text::normalize_with_offsets(text);
        let bytes = norm.as_bytes();
        for m in ac.find_overlapping_iter(&norm) {
            let (s, e) = (m.start(), m.end());
            let whole_word = (s == 0 || bytes[s - 1] == b' ') && (e == bytes.len() || bytes[e] == b' ');
            if !whole_word {
                continue;
            }
            for term in &self.terms[m.pattern().as_usize()] {
                if seen[term.entry] || self.excluded_at(term.entry, &norm, s, e) {
                    continue;
                }
                seen[term.entry] = true;
                let start = offsets[s] as usize;
                // The match ends with the input character its last byte came from.
                let last = offsets[e - 1] as usize;
                let end = last + original[last..].chars().next().map_or(0, char::len_utf8);
                hits.push(Hit {
                    entry_id: self.entries[term.entry].0,
                    term: term.display.clone(),
                    reason: term.reason,
                    field,
                    snippet: snippet(original, start, end),
                });
            }
        }
    }

    /// An exclude phrase of the entry covers the match at `norm[s..e]`.
    fn excluded_at(&self, entry: usize, norm: &str, s: usize, e: usize) -> bool {
        self.entries[entry].1.iter().any(|x| {
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

    fn excluded(&self, entry: usize, normalized_match: &str) -> bool {
        self.entries[entry]
            .1
            .iter()
            .any(|x| !x.is_empty() && normalized_match.contains(x.as_str()))
    }
}

/// Up to [`SNIPPET_CONTEXT`] bytes each side of `original[start..end]`, cut at
/// word breaks, the match wrapped in `[[ ]]`.
fn snippet(original: &str, start: usize, end: usize) -> String {
    let floor = |mut i: usize| {
        while !original.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let ceil = |mut i: usize| {
        while !original.is_char_boundary(i) {
            i += 1;
        }
        i
    };
    let from = floor(start.saturating_sub(SNIPPET_CONTEXT));
    let to = ceil((end + SNIPPET_CONTEXT).min(original.len()));
    let from = if from > 0 {
        original[from..start].find(' ').map_or(from, |i| from + i + 1)
    } else {
        0
    };
    let to = if to < original.len() {
        original[end..to].rfind(' ').map_or(to, |i| end + i)
    } else {
        to
    };
    // Brackets in the posting itself must not look like our marks.
    let part = |s: &str| s.replace("[[", "[ [").replace("]]", "] ]");
    format!(
        "{}{}[[{}]]{}{}",
        if from > 0 { "…" } else { "" },
        part(&original[from..start]),
        part(&original[start..end]),
        part(&original[end..to]),
        if to < original.len() { "…" } else { "" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::EntryKind;

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

    #[test]
    fn suffix_stripping_keeps_a_word() {
        assert_eq!(strip_legal_suffix("qualys inc"), Some("qualys"));
        assert_eq!(strip_legal_suffix("acme co ltd"), Some("acme"));
        assert_eq!(strip_legal_suffix("ltd"), None);
        assert_eq!(strip_legal_suffix("acme"), None);
    }
}
