//! The matcher against real victim names: titles as leak sites publish them
//! (from the ransomlook posts sample and the LockBit/Cl0p pages in the shared
//! corpus), against a watch list a vendor-risk team could keep. One table of
//! positives and negatives, then a property test that the word index finds
//! exactly what a naive search for each term finds.

use std::collections::BTreeSet;

use leakwatch::extract::Posting;
use leakwatch::watch::{EntryKind, Field, Hit, Matcher, Reason, WatchEntry};
use proptest::prelude::*;

/// (name, aliases, domains, exclude)
type Spec = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

const WATCH: &[Spec] = &[
    ("Accellion", &["Accellion FTA"], &["accellion.com"], &[]),
    ("Qualys, Inc.", &[], &[], &[]),
    ("Kumho Tire", &[], &[], &[]),
    ("Ace", &[], &[], &[]),
    ("Acer", &[], &[], &[]),
    ("Bombardier", &[], &[], &[]),
    ("Bombardier Recreational Products", &["BRP"], &[], &[]),
    ("Target", &[], &[], &[]),
    ("Shell", &[], &[], &[]),
    ("United", &[], &[], &[]),
    ("Möbelstadt Sommerlad", &[], &[], &[]),
    ("Municipio de Constancia", &[], &[], &[]),
    ("Henry Oil & Gas", &[], &[], &[]),
    ("Johann Kupp GmbH & Co. KG", &[], &[], &[]),
    ("Cornerstone Automation Systems", &[], &[], &[]),
    ("Coburn Supply Company", &[], &[], &[]),
    ("TPG Aged Care", &[], &[], &[]),
    ("BNS GROUP Ltd", &[], &[], &[]),
    ("Aurobindo Pharma", &[], &["aurobindo.com"], &[]),
    ("SGS Law", &[], &[], &[]),
    ("Example Corp", &[], &[], &["Example Corpus"]),
    ("Visa", &[], &[], &[]),
    ("Apple", &[], &[], &[]),
    ("Denver Housing Authority", &[], &["denverhousing.org"], &[]),
    ("Ultrapar Participações S.A.", &[], &[], &[]),
    ("Bank Mellat", &[], &[], &[]),
    ("Acme Corp", &[], &[], &[]),
    ("Nipro", &["Nipro Corporation"], &["nipro.com"], &[]),
];

fn entries() -> Vec<WatchEntry> {
    WATCH
        .iter()
        .enumerate()
        .map(|(i, (name, aliases, domains, exclude))| WatchEntry {
            id: i as i64 + 1,
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            domains: domains.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            ..WatchEntry::new(name, EntryKind::Supplier)
        })
        .collect()
}

fn posting(title: &str, body: &str, masked: bool, truncated: bool) -> Posting {
    Posting {
        source: "t".into(),
        key: String::new(),
        title: title.into(),
        link: None,
        posted_at: None,
        body: body.into(),
        victim: String::new(),
        masked,
        truncated,
        facts: Default::default(),
    }
}

fn hits(m: &Matcher, p: &Posting) -> Vec<Hit> {
    m.find(p)
}

fn names(m: &Matcher, p: &Posting) -> BTreeSet<&'static str> {
    hits(m, p).iter().map(|h| WATCH[h.entry_id as usize - 1].0).collect()
}

/// (title, body, masked, truncated, entries expected)
const CASES: &[(&str, &str, bool, bool, &[&str])] = &[
    // Names, with and without legal suffixes, from the posts sample.
    ("Accellion", "", false, false, &["Accellion"]),
    ("Accellion Inc.", "", false, false, &["Accellion"]),
    ("ACCELLION, INC", "", false, false, &["Accellion"]),
    ("Accellion FTA appliance data", "", false, false, &["Accellion"]),
    ("Qualys", "", false, false, &["Qualys, Inc."]),
    ("QUALYS INC", "", false, false, &["Qualys, Inc."]),
    (
        "Cornerstone Automation Systems, LLC",
        "",
        false,
        false,
        &["Cornerstone Automation Systems"],
    ),
    (
        "Coburn Supply Company , Inc.",
        "",
        false,
        false,
        &["Coburn Supply Company"],
    ),
    ("Coburn Supply", "", false, false, &["Coburn Supply Company"]),
    ("BNS GROUP Ltd", "", false, false, &["BNS GROUP Ltd"]),
    (
        "Ultrapar Participacoes SA",
        "",
        false,
        false,
        &["Ultrapar Participações S.A."],
    ),
    (
        "Ultrapar Participações S.A.",
        "",
        false,
        false,
        &["Ultrapar Participações S.A."],
    ),
    ("33M Bank Mellat – Iran", "", false, false, &["Bank Mellat"]),
    ("Acme Corp.Ltd", "", false, false, &["Acme Corp"]),
    ("Nipro Corporation", "", false, false, &["Nipro"]),
    // Diacritics, both ways.
    ("Möbelstadt Sommerlad", "", false, false, &["Möbelstadt Sommerlad"]),
    ("MOBELSTADT SOMMERLAD GmbH", "", false, false, &["Möbelstadt Sommerlad"]),
    (
        "Município de Constância",
        "",
        false,
        false,
        &["Municipio de Constancia"],
    ),
    // Undecoded `&amp;` as some sites print it.
    ("Henry Oil &amp; Gas", "", false, false, &["Henry Oil & Gas"]),
    ("Henry Oil and Gas", "", false, false, &["Henry Oil & Gas"]),
    (
        "Johann Kupp GmbH &amp; Co. KG",
        "",
        false,
        false,
        &["Johann Kupp GmbH & Co. KG"],
    ),
    ("Johann Kupp", "", false, false, &["Johann Kupp GmbH & Co. KG"]),
    // Domains: Cl0p's `QUALYS.COM FILES` titles, LockBit's bare domains.
    ("QUALYS.COM FILES  PART1 PUBLISHED", "", false, false, &["Qualys, Inc."]),
    ("QUALYS.COM", "", false, false, &["Qualys, Inc."]),
    ("kumhotire.com", "", false, false, &["Kumho Tire"]),
    ("tpgagedcare.com.au", "", false, false, &["TPG Aged Care"]),
    ("bnsgroup.co.uk", "", false, false, &["BNS GROUP Ltd"]),
    (
        "AUROBINDO.COM FILES  PART12 PUBLISHED",
        "",
        false,
        false,
        &["Aurobindo Pharma"],
    ),
    (
        "SGS-LAW.COM FILES  PART13 - FINAL PUBLISHED",
        "",
        false,
        false,
        &["SGS Law"],
    ),
    ("NIPRO.COM FILES  PART16 PUBLISHED", "", false, false, &["Nipro"]),
    ("files.accellion.com", "", false, false, &["Accellion"]),
    ("ftp.ACCELLION.COM leak", "", false, false, &["Accellion"]),
    ("Acer.com Leaked Data 100% Fresh", "", false, false, &["Acer"]),
    (
        "BOMBARDIER.COM FILES  PART9 PUBLISHED",
        "",
        false,
        false,
        &["Bombardier"],
    ),
    ("SHELL.COM FILES  PART5 - FINAL PUBLISHED", "", false, false, &["Shell"]),
    // Look-alike domains never match.
    ("accellion.com.evil.io", "", false, false, &[]),
    ("notaccellion.com", "", false, false, &[]),
    ("accellion-online.com", "", false, false, &[]),
    ("qualys.com.attacker.net FILES", "", false, false, &[]),
    ("myqualys.com", "", false, false, &[]),
    ("kumhotires.com", "", false, false, &[]),
    ("UTILITYTRAILER.COM FILES  PART11 PUBLISHED", "", false, false, &[]),
    // Substrings of longer words or names.
    ("ACER FINANCE", "", false, false, &["Acer"]),
    ("Grace Hospital", "", false, false, &[]),
    ("Targetcom", "", false, false, &[]),
    ("Visage Imaging", "", false, false, &[]),
    ("Accellions", "", false, false, &[]),
    ("Example Corp", "", false, false, &["Example Corp"]),
    ("Example Corpus Christi", "", false, false, &[]),
    // Short and common-word names: titles only, as the entry writes them.
    ("Ace Glass", "", false, false, &["Ace"]),
    ("ACE Glass", "", false, false, &[]),
    ("Target", "", false, false, &["Target"]),
    ("TARGET", "", false, false, &[]),
    (
        "Hospital",
        "the target of the attack was the billing system",
        false,
        false,
        &[],
    ),
    ("United Health Centers", "", false, false, &["United"]),
    ("UNITED CARTON INDUSTRIES", "", false, false, &[]),
    ("City of Tulsa", "an apple a day, united in grief", false, false, &[]),
    ("Apple", "", false, false, &["Apple"]),
    (
        "APPLEXUS.COM FILES PART1 - 192.168.3.18, 192.168.3.66 PUBLISHE",
        "",
        false,
        false,
        &[],
    ),
    ("Mullins Food", "paid by Visa", false, false, &["Visa"]),
    ("Some firm", "a reverse shell on the Shell gateway", false, false, &[]),
    // Bombardier against Bombardier Recreational Products.
    (
        "Bombardier Recreational Products (BRP)",
        "",
        false,
        false,
        &["Bombardier Recreational Products"],
    ),
    ("Bombardier", "", false, false, &["Bombardier"]),
    (
        "Bombardier Recreational Pro...",
        "",
        false,
        true,
        &["Bombardier", "Bombardier Recreational Products"],
    ),
    ("BRP", "", false, false, &["Bombardier Recreational Products"]),
    ("brp", "", false, false, &[]),
    // Masked and truncated titles.
    ("Ac*****on", "", true, false, &["Accellion"]),
    ("Ac******on", "", true, false, &[]),
    ("XShAqc&#wENr****", "", true, false, &[]),
    ("denverhousing.o... ", "", false, true, &["Denver Housing Authority"]),
    ("Kumho T...", "", false, true, &["Kumho Tire"]),
    // Body mentions: the victim's IT supplier.
    (
        "Mullins Food Products Inc",
        "access came through their Accellion FTA server",
        false,
        false,
        &["Accellion"],
    ),
    (
        "Mullins Food Products Inc",
        "files at https://docs.qualys.com/x",
        false,
        false,
        &["Qualys, Inc."],
    ),
];

#[test]
fn real_victim_names_table() {
    assert!(CASES.len() >= 60, "{} cases", CASES.len());
    let m = Matcher::new(&entries());
    let mut wrong = Vec::new();
    for (title, body, masked, truncated, expected) in CASES {
        let got = names(&m, &posting(title, body, *masked, *truncated));
        let want: BTreeSet<&str> = expected.iter().copied().collect();
        if got != want {
            wrong.push(format!("{title:?} / {body:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        CASES.len(),
        wrong.join("\n")
    );
}

#[test]
fn confidence_is_lower_for_body_suffix_and_partial_names() {
    let m = Matcher::new(&entries());
    let one = |title: &str, body: &str, masked: bool, truncated: bool| {
        let h = hits(&m, &posting(title, body, masked, truncated));
        assert_eq!(h.len(), 1, "{title}: {h:?}");
        h.into_iter().next().unwrap()
    };
    let exact = one("Accellion", "", false, false);
    assert_eq!(
        (exact.reason, exact.field, exact.confidence),
        (Reason::Name, Field::Title, 100)
    );
    let suffix = one("Qualys", "", false, false);
    assert_eq!(suffix.reason, Reason::Suffix);
    let full = one("QUALYS INC", "", false, false);
    assert_eq!(
        (full.reason, full.confidence, full.snippet.as_str()),
        (Reason::Name, 100, "[[QUALYS INC]]"),
        "the whole name written out is not a suffix-stripped hit"
    );
    let label = one("QUALYS.COM FILES  PART1 PUBLISHED", "", false, false);
    assert_eq!(label.reason, Reason::Label);
    assert_eq!(label.snippet, "[[QUALYS.COM]] FILES  PART1 PUBLISHED");
    let domain = one("ftp.accellion.com", "", false, false);
    assert_eq!((domain.reason, domain.confidence), (Reason::Domain, 100));
    let body = one("Hospital", "via Accellion", false, false);
    assert_eq!(body.field, Field::Body);
    let masked = one("Ac*****on", "", true, false);
    assert_eq!(masked.reason, Reason::Masked);
    let truncated = one("Kumho T...", "", false, true);
    assert_eq!(truncated.reason, Reason::Truncated);
    assert!(body.confidence < exact.confidence);
    assert!(suffix.confidence < exact.confidence);
    assert!(masked.confidence < suffix.confidence && truncated.confidence < suffix.confidence);
}

#[test]
fn about_names_entries_and_reports_unknown_ones() {
    let m = Matcher::new(&entries());
    let p = posting("Security advisory 2026-11", "nothing about names here", false, false);
    let hits = m.about(&["Accellion".into()], &p);
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].entry_id, hits[0].reason), (1, Reason::About));
    assert_eq!(hits[0].snippet, "Accellion published: [[Security advisory 2026-11]]");
    assert_eq!(
        m.unknown_names(&["accellion".into(), "Nobody GmbH".into()]),
        ["Nobody GmbH"]
    );
}

/// Every whole-word occurrence of every pattern, one `find` per pattern and start.
fn naive(m: &Matcher, norm: &str) -> BTreeSet<(usize, usize, String)> {
    let b = norm.as_bytes();
    let mut out = BTreeSet::new();
    for p in m.patterns() {
        for (s, _) in norm.match_indices(p).chain(overlapping(norm, p)) {
            let e = s + p.len();
            if (s == 0 || b[s - 1] == b' ') && (e == b.len() || b[e] == b' ') {
                out.insert((s, e, p.to_string()));
            }
        }
    }
    out
}

/// Occurrences `match_indices` skips because they overlap an earlier one.
fn overlapping<'a>(text: &'a str, p: &'a str) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    (0..text.len())
        .filter(move |&i| text.is_char_boundary(i) && text[i..].starts_with(p))
        .map(move |i| (i, p))
}

const WORDS: &[&str] = &[
    "acme", "ace", "acer", "group", "inc", "data", "corp", "zeta", "co", "ltd", "zürich", "a",
];

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 1..4).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn word_index_equals_naive_per_term_search(
        names in prop::collection::vec(name(), 1..12),
        text in prop::collection::vec((prop::sample::select(WORDS), prop::sample::select(&[" ", ", ", "-", "  ", ". "][..])), 0..30),
    ) {
        let entries: Vec<WatchEntry> = names
            .iter()
            .enumerate()
            .map(|(i, n)| WatchEntry { id: i as i64 + 1, ..WatchEntry::new(n, EntryKind::Supplier) })
            .collect();
        let m = Matcher::new(&entries);
        let raw: String = text.iter().map(|(w, sep)| format!("{w}{sep}")).collect();
        let norm = leakwatch::text::normalize(&raw);
        let fast: BTreeSet<_> = m.occurrences(&norm).into_iter().collect();
        prop_assert_eq!(fast, naive(&m, &norm));
    }
}
