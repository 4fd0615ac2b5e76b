//! The analyst workspace from the shell: `serve`, `user add|rm|list`,
//! `triage`, `audit`. Triage and account changes made here are audited as
//! `cli:<login>`, like watch-list edits.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::output::print_rows;
use super::{CommandError, Exit, Format, Result, cli_actor, load, open_store, runtime};
use crate::serve::{self, ServeOptions};
use crate::store::{Status, Triage};

/// Shortest password `user add` accepts.
pub const MIN_PASSWORD: usize = 10;

pub fn serve(config: Option<PathBuf>, listen: SocketAddr, insecure_listen: bool) -> Result<Exit> {
    let config = load(config)?;
    runtime()?
        .block_on(serve::serve(
            config,
            ServeOptions {
                listen,
                insecure_listen,
            },
        ))
        .map_err(|e| match e {
            serve::ServeError::NotLoopback(_) => CommandError::Usage(e.to_string()),
            e => CommandError::Other(e.to_string()),
        })?;
    Ok(Exit::Success)
}

/// A workspace role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Analyst,
    Viewer,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }
}

/// Adds the account (or sets its role and password). The password is read
/// from stdin with `password_stdin`, else made up and printed once.
pub fn user_add(config: Option<PathBuf>, name: &str, role: Role, password_stdin: bool) -> Result<Exit> {
    let name = name.trim();
    if name.is_empty() || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(CommandError::Usage(format!(
            "`{}`: a user name is one word without spaces or control characters",
            crate::text::clean(name)
        )));
    }
    let (password, made_up) = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CommandError::Other(format!("cannot read the password from stdin: {e}")))?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (serve::auth::token()[..20].to_owned(), true)
    };
    if password.chars().count() < MIN_PASSWORD {
        return Err(CommandError::Usage(format!(
            "the password is shorter than {MIN_PASSWORD} characters: choose a longer one"
        )));
    }
    let hash = serve::hash_password(&password).map_err(CommandError::Other)?;
    let config = load(config)?;
    let new = open_store(&config)?.put_user(name, role.as_str(), &hash, &cli_actor())?;
    let done = if new {
        "added"
    } else {
        "updated (its sessions are signed out)"
    };
    say!("{name} ({}) {done}", role.as_str());
    if made_up {
        say!("password: {password}");
    }
    Ok(Exit::Success)
}

pub fn user_rm(config: Option<PathBuf>, name: &str) -> Result<Exit> {
    let config = load(config)?;
    if open_store(&config)?.remove_user(name, &cli_actor())? {
        say!("removed {name}");
        Ok(Exit::Success)
    } else {
        Err(CommandError::Usage(format!(
            "no user named `{name}` (see `leakwatch user list`)"
        )))
    }
}

pub fn user_list(config: Option<PathBuf>, json: bool) -> Result<Exit> {
    let config = load(config)?;
    let users = open_store(&config)?.users()?;
    let format = if json { Format::Json } else { Format::Table };
    print_rows(&users, format, &["NAME", "ROLE", "CREATED"], |u| {
        vec![u.name.clone(), u.role.clone(), u.created_at.clone()]
    })
}

pub fn triage(config: Option<PathBuf>, id: i64, status: Status, note: Option<String>) -> Result<Exit> {
    let config = load(config)?;
    let t = Triage {
        status,
        note: note.map(|n| crate::text::clean(&n)).filter(|n| !n.is_empty()),
        exclude: None,
    };
    if !open_store(&config)?.triage(id, &t, &cli_actor())? {
        return Err(CommandError::Usage(format!("no match {id} (see `leakwatch matches`)")));
    }
    say!("match {id}: {status}");
    Ok(Exit::Success)
}

pub fn audit(config: Option<PathBuf>, json: bool) -> Result<Exit> {
    let config = load(config)?;
    let rows = open_store(&config)?.audit_log(1000)?;
    let format = if json { Format::Json } else { Format::Table };
    print_rows(&rows, format, &["WHEN", "WHO", "WHAT", "ON", "DETAIL"], |a| {
        vec![
            a.at.clone(),
            a.actor.clone(),
            a.action.clone(),
            a.target.clone(),
            a.detail.clone(),
        ]
    })
}
