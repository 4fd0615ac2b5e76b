//! Names the site did not show in full.
//!
//! Some leak sites mask the victim (`Ac*****on`) until a deadline, others cut
//! long titles (`Bombardier Recreational Pro...`). Extraction flags such
//! postings; these indexes find the entries they can stand for. A partial
//! name is weaker evidence, so these hits carry a lower confidence.

use std::collections::HashMap;

use crate::text;

/// Fewest characters a masked name must show, or `********` would match
/// every eight-letter entry.
const MIN_VISIBLE: usize = 3;
/// Shortest visible start of a truncated title worth looking up.
const MIN_PREFIX: usize = 6;
/// Most entries one partial title may stand for.
const MAX_CANDIDATES: usize = 20;

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

/// A name's letters and the caller's term index.
type MaskedName = (Box<[char]>, u32);

/// Entry names by length of their letters, for masked titles.
#[derive(Default)]
pub struct Masks {
    by_len: HashMap<usize, Vec<MaskedName>>,
}

impl Masks {
    /// `compact`: the normalized name without spaces; `owner`: the caller's term index.
    pub fn add(&mut self, compact: &str, owner: u32) {
        let chars: Box<[char]> = compact.chars().collect();
        if chars.len() > MIN_VISIBLE {
            self.by_len.entry(chars.len()).or_default().push((chars, owner));
        }
    }

    /// Owners whose name fits one masked word of `title`, or the masked title
    /// as a whole (same length, same visible letters in the same places).
    pub fn find(&self, title: &str) -> Vec<u32> {
        let mut found = Vec::new();
        let whole = compact_masked(title);
        let words = title.split(|c: char| c.is_whitespace() || c == ',').map(compact_masked);
        for pattern in std::iter::once(whole).chain(words) {
            let visible = pattern.iter().filter(|c| **c != '*').count();
            if !pattern.contains(&'*') || visible < MIN_VISIBLE {
                continue;
            }
            for (name, owner) in self.by_len.get(&pattern.len()).into_iter().flatten() {
                let fits = name.iter().zip(&pattern).all(|(n, p)| *p == '*' || n == p);
                if fits && !found.contains(owner) {
                    found.push(*owner);
                    if found.len() == MAX_CANDIDATES {
                        return found;
                    }
                }
            }
        }
        found
    }
}

/// Normalized entry names in order, for truncated titles.
#[derive(Default)]
pub struct Prefixes {
    sorted: Vec<(Box<str>, u32)>,
}

impl Prefixes {
    pub fn add(&mut self, normalized: &str, owner: u32) {
        self.sorted.push((normalized.into(), owner));
    }

    pub fn finish(&mut self) {
        self.sorted.sort_unstable();
    }

    /// Owners whose name (normalized) or domain (lowercase) starts with what
    /// `title` shows before its cut (`...` or `…`), and goes on past it:
    /// `denverhousing.o...` is denverhousing.org.
    pub fn find(&self, title: &str) -> Vec<u32> {
        let shown = title.trim_end().trim_end_matches(['.', '…']).trim_end();
        let mut found = Vec::new();
        for visible in [text::normalize(shown), shown.to_lowercase()] {
            if visible.len() < MIN_PREFIX {
                continue;
            }
            let from = self.sorted.partition_point(|(k, _)| k.as_ref() < visible.as_str());
            let owners = self.sorted[from..]
                .iter()
                .take_while(|(k, _)| k.starts_with(visible.as_str()))
                .filter(|(k, _)| k.len() > visible.len())
                .map(|(_, o)| *o);
            for o in owners {
                if found.len() == MAX_CANDIDATES {
                    return found;
                }
                if !found.contains(&o) {
                    found.push(o);
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_names_fit_by_length_and_visible_letters() {
        let mut m = Masks::default();
        m.add("accellion", 1);
        m.add("accenture", 2);
        m.add("acme", 3);
        assert_eq!(m.find("Ac*****on"), [1]);
        assert_eq!(m.find("Ac*****on Inc."), [1]);
        assert_eq!(m.find("Ac******on"), Vec::<u32>::new());
        assert_eq!(m.find("*********"), Vec::<u32>::new());
        assert_eq!(m.find("Acc****re"), [2]);
    }

    #[test]
    fn truncated_titles_match_longer_names_that_start_with_them() {
        let mut p = Prefixes::default();
        p.add("bombardier recreational products", 1);
        p.add("bombardier", 2);
        p.add("bomb squad", 3);
        p.finish();
        assert_eq!(p.find("Bombardier Recreational Pro..."), [1]);
        assert_eq!(p.find("Bombardier Recreational Pro…"), [1]);
        assert_eq!(p.find("Bom..."), Vec::<u32>::new());
        p.add("denverhousing.org", 4);
        p.finish();
        assert_eq!(p.find("denverhousing.o... "), [4]);
    }
}
