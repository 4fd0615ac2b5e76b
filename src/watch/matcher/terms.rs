//! The forms a watch term takes besides the words the entry writes: without
//! its legal suffix ("Qualys, Inc." → "qualys") and run together as a domain
//! label (`kumhotire`); and for names too common to match freely, whether a
//! match spells them as written and why they are held to titles.

use crate::text;
use crate::watch::WatchEntry;
use crate::watch::noise;

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

/// The term with its trailing legal suffixes taken off one by one, as long
/// as a word remains: "bns group ltd" → ["bns group", "bns"].
pub(super) fn legal_stems(normalized: &str) -> Vec<&str> {
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
pub(super) fn spelled_as(original: &str, written: &str, count: usize) -> bool {
    original
        .chars()
        .filter(|c| c.is_alphanumeric())
        .eq(leading_letters(written, count))
}

/// The label forms of a normalized term: run together, and hyphened.
pub(super) fn label_forms(term: &str) -> impl Iterator<Item = String> + '_ {
    let together = term.replace(' ', "");
    let hyphened = term.contains(' ').then(|| term.replace(' ', "-"));
    std::iter::once(together).chain(hyphened)
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

#[cfg(test)]
mod tests {
    use super::*;

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
