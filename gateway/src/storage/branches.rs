//! The `branches` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::StorageError;
use super::schema::branches;
use crate::domain::partners::{Branch, BranchId, Code, PartnerId};

/// A `branches` row.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = branches, check_for_backend(diesel::pg::Pg))]
pub struct BranchRow {
    pub id: Uuid,
    pub partner_id: Uuid,
    pub code: String,
    pub name: String,
    pub city: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl From<BranchRow> for Branch {
    fn from(row: BranchRow) -> Self {
        Self {
            id: BranchId(row.id),
            partner_id: PartnerId(row.partner_id),
            // The table's CHECK constraint guarantees the stored code is valid.
            code: Code::parse(&row.code).unwrap_or_else(|_| unreachable!("CHECK on branches.code")),
            name: row.name,
            city: row.city,
            status: row.status,
            created_at: row.created_at,
        }
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
        status: branch.status.clone(),
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
    Ok(inserted.map(Branch::from))
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
    Ok(rows.into_iter().map(Branch::from).collect())
}

/// A branch by id.
pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<Branch>, StorageError> {
    let row = branches::table
        .find(id)
        .select(BranchRow::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(Branch::from))
}

/// A partner's branch by code.
pub async fn find_by_code(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
    code: &str,
) -> Result<Option<Branch>, StorageError> {
    let row = branches::table
        .filter(branches::partner_id.eq(partner_id.0))
        .filter(branches::code.eq(code))
        .select(BranchRow::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(Branch::from))
}
