//! The word index: every watch term at once, on whole words.
//!
//! Terms are normalized word sequences ("bombardier recreational products").
//! Each distinct word gets a number, and the terms form a trie over word
//! numbers, so one pass over a posting's words finds every term that starts
//! at each word — all terms at once, never one scan per term. With 100 000
//! entries a byte-level Aho-Corasick automaton needs hundreds of megabytes
//! (a state per byte of every name); the word trie needs a few per name.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// No term ends at this trie node.
const NONE: u32 = u32::MAX;

/// A small, fast hasher for the short keys here (word bytes, node/word
/// pairs); the keys come from the watch list, not from an attacker who could
/// choose collisions — posting words only probe.
#[derive(Default)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
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

/// Normalized terms, numbered in the order first inserted.
#[derive(Default)]
pub struct WordIndex {
    vocab: HashMap<Box<str>, u32, FxBuild>,
    /// (node << 32 | word) → child node. Node 0 is the root.
    edges: HashMap<u64, u32, FxBuild>,
    /// Per node: the term that ends there, or [`NONE`].
    ends: Vec<u32>,
    terms: u32,
}

impl WordIndex {
    pub fn new() -> WordIndex {
        WordIndex {
            ends: vec![NONE],
            ..WordIndex::default()
        }
    }

    /// The term's number: a new one, or the one it already had.
    pub fn insert(&mut self, normalized: &str) -> u32 {
        let mut node = 0u32;
        for word in normalized.split(' ') {
            let next_word = self.vocab.len() as u32;
            let w = *self.vocab.entry(word.into()).or_insert(next_word);
            let next_node = self.ends.len() as u32;
            node = *self
                .edges
                .entry(u64::from(node) << 32 | u64::from(w))
                .or_insert(next_node);
            if node == next_node {
                self.ends.push(NONE);
            }
        }
        if self.ends[node as usize] == NONE {
            self.ends[node as usize] = self.terms;
            self.terms += 1;
        }
        self.ends[node as usize]
    }

    /// The number of the term equal to `normalized`, if it is one.
    pub fn get(&self, normalized: &str) -> Option<u32> {
        let mut node = 0u32;
        for word in normalized.split(' ') {
            let w = *self.vocab.get(word)?;
            node = *self.edges.get(&(u64::from(node) << 32 | u64::from(w)))?;
        }
        Some(self.ends[node as usize]).filter(|&t| t != NONE)
    }

    /// Every occurrence of a term in `norm` (normalized text: words separated
    /// by single spaces), as (start byte, end byte, term). `words` is scratch.
    pub fn find(&self, norm: &str, words: &mut Vec<(u32, u32, u32)>, out: &mut Vec<(usize, usize, u32)>) {
        out.clear();
        words.clear();
        if self.terms == 0 || norm.is_empty() {
            return;
        }
        let mut at = 0usize;
        for word in norm.split(' ') {
            let w = self.vocab.get(word).copied().unwrap_or(NONE);
            words.push((at as u32, (at + word.len()) as u32, w));
            at += word.len() + 1;
        }
        for i in 0..words.len() {
            let mut node = 0u32;
            for &(_, end, w) in &words[i..] {
                if w == NONE {
                    break;
                }
                match self.edges.get(&(u64::from(node) << 32 | u64::from(w))) {
                    Some(&next) => node = next,
                    None => break,
                }
                let term = self.ends[node as usize];
                if term != NONE {
                    out.push((words[i].0 as usize, end as usize, term));
                }
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
}
