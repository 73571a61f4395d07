//! The `branches` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use domain::partners::{Branch, BranchId, Code, PartnerId};

use super::schema::branches;
use super::{StorageError, stored};

/// A `branches` row.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = branches, check_for_backend(diesel::pg::Pg))]
struct BranchRow {
    id: Uuid,
    partner_id: Uuid,
    code: String,
    name: String,
    city: Option<String>,
    status: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<BranchRow> for Branch {
    type Error = StorageError;

    fn try_from(row: BranchRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: BranchId(row.id),
            partner_id: PartnerId(row.partner_id),
            code: Code::parse(&row.code)
                .map_err(|e| StorageError::Corrupt(format!("branches.code: {e}")))?,
            name: row.name,
            city: row.city,
            status: stored("branches.status", &row.status)?,
            created_at: row.created_at,
        })
    }
}

/// Inserts a branch; `None` if the partner already has a branch with that code.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    branch: &Branch,
) -> Result<Option<Branch>, StorageError> {
    let row = BranchRow {
        id: branch.id.0,
        partner_id: branch.partner_id.0,
        code: branch.code.as_str().to_owned(),
        name: branch.name.clone(),
        city: branch.city.clone(),
        status: branch.status.as_str().to_owned(),
        created_at: branch.created_at,
    };
    let inserted = diesel::insert_into(branches::table)
        .values(&row)
        .on_conflict((branches::partner_id, branches::code))
        .do_nothing()
        .returning(BranchRow::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    inserted.map(Branch::try_from).transpose()
}

/// A partner's branches, ordered by code.
pub async fn list_for_partner(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
) -> Result<Vec<Branch>, StorageError> {
    let rows = branches::table
        .filter(branches::partner_id.eq(partner_id.0))
        .order(branches::code)
        .select(BranchRow::as_select())
        .load(conn)
        .await?;
    rows.into_iter().map(Branch::try_from).collect()
}

/// A branch by id.
pub async fn find(
    conn: &mut AsyncPgConnection,
    id: BranchId,
) -> Result<Option<Branch>, StorageError> {
    let row = branches::table
        .find(id.0)
        .select(BranchRow::as_select())
        .first(conn)
        .await
        .optional()?;
    row.map(Branch::try_from).transpose()
}

/// A partner's branch by code.
pub async fn find_by_code(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
    code: &str,
) -> Result<Option<Branch>, StorageError> {
    // Text that cannot be a code (a control character, a space, too long) names no branch;
    // PostgreSQL would refuse a NUL outright.
    if domain::partners::Code::parse(code).is_err() {
        return Ok(None);
    }
    let row = branches::table
        .filter(branches::partner_id.eq(partner_id.0))
        .filter(branches::code.eq(code))
        .select(BranchRow::as_select())
        .first(conn)
        .await
        .optional()?;
    row.map(Branch::try_from).transpose()
}
