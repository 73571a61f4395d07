//! The `operator_keys` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::StorageError;
use super::partner_keys::{stored_public_key, stored_status, taken_by_any_key};
use super::schema::operator_keys;
use crate::domain::operators::{OperatorKey, OperatorRole};

/// An `operator_keys` row.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = operator_keys, check_for_backend(diesel::pg::Pg))]
pub struct OperatorKeyRow {
    pub kid: String,
    pub name: String,
    pub role: String,
    pub public_key: Vec<u8>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<OperatorKeyRow> for OperatorKey {
    fn from(row: OperatorKeyRow) -> Self {
        Self {
            kid: row.kid,
            name: row.name,
            // CHECKed to the two roles.
            role: if row.role == "admin" {
                OperatorRole::Admin
            } else {
                OperatorRole::Finance
            },
            public_key: stored_public_key(row.public_key),
            status: stored_status(&row.status),
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// Inserts a key; `None` if its key id (here or among partner keys) or public key is taken.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    key: &OperatorKey,
) -> Result<Option<OperatorKey>, StorageError> {
    if taken_by_any_key(conn, &key.kid, &key.public_key).await? {
        return Ok(None);
    }
    let row = OperatorKeyRow {
        kid: key.kid.clone(),
        name: key.name.clone(),
        role: key.role.as_str().to_owned(),
        public_key: key.public_key.as_bytes().to_vec(),
        status: key.status.as_str().to_owned(),
        created_at: key.created_at,
        revoked_at: key.revoked_at,
    };
    let inserted = diesel::insert_into(operator_keys::table)
        .values(&row)
        .on_conflict_do_nothing()
        .returning(OperatorKeyRow::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    Ok(inserted.map(OperatorKey::from))
}

/// The operator key with this id.
pub async fn find(
    conn: &mut AsyncPgConnection,
    kid: &str,
) -> Result<Option<OperatorKey>, StorageError> {
    Ok(operator_keys::table
        .find(kid)
        .select(OperatorKeyRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(OperatorKey::from))
}

/// Every operator key, newest first.
pub async fn list(conn: &mut AsyncPgConnection) -> Result<Vec<OperatorKey>, StorageError> {
    Ok(operator_keys::table
        .order(operator_keys::created_at.desc())
        .select(OperatorKeyRow::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(OperatorKey::from)
        .collect())
}

/// Marks an active key revoked; `None` if there is no such active key.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    kid: &str,
    at: DateTime<Utc>,
) -> Result<Option<OperatorKey>, StorageError> {
    Ok(diesel::update(
        operator_keys::table
            .find(kid)
            .filter(operator_keys::status.eq("active")),
    )
    .set((
        operator_keys::status.eq("revoked"),
        operator_keys::revoked_at.eq(Some(at)),
    ))
    .returning(OperatorKeyRow::as_returning())
    .get_result(conn)
    .await
    .optional()?
    .map(OperatorKey::from))
}
