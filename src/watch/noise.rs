//! Names too common to match everywhere.
//!
//! An entry named "Target", "Visa" or "ACE" would alert on every posting that
//! uses the word. Such a name — a common English word, or shorter than 4
//! letters — matches only in a posting's title, and only written with the
//! entry's own capitals. `watch list` shows the reason, so the analyst can add
//! an alias or a domain instead.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::index::FxBuild;

/// The 5 000 most frequent English words that a dictionary lists in lower
/// case (proper names such as "Microsoft" are not in it), one a line; how it
/// was made and its licence: `data/README.md`.
const COMMON_WORDS: &str = include_str!("../../data/common-words.txt");

static COMMON: LazyLock<HashSet<&'static str, FxBuild>> = LazyLock::new(|| COMMON_WORDS.lines().collect());

/// Why a normalized term is too noisy to match freely, if it is.
pub fn noisy(normalized: &str) -> Option<&'static str> {
    let letters = normalized.chars().filter(|c| c.is_alphanumeric()).count();
    if letters < 4 {
        Some("shorter than 4 letters")
    } else if !normalized.contains(' ') && COMMON.contains(normalized) {
        Some("common English word")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_short_words_are_noisy() {
        assert_eq!(noisy("target"), Some("common English word"));
        assert_eq!(noisy("ace"), Some("shorter than 4 letters"));
        assert_eq!(noisy("b b"), Some("shorter than 4 letters"));
        assert_eq!(noisy("accellion"), None);
        assert_eq!(noisy("microsoft"), None);
        assert_eq!(noisy("target corporation"), None);
        assert!(COMMON.len() >= 4000);
    }
}
