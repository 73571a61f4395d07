//! The `partners` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use domain::partners::{Code, Partner, PartnerId};
use domain::points::Points;
use domain::program::LimitOverrides;

use super::schema::partners;
use super::{StorageError, stored};

/// A `partners` row.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = partners, check_for_backend(diesel::pg::Pg))]
pub(crate) struct PartnerRow {
    id: Uuid,
    code: String,
    name: String,
    kind: String,
    status: String,
    created_at: DateTime<Utc>,
    max_purchase_minor: Option<i64>,
    max_points_per_operation: Option<i64>,
}

impl TryFrom<PartnerRow> for Partner {
    type Error = StorageError;

    fn try_from(row: PartnerRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: PartnerId(row.id),
            code: Code::parse(&row.code)
                .map_err(|e| StorageError::Corrupt(format!("partners.code: {e}")))?,
            name: row.name,
            kind: stored("partners.kind", &row.kind)?,
            status: stored("partners.status", &row.status)?,
            created_at: row.created_at,
            limits: LimitOverrides::new(
                row.max_purchase_minor,
                row.max_points_per_operation.map(Points),
            )
            .map_err(|e| StorageError::Corrupt(format!("partners limits: {e}")))?,
        })
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
        max_purchase_minor: partner.limits.max_purchase_minor,
        max_points_per_operation: partner.limits.max_points.map(|max| max.0),
    };
    // The partner's ledger accounts open with it, so the committer's batches need not.
    let inserted = conn
        .transaction::<_, StorageError, _>(async |conn| {
            let inserted = diesel::insert_into(partners::table)
                .values(&row)
                .on_conflict(partners::code)
                .do_nothing()
                .returning(PartnerRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
            if inserted.is_some() {
                super::ledger_batch::ensure_partner_accounts(conn, &[partner.id]).await?;
            }
            Ok(inserted)
        })
        .await?;
    inserted.map(Partner::try_from).transpose()
}

/// Every partner, ordered by code.
pub async fn list(conn: &mut AsyncPgConnection) -> Result<Vec<Partner>, StorageError> {
    let rows = partners::table
        .order(partners::code)
        .select(PartnerRow::as_select())
        .load(conn)
        .await?;
    rows.into_iter().map(Partner::try_from).collect()
}

/// The partner with this code, if any.
pub async fn find_by_code(
    conn: &mut AsyncPgConnection,
    code: &str,
) -> Result<Option<Partner>, StorageError> {
    // Text that cannot be a code (a control character, a space) names no partner; PostgreSQL
    // would refuse a NUL outright.
    if domain::partners::Code::parse(code).is_err() {
        return Ok(None);
    }
    let row = partners::table
        .filter(partners::code.eq(code))
        .select(PartnerRow::as_select())
        .first(conn)
        .await
        .optional()?;
    row.map(Partner::try_from).transpose()
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
    row.map(Partner::try_from).transpose()
}

/// Sets the partner's own bounds on one operation; `None` if no partner has this code.
pub async fn set_limits(
    conn: &mut AsyncPgConnection,
    code: &str,
    limits: LimitOverrides,
) -> Result<Option<Partner>, StorageError> {
    if Code::parse(code).is_err() {
        return Ok(None);
    }
    let row = diesel::update(partners::table.filter(partners::code.eq(code)))
        .set((
            partners::max_purchase_minor.eq(limits.max_purchase_minor),
            partners::max_points_per_operation.eq(limits.max_points.map(|max| max.0)),
        ))
        .returning(PartnerRow::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    row.map(Partner::try_from).transpose()
}
