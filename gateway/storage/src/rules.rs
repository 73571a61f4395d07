//! The `point_rules` table.

use chrono::Utc;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::ids::{BranchId, PartnerId};
use domain::points::Currency;
use domain::pricing::PointRule;
use uuid::Uuid;

use super::StorageError;
use super::schema::point_rules;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = point_rules, check_for_backend(diesel::pg::Pg))]
struct RuleRow {
    currency: String,
    earn_points: i64,
    per_amount_minor: i64,
    point_value_minor: i64,
}

impl TryFrom<RuleRow> for PointRule {
    type Error = StorageError;

    fn try_from(row: RuleRow) -> Result<Self, StorageError> {
        let currency = Currency::parse(&row.currency)
            .map_err(|e| StorageError::Corrupt(format!("point_rules.currency: {e}")))?;
        PointRule::new(
            currency.as_str(),
            row.earn_points,
            row.per_amount_minor,
            row.point_value_minor,
        )
        .map_err(|e| StorageError::Corrupt(format!("point_rules: {e}")))
    }
}

/// Sets the rule of a partner (`branch_id` `None`) or of one branch.
pub async fn upsert(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
    branch_id: Option<BranchId>,
    rule: &PointRule,
) -> Result<(), StorageError> {
    diesel::insert_into(point_rules::table)
        .values((
            point_rules::id.eq(Uuid::now_v7()),
            point_rules::partner_id.eq(partner_id.0),
            point_rules::branch_id.eq(branch_id.map(|b| b.0)),
            point_rules::currency.eq(rule.currency.as_str()),
            point_rules::earn_points.eq(rule.earn_points),
            point_rules::per_amount_minor.eq(rule.per_amount_minor),
            point_rules::point_value_minor.eq(rule.point_value_minor),
        ))
        .on_conflict((point_rules::partner_id, point_rules::branch_id))
        .do_update()
        .set((
            point_rules::currency.eq(excluded(point_rules::currency)),
            point_rules::earn_points.eq(excluded(point_rules::earn_points)),
            point_rules::per_amount_minor.eq(excluded(point_rules::per_amount_minor)),
            point_rules::point_value_minor.eq(excluded(point_rules::point_value_minor)),
            point_rules::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The branch's own rule if it has one, else the partner's.
pub async fn for_branch(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
    branch_id: BranchId,
) -> Result<Option<PointRule>, StorageError> {
    point_rules::table
        .filter(point_rules::partner_id.eq(partner_id.0))
        .filter(
            point_rules::branch_id
                .eq(branch_id.0)
                .or(point_rules::branch_id.is_null()),
        )
        // Branch rules first: NULL sorts last in ascending order.
        .order(point_rules::branch_id.asc())
        .select(RuleRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(PointRule::try_from)
        .transpose()
}
