//! Where the unit tests find the real corpus: `shared/corpus` beside the
//! checkout (as CI has it) or beside the folder holding it (a worktree).

use std::path::{Path, PathBuf};

pub fn corpus() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../shared/corpus", "../../shared/corpus"]
        .map(|p| root.join(p))
        .into_iter()
        .find(|p| p.join("leaksites").is_dir())
        .expect("the real corpus: shared/corpus beside the checkout")
}
