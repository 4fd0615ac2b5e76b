//! The matcher: every watch term against a posting, all at once.
//!
//! Terms and posting text are both normalized ([`crate::text::normalize`]),
//! then one Aho-Corasick automaton finds every term occurrence; an occurrence
//! counts only on whole words. Domain-shaped strings (`files.accellion.com`)
//! are cut out of the word text and matched as domains through the public
//! suffix list ([`super::domain`]), so a look-alike such as
//! `accellion.com.evil.io` never matches "Accellion" word by word. Names too
//! common to match freely ([`super::noise`]) count only in titles, as
//! written; masked and truncated titles go through [`super::partial`].

use std::cell::RefCell;
use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::WatchEntry;
use super::domain::{self, FoundDomain};
use super::noise;
use super::partial::{Masks, Prefixes};
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
    /// A domain whose registrable label is the name run together (`kumhotire.com`).
    Label,
    /// A title truncated by the site that starts like the name.
    Truncated,
    /// A title masked by the site that fits the name (`Ac*****on`).
    Masked,
    /// A posting on the entry's own disclosure channel (`about` in the config).
    About,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Name => "name",
            Reason::Alias => "alias",
            Reason::Domain => "domain",
            Reason::Suffix => "suffix",
            Reason::Label => "label",
            Reason::Truncated => "truncated",
            Reason::Masked => "masked",
            Reason::About => "about",
        }
    }

    /// How sure a hit of this kind in the title is, in percent.
    fn confidence(self) -> u8 {
        match self {
            Reason::Name | Reason::Domain | Reason::About => 100,
            Reason::Alias => 95,
            Reason::Suffix | Reason::Label => 90,
            Reason::Truncated => 60,
            Reason::Masked => 50,
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

/// Confidence, in percent, of a hit of `reason` found in `field`: the title
/// names the victim; a body may only mention a name in passing.
pub fn confidence(reason: Reason, field: Field) -> u8 {
    let base = reason.confidence();
    match field {
        Field::Title => base,
        Field::Link => base - 10,
        Field::Body => (u16::from(base) * 3 / 4) as u8,
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
    /// How sure the match is, 0–100: see [`confidence`].
    pub confidence: u8,
}

/// One way an entry can be named: the automaton pattern stands for it.
struct Term {
    entry: u32,
    /// Index into `Matcher::written`.
    written: u32,
    reason: Reason,
    /// For a noisy term: its letters as the entry writes them. It then
    /// matches only in titles, with these exact capitals.
    strict: Option<Box<str>>,
}

struct EntryInfo {
    id: i64,
    name: String,
    exclude: Vec<String>,
}

/// Per-thread buffers, so matching a posting allocates nothing on the usual path.
#[derive(Default)]
struct Scratch {
    norm: String,
    offsets: Vec<u32>,
    blanked: String,
    domains: Vec<FoundDomain>,
    spans: Vec<(usize, usize, u32)>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// All watch terms, compiled once per run.
pub struct Matcher {
    entries: Vec<EntryInfo>,
    /// Names and aliases as the entries write them.
    written: Vec<Box<str>>,
    automaton: Option<AhoCorasick>,
    /// For each automaton pattern, the terms (of possibly several entries) it stands for.
    terms: Vec<Vec<Term>>,
    /// Each automaton pattern, normalized (for the oracle test and `patterns`).
    patterns: Vec<Box<str>>,
    /// Domain (lowercase) → (entry, written index) of the entries that list it.
    domains: HashMap<Box<str>, Vec<(u32, u32)>>,
    /// Name run together (`kumhotire`, `kumho-tire`) → terms, for registrable labels.
    labels: HashMap<Box<str>, Vec<Term>>,
    /// Term index for the partial indexes: (entry, written, reason of the full term).
    partial_terms: Vec<(u32, u32)>,
    masks: Masks,
    prefixes: Prefixes,
    /// Normalized name → entry, for `about`.
    by_name: HashMap<String, u32>,
}

/// The term with its trailing legal suffixes taken off one by one, as long
/// as a word remains: "bns group ltd" → ["bns group", "bns"].
fn legal_stems(normalized: &str) -> Vec<&str> {
    let mut stems = Vec::new();
    let mut s = normalized;
    while let Some(rest) = LEGAL_SUFFIXES.iter().find_map(|suffix| {
        s.strip_suffix(suffix)
            .and_then(|r| r.strip_suffix(' '))
            .filter(|r| !r.is_empty())
    }) {
        // "gmbh and co kg": a connective left before a legal form goes with it.
        s = rest.strip_suffix(" and").filter(|r| !r.is_empty()).unwrap_or(rest);
        stems.push(s);
    }
    stems
}

/// The letters and digits of the first `count` alphanumeric characters of
/// `written`: "Target Corporation" with 6 → "Target".
fn leading_letters(written: &str, count: usize) -> Box<str> {
    written
        .chars()
        .filter(|c| c.is_alphanumeric())
        .take(count)
        .collect::<String>()
        .into()
}

/// Whether the original text of a strict match spells the term's letters exactly.
fn spelled_as(original: &str, letters: &str) -> bool {
    original.chars().filter(|c| c.is_alphanumeric()).eq(letters.chars())
}

impl Matcher {
    pub fn new(entries: &[WatchEntry]) -> Matcher {
        let mut m = Matcher {
            entries: Vec::with_capacity(entries.len()),
            written: Vec::new(),
            automaton: None,
            terms: Vec::new(),
            patterns: Vec::new(),
            domains: HashMap::new(),
            labels: HashMap::new(),
            partial_terms: Vec::new(),
            masks: Masks::default(),
            prefixes: Prefixes::default(),
            by_name: HashMap::new(),
        };
        let mut index: HashMap<Box<str>, u32> = HashMap::new();
        for (e, entry) in entries.iter().enumerate() {
            let e = e as u32;
            m.entries.push(EntryInfo {
                id: entry.id,
                name: entry.name.clone(),
                exclude: entry.exclude.iter().map(|x| text::normalize(x)).collect(),
            });
            m.by_name.insert(text::normalize(&entry.name), e);
            let named =
                std::iter::once((&entry.name, Reason::Name)).chain(entry.aliases.iter().map(|a| (a, Reason::Alias)));
            for (written, reason) in named {
                let w = m.written.len() as u32;
                m.written.push(written.as_str().into());
                if let Some(host) = domain::as_domain(written) {
                    m.domains.entry(host.into()).or_default().push((e, w));
                }
                let n = text::normalize(written);
                let stems = legal_stems(&n);
                for (form, reason) in
                    std::iter::once((n.as_str(), reason)).chain(stems.into_iter().map(|s| (s, Reason::Suffix)))
                {
                    if form.is_empty() {
                        continue;
                    }
                    let strict =
                        noise::noisy(form).map(|_| leading_letters(written, form.replace(' ', "").chars().count()));
                    let term = || Term {
                        entry: e,
                        written: w,
                        reason,
                        strict: strict.clone(),
                    };
                    let p = *index.entry(form.into()).or_insert_with(|| {
                        m.patterns.push(form.into());
                        m.terms.push(Vec::new());
                        (m.patterns.len() - 1) as u32
                    });
                    if !m.terms[p as usize].iter().any(|t| t.entry == e) {
                        m.terms[p as usize].push(term());
                    }
                    let together = form.replace(' ', "");
                    let hyphened = form.replace(' ', "-");
                    for label in [together.clone(), hyphened] {
                        let owners = m.labels.entry(label.into()).or_default();
                        if !owners.iter().any(|t| t.entry == e) {
                            owners.push(Term {
                                reason: Reason::Label,
                                ..term()
                            });
                        }
                    }
                    let t = m.partial_terms.len() as u32;
                    m.partial_terms.push((e, w));
                    m.masks.add(&together, t);
                    m.prefixes.add(form, t);
                }
            }
            for d in &entry.domains {
                let w = m.written.len() as u32;
                m.written.push(d.as_str().into());
                let lower = d.to_ascii_lowercase();
                let t = m.partial_terms.len() as u32;
                m.partial_terms.push((e, w));
                m.prefixes.add(&lower, t);
                m.domains.entry(lower.into()).or_default().push((e, w));
            }
        }
        m.prefixes.finish();
        m.automaton = (!m.patterns.is_empty()).then(|| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(m.patterns.iter().map(|p| p.as_bytes()))
                .expect("watch terms compile")
        });
        m
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every normalized pattern the automaton searches for.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|p| p.as_ref())
    }

    /// Every whole-word occurrence of a pattern in normalized text, as
    /// (start, end, pattern): what the automaton finds, before the rules
    /// about noise, exclusions and overlaps. The oracle test compares it with
    /// a search for each pattern on its own.
    pub fn occurrences(&self, normalized: &str) -> Vec<(usize, usize, String)> {
        let mut spans = Vec::new();
        self.word_spans(normalized, &mut spans);
        spans
            .into_iter()
            .map(|(s, e, p)| (s, e, self.patterns[p as usize].to_string()))
            .collect()
    }

    fn word_spans(&self, norm: &str, spans: &mut Vec<(usize, usize, u32)>) {
        spans.clear();
        let Some(ac) = &self.automaton else { return };
        let bytes = norm.as_bytes();
        for m in ac.find_overlapping_iter(norm) {
            let (s, e) = (m.start(), m.end());
            if (s == 0 || bytes[s - 1] == b' ') && (e == bytes.len() || bytes[e] == b' ') {
                spans.push((s, e, m.pattern().as_u32()));
            }
        }
    }

    /// Every entry the posting names, at most once each, the best place first
    /// (title before body before link; whole names before partial ones).
    pub fn find(&self, posting: &Posting) -> Vec<Hit> {
        SCRATCH.with_borrow_mut(|scratch| self.find_with(posting, scratch))
    }

    fn find_with(&self, posting: &Posting, s: &mut Scratch) -> Vec<Hit> {
        let mut hits: Vec<Hit> = Vec::new();
        let mut seen: Vec<u32> = Vec::new();
        if self.entries.is_empty() {
            return hits;
        }
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
            self.word_spans(&s.norm, &mut s.spans);
            if !s.spans.is_empty() {
                self.find_words(field, original, &s.norm, &s.offsets, &s.spans, &mut seen, &mut hits);
            }
            if field == Field::Title {
                self.find_partial(posting, &mut seen, &mut hits);
            }
        }
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
            term: self.written[written as usize].to_string(),
            reason,
            field,
            snippet,
            confidence: confidence(reason, field),
        });
    }

    fn find_domains(
        &self,
        field: Field,
        original: &str,
        found: &[FoundDomain],
        seen: &mut Vec<u32>,
        hits: &mut Vec<Hit>,
    ) {
        for d in found {
            let listed = d
                .candidates()
                .filter_map(|c| self.domains.get(c))
                .flatten()
                .map(|&(e, w)| (e, w, Reason::Domain, None));
            let named = self
                .labels
                .get(d.label())
                .into_iter()
                .flatten()
                .map(|t| (t.entry, t.written, Reason::Label, t.strict.as_ref()));
            for (e, w, reason, strict) in listed.chain(named).collect::<Vec<_>>() {
                // A noisy name as a domain label (`target.com`) counts in titles only.
                if seen.contains(&e) || (strict.is_some() && field != Field::Title) {
                    continue;
                }
                if self.excluded(e, &text::normalize(&d.host)) {
                    continue;
                }
                self.push(hits, seen, (e, w), reason, field, snippet(original, d.start, d.end));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn find_words(
        &self,
        field: Field,
        original: &str,
        norm: &str,
        offsets: &[u32],
        spans: &[(usize, usize, u32)],
        seen: &mut Vec<u32>,
        hits: &mut Vec<Hit>,
    ) {
        // The original text of norm[s..e]: from the character its first byte
        // came from to the end of the one its last byte came from.
        let span = |s: usize, e: usize| {
            let start = offsets[s] as usize;
            let last = offsets[e - 1] as usize;
            (start, last + original[last..].chars().next().map_or(0, char::len_utf8))
        };
        let mut valid: Vec<(usize, usize, &Term)> = Vec::new();
        for &(s, e, p) in spans {
            for term in &self.terms[p as usize] {
                if let Some(letters) = &term.strict {
                    let (a, b) = span(s, e);
                    if field != Field::Title || !spelled_as(&original[a..b], letters) {
                        continue;
                    }
                }
                if self.excluded_at(term.entry, norm, s, e) {
                    continue;
                }
                valid.push((s, e, term));
            }
        }
        for &(s, e, term) in &valid {
            // "Bombardier" inside "Bombardier Recreational Products" belongs
            // to the longer entry when both are watched.
            let inside_longer = valid
                .iter()
                .any(|&(s2, e2, t2)| t2.entry != term.entry && s2 <= s && e <= e2 && (s2, e2) != (s, e));
            if inside_longer || seen.contains(&term.entry) {
                continue;
            }
            let (a, b) = span(s, e);
            self.push(
                hits,
                seen,
                (term.entry, term.written),
                term.reason,
                field,
                snippet(original, a, b),
            );
        }
    }

    /// Masked and truncated titles: entries the visible part can stand for.
    fn find_partial(&self, posting: &Posting, seen: &mut Vec<u32>, hits: &mut Vec<Hit>) {
        let title = posting.title.as_str();
        let mut candidates: Vec<(u32, Reason)> = Vec::new();
        if posting.masked || title.contains("**") {
            candidates.extend(self.masks.find(title).into_iter().map(|t| (t, Reason::Masked)));
        }
        let cut = title.trim_end().ends_with("...") || title.trim_end().ends_with('…');
        if posting.truncated || cut {
            candidates.extend(self.prefixes.find(title).into_iter().map(|t| (t, Reason::Truncated)));
        }
        for (t, reason) in candidates {
            let (e, w) = self.partial_terms[t as usize];
            if !seen.contains(&e) {
                self.push(hits, seen, (e, w), reason, Field::Title, snippet(title, 0, title.len()));
            }
        }
    }

    /// The names in a source's `about` that are not on the watch list.
    pub fn unknown_names(&self, names: &[String]) -> Vec<String> {
        names
            .iter()
            .filter(|n| !self.by_name.contains_key(&text::normalize(n)))
            .cloned()
            .collect()
    }

    /// Hits for the entries a disclosure channel is `about`: every new posting
    /// on it names them, whatever its text says. Unknown names are skipped
    /// (see [`Matcher::unknown_names`]).
    pub fn about(&self, names: &[String], posting: &Posting) -> Vec<Hit> {
        names
            .iter()
            .filter_map(|n| self.by_name.get(&text::normalize(n)))
            .map(|&e| {
                let entry = &self.entries[e as usize];
                Hit {
                    entry_id: entry.id,
                    term: entry.name.clone(),
                    reason: Reason::About,
                    field: Field::Title,
                    snippet: format!("{} published: [[{}]]", entry.name, text::truncate(&posting.title, 200)),
                    confidence: confidence(Reason::About, Field::Title),
                }
            })
            .collect()
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

/// Why an entry's name or alias matches only in titles, if one does: shown
/// by `watch list` so the analyst sees why a posting did not alert.
pub fn noise_flag(entry: &WatchEntry) -> Option<String> {
    let reasons: Vec<String> = std::iter::once(&entry.name)
        .chain(&entry.aliases)
        .filter_map(|w| noise::noisy(&text::normalize(w)).map(|why| format!("`{w}`: {why}")))
        .collect();
    (!reasons.is_empty()).then(|| format!("{}: title only, as written", reasons.join("; ")))
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
        assert_eq!(legal_stems("qualys inc"), ["qualys"]);
        assert_eq!(legal_stems("bns group ltd"), ["bns group", "bns"]);
        assert_eq!(
            legal_stems("kupp gmbh and co kg"),
            ["kupp gmbh and co", "kupp gmbh", "kupp"]
        );
        assert!(legal_stems("ltd").is_empty());
        assert!(legal_stems("acme").is_empty());
    }
}
