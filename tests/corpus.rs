//! The shipped source definitions (`config/sources/*.toml`) against the real
//! leak-site captures in `../shared/corpus/leaksites/`, through the real
//! binary's `source test --file`. The expected counts and titles were read
//! off the pages by hand (grep for each site's posting blocks and reading
//! them), not taken from the extractor.

use std::path::{Path, PathBuf};

use crate::support::{Workspace, assert_exit, assert_ok, corpus, stdout};

/// The one page of a site folder whose name starts with `prefix`.
fn page(group: &str, prefix: &str) -> PathBuf {
    let dir = corpus().join(group);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    found.sort();
    found
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {prefix}* in {}", dir.display()))
}

/// A workspace whose config includes every shipped source definition, plus
/// a generic listing source for the pages of sites we have no definition for.
fn workspace() -> Workspace {
    let ws = Workspace::new("");
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sources");
    std::fs::write(
        ws.config(),
        format!(
            "include = [{:?}]\n[database]\npath = \"lw.db\"\n\n[[source]]\nname = \"generic\"\nkind = \"html\"\nurl = \"http://generic.example.onion/\"\n[source.html]\nitem = \"div.post\"\ntitle = \"h2\"\n",
            sources.display().to_string()
        ),
    )
    .unwrap();
    ws
}

struct Expected {
    source: &'static str,
    group: &'static str,
    file: &'static str,
    postings: usize,
    titles: &'static [&'static str],
    /// Text that must NOT be a posting (category headings and the like).
    not_titles: &'static [&'static str],
    untitled: usize,
}

const PAGES: &[Expected] = &[
    Expected {
        source: "bianlian",
        group: "bianlian",
        file: "bianlian-",
        postings: 10,
        titles: &[
            "American Crane Rental",
            "M*** ****",
            "*i***** *****",
            "Aeliusmd Medical Systems",
        ],
        not_titles: &[],
        untitled: 0,
    },
    Expected {
        source: "babuk",
        group: "babuk",
        file: "babuk-",
        postings: 6,
        titles: &["BridgeMill Athletic Club", "spsr-law.com", "4murs.com"],
        not_titles: &["Hospitals", "Non-Profit", "Schools", "Small Business"],
        untitled: 0,
    },
    Expected {
        source: "daixin",
        group: "daixin",
        file: "daixin-",
        postings: 10,
        titles: &[
            "B&G Foods (CA, US)",
            "Fitzgibbon Hospital (USA)",
            "AirAsia Group (MY, ID, TH)",
        ],
        not_titles: &[],
        untitled: 0,
    },
    Expected {
        source: "darkrace",
        group: "darkrace",
        file: "darkrace-",
        postings: 8,
        titles: &["marstrand.se", "PICPLUS.COM", "hep global GmbH", "ERT"],
        not_titles: &[],
        untitled: 0,
    },
    Expected {
        source: "fog",
        group: "fog",
        file: "FOG-",
        postings: 2,
        titles: &[
            "Circle Electric (circleelectric.com)",
            "Schenkelberg - Die Medienstrategen (schenkelberg-druck.de)",
        ],
        not_titles: &[],
        untitled: 1,
    },
    Expected {
        source: "blacksuit",
        group: "blacksuit",
        file: "blacksuit-",
        postings: 3,
        titles: &["MARJAM Supply company", "Venture Logistics", "Stant"],
        not_titles: &["Website"],
        untitled: 0,
    },
    Expected {
        source: "crosslock",
        group: "crosslock",
        file: "crosslock-",
        postings: 1,
        titles: &["validcertificadora.com.br"],
        not_titles: &[],
        untitled: 0,
    },
    Expected {
        source: "lockbit3",
        group: "lockbit3",
        file: "LockBit3.0",
        postings: 463,
        titles: &["kumhotire.com", "tpgagedcare.com.au", "fbi.gov"],
        not_titles: &[],
        untitled: 0,
    },
    Expected {
        source: "ransomhub",
        group: "ransomhub",
        file: "RansomHub",
        postings: 263,
        titles: &["markdom.com", "www.contegritygroup.com", "www.ykp.com.br"],
        not_titles: &[],
        untitled: 0,
    },
    Expected {
        source: "8base",
        group: "8base",
        file: "8base-",
        postings: 98,
        titles: &[
            "PORTBLUE",
            "LOONGSON",
            "P1 Technical Services",
            "M Metzler & Associates",
        ],
        not_titles: &[],
        untitled: 0,
    },
    Expected {
        source: "akira",
        group: "akira",
        file: "akira-",
        postings: 43,
        titles: &[
            "Perpetual Group",
            "The Akron-Summit County Public Library",
            "Thompson Builders",
        ],
        not_titles: &[],
        untitled: 0,
    },
];

#[test]
fn shipped_sources_find_what_the_real_pages_show() {
    let ws = workspace();
    for e in PAGES {
        let file = page(e.group, e.file);
        let out = ws.run(&["source", "test", e.source, "--file", file.to_str().unwrap()]);
        assert_ok(&out);
        let text = stdout(&out);
        let first = text.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!("{}: {} postings (Ok)", e.source, e.postings),
            "{}:\n{text}",
            e.source
        );
        let titles: Vec<&str> = text
            .lines()
            .skip(2)
            .take(e.postings)
            .map(|l| l.split("  ").next().unwrap_or_default().trim())
            .collect();
        for t in e.titles {
            assert!(
                titles.contains(t),
                "{}: no posting titled {t:?} in {titles:?}",
                e.source
            );
        }
        for t in e.not_titles {
            assert!(!titles.contains(t), "{}: {t:?} is not a posting", e.source);
        }
        let untitled = format!("warning: {} items had no title", e.untitled);
        assert_eq!(text.contains(&untitled), e.untitled > 0, "{}:\n{text}", e.source);
    }
}

#[test]
fn play_pages_add_up_to_the_264_cells_of_the_capture() {
    let ws = workspace();
    let mut total = 0;
    for n in 1..=21 {
        let name = if n == 1 {
            "Play.html".to_owned()
        } else {
            format!("Play{n}.html")
        };
        let file = corpus().join("play").join(&name);
        let out = ws.run(&["source", "test", "play", "--file", file.to_str().unwrap()]);
        assert_ok(&out);
        let text = stdout(&out);
        let count: usize = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("play: "))
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{name}:\n{text}"));
        // Counted with grep -o 'class="News"': 24 on the first page, 12 on each other.
        assert_eq!(count, if n == 1 { 24 } else { 12 }, "{name}");
        total += count;
        if n == 1 {
            assert!(text.contains("Garvey "), "{text}");
            assert!(
                text.contains("http://play.example.onion/topic.php?id=S273ha2QYEhIN7"),
                "{text}"
            );
            assert!(text.contains("2024-09-29"), "{text}");
        }
        // The red page number is the current one; the next page follows it.
        // Play20.html is a byte-identical second capture of page 19.
        let next = if n == 20 { 20 } else { n + 1 };
        assert!(
            text.contains(&format!("next page: http://play.example.onion/index.php?page={next}")),
            "{name}:\n{text}"
        );
    }
    assert_eq!(total, 264);
}

#[test]
fn bianlian_masked_names_and_next_page() {
    let ws = workspace();
    let out = ws.run(&[
        "source",
        "test",
        "bianlian",
        "--file",
        page("bianlian", "bianlian-").to_str().unwrap(),
    ]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("http://bianlian.example.onion/companies/m_______.com/"),
        "{text}"
    );
    assert!(
        text.contains("next page: http://bianlian.example.onion/page/2/"),
        "{text}"
    );
    // Six of the ten names are masked (counted on the page), and flagged so.
    assert_eq!(text.matches("(masked)").count(), 6, "{text}");
    assert!(text.contains("m*** **** (masked)"), "{text}");
}

/// CAPTCHA, login, ransom portals and a 404 saved as a page: never an empty
/// listing, always `blocked`, and `source test` exits 1.
#[test]
fn captcha_login_portal_and_404_captures_are_blocked() {
    let ws = workspace();
    let cases = [
        ("clop", "clop", "clop-"),
        ("generic", "clop", "clop-"),
        ("generic", "cryptnet", "cryptnet-"),
        ("generic", "avoslocker", "avoslocker-"),
        ("generic", "la_piovra", "la_piovra-"),
        ("generic", "dunghill_leak", "dunghill_leak-"),
        ("bianlian", "dunghill_leak", "dunghill_leak-"),
        ("8base", "cryptnet", "cryptnet-"),
    ];
    for (source, group, file) in cases {
        let out = ws.run(&["source", "test", source, "--file", page(group, file).to_str().unwrap()]);
        assert_exit(&out, 1);
        let text = stdout(&out);
        assert!(
            text.starts_with(&format!("{source}: 0 postings (Blocked)")),
            "{source} on {group}:\n{text}"
        );
        assert!(text.contains("blocked: "), "{text}");
    }
}

#[test]
fn akira_embedded_json_needs_the_embedded_selector() {
    // The same page through a json source without `embedded` is not JSON.
    let ws = workspace();
    let akira = page("akira", "akira-");
    let plain = ws.path("plain.toml");
    std::fs::write(
        &plain,
        "[database]\npath = \"lw.db\"\n[[source]]\nname = \"akira\"\nkind = \"json\"\nurl = \"http://akira.example.onion/l\"\n[source.json]\ntitle = \"/title\"\n",
    )
    .unwrap();
    let out = ws.run(&[
        "--config",
        plain.to_str().unwrap(),
        "source",
        "test",
        "akira",
        "--file",
        akira.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "{}", stdout(&out));
}

#[test]
fn source_list_shows_every_included_source() {
    let ws = workspace();
    let out = ws.run(&["source", "list"]);
    assert_ok(&out);
    let text = stdout(&out);
    for name in [
        "8base",
        "akira",
        "babuk",
        "bianlian",
        "blacksuit",
        "clop",
        "crosslock",
        "daixin",
        "darkrace",
        "fog",
        "lockbit3",
        "play",
        "ransomhub",
        "generic",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{name} ")) && l.contains("never")),
            "{name}:\n{text}"
        );
    }
    assert!(
        text.lines().any(|l| l.starts_with("akira ") && l.contains(" json ")),
        "{text}"
    );
}
