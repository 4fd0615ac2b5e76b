//! A progress bar per run stage, for someone watching a terminal.
//!
//! Shown only when stderr is a terminal, logs are quiet text (no `-v`, no
//! JSON) and the stage has lasted more than a second: under cron or systemd
//! nothing is drawn, and a quick run does not flicker.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a stage runs before its bar appears.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// Whether bars may be drawn in this process at all.
pub fn wanted(verbose: u8) -> bool {
    verbose == 0 && crate::logging::format() == crate::logging::LogFormat::Text && std::io::stderr().is_terminal()
}

/// One stage's bar; clears itself when dropped.
pub struct Stage {
    bar: ProgressBar,
}

impl Stage {
    /// A bar over `total` items, or a spinner when `total` is `None`; drawn
    /// only if `enabled` and the stage outlasts [`SHOW_AFTER`]. Needs a
    /// tokio runtime.
    pub fn start(enabled: bool, name: &'static str, total: Option<u64>) -> Stage {
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
        let template = match total {
            Some(_) => "{spinner} {prefix:>8} [{bar:30}] {pos}/{len} {wide_msg}",
            None => "{spinner} {prefix:>8} {wide_msg}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(name);
        if enabled {
            let later = bar.downgrade();
            tokio::spawn(async move {
                tokio::time::sleep(SHOW_AFTER).await;
                if let Some(bar) = later.upgrade().filter(|b| !b.is_finished()) {
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    crate::logging::write_around(bar.downgrade());
                }
            });
        }
        Stage { bar }
    }

    /// One item done; `what` is shown beside the bar.
    pub fn done(&self, what: &str) {
        self.bar.set_message(crate::text::clean(what));
        self.bar.inc(1);
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
