//! Workspace accounts, their sessions, and the audit trail of every change.
//!
//! Password hashing and token generation happen in `serve::auth`: this
//! module only stores what it is given (a PHC hash string, random session
//! and CSRF tokens).

use rusqlite::{OptionalExtension, named_params};
use serde::Serialize;

use super::{Result, Store, Writer, now};

/// An account as `user list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub name: String,
    pub role: String,
    pub created_at: String,
}

/// A live session: who, with which role, and its CSRF token.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub name: String,
    pub role: String,
    pub csrf: String,
}

/// One recorded change.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

fn audit_row(r: &rusqlite::Row) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        detail: r.get(5)?,
    })
}

impl Store {
    /// Adds the account, or sets the role and password of the existing one.
    /// True when it was new. Audited.
    pub fn put_user(&mut self, name: &str, role: &str, password_hash: &str, actor: &str) -> Result<bool> {
        let now = now();
        let w = self.write()?;
        let existed =
            w.tx.prepare_cached("SELECT 1 FROM app_user WHERE name = :name")?
                .query_row(named_params! {":name": name}, |_| Ok(()))
                .optional()?
                .is_some();
        w.tx.prepare_cached(
            "INSERT INTO app_user (name, role, password_hash, created_at) VALUES (:name, :role, :hash, :now)
             ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash",
        )?
        .execute(named_params! {":name": name, ":role": role, ":hash": password_hash, ":now": now})?;
        // A new password ends the account's sessions.
        w.tx.prepare_cached("DELETE FROM session WHERE user_name = :name")?
            .execute(named_params! {":name": name})?;
        let action = if existed { "user-change" } else { "user-add" };
        w.audit(actor, action, name, &format!("role {role}"), &now)?;
        w.commit()?;
        Ok(!existed)
    }

    /// Removes the account and its sessions. False when there was none. Audited.
    pub fn remove_user(&mut self, name: &str, actor: &str) -> Result<bool> {
        let now = now();
        let w = self.write()?;
        let n =
            w.tx.prepare_cached("DELETE FROM app_user WHERE name = :name")?
                .execute(named_params! {":name": name})?;
        if n == 1 {
            w.audit(actor, "user-rm", name, "", &now)?;
        }
        w.commit()?;
        Ok(n == 1)
    }

    pub fn users(&self) -> Result<Vec<User>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, role, created_at FROM app_user ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok(User {
                name: r.get(0)?,
                role: r.get(1)?,
                created_at: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The stored hash and role of `name`.
    pub fn credentials(&self, name: &str) -> Result<Option<(String, String)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT password_hash, role FROM app_user WHERE name = :name")?
            .query_row(named_params! {":name": name}, |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// Records a new session (and forgets expired ones).
    pub fn start_session(&mut self, id: &str, user: &str, csrf: &str, expires_at: &str) -> Result<()> {
        let now = now();
        let w = self.write()?;
        w.tx.prepare_cached("DELETE FROM session WHERE expires_at <= :now")?
            .execute(named_params! {":now": now})?;
        w.tx.prepare_cached(
            "INSERT INTO session (id, user_name, csrf, created_at, expires_at) VALUES (:id, :user, :csrf, :now, :expires)",
        )?
        .execute(named_params! {":id": id, ":user": user, ":csrf": csrf, ":now": now, ":expires": expires_at})?;
        w.audit(user, "login", user, "", &now)?;
        w.commit()
    }

    /// The user of a live session.
    pub fn session_user(&self, id: &str) -> Result<Option<SessionUser>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT u.name, u.role, s.csrf FROM session s JOIN app_user u ON u.name = s.user_name
                 WHERE s.id = :id AND s.expires_at > :now",
            )?
            .query_row(named_params! {":id": id, ":now": now()}, |r| {
                Ok(SessionUser {
                    name: r.get(0)?,
                    role: r.get(1)?,
                    csrf: r.get(2)?,
                })
            })
            .optional()?)
    }

    pub fn end_session(&mut self, id: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM session WHERE id = :id")?
            .execute(named_params! {":id": id})?;
        Ok(())
    }

    /// The newest `limit` audit rows, newest first.
    pub fn audit_log(&self, limit: i64) -> Result<Vec<AuditRow>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT :limit")?;
        let rows = stmt.query_map(named_params! {":limit": limit}, audit_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// What was done to one thing (`match:12`), oldest first.
    pub fn audit_of(&self, target: &str) -> Result<Vec<AuditRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at, actor, action, target, detail FROM audit WHERE target = :target ORDER BY id",
        )?;
        let rows = stmt.query_map(named_params! {":target": target}, audit_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Writer<'_> {
    /// Records a change in the caller's transaction: it is kept exactly when
    /// the change is.
    pub fn audit(&self, actor: &str, action: &str, target: &str, detail: &str, now: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO audit (at, actor, action, target, detail) VALUES (:now, :actor, :action, :target, :detail)",
            )?
            .execute(named_params! {":now": now, ":actor": actor, ":action": action, ":target": target, ":detail": detail})?;
        Ok(())
    }
}
