//! The matcher: every watch term against a posting, all at once.
//!
//! Terms and posting text are both normalized ([`crate::text::normalize`]),
//! then one word index ([`super::index`]) finds every whole-word term
//! occurrence in a single pass. Domain-shaped strings (`files.accellion.com`)
//! are cut out of the word text and matched as domains through the public
//! suffix list ([`super::domain`]), so a look-alike such as
//! `accellion.com.evil.io` never matches "Accellion" word by word. Names too
//! common to match freely ([`super::noise`]) count only in titles, as
//! written; masked and truncated titles go through [`super::partial`].

use std::cell::RefCell;
use std::collections::HashMap;

use super::WatchEntry;
use super::domain::{self, FoundDomain};
use super::index::{FxBuild, WordIndex};
use super::noise;
use super::partial::{self, Masks, Prefixes};
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

/// In `Matcher::domain_at`: two distinct domains share this hash, so the
/// look-up falls back to the binary search.
const COLLIDED: u32 = u32::MAX;

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

/// One way an entry can be named: a normalized term stands for it.
#[derive(Clone, Copy)]
struct Term {
    entry: u32,
    /// Index into `Matcher::written`.
    written: u32,
    reason: Reason,
}

struct EntryInfo {
    id: i64,
    /// Index into `Matcher::written` of its name.
    name: u32,
    exclude: Vec<String>,
}

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
    words: Vec<(u32, u32, u32)>,
    spans: Vec<(usize, usize, u32)>,
    valid: Vec<(usize, usize, Term)>,
    seen: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// All watch terms, compiled once per run.
pub struct Matcher {
    entries: Vec<EntryInfo>,
    /// Names, aliases and domains as the entries write them.
    written: Vec<Box<str>>,
    /// Normalized terms → term number.
    index: WordIndex,
    /// Term texts, back to back; term `t` is `text[ends[t-1]..ends[t]]`.
    text: String,
    ends: Vec<u32>,
    /// Per term: whether it is too noisy to match freely ([`noise::noisy`]),
    /// decided once at build rather than on every occurrence.
    noisy: Vec<bool>,
    /// Who each term stands for: `owners[starts[t]..starts[t+1]]`.
    owners: Vec<Term>,
    starts: Vec<u32>,
    /// Domains (lowercase) the entries list or are named as, sorted:
    /// (domain, entry, written).
    domains: Vec<(Box<str>, u32, u32)>,
    /// Hash of each term run together (`kumhotire`) or hyphened
    /// (`kumho-tire`), sorted, with the term: for registrable labels.
    labels: Vec<(u64, u32)>,
    /// Where the run of each domain starts in `domains`, by the domain's
    /// hash ([`COLLIDED`] when two domains share one): every domain-shaped
    /// string of a posting probes several candidate hosts, and a binary
    /// search over 100 000 domains per candidate was most of the matching time.
    domain_at: HashMap<u64, u32, FxBuild>,
    /// `labels` bucketed by the top bits of the hash, for the same reason:
    /// bucket `b` is `labels[label_buckets[b]..label_buckets[b + 1]]`.
    label_buckets: Vec<u32>,
    label_shift: u32,
    masks: Masks,
    prefixes: Prefixes,
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
fn leading_letters(written: &str, count: usize) -> impl Iterator<Item = char> + '_ {
    written.chars().filter(|c| c.is_alphanumeric()).take(count)
}

/// Whether the original text of a strict match spells the term's letters exactly.
fn spelled_as(original: &str, written: &str, count: usize) -> bool {
    original
        .chars()
        .filter(|c| c.is_alphanumeric())
        .eq(leading_letters(written, count))
}

/// The label forms of a normalized term: run together, and hyphened.
fn label_forms(term: &str) -> impl Iterator<Item = String> + '_ {
    let together = term.replace(' ', "");
    let hyphened = term.contains(' ').then(|| term.replace(' ', "-"));
    std::iter::once(together).chain(hyphened)
}

/// The hash of a label or domain, for the look-up tables.
fn str_hash(text: &str) -> u64 {
    use std::hash::BuildHasher;
    FxBuild::default().hash_one(text)
}

impl Matcher {
    pub fn new(entries: &[WatchEntry]) -> Matcher {
        let mut m = Matcher {
            entries: Vec::with_capacity(entries.len()),
            written: Vec::with_capacity(entries.len() * 2),
            index: WordIndex::new(),
            text: String::new(),
            ends: Vec::new(),
            noisy: Vec::new(),
            owners: Vec::new(),
            starts: Vec::new(),
            domains: Vec::new(),
            labels: Vec::new(),
            domain_at: HashMap::default(),
            label_buckets: Vec::new(),
            label_shift: 63,
            masks: Masks::default(),
            prefixes: Prefixes::default(),
        };
        // (term, owner) in the order found: name before alias before stems.
        let mut owned: Vec<(u32, Term)> = Vec::with_capacity(entries.len() * 2);
        for (e, entry) in entries.iter().enumerate() {
            let e = e as u32;
            m.entries.push(EntryInfo {
                id: entry.id,
                name: m.written.len() as u32,
                exclude: entry.exclude.iter().map(|x| text::normalize(x)).collect(),
            });
            let named =
                std::iter::once((&entry.name, Reason::Name)).chain(entry.aliases.iter().map(|a| (a, Reason::Alias)));
            for (written, reason) in named {
                let w = m.written.len() as u32;
                m.written.push(written.as_str().into());
                if let Some(host) = domain::as_domain(written) {
                    m.domains.push((host.into(), e, w));
                }
                let n = text::normalize(written);
                let stems = legal_stems(&n);
                let forms = std::iter::once((n.as_str(), reason)).chain(stems.into_iter().map(|s| (s, Reason::Suffix)));
                for (form, reason) in forms {
                    if form.is_empty() {
                        continue;
                    }
                    let t = m.index.insert(form);
                    if t as usize == m.ends.len() {
                        m.text.push_str(form);
                        m.ends.push(m.text.len() as u32);
                        m.noisy.push(noise::noisy(form).is_some());
                        for label in label_forms(form) {
                            m.labels.push((str_hash(&label), t));
                        }
                        m.masks.add(form, t);
                        m.prefixes.add(t);
                    }
                    owned.push((
                        t,
                        Term {
                            entry: e,
                            written: w,
                            reason,
                        },
                    ));
                }
            }
            for d in &entry.domains {
                let w = m.written.len() as u32;
                m.written.push(d.as_str().into());
                m.domains.push((d.to_ascii_lowercase().into(), e, w));
            }
        }
        // Group owners by term, the first way each entry was named winning.
        owned.sort_by_key(|&(t, o)| (t, o.entry));
        owned.dedup_by_key(|&mut (t, o)| (t, o.entry));
        m.starts = Vec::with_capacity(m.ends.len() + 1);
        m.owners = Vec::with_capacity(owned.len());
        for (t, o) in owned {
            while m.starts.len() <= t as usize {
                m.starts.push(m.owners.len() as u32);
            }
            m.owners.push(o);
        }
        while m.starts.len() <= m.ends.len() {
            m.starts.push(m.owners.len() as u32);
        }
        m.domains.sort_unstable();
        m.domains.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        m.labels.sort_unstable();
        for (i, d) in m.domains.iter().enumerate() {
            if i == 0 || m.domains[i - 1].0 != d.0 {
                m.domain_at
                    .entry(str_hash(&d.0))
                    .and_modify(|start| *start = COLLIDED)
                    .or_insert(i as u32);
            }
        }
        // About one label per bucket.
        let bits = (usize::BITS - m.labels.len().leading_zeros()).clamp(1, 20);
        m.label_shift = 64 - bits;
        let mut at = 0;
        for b in 0..=(1usize << bits) {
            while at < m.labels.len() && ((m.labels[at].0 >> m.label_shift) as usize) < b {
                at += 1;
            }
            m.label_buckets.push(at as u32);
        }
        let (text, ends) = (&m.text, &m.ends);
        m.prefixes.finish(|t| term_text(text, ends, t));
        m.written.shrink_to_fit();
        m
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn term(&self, t: u32) -> &str {
        term_text(&self.text, &self.ends, t)
    }

    fn owners(&self, t: u32) -> &[Term] {
        &self.owners[self.starts[t as usize] as usize..self.starts[t as usize + 1] as usize]
    }

    /// Every normalized term the index searches for.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len() as u32).map(|t| self.term(t))
    }

    /// Every whole-word occurrence of a term in normalized text, as
    /// (start, end, term): what the index finds, before the rules about
    /// noise, exclusions and overlaps. The oracle test compares it with a
    /// search for each term on its own.
    pub fn occurrences(&self, normalized: &str) -> Vec<(usize, usize, String)> {
        let (mut words, mut spans) = (Vec::new(), Vec::new());
        self.index.find(normalized, &mut words, &mut spans);
        spans
            .into_iter()
            .map(|(s, e, t)| (s, e, self.term(t).to_owned()))
            .collect()
    }

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
            term: self.written[written as usize].to_string(),
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

    fn find_domains(
        &self,
        field: Field,
        original: &str,
        found: &[FoundDomain],
        seen: &mut Vec<u32>,
        hits: &mut Vec<Hit>,
    ) {
        for d in found {
            let mut matched: Vec<(u32, u32, Reason, bool)> = Vec::new();
            for candidate in d.candidates() {
                matched.extend(
                    self.domain_owners(candidate)
                        .iter()
                        .map(|&(_, e, w)| (e, w, Reason::Domain, false)),
                );
            }
            let label = d.label();
            let hash = str_hash(label);
            let b = (hash >> self.label_shift) as usize;
            let bucket = &self.labels[self.label_buckets[b] as usize..self.label_buckets[b + 1] as usize];
            let from = bucket.partition_point(|l| l.0 < hash);
            for &(_, t) in bucket[from..].iter().take_while(|l| l.0 == hash) {
                let term = self.term(t);
                if !label_forms(term).any(|f| f == label) {
                    continue;
                }
                let noisy = self.noisy[t as usize];
                matched.extend(
                    self.owners(t)
                        .iter()
                        .map(|o| (o.entry, o.written, Reason::Label, noisy)),
                );
            }
            for (e, w, reason, noisy) in matched {
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
            let term = self.term(t);
            let noisy = self.noisy[t as usize];
            for &owner in self.owners(t) {
                // A noisy term counts only in titles, spelled as the entry writes it.
                if noisy {
                    let (a, b) = span(s, e);
                    let letters = term.chars().filter(|c| *c != ' ').count();
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
        let cut = title.trim_end().ends_with("...") || title.trim_end().ends_with('…');
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

    /// The entry named `name` (compared normalized), if there is one.
    fn entry_named(&self, name: &str) -> Option<u32> {
        let t = self.index.get(&text::normalize(name))?;
        self.owners(t)
            .iter()
            .find(|o| o.reason == Reason::Name)
            .map(|o| o.entry)
    }

    /// The names in a source's `about` that are not on the watch list.
    pub fn unknown_names(&self, names: &[String]) -> Vec<String> {
        names
            .iter()
            .filter(|n| self.entry_named(n).is_none())
            .cloned()
            .collect()
    }

    /// Hits for the entries a disclosure channel is `about`: every new posting
    /// on it names them, whatever its text says. Unknown names are skipped
    /// (see [`Matcher::unknown_names`]).
    pub fn about(&self, names: &[String], posting: &Posting) -> Vec<Hit> {
        names
            .iter()
            .filter_map(|n| self.entry_named(n))
            .map(|e| {
                let entry = &self.entries[e as usize];
                let name = &self.written[entry.name as usize];
                Hit {
                    entry_id: entry.id,
                    term: name.to_string(),
                    reason: Reason::About,
                    field: Field::Title,
                    snippet: format!("{name} published: [[{}]]", text::truncate(&posting.title, 200)),
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

/// Term `t` of the texts stored back to back.
fn term_text<'a>(text: &'a str, ends: &[u32], t: u32) -> &'a str {
    let start = if t == 0 { 0 } else { ends[t as usize - 1] as usize };
    &text[start..ends[t as usize] as usize]
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
    let mut out = String::with_capacity(to - from + 10);
    // Brackets in the posting itself must not look like our marks.
    let part = |out: &mut String, s: &str| {
        if s.contains("[[") || s.contains("]]") {
            out.push_str(&s.replace("[[", "[ [").replace("]]", "] ]"));
        } else {
            out.push_str(s);
        }
    };
    if from > 0 {
        out.push('…');
    }
    part(&mut out, &original[from..start]);
    out.push_str("[[");
    part(&mut out, &original[start..end]);
    out.push_str("]]");
    part(&mut out, &original[end..to]);
    if to < original.len() {
        out.push('…');
    }
    out
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
