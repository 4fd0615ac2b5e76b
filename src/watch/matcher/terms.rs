//! The forms a watch term takes besides the words the entry writes: without
//! its legal suffix ("Qualys, Inc." → "qualys") and run together as a domain
//! label (`kumhotire`); and for names too common to match freely, whether a
//! match spells them as written and why they are held to titles.

use crate::text;
use crate::watch::WatchEntry;
use crate::watch::noise;

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

/// Whether `label` is one of the [`label_forms`] of `term`, without building them.
pub(super) fn is_label_form(term: &str, label: &str) -> bool {
    let together = term.bytes().filter(|&b| b != b' ').eq(label.bytes());
    let hyphened = || term.contains(' ') && term.bytes().map(|b| if b == b' ' { b'-' } else { b }).eq(label.bytes());
    together || hyphened()
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
