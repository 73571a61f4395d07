//! The `partners` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::StorageError;
use super::schema::partners;
use crate::domain::partners::{Code, Partner, PartnerId, PartnerKind, PartnerStatus};

/// A `partners` row.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = partners, check_for_backend(diesel::pg::Pg))]
pub struct PartnerRow {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl From<PartnerRow> for Partner {
    fn from(row: PartnerRow) -> Self {
        Self {
            id: PartnerId(row.id),
            // The table's CHECK constraints guarantee the stored code and kind are valid.
            code: Code::parse(&row.code).unwrap_or_else(|_| unreachable!("CHECK on partners.code")),
            name: row.name,
            kind: row
                .kind
                .parse::<PartnerKind>()
                .unwrap_or_else(|_| unreachable!("CHECK on partners.kind")),
            status: if row.status == "active" {
                PartnerStatus::Active
            } else {
                PartnerStatus::Suspended
            },
            created_at: row.created_at,
        }
    }
}

/// Inserts a partner; `None` if the code is taken.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    partner: &Partner,
) -> Result<Option<Partner>, StorageError> {
    let row = PartnerRow {
        id: partner.id.0,
        code: partner.code.as_str().to_owned(),
        name: partner.name.clone(),
        kind: partner.kind.as_str().to_owned(),
        status: partner.status.as_str().to_owned(),
        created_at: partner.created_at,
    };
    let inserted = diesel::insert_into(partners::table)
        .values(&row)
        .on_conflict(partners::code)
        .do_nothing()
        .returning(PartnerRow::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    Ok(inserted.map(Partner::from))
}

/// Every partner, ordered by code.
pub async fn list(conn: &mut AsyncPgConnection) -> Result<Vec<Partner>, StorageError> {
    let rows = partners::table
        .order(partners::code)
        .select(PartnerRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(Partner::from).collect())
}

/// The partner with this code, if any.
pub async fn find_by_code(
    conn: &mut AsyncPgConnection,
    code: &str,
) -> Result<Option<Partner>, StorageError> {
    let row = partners::table
        .filter(partners::code.eq(code))
        .select(PartnerRow::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(Partner::from))
}

/// The partner with this id, if any.
pub async fn find(
    conn: &mut AsyncPgConnection,
    id: PartnerId,
) -> Result<Option<Partner>, StorageError> {
    let row = partners::table
        .find(id.0)
        .select(PartnerRow::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(Partner::from))
}
