//! The `point_rules` table.

use chrono::Utc;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::StorageError;
use super::schema::point_rules;

/// A `point_rules` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = point_rules, check_for_backend(diesel::pg::Pg))]
pub struct RuleRow {
    pub partner_id: Uuid,
    pub branch_id: Option<Uuid>,
    pub currency: String,
    pub earn_points: i64,
    pub per_amount_minor: i64,
    pub point_value_minor: i64,
}

/// Sets the rule of a partner (`branch_id` `None`) or of one branch.
pub async fn upsert(conn: &mut AsyncPgConnection, rule: &RuleRow) -> Result<(), StorageError> {
    diesel::insert_into(point_rules::table)
        .values((
            point_rules::id.eq(Uuid::now_v7()),
            point_rules::partner_id.eq(rule.partner_id),
            point_rules::branch_id.eq(rule.branch_id),
            point_rules::currency.eq(&rule.currency),
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
    partner_id: Uuid,
    branch_id: Uuid,
) -> Result<Option<RuleRow>, StorageError> {
    Ok(point_rules::table
        .filter(point_rules::partner_id.eq(partner_id))
        .filter(
            point_rules::branch_id
                .eq(branch_id)
                .or(point_rules::branch_id.is_null()),
        )
        // Branch rules first: NULL sorts last in ascending order.
        .order(point_rules::branch_id.asc())
        .select(RuleRow::as_select())
        .first(conn)
        .await
        .optional()?)
}
