//! The word index: every watch term at once, on whole words.
//!
//! Terms are normalized word sequences ("bombardier recreational products").
//! Each distinct word gets a number, and the terms form a trie over word
//! numbers, so one pass over a posting's words finds every term that starts
//! at each word — all terms at once, never one scan per term. With 100 000
//! entries a byte-level Aho-Corasick automaton needs hundreds of megabytes
//! (a state per byte of every name); the word trie needs a few per name.
//!
//! Looking words up is most of the matching time when most posting words
//! are watch words, and each look-up is a cache miss at 100 000 entries, so
//! the layout saves misses: a word's slot holds its first trie node, a word
//! of up to 8 bytes is compared in the slot itself, and a node's only child
//! is usually the next node, named in the node.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// No term ends at this trie node; no such word; no such node.
const NONE: u32 = u32::MAX;
/// In [`Slot::word`]: the word is longer than 8 bytes, so `key` is its hash
/// and the text must be compared.
const LONG: u32 = 1 << 31;
/// In [`Node::next`]: the node has children besides `next`, in `edges`.
const MORE: u32 = 1 << 31;
/// In [`Node::next`]: no child at the next node number.
const NO_NEXT: u32 = !MORE;

/// A small, fast hasher for the short keys here (word bytes, node/word
/// pairs); the keys come from the watch list, not from an attacker who could
/// choose collisions — posting words only probe.
#[derive(Default)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.write_u64(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            self.write_u64(rest.iter().rev().fold(0, |n, &b| n << 8 | u64::from(b)));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits depending on the low input bits
        // only, and the table indexes by the low bits: mix high into low.
        let h = (self.0 ^ (self.0 >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;

/// A word's key: its bytes when it has at most 8 (normalized words hold no
/// zero byte, so the padding keeps them apart), else its hash.
fn word_key(word: &[u8]) -> u64 {
    if word.len() <= 8 {
        // Byte `i` at bits 8i, as `u64::from_le_bytes` of the padded word.
        word.iter().rev().fold(0, |key, &b| key << 8 | u64::from(b))
    } else {
        let mut h = FxHasher::default();
        h.write(word);
        h.write_usize(word.len());
        h.finish()
    }
}

/// One slot of the open-addressed word table.
#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    /// The word's number, with [`LONG`] set for words over 8 bytes; [`NONE`]: empty.
    word: u32,
    /// The trie node of the word as a term's first word, or [`NONE`].
    first: u32,
}

const EMPTY: Slot = Slot {
    key: 0,
    word: NONE,
    first: NONE,
};

#[derive(Clone, Copy)]
struct Node {
    /// The term that ends here, or [`NONE`].
    term: u32,
    /// The word leading to the child at the next node number ([`NO_NEXT`]:
    /// no such child), with [`MORE`] set when other children are in `edges`.
    next: u32,
}

/// A posting word, looked up: its span, number and first trie node.
#[derive(Clone, Copy)]
pub struct Word {
    start: u32,
    end: u32,
    word: u32,
    first: u32,
}

/// Normalized terms, numbered in the order first inserted.
pub struct WordIndex {
    /// Power-of-two sized, at most 3/4 full, linear probing.
    slots: Vec<Slot>,
    /// Word texts back to back, word `w` is `text[ends[w-1]..ends[w]]`:
    /// compared for words over 8 bytes, and rehashed when the table grows.
    text: String,
    ends: Vec<u32>,
    /// The trie; node numbers start at 0.
    nodes: Vec<Node>,
    /// (node << 32 | word) → child node, for children that are not `next`.
    edges: HashMap<u64, u32, FxBuild>,
    terms: u32,
}

impl Default for WordIndex {
    fn default() -> WordIndex {
        WordIndex::new()
    }
}

impl WordIndex {
    pub fn new() -> WordIndex {
        WordIndex {
            slots: vec![EMPTY; 16],
            text: String::new(),
            ends: Vec::new(),
            nodes: Vec::new(),
            edges: HashMap::default(),
            terms: 0,
        }
    }

    fn word_text(&self, w: u32) -> &str {
        let start = if w == 0 { 0 } else { self.ends[w as usize - 1] as usize };
        &self.text[start..self.ends[w as usize] as usize]
    }

    /// The slot holding `word`, or the empty slot where it would go.
    fn slot_of(&self, word: &str) -> usize {
        let key = word_key(word.as_bytes());
        let long = word.len() > 8;
        let mask = self.slots.len() - 1;
        let mut i = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask;
        loop {
            let s = &self.slots[i];
            if s.word == NONE {
                return i;
            }
            if s.key == key && (s.word & LONG != 0) == long && (!long || self.word_text(s.word & !LONG) == word) {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// The slot of `word`, added if new.
    fn add_word(&mut self, word: &str) -> usize {
        if (self.ends.len() + 1) * 4 > self.slots.len() * 3 {
            let grown = vec![EMPTY; self.slots.len() * 2];
            let old = std::mem::replace(&mut self.slots, grown);
            for s in old.into_iter().filter(|s| s.word != NONE) {
                let text = self.word_text(s.word & !LONG).to_owned();
                let i = self.slot_of(&text);
                self.slots[i] = s;
            }
        }
        let i = self.slot_of(word);
        if self.slots[i].word == NONE {
            let w = self.ends.len() as u32;
            self.text.push_str(word);
            self.ends.push(self.text.len() as u32);
            self.slots[i] = Slot {
                key: word_key(word.as_bytes()),
                word: if word.len() > 8 { w | LONG } else { w },
                first: NONE,
            };
        }
        i
    }

    /// The child of `node` by word `w`.
    fn child(&self, node: u32, w: u32) -> Option<u32> {
        let next = self.nodes[node as usize].next;
        if next & !MORE == w {
            Some(node + 1)
        } else if next & MORE != 0 {
            self.edges.get(&(u64::from(node) << 32 | u64::from(w))).copied()
        } else {
            None
        }
    }

    fn new_node(&mut self) -> u32 {
        self.nodes.push(Node {
            term: NONE,
            next: NO_NEXT,
        });
        self.nodes.len() as u32 - 1
    }

    /// The term's number: a new one, or the one it already had.
    pub fn insert(&mut self, normalized: &str) -> u32 {
        let mut node = NONE;
        for word in normalized.split(' ') {
            let i = self.add_word(word);
            let w = self.slots[i].word & !LONG;
            node = if node == NONE {
                match self.slots[i].first {
                    NONE => {
                        let n = self.new_node();
                        self.slots[i].first = n;
                        n
                    }
                    n => n,
                }
            } else if let Some(n) = self.child(node, w) {
                n
            } else {
                let n = self.new_node();
                let parent = &mut self.nodes[node as usize];
                // A child numbered right after its parent is its first one:
                // the usual case of a name's words inserted in a row.
                if n == node + 1 {
                    parent.next = w;
                } else {
                    parent.next |= MORE;
                    self.edges.insert(u64::from(node) << 32 | u64::from(w), n);
                }
                n
            };
        }
        let end = &mut self.nodes[node as usize];
        if end.term == NONE {
            end.term = self.terms;
            self.terms += 1;
        }
        end.term
    }

    /// The number of the term equal to `normalized`, if it is one.
    pub fn get(&self, normalized: &str) -> Option<u32> {
        let mut node = NONE;
        for word in normalized.split(' ') {
            let s = self.slots[self.slot_of(word)];
            if s.word == NONE {
                return None;
            }
            node = if node == NONE {
                Some(s.first).filter(|&n| n != NONE)?
            } else {
                self.child(node, s.word & !LONG)?
            };
        }
        Some(self.nodes[node as usize].term).filter(|&t| t != NONE)
    }

    /// Every occurrence of a term in `norm` (normalized text: words separated
    /// by single spaces), as (start byte, end byte, term). `words` is scratch.
    pub fn find(&self, norm: &str, words: &mut Vec<Word>, out: &mut Vec<(usize, usize, u32)>) {
        out.clear();
        words.clear();
        if self.terms == 0 || norm.is_empty() {
            return;
        }
        // All look-ups first: they do not depend on each other, so their
        // cache misses overlap.
        let mut at = 0usize;
        while at <= norm.len() {
            let end = at
                + norm.as_bytes()[at..]
                    .iter()
                    .position(|&b| b == b' ')
                    .unwrap_or(norm.len() - at);
            let s = self.slots[self.slot_of(&norm[at..end])];
            words.push(Word {
                start: at as u32,
                end: end as u32,
                word: if s.word == NONE { NONE } else { s.word & !LONG },
                first: s.first,
            });
            at = end + 1;
        }
        for (i, first) in words.iter().enumerate() {
            let mut node = first.first;
            let mut end = first.end;
            let mut rest = words[i + 1..].iter();
            while node != NONE {
                let term = self.nodes[node as usize].term;
                if term != NONE {
                    out.push((first.start as usize, end as usize, term));
                }
                node = match rest.next() {
                    Some(w) if w.word != NONE => {
                        end = w.end;
                        self.child(node, w.word).unwrap_or(NONE)
                    }
                    _ => NONE,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_overlapping_terms_on_whole_words() {
        let mut ix = WordIndex::new();
        let a = ix.insert("bombardier");
        let b = ix.insert("bombardier recreational products");
        let c = ix.insert("recreational");
        assert_eq!(ix.insert("bombardier"), a);
        let (mut words, mut out) = (Vec::new(), Vec::new());
        ix.find("x bombardier recreational products y", &mut words, &mut out);
        assert_eq!(out, [(2, 12, a), (2, 34, b), (13, 25, c)]);
        ix.find("bombardiers recreationally", &mut words, &mut out);
        assert!(out.is_empty());
        assert_eq!(ix.get("bombardier recreational products"), Some(b));
        assert_eq!(ix.get("bombardier recreational"), None);
    }

    #[test]
    fn branches_long_words_and_growth() {
        let mut ix = WordIndex::new();
        // Enough words to grow the table several times.
        let many: Vec<u32> = (0..1000).map(|i| ix.insert(&format!("w{i} shared"))).collect();
        let long = ix.insert("internationalization services");
        let branch = ix.insert("bombardier aerospace");
        let chain = ix.insert("bombardier recreational products");
        let (mut words, mut out) = (Vec::new(), Vec::new());
        ix.find("w999 shared internationalization services", &mut words, &mut out);
        assert_eq!(out, [(0, 11, many[999]), (12, 41, long)]);
        ix.find(
            "bombardier aerospace bombardier recreational products",
            &mut words,
            &mut out,
        );
        assert_eq!(out, [(0, 20, branch), (21, 53, chain)]);
        assert_eq!(ix.get("internationalization"), None);
        assert_eq!(ix.get("internationalizatioN services"), None);
        assert_eq!(ix.get("w5 shared"), Some(many[5]));
    }
}
