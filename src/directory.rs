//! `source import`: a leak-site directory (a RansomLook or ransomwatch
//! groups file) turned into `[[source]]` tables.
//!
//! The trackers keep every known address of every group and when each last
//! answered. One table per group: `url` is the address that answered most
//! recently, `mirrors` the others, best first. A group leakwatch ships a
//! definition for (`config/sources/`) gets its selectors; the others become
//! pending sources (no `[source.html]` yet) that a run fetches and proposes
//! selectors for. Importing into an existing file updates only `url` and
//! `mirrors` of the groups it already has, so an analyst's selectors,
//! labels and comments stay as written.
//!
//! Addresses are checked before anything is written: a v2 onion address is
//! dropped (Tor no longer serves them), any other malformed onion address
//! stops the import with the group's name.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::IgnoredAny;
use toml_edit::{Array, DocumentMut, Item, Table, value};
use url::Url;

use crate::config::onion;

/// The source definitions leakwatch ships, by source name.
const SHIPPED: &[&str] = &[
    include_str!("../config/sources/8base.toml"),
    include_str!("../config/sources/akira.toml"),
    include_str!("../config/sources/babuk.toml"),
    include_str!("../config/sources/bianlian.toml"),
    include_str!("../config/sources/blacksuit.toml"),
    include_str!("../config/sources/clop.toml"),
    include_str!("../config/sources/crosslock.toml"),
    include_str!("../config/sources/daixin.toml"),
    include_str!("../config/sources/darkrace.toml"),
    include_str!("../config/sources/fog.toml"),
    include_str!("../config/sources/lockbit3.toml"),
    include_str!("../config/sources/play.toml"),
    include_str!("../config/sources/ransomhub.toml"),
];

/// One group as the tracker lists it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: String,
    locations: Vec<RawLocation>,
    captcha: Option<bool>,
    javascript_render: Option<bool>,
    // Known, so that only an unknown field is an error; not used.
    #[serde(rename = "parser")]
    _parser: Option<IgnoredAny>,
    #[serde(rename = "geckodriver")]
    _geckodriver: Option<IgnoredAny>,
    #[serde(rename = "meta")]
    _meta: Option<IgnoredAny>,
    #[serde(rename = "profile")]
    _profile: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocation {
    fqdn: String,
    slug: Option<String>,
    available: Option<bool>,
    lastscrape: Option<String>,
    updated: Option<String>,
    #[serde(rename = "title")]
    _title: Option<IgnoredAny>,
    #[serde(rename = "version")]
    _version: Option<IgnoredAny>,
    #[serde(rename = "timeout")]
    _timeout: Option<IgnoredAny>,
    #[serde(rename = "enabled")]
    _enabled: Option<IgnoredAny>,
}

/// One group, ready to become a `[[source]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The source name: the group's name in lowercase, `[a-z0-9_-]` only.
    pub name: String,
    /// The group's name as the tracker writes it.
    pub label: String,
    /// Best first: available, then most recently scraped.
    pub addresses: Vec<Url>,
    pub javascript: bool,
    pub captcha: bool,
}

/// What an import read: the groups, and what it left out and why.
#[derive(Debug, Default)]
pub struct Directory {
    pub groups: Vec<Group>,
    /// Lines for the user: v2 addresses dropped, groups merged or skipped.
    pub notes: Vec<String>,
}

/// Reads a groups file. Every problem is listed, each naming its group;
/// nothing is returned when there is one.
pub fn parse(text: &str) -> Result<Directory, Vec<String>> {
    let values: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| {
        vec![format!(
            "not a groups file (a JSON array of groups with `name` and `locations`): {e}"
        )]
    })?;
    let mut errors = Vec::new();
    let mut dir = Directory::default();
    let mut seen: HashMap<String, String> = HashMap::new();
    for (i, v) in values.into_iter().enumerate() {
        let shown = match v.get("name").and_then(|n| n.as_str()) {
            Some(n) => format!("group #{} `{n}`", i + 1),
            None => format!("group #{}", i + 1),
        };
        let raw: RawGroup = match serde_json::from_value(v) {
            Ok(g) => g,
            Err(e) => {
                errors.push(format!("{shown}: {e}"));
                continue;
            }
        };
        let name = source_name(&raw.name);
        if name.is_empty() {
            errors.push(format!("{shown}: the name has no letter or digit to name a source by"));
            continue;
        }
        if let Some(earlier) = seen.get(&name) {
            if *earlier == raw.name {
                errors.push(format!(
                    "{shown}: listed twice: keep one entry per group in the groups file"
                ));
                continue;
            }
            dir.notes.push(format!(
                "`{}` and `{earlier}` are one source `{name}`: their addresses are merged",
                raw.name
            ));
        }
        seen.insert(name.clone(), raw.name.clone());
        let mut located = Vec::new();
        for loc in &raw.locations {
            match address(loc) {
                Ok(url) => located.push((loc, url)),
                Err(Skip::V2(why)) => dir.notes.push(format!("{shown}: {why}: dropped")),
                Err(Skip::Bad(why)) => errors.push(format!("{shown}: {why}")),
            }
        }
        // Most recently available first; the tracker's timestamps sort as text.
        located.sort_by(|(a, _), (b, _)| {
            (b.available.unwrap_or(false), &b.lastscrape, &b.updated).cmp(&(
                a.available.unwrap_or(false),
                &a.lastscrape,
                &a.updated,
            ))
        });
        let mut addresses: Vec<Url> = Vec::new();
        for (_, url) in located {
            if !addresses.contains(&url) {
                addresses.push(url);
            }
        }
        if let Some(g) = dir.groups.iter_mut().find(|g| g.name == name) {
            for u in addresses {
                if !g.addresses.contains(&u) {
                    g.addresses.push(u);
                }
            }
            continue;
        }
        dir.groups.push(Group {
            name,
            label: raw.name.clone(),
            addresses,
            javascript: raw.javascript_render.unwrap_or(false),
            captcha: raw.captcha.unwrap_or(false),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let (usable, empty): (Vec<Group>, Vec<Group>) = dir.groups.into_iter().partition(|g| !g.addresses.is_empty());
    for g in &empty {
        dir.notes
            .push(format!("`{}` has no usable address left: not imported", g.label));
    }
    dir.groups = usable;
    Ok(dir)
}

enum Skip {
    V2(String),
    Bad(String),
}

/// A location's URL, checked: the tracker's `slug` (it may carry a path), or
/// its host name.
fn address(loc: &RawLocation) -> Result<Url, Skip> {
    let text = loc.slug.clone().unwrap_or_else(|| format!("http://{}/", loc.fqdn));
    let url = Url::parse(&text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| Skip::Bad(format!("location `{text}` is not an http(s) URL")))?;
    let host = url.host_str().unwrap_or_default();
    match onion::check(host) {
        Ok(()) => Ok(url),
        Err(why) if why.contains("v2 onion") => Err(Skip::V2(format!("`{host}` is a v2 onion address"))),
        Err(why) => Err(Skip::Bad(format!("location {why}"))),
    }
}

/// A group's name as a source name: lowercase ASCII letters, digits, `_`
/// and `-`, other runs of characters turned into one `-`.
pub fn source_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// Writes `dir` into `existing` (a sources file's text, empty for a new
/// one): existing sources get their addresses updated and nothing else;
/// new groups are appended. Returns the new text and how many sources were
/// added and updated.
pub fn merge(existing: &str, dir: &Directory, groups_file: &str) -> Result<(String, usize, usize), String> {
    let mut doc: DocumentMut = existing
        .parse()
        .map_err(|e| format!("cannot be read as TOML, so it is left as it is: {e}"))?;
    if existing.trim().is_empty() {
        doc.decor_mut().set_prefix(format!(
            "# Leak sites imported by `leakwatch source import {groups_file}`.\n\
             # Include this file from leakwatch.toml (include = [\"THIS FILE\"]). Importing\n\
             # again updates `url` and `mirrors` and keeps everything else as you wrote it.\n"
        ));
    }
    let shipped = shipped();
    let sources = doc
        .entry("source")
        .or_insert(Item::ArrayOfTables(Default::default()))
        .as_array_of_tables_mut()
        .ok_or("its `source` is not a list of [[source]] tables")?;
    let (mut added, mut updated) = (0, 0);
    for g in &dir.groups {
        let existing = sources
            .iter_mut()
            .find(|t| t.get("name").and_then(Item::as_str) == Some(g.name.as_str()));
        match existing {
            Some(t) => {
                set_addresses(t, g);
                updated += 1;
            }
            None => {
                sources.push(new_table(g, shipped.get(g.name.as_str())));
                added += 1;
            }
        }
    }
    Ok((doc.to_string(), added, updated))
}

fn set_addresses(t: &mut Table, g: &Group) {
    t["url"] = value(g.addresses[0].as_str());
    if g.addresses.len() > 1 {
        t["mirrors"] = value(g.addresses[1..].iter().map(Url::as_str).collect::<Array>());
    } else {
        t.remove("mirrors");
    }
}

fn new_table(g: &Group, shipped: Option<&Table>) -> Table {
    let mut comment = format!("\n# {}", g.label);
    let mut t = match shipped {
        Some(def) => {
            comment.push_str(": selectors from leakwatch's config/sources/");
            let mut t = def.clone();
            t["group"] = value(&g.label);
            t
        }
        None => {
            comment.push_str(&format!(
                ": pending, no [source.html] yet. `leakwatch run` fetches the page and stores a\n\
                 # proposal; `leakwatch source suggest {}` prints it, to paste below.",
                g.name
            ));
            let mut t = Table::new();
            t["name"] = value(&g.name);
            t["kind"] = value("html");
            t["label"] = value(&g.label);
            t["group"] = value(&g.label);
            t
        }
    };
    if g.javascript {
        comment.push_str(
            "\n# The site needs JavaScript (javascript_render in the groups file): its pages\n\
             # load in headless Chromium (Debian's `chromium`; `leakwatch check` says when it is missing).",
        );
        t["render"] = value("chromium");
    }
    if g.captcha {
        comment.push_str("\n# The site shows a CAPTCHA (captcha in the groups file): expect `blocked`.");
    }
    comment.push('\n');
    set_addresses(&mut t, g);
    t.decor_mut().set_prefix(comment);
    t.set_position(None);
    for (_, item) in t.iter_mut() {
        if let Some(sub) = item.as_table_mut() {
            sub.set_position(None);
        }
    }
    t
}

/// The names of the shipped definitions.
pub fn shipped_names() -> Vec<&'static str> {
    SHIPPED
        .iter()
        .filter_map(|text| {
            let line = text.lines().find(|l| l.starts_with("name = "))?;
            Some(line.trim_start_matches("name = ").trim_matches('"'))
        })
        .collect()
}

/// The shipped `[[source]]` tables, by name.
fn shipped() -> HashMap<String, Table> {
    let mut out = HashMap::new();
    for text in SHIPPED {
        let doc: DocumentMut = text.parse().expect("shipped source definitions are valid TOML");
        for t in doc["source"].as_array_of_tables().into_iter().flatten() {
            let mut t = t.clone();
            // The shipped file's own header comment describes the site; keep it.
            if let Some(name) = t.get("name").and_then(Item::as_str) {
                let name = name.to_owned();
                t.decor_mut().set_prefix("");
                out.insert(name, t);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const V3: &str = "lockbitapt6vx57t3eeqjofwgcglmutr3a35nygvokja5uuccip4ykyd.onion";

    fn group(name: &str, locations: &str) -> String {
        format!("{{\"name\": \"{name}\", \"captcha\": false, \"meta\": null, \"locations\": [{locations}]}}")
    }

    fn location(fqdn: &str, available: bool, lastscrape: &str) -> String {
        format!(
            "{{\"fqdn\": \"{fqdn}\", \"slug\": \"http://{fqdn}/\", \"available\": {available}, \"lastscrape\": \"{lastscrape}\", \"updated\": \"{lastscrape}\", \"title\": null, \"version\": 3}}"
        )
    }

    #[test]
    fn names_become_source_names() {
        assert_eq!(source_name("KELVIN SECURITY"), "kelvin-security");
        assert_eq!(source_name("lapsus$"), "lapsus");
        assert_eq!(source_name("mount-locker"), "mount-locker");
        assert_eq!(source_name("$$$"), "");
    }

    #[test]
    fn the_address_that_answered_last_comes_first() {
        let other = "xqkz2rmrqkeqf6sjbrb47jfwnqxcd4o2zvaxxzrpbh2piknms37rw2ad.onion";
        let text = format!(
            "[{}]",
            group(
                "g",
                &format!(
                    "{}, {}",
                    location(V3, false, "2022-08-01 00:00:00"),
                    location(other, true, "2022-07-01 00:00:00")
                )
            )
        );
        let dir = parse(&text).unwrap();
        assert_eq!(
            dir.groups[0].addresses,
            [
                Url::parse(&format!("http://{other}/")).unwrap(),
                Url::parse(&format!("http://{V3}/")).unwrap()
            ],
            "available beats a later scrape of an unavailable address"
        );
    }

    #[test]
    fn bad_input_names_the_group() {
        let e = parse("{not json").unwrap_err();
        assert!(e[0].contains("not a groups file"), "{e:?}");
        let typo = V3.replacen("apt6", "apt7", 1);
        let text = format!(
            "[{}, {}, {}, {}]",
            group("one", &location(&typo, true, "x")),
            group("two", &location(V3, true, "x")).replace("\"meta\"", "\"colour\": 1, \"meta\""),
            group("two", &location(V3, true, "x")),
            "{\"name\": null, \"locations\": []}"
        );
        let e = parse(&text).unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with("group #1 `one`: location") && e[0].contains("checksum"),
            "{e:?}"
        );
        assert!(e[1].starts_with("group #2 `two`: unknown field `colour`"), "{e:?}");
        assert!(e[2].starts_with("group #4: invalid type: null"), "{e:?}");
        let text = format!(
            "[{}, {}]",
            group("two", &location(V3, true, "x")),
            group("two", &location(V3, true, "x"))
        );
        assert!(parse(&text).unwrap_err()[0].contains("listed twice"));
    }

    #[test]
    fn v2_addresses_are_dropped_and_a_group_left_without_any_is_noted() {
        let text = format!("[{}]", group("old", &location("ekbgzchl6x2ias37.onion", true, "x")));
        let dir = parse(&text).unwrap();
        assert!(dir.groups.is_empty());
        assert!(dir.notes[0].contains("v2 onion address: dropped"), "{:?}", dir.notes);
        assert!(dir.notes[1].contains("`old` has no usable address"), "{:?}", dir.notes);
    }

    #[test]
    fn reimporting_updates_addresses_and_keeps_the_analysts_selectors() {
        let text = format!("[{}]", group("newgroup", &location(V3, true, "x")));
        let dir = parse(&text).unwrap();
        let (first, added, _) = merge("", &dir, "groups.json").unwrap();
        assert_eq!(added, 1);
        assert!(first.contains("pending, no [source.html] yet"), "{first}");
        let edited = format!("{first}# my selectors\n[source.html]\nitem = \"div.card\"\ntitle = \"h3\"\n");
        let other = "xqkz2rmrqkeqf6sjbrb47jfwnqxcd4o2zvaxxzrpbh2piknms37rw2ad.onion";
        let text = format!(
            "[{}]",
            group(
                "newgroup",
                &format!("{}, {}", location(other, true, "y"), location(V3, false, "x"))
            )
        );
        let (second, added, updated) = merge(&edited, &parse(&text).unwrap(), "groups.json").unwrap();
        assert_eq!((added, updated), (0, 1));
        assert!(second.contains(&format!("url = \"http://{other}/\"")), "{second}");
        assert!(second.contains(&format!("mirrors = [\"http://{V3}/\"]")), "{second}");
        assert!(
            second.contains("# my selectors\n[source.html]\nitem = \"div.card\""),
            "{second}"
        );
    }
}
