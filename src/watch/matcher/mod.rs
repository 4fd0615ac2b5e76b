//! The matcher: every watch term against a posting, all at once.
//!
//! This file builds a [`Matcher`] from the whole watch list, once per run:
//! each name and alias, and the same without its legal suffixes
//! ([`terms`]), becomes one term of a word index ([`super::index`]); the
//! domains, and the domain labels a term can stand for, go into sorted
//! tables with hashed look-ups. Matching a posting against it is [`scan`];
//! what a hit is and how sure it is, [`reason`].

use super::WatchEntry;
use super::domain;
use super::index::{FxBuild, WordIndex};
use super::noise;
use super::partial::{self, Keys, Masks, Prefixes};
use crate::extract::Posting;
use crate::text;
use runs::Runs;

mod reason;
mod runs;
mod scan;
mod snippet;
mod stated;
mod terms;

use crate::text::legal_stems;
pub use reason::{Field, Hit, Reason, confidence};
use terms::label_forms;
pub use terms::noise_flag;

/// Where a name, alias or domain as the entry writes it lies in `Matcher::written`.
#[derive(Clone, Copy)]
struct Written {
    start: u32,
    len: u32,
}

/// One way an entry can be named: a normalized term stands for it. It
/// carries what a hit needs (the entry's id, the written term, whether the
/// entry has exclusions), so building a hit reads no other table: at
/// 100 000 entries each table read is a cache miss.
#[derive(Clone, Copy)]
struct Term {
    id: i64,
    entry: u32,
    written: Written,
    reason: Reason,
    excludes: bool,
}

struct EntryInfo {
    id: i64,
    name: Written,
    exclude: Vec<String>,
}

/// All watch terms, compiled once per run.
pub struct Matcher {
    entries: Vec<EntryInfo>,
    /// Names, aliases and domains as the entries write them, back to back.
    written: String,
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
    /// Domains (lowercase) the entries list or are named as, sorted by
    /// domain, entry and written term, with the entry that lists each.
    domains: Vec<(Box<str>, Term)>,
    /// The first 8 bytes of each sorted domain ([`partial::prefix_key`]): a
    /// truncated title's search for the domains it starts runs over these
    /// rather than fetching each probed domain's text.
    domain_keys: Keys,
    /// Hash of each term run together (`kumhotire`) or hyphened
    /// (`kumho-tire`), sorted, with the term: for registrable labels.
    labels: Vec<(u64, u32)>,
    /// Where the run of each domain starts and ends in `domains`, by the
    /// domain's hash.
    domain_at: Runs,
    /// One bit per label hash (its low bits): most registrable labels in
    /// postings name no term, and this small table says so without the two
    /// cache misses of the bucket look-up.
    label_bits: Vec<u64>,
    /// `labels` bucketed by the top bits of the hash, for the same reason:
    /// bucket `b` is `labels[label_buckets[b]..label_buckets[b + 1]]`.
    label_buckets: Vec<u32>,
    label_shift: u32,
    masks: Masks,
    prefixes: Prefixes,
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
            written: String::new(),
            index: WordIndex::new(),
            text: String::new(),
            ends: Vec::new(),
            noisy: Vec::new(),
            owners: Vec::new(),
            starts: Vec::new(),
            domains: Vec::new(),
            domain_keys: Keys::default(),
            labels: Vec::new(),
            domain_at: Runs::new(&[]),
            label_bits: Vec::new(),
            label_buckets: Vec::new(),
            label_shift: 63,
            masks: Masks::default(),
            prefixes: Prefixes::default(),
        };
        // (term, owner) in the order found: name before alias before stems.
        let mut owned: Vec<(u32, Term)> = Vec::with_capacity(entries.len() * 2);
        for (e, entry) in entries.iter().enumerate() {
            let e = e as u32;
            let exclude: Vec<String> = entry.exclude.iter().map(|x| text::normalize(x)).collect();
            let owner = |written: Written, reason: Reason| Term {
                id: entry.id,
                entry: e,
                written,
                reason,
                excludes: !exclude.is_empty(),
            };
            let mut name = None;
            let named =
                std::iter::once((&entry.name, Reason::Name)).chain(entry.aliases.iter().map(|a| (a, Reason::Alias)));
            for (written, reason) in named {
                let w = Written {
                    start: m.written.len() as u32,
                    len: written.len() as u32,
                };
                m.written.push_str(written);
                name.get_or_insert(w);
                if let Some(host) = domain::as_domain(written) {
                    m.domains.push((host.into(), owner(w, Reason::Domain)));
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
                    owned.push((t, owner(w, reason)));
                }
            }
            for d in &entry.domains {
                let w = Written {
                    start: m.written.len() as u32,
                    len: d.len() as u32,
                };
                m.written.push_str(d);
                m.domains
                    .push((d.to_ascii_lowercase().into(), owner(w, Reason::Domain)));
            }
            m.entries.push(EntryInfo {
                id: entry.id,
                name: name.unwrap_or(Written { start: 0, len: 0 }),
                exclude,
            });
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
        m.domains
            .sort_unstable_by(|a, b| (&a.0, a.1.entry, a.1.written.start).cmp(&(&b.0, b.1.entry, b.1.written.start)));
        m.domains.dedup_by(|a, b| a.0 == b.0 && a.1.entry == b.1.entry);
        m.domain_keys = Keys::new(m.domains.iter().map(|d| partial::prefix_key(&d.0)).collect());
        m.labels.sort_unstable();
        let mut runs = Vec::new();
        let mut i = 0;
        while i < m.domains.len() {
            let end = i + m.domains[i..].iter().take_while(|d| d.0 == m.domains[i].0).count();
            runs.push((str_hash(&m.domains[i].0), i as u32, end as u32));
            i = end;
        }
        m.domain_at = Runs::new(&runs);
        // About 16 bits per label, so one in ten or so labels not on the list passes.
        let words = (m.labels.len() * 16).div_ceil(64).next_power_of_two();
        m.label_bits = vec![0; words];
        for &(hash, _) in &m.labels {
            let bit = hash as usize & (words * 64 - 1);
            m.label_bits[bit / 64] |= 1 << (bit % 64);
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

    fn written(&self, w: Written) -> &str {
        &self.written[w.start as usize..(w.start + w.len) as usize]
    }

    /// Whether some term has a label form with this hash: false for most
    /// labels, without touching the label table.
    fn may_be_label(&self, hash: u64) -> bool {
        let bit = hash as usize & (self.label_bits.len() * 64 - 1);
        self.label_bits[bit / 64] & (1 << (bit % 64)) != 0
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
                let name = self.written(entry.name);
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
}

/// Term `t` of the texts stored back to back.
fn term_text<'a>(text: &'a str, ends: &[u32], t: u32) -> &'a str {
    let start = if t == 0 { 0 } else { ends[t as usize - 1] as usize };
    &text[start..ends[t as usize] as usize]
}
