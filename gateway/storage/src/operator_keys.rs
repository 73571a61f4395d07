//! The `operator_keys` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use domain::keys::{KeyStatus, OperatorKey};

use super::partner_keys::{stored_public_key, taken_by_any_key};
use super::schema::operator_keys;
use super::{StorageError, stored};

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = operator_keys, check_for_backend(diesel::pg::Pg))]
struct OperatorKeyRow {
    kid: String,
    name: String,
    role: String,
    public_key: Vec<u8>,
    status: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<OperatorKeyRow> for OperatorKey {
    type Error = StorageError;

    fn try_from(row: OperatorKeyRow) -> Result<Self, StorageError> {
        Ok(Self {
            kid: row.kid,
            name: row.name,
            role: stored("operator_keys.role", &row.role)?,
            public_key: stored_public_key("operator_keys.public_key", row.public_key)?,
            status: stored("operator_keys.status", &row.status)?,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
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
    inserted.map(OperatorKey::try_from).transpose()
}

/// The operator key with this id.
pub async fn find(
    conn: &mut AsyncPgConnection,
    kid: &str,
) -> Result<Option<OperatorKey>, StorageError> {
    operator_keys::table
        .find(kid)
        .select(OperatorKeyRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(OperatorKey::try_from)
        .transpose()
}

/// Every operator key, newest first.
pub async fn list(conn: &mut AsyncPgConnection) -> Result<Vec<OperatorKey>, StorageError> {
    operator_keys::table
        .order(operator_keys::created_at.desc())
        .select(OperatorKeyRow::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(OperatorKey::try_from)
        .collect()
}

/// Marks an active key revoked; `None` if there is no such active key.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    kid: &str,
    at: DateTime<Utc>,
) -> Result<Option<OperatorKey>, StorageError> {
    diesel::update(
        operator_keys::table
            .find(kid)
            .filter(operator_keys::status.eq(KeyStatus::Active.as_str())),
    )
    .set((
        operator_keys::status.eq(KeyStatus::Revoked.as_str()),
        operator_keys::revoked_at.eq(Some(at)),
    ))
    .returning(OperatorKeyRow::as_returning())
    .get_result(conn)
    .await
    .optional()?
    .map(OperatorKey::try_from)
    .transpose()
}
