//! Notify: from the outbox to people's inboxes.
//!
//! Rendering ([`email`]) is separate from sending ([`Mailer`]), as in
//! urlwatch: the email is a pure function of the alerts it carries.
//! [`deliver`] walks the outbox: assemble digests, render, send, and mark
//! each sent only once the server has accepted it.

pub mod email;

use std::collections::HashMap;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Security, Smtp, Transport};
use crate::store::{self, Store, StoreError};

/// How long one SMTP conversation may take before it counts as failed (and is retried next run).
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

/// One match, to one recipient, with everything the email says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub entry: String,
    pub entry_kind: String,
    pub term: String,
    /// name | alias | domain | suffix
    pub reason: String,
    /// title | body | link
    pub field: String,
    pub snippet: String,
    pub source: String,
    pub source_label: String,
    pub title: String,
    pub link: Option<String>,
    pub posted_at: Option<String>,
    pub first_seen_at: String,
    /// Found by matching a new watch entry against older postings.
    pub retroactive: bool,
    pub changed: bool,
    /// Already listed when leakwatch first crawled the source.
    pub first_look: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("smtp.password_env names {0}, which is not set: export it in the environment that runs leakwatch")]
    MissingPassword(String),
    #[error("smtp: {0}")]
    Transport(String),
    #[error("cannot create the outbox folder {0}: {1}")]
    Dir(String, std::io::Error),
    #[error("no [smtp] section: add one to send alerts")]
    NotConfigured,
}

/// A send that failed.
#[derive(Debug)]
pub struct SendError {
    /// The server refused for good (5xx): do not retry.
    pub permanent: bool,
    /// No conversation with the server at all: the rest will fail the same way.
    pub unreachable: bool,
    pub message: String,
}

/// Where emails go: an SMTP relay, or `.eml` files in a folder.
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
}

impl Mailer {
    pub fn new(smtp: &Smtp) -> Result<Mailer, NotifyError> {
        match &smtp.transport {
            Transport::File { dir } => {
                std::fs::create_dir_all(dir).map_err(|e| NotifyError::Dir(dir.display().to_string(), e))?;
                Ok(Mailer::File(AsyncFileTransport::new(dir)))
            }
            Transport::Smtp {
                host,
                port,
                security,
                username,
                password_env,
            } => {
                let transport_err = |e: lettre::transport::smtp::Error| NotifyError::Transport(e.to_string());
                let builder = match security {
                    Security::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(transport_err)?
                    }
                    Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(transport_err)?,
                    Security::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                };
                let mut builder = builder.port(*port).timeout(Some(SMTP_TIMEOUT));
                if let Some(user) = username {
                    let password = match password_env {
                        Some(var) => std::env::var(var).map_err(|_| NotifyError::MissingPassword(var.clone()))?,
                        None => String::new(),
                    };
                    builder = builder.credentials(Credentials::new(user.clone(), password));
                }
                Ok(Mailer::Smtp(builder.build()))
            }
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Mailer::Smtp(t) => t.send(message).await.map(drop).map_err(|e| SendError {
                permanent: e.is_permanent(),
                unreachable: !e.is_permanent() && !e.is_transient(),
                message: error_chain(&e),
            }),
            Mailer::File(t) => t.send(message).await.map(drop).map_err(|e| SendError {
                permanent: false,
                unreachable: true,
                message: error_chain(&e),
            }),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

/// What delivery came to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub sent: i64,
    /// Left in the outbox for the next run.
    pub pending: i64,
    /// Refused for good by the server.
    pub failed: i64,
    /// One line per failure, naming the recipient.
    pub errors: Vec<String>,
}

/// Sends every pending digest. `labels` maps source names to the labels
/// emails show.
pub async fn deliver(
    store: &mut Store,
    mailer: &Mailer,
    smtp: &Smtp,
    labels: &HashMap<String, String>,
) -> Result<Delivery, StoreError> {
    let domain = smtp.from.email.domain().to_owned();
    store.assemble_digests(&store::now(), &domain)?;
    let mut out = Delivery::default();
    let mut server_down = false;
    for digest in store.pending_digests()? {
        if server_down {
            out.pending += 1;
            continue;
        }
        let mut alerts = store.digest_alerts(digest.id)?;
        if alerts.is_empty() {
            store.mark_digest_failed(digest.id, "nothing left to send: its watch entries were removed", true)?;
            continue;
        }
        for a in &mut alerts {
            if let Some(label) = labels.get(&a.source) {
                a.source_label.clone_from(label);
            }
        }
        let rendered = email::render(&alerts);
        let message = match email::message(&smtp.from, &digest.recipient, &digest.message_id, &rendered) {
            Ok(m) => m,
            Err(e) => {
                let msg = format!("cannot build the email to {}: {e}", digest.recipient);
                store.mark_digest_failed(digest.id, &msg, true)?;
                out.failed += 1;
                out.errors.push(msg);
                continue;
            }
        };
        match mailer.send(message).await {
            Ok(()) => {
                store.mark_digest_sent(digest.id, &store::now())?;
                out.sent += 1;
            }
            Err(e) => {
                store.mark_digest_failed(digest.id, &e.message, e.permanent)?;
                if e.permanent {
                    out.failed += 1;
                    out.errors
                        .push(format!("email to {} refused: {}", digest.recipient, e.message));
                } else {
                    out.pending += 1;
                    out.errors.push(format!(
                        "email to {} not sent, kept for the next run: {}",
                        digest.recipient, e.message
                    ));
                    server_down = e.unreachable;
                }
            }
        }
    }
    Ok(out)
}
