//! `run --every DURATION`: a scheduler for machines without cron, and the
//! signal handling every run shares.
//!
//! SIGTERM (systemd stopping the service, `kill`) and SIGINT (Ctrl-C) never
//! kill a run mid-write: they set a flag that the run checks between sources
//! (see [`crate::run::RunOptions::stop`]). The run closes its record as
//! 'interrupted', the scheduler does not start another, and the process exits
//! through `main`, so the lock and the database are released normally.

use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::time::Instant;

/// The shortest `--every`: a schedule is for minutes and hours, not a loop.
pub const MIN_EVERY: Duration = Duration::from_secs(1);

/// Parses `30m`, `1h`, `90s`, `1h30m` (units s, m, h, d).
pub fn parse_every(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration: write it as 30m, 1h, 90s or 1h30m");
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(bad()),
        };
        total = n.checked_mul(unit).and_then(|s| total.checked_add(s)).ok_or_else(bad)?;
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    let every = Duration::from_secs(total);
    if every < MIN_EVERY {
        return Err(format!("`{text}`: at least {}s", MIN_EVERY.as_secs()));
    }
    Ok(every)
}

/// Installs handlers for SIGTERM and SIGINT; the receiver turns `true` at
/// the first. Later signals are logged, not obeyed: the stop is already
/// under way and a second kill would gain nothing but a half-done stage.
pub fn stop_on_signals() -> std::io::Result<watch::Receiver<bool>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            if first {
                tracing::warn!("{name}: finishing the current stage, then stopping");
                let _ = tx.send(true);
                first = false;
            } else {
                tracing::warn!("{name}: already stopping");
            }
        }
    });
    Ok(rx)
}

/// Waits until `period` after `started` (a run that overran is followed at
/// once by the next); `false` when a stop was asked for, before or while waiting.
pub async fn wait_next(started: Instant, period: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return false;
    }
    let next = started + period;
    tracing::info!(
        "next run in {}s",
        next.saturating_duration_since(Instant::now()).as_secs()
    );
    let woke = tokio::select! {
        _ = tokio::time::sleep_until(next) => true,
        _ = stop.wait_for(|s| *s) => false,
    };
    woke && !*stop.borrow()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_every("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_every("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_every("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_every("1d"), Ok(Duration::from_secs(86400)));
        for bad in ["", "30", "m", "0m", "5 minutes", "-1h"] {
            assert!(parse_every(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn waits_out_the_period_from_the_start_of_the_run() {
        let (tx, mut rx) = watch::channel(false);
        let period = Duration::from_secs(1800);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert!(wait_next(started, period, &mut rx).await);
        assert_eq!(started.elapsed(), period, "start to start");

        let late = Instant::now() - Duration::from_secs(3600);
        let before = Instant::now();
        assert!(wait_next(late, period, &mut rx).await);
        assert_eq!(before.elapsed(), Duration::ZERO, "an overrun is followed at once");

        let started = Instant::now();
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            tx.send(true).unwrap();
        });
        assert!(!wait_next(started, period, &mut rx).await);
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(60),
            "a stop ends the wait at once"
        );
        stopper.await.unwrap();
        assert!(!wait_next(Instant::now(), period, &mut rx).await);
    }
}
