//! Replays every committed fuzz input on the stable toolchain: the seed corpora
//! (`fuzz/corpus/<target>/*`) and the crash reproducers (`fuzz/artifacts/<target>/*`,
//! committed as `regression-<what>`), through the very functions the cargo-fuzz targets call
//! (`fuzz/targets.rs`). A reproducer that still crashes fails this test with the target's own
//! assertion message.

#[path = "../fuzz/targets.rs"]
mod targets;

use std::fs;
use std::path::{Path, PathBuf};

/// The files in `dir/<target>/`, sorted, as `(target, path)`; every subdirectory must be named
/// after a target. With `crashes_only`, libFuzzer's resource findings (`oom-*`, `timeout-*`,
/// `slow-unit-*`) are skipped: they reproduce only under libFuzzer's limits.
fn inputs(dir: &Path, crashes_only: bool) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    let Ok(targets) = fs::read_dir(dir) else {
        return found;
    };
    for target in targets {
        let target = target.expect("readable directory entry").path();
        if !target.is_dir() {
            continue;
        }
        let name = target.file_name().and_then(|n| n.to_str()).expect("UTF-8 target name").to_owned();
        assert!(
            targets::ALL_TARGETS.contains(&name.as_str()),
            "{} is not named after a fuzz target",
            target.display()
        );
        if !targets::targets().iter().any(|(built, _)| *built == name) {
            // `inflate` without the `deflate` feature: replayed by `cargo test --all-features`.
            continue;
        }
        for file in fs::read_dir(&target).expect("readable target directory") {
            let path = file.expect("readable directory entry").path();
            let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if !path.is_file() || file_name.starts_with('.') {
                continue;
            }
            let resource = ["oom-", "timeout-", "slow-unit-"].iter().any(|p| file_name.starts_with(p));
            if crashes_only && resource {
                continue;
            }
            found.push((name.clone(), path));
        }
    }
    found.sort();
    found
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Runs every input, then fails listing every one that crashed (each crash's own message is
/// printed above by the panic hook).
fn replay(inputs: &[(String, PathBuf)]) {
    let mut crashed = Vec::new();
    for (target, path) in inputs {
        let data = fs::read(path).expect("readable input");
        match std::panic::catch_unwind(|| targets::run(target, &data)) {
            Ok(known) => assert!(known, "no target {target}"),
            Err(_) => crashed.push(format!("{target}: {}", path.display())),
        }
    }
    assert!(crashed.is_empty(), "{} fuzz inputs crash:\n{}", crashed.len(), crashed.join("\n"));
}

#[test]
fn every_seed_corpus_file_passes() {
    let corpus = inputs(&fuzz_dir().join("corpus"), false);
    for (target, _) in targets::targets() {
        assert!(corpus.iter().any(|(t, _)| t == target), "target {target} has no seed corpus");
    }
    replay(&corpus);
}

#[test]
fn every_committed_crash_reproducer_passes() {
    // Reproducers are committed as fuzz/artifacts/<target>/regression-<what>. A local
    // `crash-*` that libFuzzer just wrote there is replayed too, so `cargo test` shows it.
    replay(&inputs(&fuzz_dir().join("artifacts"), true));
}

#[test]
fn short_and_empty_inputs_are_harmless() {
    for (target, _) in targets::targets() {
        for data in [&b""[..], b"\x00", b"\x01\x02", b"\x00\x00\x81", b"\xff\xff\xff\xff"] {
            assert!(targets::run(target, data));
        }
    }
}
