//! Guards the layout: the top-level modules of `src/` depend on each other
//! one way only, so each stage reads from the ones before it and none
//! reaches back (`store` never imports `notify`, `logging` never `run`).
//!
//! The graph is read from the source text: every `crate::x` path in a file
//! of module `x'` (in `use` lines or inline) is an arrow `x' → x`. Comment
//! lines are skipped: a doc link is not a dependency. `main.rs` is the
//! binary and reaches the library as `leakwatch::`, so it is outside.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// module → module it uses → where (first `file:line` seen).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The identifier `s` starts with (after blanks).
fn ident(s: &str) -> &str {
    let s = s.trim_start();
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The identifiers right after each `crate::`, including every item of a
/// `crate::{a, b::c}` group.
fn crate_paths(line: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for (at, _) in line.match_indices("crate::") {
        let preceded_by_ident = line[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        if preceded_by_ident {
            continue;
        }
        let rest = &line[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let mut depth = 0;
                let mut start = 0;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            found.push(ident(&group[start..i]));
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            found.push(ident(&group[start..i]));
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
            }
            None => found.push(ident(rest)),
        }
    }
    found
}

fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let top = |file: &Path| -> String {
        let rel = file.strip_prefix(src).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_string_lossy();
        first.trim_end_matches(".rs").to_string()
    };
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| top(f))
        .filter(|m| m != "main" && m != "lib")
        .collect();
    let mut graph = Graph::new();
    for file in &files {
        let from = top(file);
        if !modules.contains(&from) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for to in crate_paths(line) {
                if to != from && modules.contains(to) {
                    let at = format!("{}:{}", file.strip_prefix(src).unwrap().display(), n + 1);
                    graph
                        .entry(from.clone())
                        .or_default()
                        .entry(to.to_string())
                        .or_insert(at);
                }
            }
        }
    }
    graph
}

/// Every cycle a depth-first walk closes, each as the modules around it
/// (first one repeated at the end).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    fn walk(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        out: &mut Vec<Vec<String>>,
    ) {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            out.push(cycle);
            return;
        }
        if done.contains(node) {
            return;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            walk(next, graph, path, done, out);
        }
        path.pop();
        done.insert(node.to_string());
    }
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for node in graph.keys() {
        walk(node, graph, &mut Vec::new(), &mut done, &mut out);
    }
    out
}

#[test]
fn top_level_modules_have_no_import_cycle() {
    let graph = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let found = cycles(&graph);
    let explain = |cycle: &Vec<String>| {
        let arrows: Vec<String> = cycle
            .windows(2)
            .map(|w| format!("  {} → {} ({})", w[0], w[1], graph[&w[0]][&w[1]]))
            .collect();
        format!("{}\n{}", cycle.join(" → "), arrows.join("\n"))
    };
    assert!(
        found.is_empty(),
        "import cycle(s) between top-level modules of src/:\n{}",
        found.iter().map(explain).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn crate_paths_reads_use_lines_groups_and_inline_paths() {
    assert_eq!(crate_paths("use crate::store::{self, Store};"), ["store"]);
    assert_eq!(
        crate_paths("use crate::{notify::Alert, store, watch::{Hit, Matcher}};"),
        ["notify", "store", "watch"]
    );
    assert_eq!(
        crate_paths("let m = crate::watch::Matcher::new(&crate::text::clean(x));"),
        ["watch", "text"]
    );
    assert!(crate_paths("use other_crate::store;").is_empty());
}

#[test]
fn cycles_names_the_modules_around_the_loop() {
    let mut g = Graph::new();
    for (from, to) in [("store", "notify"), ("notify", "store"), ("run", "store")] {
        g.entry(from.into()).or_default().insert(to.into(), String::new());
    }
    assert_eq!(cycles(&g), [["notify", "store", "notify"]]);
    g.get_mut("store").unwrap().remove("notify");
    assert!(cycles(&g).is_empty());
}
