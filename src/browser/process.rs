//! The Chromium process tree: started in its own process group with a fresh
//! throw-away profile, and gone afterwards however the run ends.
//!
//! Three layers keep a browser from outliving leakwatch: a clean close asks
//! Chromium to quit and then kills its process group; Chromium quits by
//! itself when its debugging pipe closes, which the kernel does when
//! leakwatch dies, SIGKILL included; and the next start sweeps the profiles
//! of dead owners, killing any process still running with one.

use std::ffi::OsStr;
use std::io::{PipeReader, PipeWriter};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Profile folders are named `<PREFIX><owner pid>-<random>` in the temp folder.
const PROFILE_PREFIX: &str = "leakwatch-chromium-";

/// A running Chromium and the profile it owns.
pub struct Process {
    child: Child,
    profile: Option<tempfile::TempDir>,
}

/// The pipe ends leakwatch keeps: it writes commands to `to`, reads from `from`.
pub struct Pipes {
    pub to: PipeWriter,
    pub from: PipeReader,
}

impl Process {
    /// Starts `program` with `args`, a new profile and the debugging pipe.
    pub fn spawn(program: &Path, args: &[String]) -> std::io::Result<(Process, Pipes)> {
        sweep_orphans();
        let profile = tempfile::Builder::new()
            .prefix(&format!("{PROFILE_PREFIX}{}-", std::process::id()))
            .tempdir()?;
        let (their_in, to) = std::io::pipe()?;
        let (from, their_out) = std::io::pipe()?;
        let log = std::fs::File::create(profile.path().join("chromium.log"))?;
        // Chromium's own temporary files go in the profile, and with it.
        let tmp = profile.path().join("tmp");
        std::fs::create_dir(&tmp)?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("TMPDIR", &tmp)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0);
        let (fd_in, fd_out) = (their_in.as_raw_fd(), their_out.as_raw_fd());
        // SAFETY: between fork and exec only dup2 runs, which is
        // async-signal-safe; the descriptors are open in the parent until
        // spawn returns. dup2 leaves the copies without close-on-exec, so
        // Chromium inherits exactly fds 3 and 4 besides stdio.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(fd_in, 3) < 0 || libc::dup2(fd_out, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        drop((their_in, their_out));
        Ok((
            Process {
                child,
                profile: Some(profile),
            },
            Pipes { to, from },
        ))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn profile(&self) -> &Path {
        self.profile.as_ref().expect("profile kept until drop").path()
    }

    /// The end of Chromium's own log, for start-up failures.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.profile().join("chromium.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(3)..].join(" | ")
    }

    /// Waits up to `grace` for Chromium to exit by itself (after
    /// `Browser.close`), then kills whatever is left and removes the profile.
    pub fn finish(mut self, grace: Duration) {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill_all();
    }

    /// Kills the process group and any process still using the profile,
    /// reaps the main process and removes the profile.
    fn kill_all(&mut self) {
        let group = self.child.id() as libc::pid_t;
        // SAFETY: kill has no memory effects; a negative pid names the group
        // Chromium leads (process_group(0) above), never our own.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.child.wait();
        if let Some(profile) = self.profile.take() {
            kill_users_of(profile.path());
            let _ = profile.close();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.profile.is_some() {
            self.kill_all();
        }
    }
}

/// Removes the profiles of leakwatch processes that are gone (killed with
/// SIGKILL, or a machine that lost power), killing any Chromium process still
/// running with one.
pub fn sweep_orphans() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = owner_of(&name) else {
            continue;
        };
        if Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        let path = entry.path();
        let killed = kill_users_of(&path);
        tracing::info!(
            "removed the browser profile {} of a run that was killed{}",
            path.display(),
            if killed > 0 {
                format!(" and {killed} of its processes")
            } else {
                String::new()
            }
        );
        let _ = std::fs::remove_dir_all(&path);
    }
}

/// The pid in a profile folder's name.
fn owner_of(name: &OsStr) -> Option<u32> {
    let rest = name.to_str()?.strip_prefix(PROFILE_PREFIX)?;
    rest.split('-').next()?.parse().ok()
}

/// Kills every process whose command line names `profile`; how many.
fn kill_users_of(profile: &Path) -> usize {
    let pids = processes_using(profile);
    for &pid in &pids {
        // SAFETY: kill has no memory effects.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    pids.len()
}

/// Live processes (not zombies) whose command line mentions `path`.
pub fn processes_using(path: &Path) -> Vec<i32> {
    let needle = path.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'));
            !zombie && cmdline.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

/// Chromium on the `PATH`: `chromium` (Debian), then the names other
/// distributions use. Debian's `/usr/bin/chromium` is a shell launcher that
/// adds flags (remote extensions, API keys) leakwatch does not want: the
/// binary it wraps is run instead.
pub fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser", "google-chrome-stable", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                let wrapped = Path::new("/usr/lib/chromium/chromium");
                if candidate.starts_with("/usr/bin") && name == "chromium" && wrapped.is_file() {
                    return Some(wrapped.to_owned());
                }
                return Some(candidate);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_carry_their_owner() {
        assert_eq!(owner_of(OsStr::new("leakwatch-chromium-4242-aB3x9")), Some(4242));
        assert_eq!(owner_of(OsStr::new("leakwatch-chromium-x-aB3x9")), None);
        assert_eq!(owner_of(OsStr::new(".tmpXYZ")), None);
    }

    #[test]
    fn a_process_is_found_by_a_path_in_its_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("marker");
        std::fs::write(&marker, "").unwrap();
        let mut child = Command::new("tail").arg("-f").arg(&marker).spawn().expect("tail");
        // Until the child has exec'd, its command line is still the test's.
        let deadline = Instant::now() + Duration::from_secs(5);
        while processes_using(&marker).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(processes_using(&marker), [child.id() as i32]);
        assert_eq!(kill_users_of(&marker), 1);
        child.wait().unwrap();
        assert!(processes_using(&marker).is_empty(), "a reaped process is gone");
    }
}
