//! Runs the binary under `strace` to see every network connection it opens
//! and every datagram it sends — the only way to prove from outside that a
//! refused redirect or a `.onion` without Tor never reached the network (not
//! even a DNS query).

use std::process::{Command, Output};

use super::Workspace;

/// What the traced process asked the kernel for.
pub struct Trace {
    /// One line per `connect`, `sendto`, `sendmsg` or `sendmmsg` call.
    pub calls: Vec<String>,
}

impl Trace {
    /// Calls aimed at an IPv4 or IPv6 address (not local sockets).
    pub fn inet(&self) -> Vec<&String> {
        self.calls
            .iter()
            .filter(|c| c.contains("AF_INET") || c.contains("sin_port") || c.contains("sin6_port"))
            .collect()
    }

    /// Calls that mention `needle` (an address, a port).
    pub fn mentioning(&self, needle: &str) -> Vec<&String> {
        self.calls.iter().filter(|c| c.contains(needle)).collect()
    }
}

/// `args` run in `ws` under strace, or `None` (with a note on stderr) when
/// strace is missing or not permitted here; the caller then checks what it
/// can without it.
pub fn traced(ws: &Workspace, args: &[&str]) -> Option<(Output, Trace)> {
    trace(ws, ws.command(args), &[])
}

/// [`traced`] for a command built by the caller (extra environment), with
/// each socket's kind and addresses beside its descriptor (`strace -yy`:
/// `connect(21<UDPv6:[…]>, …)`), to tell a datagram socket that is only
/// connected — which sends nothing — from one that sends.
pub fn traced_command(ws: &Workspace, inner: Command) -> Option<(Output, Trace)> {
    trace(ws, inner, &["-yy"])
}

fn trace(ws: &Workspace, inner: Command, flags: &[&str]) -> Option<(Output, Trace)> {
    let probe = Command::new("strace")
        .args(["-qq", "-e", "trace=none", "true"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("note: strace unavailable here: network syscalls are not traced in this test");
        return None;
    }
    let log = ws.path("strace.log");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq"])
        .args(flags)
        .args(["-e", "trace=connect,sendto,sendmsg,sendmmsg", "-o"])
        .arg(&log)
        .arg(inner.get_program())
        .args(inner.get_args());
    if let Some(dir) = inner.get_current_dir() {
        cmd.current_dir(dir);
    }
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.stdin(std::process::Stdio::null());
    let out = cmd.output().expect("run strace");
    let text = std::fs::read_to_string(&log).expect("read strace log");
    let calls = text
        .lines()
        .filter(|l| l.contains("connect(") || l.contains("send"))
        .map(str::to_owned)
        .collect();
    Some((out, Trace { calls }))
}
