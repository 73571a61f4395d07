//! The `partner_keys` table.

use chrono::{DateTime, Utc};
use diesel::dsl::exists;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ed25519_dalek::VerifyingKey;
use uuid::Uuid;

use domain::keys::{KeyOwner, KeyStatus, PartnerKey};
use domain::partners::{Partner, PartnerId};

use super::partners::PartnerRow;
use super::schema::{operator_keys, partner_keys, partners};
use super::{StorageError, stored};

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = partner_keys, check_for_backend(diesel::pg::Pg))]
struct PartnerKeyRow {
    kid: String,
    partner_id: Uuid,
    public_key: Vec<u8>,
    status: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

/// A stored public key (partner or operator): 32 bytes that were a valid point when registered.
pub(super) fn stored_public_key(
    column: &str,
    bytes: Vec<u8>,
) -> Result<VerifyingKey, StorageError> {
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StorageError::Corrupt(format!("{column} is not 32 bytes")))?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| StorageError::Corrupt(format!("{column} is not an Ed25519 public key")))
}

/// Whether a key id or public key is registered already, as a partner or an operator key:
/// both kinds share one namespace.
pub(super) async fn taken_by_any_key(
    conn: &mut AsyncPgConnection,
    kid: &str,
    public_key: &VerifyingKey,
) -> Result<bool, StorageError> {
    let public_key = public_key.as_bytes().as_slice();
    let by_partner = partner_keys::table.filter(
        partner_keys::kid
            .eq(kid)
            .or(partner_keys::public_key.eq(public_key)),
    );
    let by_operator = operator_keys::table.filter(
        operator_keys::kid
            .eq(kid)
            .or(operator_keys::public_key.eq(public_key)),
    );
    Ok(diesel::select(exists(by_partner).or(exists(by_operator)))
        .get_result(conn)
        .await?)
}

impl TryFrom<PartnerKeyRow> for PartnerKey {
    type Error = StorageError;

    fn try_from(row: PartnerKeyRow) -> Result<Self, StorageError> {
        Ok(Self {
            kid: row.kid,
            partner_id: PartnerId(row.partner_id),
            public_key: stored_public_key("partner_keys.public_key", row.public_key)?,
            status: stored("partner_keys.status", &row.status)?,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}

/// Inserts a key; `None` if its key id or its public key is already registered.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    key: &PartnerKey,
) -> Result<Option<PartnerKey>, StorageError> {
    if taken_by_any_key(conn, &key.kid, &key.public_key).await? {
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
    inserted.map(PartnerKey::try_from).transpose()
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
    found
        .map(|(key, partner)| {
            let partner = Partner::try_from(partner)?;
            Ok(KeyOwner {
                key: key.try_into()?,
                partner_code: partner.code,
                partner_status: partner.status,
            })
        })
        .transpose()
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
    row.map(PartnerKey::try_from).transpose()
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
    rows.into_iter().map(PartnerKey::try_from).collect()
}
