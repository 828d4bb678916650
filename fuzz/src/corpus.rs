//! Where the seed corpora live, and the inputs `cargo test` replays.

use std::fs;
use std::path::{Path, PathBuf};

/// The fuzz crate's directory.
pub fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The repository's traces/ directory.
pub fn traces_dir() -> PathBuf {
    fuzz_dir().join("../traces")
}

/// The committed seeds of one target: fuzz/seeds/<target>/.
pub fn seeds_dir(target: &str) -> PathBuf {
    fuzz_dir().join("seeds").join(target)
}

/// A target's dictionary: fuzz/dict/<target>.dict.
pub fn dict_file(target: &str) -> PathBuf {
    fuzz_dir().join("dict").join(format!("{target}.dict"))
}

/// The orderings seed of every scenario under traces/: its name (the
/// trace's file stem) and the bytes of the operations it stands for
/// (`daedalus_replay::seeds`).
pub fn orderings_seeds() -> Vec<(String, Vec<u8>)> {
    use daedalus_replay::seeds;
    trace_scenarios()
        .iter()
        .map(|f| {
            let s = daedalus_replay::Scenario::load(f).expect("traces/ scenarios parse");
            let name = f.file_stem().unwrap().to_string_lossy().into_owned();
            (name, seeds::encode(&seeds::ops_of(&s)))
        })
        .collect()
}

/// Every regular file under `dir` (recursively), sorted; none if `dir`
/// does not exist.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Every `*.scn` under traces/.
pub fn trace_scenarios() -> Vec<PathBuf> {
    files(&traces_dir())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect()
}

/// The scenario-carrying targets: their crash inputs convert to
/// scenario files that `daedalus-replay minimize` can shrink.
pub fn to_scenario(target: &str, data: &[u8]) -> Option<daedalus_replay::Scenario> {
    match target {
        "orderings" => Some(crate::orderings::scenario(&crate::orderings::ops(data))),
        "kmod_messages" => std::panic::catch_unwind(|| crate::kmod_messages::scenario(data)).ok(),
        "scenario_text" => daedalus_replay::Scenario::parse_bytes(Path::new("input"), data).ok(),
        _ => None,
    }
}
