//! The `partner_keys` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ed25519_dalek::VerifyingKey;
use uuid::Uuid;

use super::StorageError;
use super::partners::PartnerRow;
use super::schema::{operator_keys, partner_keys, partners};
use crate::domain::partner_keys::{KeyOwner, KeyStatus, PartnerKey};
use crate::domain::partners::{Partner, PartnerId};

/// A `partner_keys` row.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = partner_keys, check_for_backend(diesel::pg::Pg))]
pub struct PartnerKeyRow {
    pub kid: String,
    pub partner_id: Uuid,
    pub public_key: Vec<u8>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<PartnerKeyRow> for PartnerKey {
    fn from(row: PartnerKeyRow) -> Self {
        // Rows are only written from validated keys and the column is CHECKed to 32 bytes.
        let bytes: [u8; 32] = row
            .public_key
            .try_into()
            .unwrap_or_else(|_| unreachable!("CHECK on partner_keys.public_key"));
        Self {
            kid: row.kid,
            partner_id: PartnerId(row.partner_id),
            public_key: VerifyingKey::from_bytes(&bytes)
                .unwrap_or_else(|_| unreachable!("stored keys were valid points when registered")),
            status: if row.status == "active" {
                KeyStatus::Active
            } else {
                KeyStatus::Revoked
            },
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// Inserts a key; `None` if its key id or its public key is already registered.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    key: &PartnerKey,
) -> Result<Option<PartnerKey>, StorageError> {
    // Partner and operator keys share one key-id and public-key namespace.
    let taken_by_operator = operator_keys::table
        .filter(
            operator_keys::kid
                .eq(&key.kid)
                .or(operator_keys::public_key.eq(key.public_key.as_bytes().as_slice())),
        )
        .count()
        .get_result::<i64>(conn)
        .await?
        > 0;
    if taken_by_operator {
        return Ok(None);
    }
    let row = PartnerKeyRow {
        kid: key.kid.clone(),
        partner_id: key.partner_id.0,
        public_key: key.public_key.as_bytes().to_vec(),
        status: key.status.as_str().to_owned(),
        created_at: key.created_at,
        revoked_at: key.revoked_at,
    };
    let inserted = diesel::insert_into(partner_keys::table)
        .values(&row)
        .on_conflict_do_nothing()
        .returning(PartnerKeyRow::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    Ok(inserted.map(PartnerKey::from))
}

/// The key with this id and its partner.
pub async fn find_owner(
    conn: &mut AsyncPgConnection,
    kid: &str,
) -> Result<Option<KeyOwner>, StorageError> {
    let found = partner_keys::table
        .inner_join(partners::table)
        .filter(partner_keys::kid.eq(kid))
        .select((PartnerKeyRow::as_select(), PartnerRow::as_select()))
        .first::<(PartnerKeyRow, PartnerRow)>(conn)
        .await
        .optional()?;
    Ok(found.map(|(key, partner)| {
        let partner = Partner::from(partner);
        KeyOwner {
            key: key.into(),
            partner_code: partner.code,
            partner_status: partner.status,
        }
    }))
}

/// Marks an active key revoked; `None` if there is no such active key.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    kid: &str,
    at: DateTime<Utc>,
) -> Result<Option<PartnerKey>, StorageError> {
    let row = diesel::update(
        partner_keys::table
            .filter(partner_keys::kid.eq(kid))
            .filter(partner_keys::status.eq(KeyStatus::Active.as_str())),
    )
    .set((
        partner_keys::status.eq(KeyStatus::Revoked.as_str()),
        partner_keys::revoked_at.eq(Some(at)),
    ))
    .returning(PartnerKeyRow::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.map(PartnerKey::from))
}

/// A partner's keys, newest first.
pub async fn list_for_partner(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
) -> Result<Vec<PartnerKey>, StorageError> {
    let rows = partner_keys::table
        .filter(partner_keys::partner_id.eq(partner_id.0))
        .order(partner_keys::created_at.desc())
        .select(PartnerKeyRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(PartnerKey::from).collect())
}
