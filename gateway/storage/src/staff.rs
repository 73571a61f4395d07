//! `staff`: the accounts that sign in to the pages.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::ids::{BranchId, PartnerId, StaffId};
use domain::staff::{StaffMember, StaffScope};
use uuid::Uuid;

use super::schema::staff;
use super::{StorageError, stored};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = staff, check_for_backend(diesel::pg::Pg))]
struct StaffRow {
    id: Uuid,
    login: String,
    name: String,
    role: String,
    partner_id: Option<Uuid>,
    branch_ids: Vec<Option<Uuid>>,
    status: String,
    password_hash: String,
    created_at: DateTime<Utc>,
    totp_secret: Option<Vec<u8>>,
}

impl TryFrom<StaffRow> for StaffMember {
    type Error = StorageError;

    fn try_from(row: StaffRow) -> Result<Self, StorageError> {
        let branches: Vec<BranchId> = row.branch_ids.into_iter().flatten().map(BranchId).collect();
        let scope = match (row.partner_id.map(PartnerId), branches.is_empty()) {
            (None, _) => StaffScope::Operator,
            (Some(partner), true) => StaffScope::Partner(partner),
            (Some(partner), false) => StaffScope::Branches(partner, branches),
        };
        Ok(Self {
            id: StaffId(row.id),
            login: row.login,
            name: row.name,
            role: stored("staff.role", &row.role)?,
            scope,
            status: stored("staff.status", &row.status)?,
            password_hash: row.password_hash,
            totp_secret: row.totp_secret,
            created_at: row.created_at,
        })
    }
}

/// Adds an account; `false` when its login is taken (nothing written).
pub async fn insert(
    conn: &mut AsyncPgConnection,
    member: &StaffMember,
) -> Result<bool, StorageError> {
    let (partner_id, branch_ids) = match &member.scope {
        StaffScope::Operator => (None, Vec::new()),
        StaffScope::Partner(partner) => (Some(partner.0), Vec::new()),
        StaffScope::Branches(partner, branches) => (
            Some(partner.0),
            branches.iter().map(|b| Some(b.0)).collect(),
        ),
    };
    let row = StaffRow {
        id: member.id.0,
        login: member.login.clone(),
        name: member.name.clone(),
        role: member.role.as_str().to_owned(),
        partner_id,
        branch_ids,
        status: member.status.to_string(),
        password_hash: member.password_hash.clone(),
        created_at: member.created_at,
        totp_secret: member.totp_secret.clone(),
    };
    let inserted = diesel::insert_into(staff::table)
        .values(&row)
        .on_conflict(staff::login)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Every account, by login.
pub async fn list(conn: &mut AsyncPgConnection) -> Result<Vec<StaffMember>, StorageError> {
    let rows: Vec<StaffRow> = staff::table
        .order(staff::login)
        .select(StaffRow::as_select())
        .load(conn)
        .await?;
    rows.into_iter().map(StaffMember::try_from).collect()
}

/// The account with `login`, if any.
pub async fn find(
    conn: &mut AsyncPgConnection,
    login: &str,
) -> Result<Option<StaffMember>, StorageError> {
    let row: Option<StaffRow> = staff::table
        .filter(staff::login.eq(login))
        .select(StaffRow::as_select())
        .first(conn)
        .await
        .optional()?;
    row.map(StaffMember::try_from).transpose()
}

/// The account with `id`.
pub async fn find_by_id(
    conn: &mut AsyncPgConnection,
    id: StaffId,
) -> Result<Option<StaffMember>, StorageError> {
    let row: Option<StaffRow> = staff::table
        .find(id.0)
        .select(StaffRow::as_select())
        .first(conn)
        .await
        .optional()?;
    row.map(StaffMember::try_from).transpose()
}

/// Sets the status of the account with `login`; `false` if there is none.
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    login: &str,
    status: domain::staff::StaffStatus,
) -> Result<bool, StorageError> {
    let updated = diesel::update(staff::table.filter(staff::login.eq(login)))
        .set(staff::status.eq(status.to_string()))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}

/// Sets the password hash of the account with `login`; `false` if there is none.
pub async fn set_password(
    conn: &mut AsyncPgConnection,
    login: &str,
    password_hash: &str,
) -> Result<bool, StorageError> {
    let updated = diesel::update(staff::table.filter(staff::login.eq(login)))
        .set(staff::password_hash.eq(password_hash))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}

/// Sets the sealed TOTP secret of the account with `login`; `false` if there is none.
pub async fn set_totp(
    conn: &mut AsyncPgConnection,
    login: &str,
    sealed: &[u8],
) -> Result<bool, StorageError> {
    let updated = diesel::update(staff::table.filter(staff::login.eq(login)))
        .set(staff::totp_secret.eq(sealed))
        .execute(conn)
        .await?;
    Ok(updated == 1)
}
