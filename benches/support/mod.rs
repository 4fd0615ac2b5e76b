//! What the benchmarks share. Where the real corpus is: `$LEAKWATCH_CORPUS`, else
//! `shared/corpus` beside the checkout (as CI has it) or beside the folder
//! holding it (a worktree).

use std::path::{Path, PathBuf};

pub fn corpus() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os("LEAKWATCH_CORPUS")
        .map(PathBuf::from)
        .into_iter()
        .chain(["../shared/corpus", "../../shared/corpus"].map(|p| root.join(p)))
        .find(|p| p.join("leaksites").is_dir())
        .expect("the real corpus: set LEAKWATCH_CORPUS, or put shared/corpus beside the checkout")
}
