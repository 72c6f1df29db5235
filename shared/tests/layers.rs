//! The one-way architecture, checked: in every library crate of the workspace, no top-level
//! modules import each other in a circle (non-test code); the vocabulary (`model`) imports no
//! other module, and nothing imports the wiring layer (`app`). A scan of `crate::…` and
//! `super::…` paths is enough: it sees what `use` and inline paths name.

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → the top-level modules its non-test code names.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, with its path relative to `src`.
fn rust_files(src: &Path, dir: &Path, out: &mut Vec<(Vec<String>, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(src, &p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel: Vec<String> = p.strip_prefix(src).unwrap().iter().map(|c| c.to_string_lossy().into_owned()).collect();
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

/// The code of a file without its `#[cfg(test)]` items and comments.
fn non_test_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            // Skip the next item: one line (`mod tests;`) or a braced block.
            let mut depth = 0i32;
            for l in lines.by_ref() {
                depth += l.matches('{').count() as i32 - l.matches('}').count() as i32;
                if depth <= 0 && (l.trim_end().ends_with(';') || l.trim_end().ends_with('}')) {
                    break;
                }
            }
            continue;
        }
        let code = match line.find("//") {
            Some(i) if line[..i].matches('"').count() % 2 == 0 => &line[..i],
            _ => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// `rel`: path under `src` (`["enrich", "fleet.rs"]`). Returns the top-level module and how deep
/// below it the file's module sits (`enrich/fleet.rs` → ("enrich", 1); `enrich/mod.rs` → 0).
fn module_of(rel: &[String]) -> Option<(String, usize)> {
    let first = rel.first()?;
    if rel.len() == 1 {
        let name = first.strip_suffix(".rs")?;
        return (!matches!(name, "lib" | "main")).then(|| (name.to_string(), 0));
    }
    let last = rel.last()?;
    let depth = if last == "mod.rs" { rel.len() - 2 } else { rel.len() - 1 };
    Some((first.clone(), depth))
}

fn graph(files: &[(Vec<String>, String)]) -> Graph {
    let crate_path = Regex::new(r"\bcrate::([a-z_][a-z0-9_]*)").unwrap();
    let super_path = Regex::new(r"\b((?:super::)+)([a-z_][a-z0-9_]*)").unwrap();
    let mut g = Graph::new();
    for (rel, text) in files {
        let Some((top, depth)) = module_of(rel) else { continue };
        // Test-only files (`mod tests;` in their parent) hold no edges of the architecture.
        if rel.last().is_some_and(|f| f == "tests.rs" || f == "proptests.rs") {
            continue;
        }
        let code = non_test_code(text);
        let deps = g.entry(top.clone()).or_default();
        for c in crate_path.captures_iter(&code) {
            deps.insert(c[1].to_string());
        }
        for c in super_path.captures_iter(&code) {
            // `super` k times from a module `depth` below the top-level one leaves it at k > depth.
            if c[1].len() / "super::".len() > depth {
                deps.insert(c[2].to_string());
            }
        }
        deps.remove(&top);
    }
    let tops: BTreeSet<String> = g.keys().cloned().collect();
    for deps in g.values_mut() {
        deps.retain(|d| tops.contains(d));
    }
    g
}

/// One circle of imports per strongly connected group, as `a → b → a`.
fn circles(g: &Graph) -> Vec<String> {
    fn reach(g: &Graph, from: &str, to: &str, seen: &mut BTreeSet<String>, path: &mut Vec<String>) -> bool {
        for next in g.get(from).into_iter().flatten() {
            if next == to {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if reach(g, next, to, seen, path) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut reported: BTreeSet<String> = BTreeSet::new();
    let mut out = vec![];
    for m in g.keys() {
        if reported.contains(m) {
            continue;
        }
        let mut path = vec![m.clone()];
        if reach(g, m, m, &mut BTreeSet::new(), &mut path) {
            reported.extend(path.iter().cloned());
            out.push(path.join(" → "));
        }
    }
    out
}

fn library_crates() -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(workspace()).unwrap().flatten() {
        let src = e.path().join("src");
        if src.join("lib.rs").is_file() {
            out.push(src);
        }
    }
    out.sort();
    out
}

fn graph_of(src: &Path) -> Graph {
    let mut files = vec![];
    rust_files(src, src, &mut files);
    graph(&files)
}

#[test]
fn no_library_crate_has_an_import_circle_between_its_top_level_modules() {
    let crates = library_crates();
    assert!(crates.iter().any(|c| c.ends_with("shared/src")), "the scan found the sagealarm crate: {crates:?}");
    for src in crates {
        let g = graph_of(&src);
        let found = circles(&g);
        assert!(found.is_empty(), "{}: top-level modules import each other in a circle: {}", src.display(), found.join("; "));
    }
}

#[test]
fn the_vocabulary_imports_nothing_and_nothing_imports_the_app() {
    let g = graph_of(&workspace().join("shared/src"));
    assert!(g.len() >= 12, "the scan sees the stages: {:?}", g.keys());
    assert_eq!(g.get("model"), Some(&BTreeSet::new()), "model imports: {:?}", g.get("model"));
    let into_app: Vec<&String> = g.iter().filter(|(_, deps)| deps.contains("app")).map(|(m, _)| m).collect();
    assert!(into_app.is_empty(), "these modules import the app layer: {into_app:?}");
}

/// The check itself can fail: a made-up crate with a circle, through `use`, an inline path and
/// `super::`, and with test code that must not count.
#[test]
fn the_scan_sees_a_circle_and_ignores_test_code() {
    let f = |path: &str, text: &str| (path.split('/').map(str::to_string).collect::<Vec<_>>(), text.to_string());
    let files = vec![
        f("a.rs", "use crate::b::Thing;\n// crate::c in a comment\n"),
        f("b/mod.rs", "mod inner;\n#[cfg(test)]\nmod tests {\n    use crate::c::X;\n}\n"),
        f("b/inner.rs", "fn x() { super::super::c::go() }\n"),
        f("c.rs", "pub fn go() { crate::a::run() }\n"),
        f("d.rs", "use crate::a::Thing;\n"),
        f("d/tests.rs", "use crate::e::X;\n"),
        f("e.rs", "#[cfg(test)]\nmod tests;\n"),
    ];
    let g = graph(&files);
    assert_eq!(g["b"], BTreeSet::from(["c".to_string()]));
    assert_eq!(g["a"], BTreeSet::from(["b".to_string()]));
    assert_eq!(g["d"], BTreeSet::from(["a".to_string()]));
    assert_eq!(circles(&g), vec!["a → b → c → a".to_string()]);
    let acyclic: Graph = g
        .into_iter()
        .map(|(m, mut d)| {
            d.remove("a");
            (m, d)
        })
        .collect();
    assert!(circles(&acyclic).is_empty());
}
