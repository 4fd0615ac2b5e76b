//! Names the site did not show in full.
//!
//! Some leak sites mask the victim (`Ac*****on`) until a deadline, others cut
//! long titles (`Bombardier Recreational Pro...`). Extraction flags such
//! postings; these indexes find the terms they can stand for. A partial name
//! is weaker evidence, so these hits carry a lower confidence. Both hold only
//! term numbers; the caller owns the term texts (normalized, words separated
//! by single spaces) and lends them through `text_of`.

use std::collections::HashMap;

use crate::text;

/// Fewest characters a masked name must show, or `********` would match
/// every eight-letter entry.
const MIN_VISIBLE: usize = 3;
/// Shortest visible start of a truncated title worth looking up.
pub const MIN_PREFIX: usize = 6;
/// Most terms one partial title may stand for.
pub const MAX_CANDIDATES: usize = 20;

/// Characters that stand for a hidden letter.
fn is_mask(c: char) -> bool {
    matches!(c, '*' | '•' | '●' | '█' | '▇')
}

/// Letters and digits of `s`, folded like [`text::normalize`], with each
/// mask character kept as `*`: "Ac*****on, Inc." → `ac*****oninc`.
fn compact_masked(s: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(s.len());
    let mut buf = [0u8; 4];
    for c in s.chars() {
        if is_mask(c) {
            out.push('*');
        } else if c.is_alphanumeric() {
            out.extend(text::normalize(c.encode_utf8(&mut buf)).chars().filter(|c| *c != ' '));
        }
    }
    out
}

/// Terms by the number of their letters and their first letter, for masked
/// titles: sites show the first letters (`Ac*****on`), so one bucket is
/// searched, not every name of that length.
#[derive(Default)]
pub struct Masks {
    by_shape: HashMap<(usize, char), Vec<u32>>,
}

impl Masks {
    pub fn add(&mut self, normalized: &str, term: u32) {
        let len = normalized.chars().filter(|c| *c != ' ').count();
        if let Some(first) = normalized.chars().next()
            && len > MIN_VISIBLE
        {
            self.by_shape.entry((len, first)).or_default().push(term);
        }
    }

    /// The terms that can fit `pattern`: its bucket, or every bucket of its
    /// length when its first letter is hidden too.
    fn candidates(&self, pattern: &[char]) -> Box<dyn Iterator<Item = u32> + '_> {
        let len = pattern.len();
        match pattern.first() {
            Some(&c) if c != '*' => Box::new(self.by_shape.get(&(len, c)).into_iter().flatten().copied()),
            _ => Box::new(
                self.by_shape
                    .iter()
                    .filter(move |((l, _), _)| *l == len)
                    .flat_map(|(_, terms)| terms.iter().copied()),
            ),
        }
    }

    /// Terms that fit one masked word of `title`, or the masked title as a
    /// whole: same length, same visible letters in the same places.
    pub fn find<'a>(&self, title: &str, text_of: impl Fn(u32) -> &'a str) -> Vec<u32> {
        let mut found = Vec::new();
        let whole = compact_masked(title);
        let words = title.split(|c: char| c.is_whitespace() || c == ',').map(compact_masked);
        for pattern in std::iter::once(whole).chain(words) {
            let visible = pattern.iter().filter(|c| **c != '*').count();
            if !pattern.contains(&'*') || visible < MIN_VISIBLE {
                continue;
            }
            for term in self.candidates(&pattern) {
                let name = text_of(term).chars().filter(|c| *c != ' ');
                let fits = name.zip(&pattern).all(|(n, p)| *p == '*' || n == *p);
                if fits && !found.contains(&term) {
                    found.push(term);
                    if found.len() == MAX_CANDIDATES {
                        return found;
                    }
                }
            }
        }
        found
    }
}

/// What a truncated title shows before its cut (`...` or `…`).
pub fn shown(title: &str) -> &str {
    title.trim_end().trim_end_matches(['.', '…']).trim_end()
}

/// Terms in text order, for truncated titles.
#[derive(Default)]
pub struct Prefixes {
    sorted: Vec<u32>,
    /// The first 8 bytes of each sorted term, big-endian: the binary search
    /// runs over these rather than fetching each probed term's text.
    keys: Vec<u64>,
}

/// The first 8 bytes of `text` as a number that sorts like the text
/// (normalized text holds no zero byte).
fn prefix_key(text: &str) -> u64 {
    let mut b = [0u8; 8];
    let n = text.len().min(8);
    b[..n].copy_from_slice(&text.as_bytes()[..n]);
    u64::from_be_bytes(b)
}

impl Prefixes {
    pub fn add(&mut self, term: u32) {
        self.sorted.push(term);
    }

    pub fn finish<'a>(&mut self, text_of: impl Fn(u32) -> &'a str) {
        self.sorted.sort_unstable_by(|a, b| text_of(*a).cmp(text_of(*b)));
        self.keys = self.sorted.iter().map(|t| prefix_key(text_of(*t))).collect();
    }

    /// Terms that start with the normalized text `title` shows before its
    /// cut, and go on past it.
    pub fn find<'a>(&self, title: &str, text_of: impl Fn(u32) -> &'a str) -> Vec<u32> {
        let visible = text::normalize(shown(title));
        if visible.len() < MIN_PREFIX {
            return Vec::new();
        }
        let key = prefix_key(&visible);
        let (lo, hi) = (
            self.keys.partition_point(|k| *k < key),
            self.keys.partition_point(|k| *k <= key),
        );
        let from = lo + self.sorted[lo..hi].partition_point(|t| text_of(*t) < visible.as_str());
        self.sorted[from..]
            .iter()
            .take_while(|t| text_of(**t).starts_with(visible.as_str()))
            .filter(|t| text_of(**t).len() > visible.len())
            .copied()
            .take(MAX_CANDIDATES)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TERMS: &[&str] = &[
        "accellion",
        "accenture",
        "acme",
        "bombardier recreational products",
        "bombardier",
        "bomb squad",
    ];

    fn text_of(t: u32) -> &'static str {
        TERMS[t as usize]
    }

    #[test]
    fn masked_names_fit_by_length_and_visible_letters() {
        let mut m = Masks::default();
        for (i, t) in TERMS.iter().enumerate() {
            m.add(t, i as u32);
        }
        assert_eq!(m.find("Ac*****on", text_of), [0]);
        assert_eq!(m.find("Ac*****on Inc.", text_of), [0]);
        assert_eq!(m.find("Ac******on", text_of), Vec::<u32>::new());
        assert_eq!(m.find("*********", text_of), Vec::<u32>::new());
        assert_eq!(m.find("Acc****re", text_of), [1]);
        assert_eq!(m.find("Bo**squ*d", text_of), [5]);
    }

    #[test]
    fn truncated_titles_match_longer_names_that_start_with_them() {
        let mut p = Prefixes::default();
        for i in 0..TERMS.len() {
            p.add(i as u32);
        }
        p.finish(text_of);
        assert_eq!(p.find("Bombardier Recreational Pro...", text_of), [3]);
        assert_eq!(p.find("Bombardier Recreational Pro…", text_of), [3]);
        assert_eq!(p.find("Bom...", text_of), Vec::<u32>::new());
    }
}
