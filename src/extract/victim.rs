//! Who a posting is about: the victim key that groups the parts of one leak,
//! and the flags for names the site hid or cut.
//!
//! Cl0p posted `QUALYS.COM FILES  PART1 PUBLISHED` … `PART4` and later
//! `QUALYS.COM`: one victim, not five. Other sites write "Name. Part 2.",
//! "Name / Part 2", "Name LEAKED", "Updates with files in Name", "FULL DATA
//! LEAK of Name". The key is the victim's domain when the title names one,
//! else the title without those leak-progress words, normalized, without
//! its trailing legal suffixes and with its spaces removed: 8base posted
//! "Print Globe" in 2022 and "PrintGlobe, Inc." in 2023, one victim.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use crate::text;

/// A domain in a title: labels of letters, digits and `-`, a TLD of letters.
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^a-z0-9.@-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})(?:$|[^a-z0-9-])")
        .expect("static regex")
});

/// A trailing list of country codes, as Daixin writes `B&G Foods (CA, US)`.
static COUNTRIES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\s*\((?:[A-Z]{2}|USA)(?:,\s*(?:[A-Z]{2}|USA))*\)\s*$").expect("static regex"));

/// Words about the leak's progress, not about the victim (on normalized text).
static PROGRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)\b(?:
            files?\s+part\s*\d+(?:\s+\d+)*(?:\s+final)?.*?\s+published   # clop: FILES PART3 - MAIL PUBLISHED
          | part\s*\d+(?:\s+\d+)*(?:\s+final)?
          | full\s+(?:data\s+)?leak(?:\s+of)?
          | (?:new\s+)?(?:data\s+)?leak(?:s|ed|age)?(?:\s+post)?(?:\s+from(?:\s+company)?)?
          | data\s+published | published
          | updates?(?:\s+with\s+files\s+in)? | updated
          | new\s+files(?:\s+for)?
          | sold
          | bonus\s+content
          | attention
        )\b",
    )
    .expect("static regex")
});

/// The key that groups postings about one victim on one source.
pub fn victim_key(title: &str, masked: bool) -> String {
    victim_key_normalized(title, masked, None)
}

/// [`victim_key`], given the title's normalized form when the caller has it
/// already (the posting key is made of it).
pub fn victim_key_normalized(title: &str, masked: bool, normalized: Option<&str>) -> String {
    let decoded = super::entities::decode(title);
    let title = &*decoded;
    if masked {
        // Nothing to normalize away: the stars are the pattern.
        return text::clean(title).to_lowercase();
    }
    if let Some(domain) = domain(title) {
        return text::normalize(domain.trim_start_matches("www.").trim_start_matches("WWW."));
    }
    let name = strip_ellipsis(title);
    let name = if name.trim_end().ends_with(')') {
        COUNTRIES.replace(name, "")
    } else {
        Cow::Borrowed(name)
    };
    // A trailing ellipsis or space never shows in the normalized form, so
    // the title's own is this one unless entities or countries were taken out.
    let norm = match (normalized, &decoded, &name) {
        (Some(norm), Cow::Borrowed(_), Cow::Borrowed(_)) => norm.to_owned(),
        _ => text::normalize(&name),
    };
    let core = PROGRESS.replace_all(&norm, " ");
    let core = text::normalize(&core);
    let core = if core.is_empty() { norm } else { core };
    let stem = text::legal_stems(&core).pop().unwrap_or(&core);
    stem.replace(' ', "")
}

/// The first domain-like word of `title`, if any.
fn domain(title: &str) -> Option<&str> {
    // A domain has a letter after a dot (`ſ` and `K` fold to ASCII letters
    // here, hence any non-ASCII too): most titles have not.
    let letter_after_dot = |w: &[u8]| w[0] == b'.' && (w[1].is_ascii_alphabetic() || !w[1].is_ascii());
    if !title.as_bytes().windows(2).any(letter_after_dot) {
        return None;
    }
    // The match is the domain and at most one character either side of it
    // (the pattern's boundaries): found by the fast engine and trimmed,
    // rather than asking for the group, which costs several times more.
    let m = DOMAIN.find(title)?;
    let mut found = m.as_str();
    if !found.starts_with(|c: char| letter(c) || c.is_ascii_digit()) {
        found = &found[found.chars().next()?.len_utf8()..];
    }
    if !found.ends_with(letter) {
        found = &found[..found.len() - found.chars().next_back()?.len_utf8()];
    }
    Some(found)
}

/// `[a-z]` in [`DOMAIN`], which ignores case: ASCII letters, and the two
/// characters whose case folds onto one (the long s and the Kelvin sign).
fn letter(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '\u{17f}' | '\u{212a}')
}

/// The site hides part of the name with stars: a word of at least two `*`
/// that is mostly stars (`M***`, `Ac*****on`, `****`), not a word that
/// merely ends in `**` (`MAIL**`).
pub fn is_masked(title: &str) -> bool {
    title.contains('*')
        && title.split_whitespace().any(|w| {
            let stars = w.chars().filter(|&c| c == '*').count();
            stars >= 2 && stars * 2 >= w.chars().count()
        })
}

/// The site cut the title short (`Bombardier Recreational Pro...`).
pub fn is_truncated(title: &str) -> bool {
    let t = title.trim_end();
    t.ends_with("...") || t.ends_with('…')
}

fn strip_ellipsis(title: &str) -> &str {
    let t = title.trim_end();
    t.strip_suffix("...").or_else(|| t.strip_suffix('…')).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_one_leak_share_a_key() {
        let qualys = [
            "QUALYS.COM FILES  PART1 PUBLISHED",
            "QUALYS.COM FILES  PART2 PUBLISHED",
            "QUALYS.COM FILES  PART4 - MAIL PUBLISHED",
            "QUALYS.COM",
            "www.qualys.com",
        ];
        for t in qualys {
            assert_eq!(victim_key(t, false), "qualys com", "{t}");
        }
        assert_eq!(victim_key("Tegut. Part 1.", false), victim_key("Tegut. Part 2.", false));
        assert_eq!(victim_key("XEFI / Part 2", false), "xefi");
        assert_eq!(victim_key("Ludwig Pfeiffer Leaked", false), "ludwigpfeiffer");
        assert_eq!(
            victim_key("FULL DATA LEAK of Primary Residential Mortgage, Inc. //", false),
            "primaryresidentialmortgage"
        );
        assert_eq!(
            victim_key("Primary Residential Mortgage inc. - Leaked", false),
            "primaryresidentialmortgage"
        );
        assert_eq!(
            victim_key("Updates with files in EastCoastSeafood Inc.", false),
            "eastcoastseafood"
        );
        assert_eq!(victim_key("Acme Corp data published", false), "acme");
        assert_eq!(victim_key("Acme Corp update", false), "acme");
        assert_eq!(
            victim_key("Circle Electric (circleelectric.com)", false),
            "circleelectric com"
        );
        assert_eq!(victim_key("www.al-shefafarm.ro(SOLD)", false), "al shefafarm ro");
        assert_eq!(victim_key("B&G Foods (CA, US)", false), "bandgfoods");
        assert_eq!(victim_key("AirAsia Group (MY, ID, TH)", false), "airasia");
        assert_eq!(victim_key("OakBend Medical (USA)", false), "oakbendmedical");
    }

    #[test]
    fn different_victims_keep_different_keys() {
        assert_ne!(
            victim_key("Bombardier", false),
            victim_key("Bombardier Recreational Products (BRP)", false)
        );
        assert_ne!(
            victim_key("E.A. Gibson Shipbrokers", false),
            victim_key("Gibson", false)
        );
        assert_eq!(victim_key("E.A. Gibson Shipbrokers", false), "eagibsonshipbrokers");
        assert_eq!(victim_key("Pak-Rite, Ltd.", false), "pakrite");
        // Spelling that differs only in spaces and the legal form: one victim
        // (both on 8base's real page, 2023 and 2022; see tests/alerts.rs).
        assert_eq!(victim_key("PrintGlobe, Inc.", false), victim_key("Print Globe", false));
        assert_ne!(victim_key("Print Globe", false), victim_key("Globe", false));
        assert_eq!(victim_key("Acme Group Ltd", false), "acme");
        // A title that is nothing but progress words keeps its normalized form.
        assert_eq!(victim_key("Leaked", false), "leaked");
    }

    /// What [`domain`] trims the match to: the pattern's own group.
    fn domain_group(title: &str) -> Option<&str> {
        DOMAIN.captures(title).and_then(|c| c.get(1)).map(|m| m.as_str())
    }

    #[test]
    fn the_domain_is_the_patterns_group_at_the_edges() {
        for t in [
            "\u{17f}a.com",
            "\u{212a}a.\u{212a}\u{17f}",
            "x.co",
            "(x.com)",
            "@x.com",
            "x.com.",
            "x.com-",
            "a.b.c9",
            "é.ab日",
        ] {
            assert_eq!(domain(t), domain_group(t), "{t:?}");
        }
        assert_eq!(domain("\u{17f}a.com"), Some("\u{17f}a.com"));
    }

    proptest::proptest! {
        #[test]
        fn the_domain_is_the_patterns_group(chars in proptest::collection::vec(
            proptest::sample::select(vec!['a', 'Q', 'z', '0', '9', '.', '.', '-', '@', ' ', '(', ')', '/', '\u{17f}', '\u{212a}', 'é', '日']),
            0..24,
        )) {
            let title: String = chars.into_iter().collect();
            proptest::prop_assert_eq!(domain(&title), domain_group(&title), "{:?}", title);
        }
    }

    #[test]
    fn masked_and_truncated_names_are_flagged() {
        for t in [
            "M*** ****",
            "Ac*****on",
            "*i***** *****",
            "T***** ***** *********t** *.*.",
        ] {
            assert!(is_masked(t), "{t}");
        }
        for t in [
            "UTILITYTRAILER.COM FILES  PART3 - MAIL** PUBLISHED",
            "A*B",
            "American Crane Rental",
        ] {
            assert!(!is_masked(t), "{t}");
        }
        assert_eq!(victim_key("M*** ****", true), "m*** ****");
        assert!(is_truncated("Bombardier Recreational Pro..."));
        assert!(is_truncated("Bombardier Recreational Pro…"));
        assert!(!is_truncated("Pak-Rite, Ltd."));
        assert_eq!(
            victim_key("Bombardier Recreational Pro...", false),
            "bombardierrecreationalpro"
        );
    }
}

/// Against the real posts dataset (ransomwatch format, 5 772 posts).
#[cfg(test)]
mod dataset_tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn posts() -> Vec<(String, String)> {
        let file = crate::testdata::corpus().join("posts/ransomlook_sample_posts_2022-08.json");
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["group_name"].as_str().unwrap().to_owned(),
                    p["post_title"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn clop_parts_collapse_onto_their_domain() {
        let posts = posts();
        let clop: Vec<&str> = posts
            .iter()
            .filter(|(g, _)| g == "clop")
            .map(|(_, t)| t.as_str())
            .collect();
        let qualys: HashSet<String> = clop
            .iter()
            .filter(|t| t.to_uppercase().contains("QUALYS"))
            .map(|t| victim_key(t, is_masked(t)))
            .collect();
        // PART1..PART4 (2021-09-09), counted in the file by hand.
        assert_eq!(clop.iter().filter(|t| t.starts_with("QUALYS.COM FILES")).count(), 4);
        assert_eq!(qualys, HashSet::from(["qualys com".to_owned()]));
        // Every "X.COM FILES PARTn ..." title groups under X.COM, whatever follows.
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let with_domain = clop.iter().filter(|t| {
            t.contains(" FILES ") && t.contains("PART") && t.split_whitespace().next().unwrap().contains('.')
        });
        for t in with_domain {
            let domain = t.split_whitespace().next().unwrap();
            assert_eq!(victim_key(t, is_masked(t)), text::normalize(domain), "{t}");
            *by_key.entry(victim_key(t, false)).or_default() += 1;
        }
        assert_eq!(by_key["aurobindo com"], 19, "AUROBINDO.COM PART1..PART19");
        assert_eq!(victim_key("AUROBINDO.COM", false), "aurobindo com");
        let valley: HashSet<String> = clop
            .iter()
            .filter(|t| t.starts_with("VALLEY TRUCK"))
            .map(|t| victim_key(t, false))
            .collect();
        assert_eq!(valley, HashSet::from(["valleytruckandtractor".to_owned()]));
    }

    #[test]
    fn the_domain_of_every_title_is_the_patterns_group() {
        let posts = posts();
        for (_, t) in &posts {
            assert_eq!(
                domain(t),
                DOMAIN.captures(t).and_then(|c| c.get(1)).map(|m| m.as_str()),
                "{t}"
            );
        }
        assert!(posts.iter().filter(|(_, t)| domain(t).is_some()).count() > 1000);
    }

    #[test]
    fn truncated_titles_in_the_dataset_are_flagged() {
        let posts = posts();
        let truncated: Vec<&str> = posts
            .iter()
            .map(|(_, t)| t.as_str())
            .filter(|t| is_truncated(t))
            .collect();
        // grep -c on the file: 707 titles end in "..." or "…".
        assert_eq!(truncated.len(), 707);
    }

    #[test]
    fn a_bonus_post_is_the_same_victim() {
        let posts = posts();
        let brp: HashSet<String> = posts
            .iter()
            .filter(|(_, t)| t.starts_with("Bombardier Recreational Products"))
            .map(|(_, t)| victim_key(t, false))
            .collect();
        assert_eq!(brp, HashSet::from(["bombardierrecreationalproductsbrp".to_owned()]));
    }
}
