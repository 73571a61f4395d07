//! What the operator's dashboard plots: the ledger's flows per local day and per partner, read
//! from `transfers` by id range (ids are time-ordered, so the primary key serves the window).

use chrono::NaiveDate;
use diesel::sql_types::{BigInt, Date, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::ids::TransferId;

use super::StorageError;

/// One kind of transfer on one local day: how many, how many points, how many members.
#[derive(Debug, Clone, PartialEq, Eq, diesel::QueryableByName)]
pub struct DayFlow {
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = BigInt)]
    pub transfers: i64,
    #[diesel(sql_type = BigInt)]
    pub points: i64,
}

/// Posted transfers (single, or the post of a pending one) since `since`, per local day of
/// `zone` and code.
pub async fn daily_flows(
    conn: &mut AsyncPgConnection,
    zone: &str,
    since: TransferId,
) -> Result<Vec<DayFlow>, StorageError> {
    Ok(diesel::sql_query(
        "SELECT (created_at AT TIME ZONE $1)::date AS day, code, count(*)::bigint AS transfers,
                COALESCE(sum(amount), 0)::bigint AS points
           FROM transfers
          WHERE id >= $2 AND phase IN ('single', 'post')
          GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind::<Text, _>(zone)
    .bind::<SqlUuid, _>(since.0)
    .load(conn)
    .await?)
}

/// Members who earned or redeemed, per local day.
#[derive(Debug, Clone, PartialEq, Eq, diesel::QueryableByName)]
pub struct DayMembers {
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub members: i64,
}

/// Members who earned or redeemed (posted) since `since`, per local day of `zone`.
pub async fn active_members(
    conn: &mut AsyncPgConnection,
    zone: &str,
    since: TransferId,
) -> Result<Vec<DayMembers>, StorageError> {
    Ok(diesel::sql_query(
        "SELECT (created_at AT TIME ZONE $1)::date AS day, count(DISTINCT member_id)::bigint AS members
           FROM transfers
          WHERE id >= $2 AND phase IN ('single', 'post') AND code IN ('earn', 'redeem')
          GROUP BY 1 ORDER BY 1",
    )
    .bind::<Text, _>(zone)
    .bind::<SqlUuid, _>(since.0)
    .load(conn)
    .await?)
}

/// One partner's posted points of one code.
#[derive(Debug, Clone, PartialEq, Eq, diesel::QueryableByName)]
pub struct PartnerFlow {
    #[diesel(sql_type = Nullable<Text>)]
    pub partner: Option<String>,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = BigInt)]
    pub points: i64,
}

/// Each partner's posted points per code since `since`.
pub async fn partner_flows(
    conn: &mut AsyncPgConnection,
    since: TransferId,
) -> Result<Vec<PartnerFlow>, StorageError> {
    Ok(diesel::sql_query(
        "SELECT p.name AS partner, t.code, COALESCE(sum(t.amount), 0)::bigint AS points
           FROM transfers t JOIN partners p ON p.id = t.partner_id
          WHERE t.id >= $1 AND t.phase IN ('single', 'post')
          GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind::<SqlUuid, _>(since.0)
    .load(conn)
    .await?)
}

/// Points members hold, posted (held points included): what the daily flows of posted transfers
/// add up to.
pub async fn member_points_posted(conn: &mut AsyncPgConnection) -> Result<i128, StorageError> {
    use super::schema::accounts;
    use diesel::{ExpressionMethods as _, QueryDsl as _};
    let total: Option<rust_decimal::Decimal> = accounts::table
        .filter(accounts::kind.eq(domain::ledger::AccountKind::Member.as_str()))
        .select(diesel::dsl::sum(
            accounts::credits_posted - accounts::debits_posted,
        ))
        .first(conn)
        .await?;
    let total = total.unwrap_or_default();
    i128::try_from(total)
        .map_err(|_| StorageError::Corrupt(format!("members hold {total} points in all")))
}
