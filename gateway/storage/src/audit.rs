//! `audit_log`: what staff did that changed data, append-only.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::StorageError;
use super::schema::audit_log;

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who: a staff login, or `cli:` and the machine user.
    pub actor: String,
    /// From where: an address, or `host ` and the machine's name.
    pub from_where: String,
    /// What: `staff.add`, `staff.disable`, …
    pub action: String,
    /// To what: a login, a partner code, a card's last four digits.
    pub subject: String,
    /// The change, without secrets or personal data.
    pub detail: serde_json::Value,
}

/// Appends an entry (in the caller's transaction, with the change it records).
pub async fn record(conn: &mut AsyncPgConnection, entry: &AuditEntry) -> Result<(), StorageError> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)
        .await?;
    Ok(())
}

/// The latest `limit` entries, newest first.
pub async fn latest(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> Result<Vec<AuditEntry>, StorageError> {
    Ok(audit_log::table
        .order(audit_log::id.desc())
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(conn)
        .await?)
}
