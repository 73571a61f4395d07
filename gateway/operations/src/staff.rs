//! Staff accounts: adding, listing, disabling them and resetting their passwords (the CLI's
//! `clubgate staff`; the pages will call the same operations).

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use domain::staff::{self, StaffError, StaffMember, StaffRole, StaffScope, StaffStatus};
use storage::audit::AuditEntry;
use storage::{Connection, Storage};

use crate::error::OperationError;

type Result<T> = std::result::Result<T, OperationError<StaffError>>;

/// Who makes a change, and from where: written to the audit log with it.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// A staff login, or `cli:` and the machine user.
    pub name: &'a str,
    /// An address, or `host ` and the machine's name.
    pub from: &'a str,
}

impl Actor<'_> {
    /// Records `action` on `subject` in the caller's transaction, at `now`.
    async fn record(
        self,
        conn: &mut Connection,
        (action, subject): (&str, &str),
        detail: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let entry = AuditEntry {
            at: domain::time::stored(now),
            actor: self.name.to_owned(),
            from_where: self.from.to_owned(),
            action: action.to_owned(),
            subject: subject.to_owned(),
            detail,
        };
        Ok(storage::audit::record(conn, &entry).await?)
    }
}

/// An account to add: where `partner` and `branches` are codes.
#[derive(Debug, Clone)]
pub struct NewStaff<'a> {
    /// What they sign in with.
    pub login: &'a str,
    /// Their name.
    pub name: &'a str,
    /// What they may do.
    pub role: StaffRole,
    /// Their partner's code (a partner's staff).
    pub partner: Option<&'a str>,
    /// Their branches' codes, at `partner` (a cashier, a branch manager).
    pub branches: &'a [String],
}

/// Adds an account with `password` (12 to 128 characters; hashed with argon2id).
pub async fn add(
    storage: &Storage,
    new: NewStaff<'_>,
    password: &str,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<StaffMember> {
    let refused = OperationError::Refused;
    let login = staff::login(new.login).map_err(refused)?;
    let name =
        domain::text::name("name", new.name, 100).map_err(|_| refused(StaffError::NameInvalid))?;
    let mut conn = storage.db().await?;
    let scope = match new.partner {
        None if new.branches.is_empty() => StaffScope::Operator,
        None => {
            return Err(refused(StaffError::ScopeInvalid(
                "branches need their partner".into(),
            )));
        }
        Some(code) => {
            let partner = storage::partners::find_by_code(&mut conn, code)
                .await?
                .ok_or_else(|| refused(StaffError::ScopeInvalid(format!("no partner {code:?}"))))?;
            let mut branches = Vec::with_capacity(new.branches.len());
            for branch in new.branches {
                let found = storage::branches::find_by_code(&mut conn, partner.id, branch)
                    .await?
                    .ok_or_else(|| {
                        refused(StaffError::ScopeInvalid(format!(
                            "partner {code:?} has no branch {branch:?}"
                        )))
                    })?;
                branches.push(found.id);
            }
            if branches.is_empty() {
                StaffScope::Partner(partner.id)
            } else {
                StaffScope::Branches(partner.id, branches)
            }
        }
    };
    staff::check_scope(new.role, &scope).map_err(refused)?;
    let member = StaffMember {
        id: uuid::Uuid::now_v7(),
        login,
        name,
        role: new.role,
        scope,
        status: StaffStatus::Active,
        password_hash: hashed(password).await?,
        created_at: domain::time::stored(now),
    };
    let detail = serde_json::json!({
        "role": member.role.as_str(),
        "partner": new.partner,
        "branches": new.branches,
    });
    conn.transaction::<_, OperationError<StaffError>, _>(async |conn| {
        if !storage::staff::insert(conn, &member).await? {
            return Err(OperationError::Refused(StaffError::LoginTaken));
        }
        actor
            .record(conn, ("staff.add", &member.login), detail, now)
            .await
    })
    .await?;
    tracing::info!(staff.login = %member.login, staff.role = %member.role, "staff account added");
    Ok(member)
}

/// The latest `limit` entries of the audit log, newest first.
pub async fn audit_log(storage: &Storage, limit: i64) -> Result<Vec<AuditEntry>> {
    Ok(storage::audit::latest(&mut *storage.db().await?, limit).await?)
}

/// Every account, by login.
pub async fn list(storage: &Storage) -> Result<Vec<StaffMember>> {
    Ok(storage::staff::list(&mut *storage.db().await?).await?)
}

/// Disables the account with `login`: it can no longer sign in.
pub async fn disable(
    storage: &Storage,
    login: &str,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    let login = staff::login(login).map_err(OperationError::Refused)?;
    let mut conn = storage.db().await?;
    conn.transaction::<_, OperationError<StaffError>, _>(async |conn| {
        if !storage::staff::set_status(conn, &login, StaffStatus::Disabled).await? {
            return Err(OperationError::Refused(StaffError::NotFound(login.clone())));
        }
        let detail = serde_json::json!({});
        actor
            .record(conn, ("staff.disable", &login), detail, now)
            .await
    })
    .await?;
    tracing::info!(staff.login = %login, "staff account disabled");
    Ok(())
}

/// Gives the account with `login` a new password (the audit log records that, never the
/// password).
pub async fn reset_password(
    storage: &Storage,
    login: &str,
    password: &str,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    let login = staff::login(login).map_err(OperationError::Refused)?;
    let hash = hashed(password).await?;
    let mut conn = storage.db().await?;
    conn.transaction::<_, OperationError<StaffError>, _>(async |conn| {
        if !storage::staff::set_password(conn, &login, &hash).await? {
            return Err(OperationError::Refused(StaffError::NotFound(login.clone())));
        }
        let detail = serde_json::json!({});
        actor
            .record(conn, ("staff.reset_password", &login), detail, now)
            .await
    })
    .await?;
    tracing::info!(staff.login = %login, "staff password reset");
    Ok(())
}

/// The password's argon2id hash, computed off the async workers (it takes a deliberate while).
async fn hashed(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || staff::hash_password(&password))
        .await
        // Hashing panicked: a bug, raised where it would have been without the thread.
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        .map_err(OperationError::Refused)
}
