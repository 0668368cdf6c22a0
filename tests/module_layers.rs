//! The layers import one way: a picture of which module of `src/` uses which (through a
//! `crate::…` path outside comments) has no circle, and each layer uses only the ones the crate
//! docs list above it. `cargo test --test module_layers -- --nocapture` prints the picture.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The layers in the order the crate docs give them: each may use only those before it.
const ORDER: &[&str] = &[
    "close",
    "mask",
    "role",
    "time",
    "utf8",
    "fault",
    "frame",
    "extension",
    "handshake",
    "deflate",
    "error",
    "connection",
    "reconnect",
];

/// Every `.rs` file of a module: `src/name.rs`, or everything under `src/name/`.
fn sources(src: &Path, module: &str) -> Vec<String> {
    let file = src.join(format!("{module}.rs"));
    if file.exists() {
        return vec![fs::read_to_string(file).unwrap()];
    }
    let mut out = Vec::new();
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(fs::read_to_string(path).unwrap());
            }
        }
    }
    out
}

/// The modules named in `crate::module` paths in code (comments, doc comments included, are
/// skipped: a doc link is not an import). Test modules are skipped too: a unit test may use
/// anything.
fn uses(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    let mut found = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap();
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && name.chars().next().unwrap().is_lowercase() {
                found.insert(name);
            }
        }
        // `use crate::{a, b::C}` groups.
        if let Some(group) = line.split("use crate::{").nth(1) {
            for item in group.split(',') {
                let name: String =
                    item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && name.chars().next().unwrap().is_lowercase() {
                    found.insert(name);
                }
            }
        }
    }
    found
}

#[test]
fn module_imports_run_one_way_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
        .map(|l| l.trim_end_matches(';').to_owned())
        .collect();
    let listed: BTreeSet<String> = ORDER.iter().map(|s| s.to_string()).collect();
    assert_eq!(declared, listed, "every module of lib.rs has a place in the layer order");

    let mut graph: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for module in ORDER {
        let mut used = BTreeSet::new();
        for text in sources(&src, module) {
            used.extend(uses(&text));
        }
        used.remove(*module);
        used.retain(|m| listed.contains(m));
        graph.insert(module, used);
    }

    println!("module imports (each uses only modules to its left in the layer order):");
    for (module, used) in &graph {
        println!("  {module:<10} -> {}", used.iter().cloned().collect::<Vec<_>>().join(", "));
    }
    let rank = |m: &str| ORDER.iter().position(|o| *o == m).unwrap();
    let mut upward = Vec::new();
    for (module, used) in &graph {
        for target in used {
            if rank(target) >= rank(module) {
                upward.push(format!("{module} -> {target}"));
            }
        }
    }
    assert!(upward.is_empty(), "imports against the layer order (a circle in the making): {upward:?}");
}

#[test]
fn the_checker_sees_imports() {
    let text = "use crate::frame::{OpCode};\nuse crate::{close::CloseCode, mask};\n// crate::deflate in a comment\n\
                let x = crate::utf8::as_str(b);\n#[cfg(test)]\nmod tests {\n use crate::connection::X;\n}\n";
    let found: Vec<String> = uses(text).into_iter().collect();
    assert_eq!(found, ["close", "frame", "mask", "utf8"]);
}
