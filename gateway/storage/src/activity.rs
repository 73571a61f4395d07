//! Members' activity per local day (`member_activity`, a projection of earns and their
//! reversals) and their tier history (`member_tier_changes`, append-only), both written by the
//! ledger's batches.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::ids::MemberId;
use domain::ledger::books::TierChange;
use domain::program::campaigns::PastEarn;
use domain::program::tiers::Tally;
use uuid::Uuid;

use super::StorageError;
use super::prepared::prepared;
use super::schema::{member_activity, member_tier_changes};

/// The members' days from `since` on.
pub async fn days(
    mut conn: &AsyncPgConnection,
    member_ids: &[MemberId],
    since: NaiveDate,
) -> Result<Vec<(MemberId, NaiveDate, Tally)>, StorageError> {
    let ids: Vec<Uuid> = member_ids.iter().map(|id| id.0).collect();
    let rows: Vec<(Uuid, NaiveDate, i64, i64, i64)> = member_activity::table
        .filter(member_activity::member_id.eq_any(&ids))
        .filter(member_activity::day.ge(since))
        .order((member_activity::member_id, member_activity::day))
        .select((
            member_activity::member_id,
            member_activity::day,
            member_activity::points,
            member_activity::spend_minor,
            member_activity::visits,
        ))
        .load(&mut conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(member, day, points, spend_minor, visits)| {
            let tally = Tally {
                points,
                spend_minor,
                visits,
            };
            (MemberId(member), day, tally)
        })
        .collect())
}

/// The tier each member was last recorded in.
pub async fn tiers_recorded(
    mut conn: &AsyncPgConnection,
    member_ids: &[MemberId],
) -> Result<Vec<(MemberId, String)>, StorageError> {
    let ids: Vec<Uuid> = member_ids.iter().map(|id| id.0).collect();
    let rows: Vec<(Uuid, String)> = member_tier_changes::table
        .filter(member_tier_changes::member_id.eq_any(&ids))
        .order((
            member_tier_changes::member_id,
            member_tier_changes::id.desc(),
        ))
        .distinct_on(member_tier_changes::member_id)
        .select((member_tier_changes::member_id, member_tier_changes::tier))
        .load(&mut conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(member, tier)| (MemberId(member), tier))
        .collect())
}

/// A member's tier history, oldest first.
pub async fn tier_history(
    mut conn: &AsyncPgConnection,
    member_id: MemberId,
) -> Result<Vec<TierChange>, StorageError> {
    let rows: Vec<(chrono::DateTime<chrono::Utc>, String, Option<String>)> =
        member_tier_changes::table
            .filter(member_tier_changes::member_id.eq(member_id.0))
            .order(member_tier_changes::id)
            .select((
                member_tier_changes::changed_at,
                member_tier_changes::tier,
                member_tier_changes::previous_tier,
            ))
            .load(&mut conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(at, tier, previous)| TierChange {
            member_id,
            at,
            tier,
            previous,
        })
        .collect())
}

/// Adds to the members' days.
pub async fn add_days(
    mut conn: &AsyncPgConnection,
    days: &BTreeMap<(MemberId, NaiveDate), Tally>,
) -> Result<(), StorageError> {
    if days.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&Tally) -> i64| days.values().map(f).collect::<Vec<i64>>();
    prepared(
        diesel::sql_query(
            "INSERT INTO member_activity AS a (member_id, day, points, spend_minor, visits) \
             SELECT * FROM UNNEST($1::uuid[], $2::date[], $3::int8[], $4::int8[], $5::int8[]) \
             ON CONFLICT (member_id, day) DO UPDATE \
                SET points = a.points + excluded.points, \
                    spend_minor = a.spend_minor + excluded.spend_minor, \
                    visits = a.visits + excluded.visits",
        )
        .bind::<Array<SqlUuid>, _>(days.keys().map(|(m, _)| m.0).collect::<Vec<_>>())
        .bind::<Array<Date>, _>(days.keys().map(|(_, d)| *d).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(column(|t| t.points))
        .bind::<Array<BigInt>, _>(column(|t| t.spend_minor))
        .bind::<Array<BigInt>, _>(column(|t| t.visits)),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Appends tier changes, in order.
pub async fn record_tier_changes(
    mut conn: &AsyncPgConnection,
    changes: &[TierChange],
) -> Result<(), StorageError> {
    if changes.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(
            "INSERT INTO member_tier_changes (member_id, changed_at, tier, previous_tier) \
             SELECT member_id, changed_at, tier, previous_tier FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[]) \
                 WITH ORDINALITY AS c(member_id, changed_at, tier, previous_tier, n) ORDER BY n",
        )
        .bind::<Array<SqlUuid>, _>(changes.iter().map(|c| c.member_id.0).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(changes.iter().map(|c| c.at).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(changes.iter().map(|c| c.tier.clone()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(
            changes.iter().map(|c| c.previous.clone()).collect::<Vec<_>>(),
        ),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Members whose last recorded tier is one of `tiers`, with it.
pub async fn members_in_tiers(
    mut conn: &AsyncPgConnection,
    tiers: &[String],
) -> Result<Vec<(MemberId, String)>, StorageError> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = SqlUuid)]
        member_id: Uuid,
        #[diesel(sql_type = Text)]
        tier: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT member_id, tier FROM ( \
             SELECT DISTINCT ON (member_id) member_id, tier FROM member_tier_changes \
              ORDER BY member_id, id DESC) latest \
          WHERE tier = ANY($1)",
    )
    .bind::<Array<Text>, _>(tiers)
    .load(&mut conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (MemberId(r.member_id), r.tier))
        .collect())
}

/// Points the capped earn rules `rules` gave `member_ids` from `since` on: (member, rule, day,
/// points).
pub async fn earn_rule_points(
    mut conn: &AsyncPgConnection,
    member_ids: &[MemberId],
    rules: &[&str],
    since: NaiveDate,
) -> Result<Vec<(MemberId, String, NaiveDate, i64)>, StorageError> {
    use super::schema::earn_rule_points as p;
    if member_ids.is_empty() || rules.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = member_ids.iter().map(|id| id.0).collect();
    let rows: Vec<(Uuid, String, NaiveDate, i64)> = p::table
        .filter(p::member_id.eq_any(&ids))
        .filter(p::rule.eq_any(rules))
        .filter(p::day.ge(since))
        .select((p::member_id, p::rule, p::day, p::points))
        .load(&mut conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(member, rule, day, points)| (MemberId(member), rule, day, points))
        .collect())
}

/// Adds what capped earn rules gave, per member, rule and local day.
pub async fn add_earn_rule_points(
    mut conn: &AsyncPgConnection,
    points: &BTreeMap<(MemberId, String, NaiveDate), i64>,
) -> Result<(), StorageError> {
    if points.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(
            "INSERT INTO earn_rule_points AS p (member_id, rule, day, points) \
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::date[], $4::int8[]) \
             ON CONFLICT (member_id, rule, day) DO UPDATE SET points = p.points + excluded.points",
        )
        .bind::<Array<SqlUuid>, _>(points.keys().map(|(m, _, _)| m.0).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(points.keys().map(|(_, r, _)| r.clone()).collect::<Vec<_>>())
        .bind::<Array<Date>, _>(points.keys().map(|(_, _, d)| *d).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(points.values().copied().collect::<Vec<_>>()),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Records when late-reported earns happened.
pub async fn record_late_earns(
    mut conn: &AsyncPgConnection,
    late: &[(domain::ids::TransferId, chrono::DateTime<chrono::Utc>)],
) -> Result<(), StorageError> {
    if late.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(
            "INSERT INTO late_earns (transfer_id, occurred_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[])",
        )
        .bind::<Array<SqlUuid>, _>(late.iter().map(|(id, _)| id.0).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(late.iter().map(|(_, at)| *at).collect::<Vec<_>>()),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Records the base points and tier of earns posted while tiers were in force.
pub async fn record_earn_tiers(
    mut conn: &AsyncPgConnection,
    earns: &[(domain::ids::TransferId, domain::points::Points, String)],
) -> Result<(), StorageError> {
    if earns.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(
            "INSERT INTO earn_tiers (transfer_id, base_points, tier) \
             SELECT * FROM UNNEST($1::uuid[], $2::int8[], $3::text[])",
        )
        .bind::<Array<SqlUuid>, _>(earns.iter().map(|(id, _, _)| id.0).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(earns.iter().map(|(_, p, _)| p.get()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(earns.iter().map(|(_, _, t)| t.clone()).collect::<Vec<_>>()),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// A page of the purchases posted at once (not pending: campaigns reward those alone) that
/// happened in `[from, to)` (to the millisecond), in the order they were made (by id, to the
/// millisecond: transfer ids are UUIDv7 of their time, so the primary key serves the range), after
/// transfer `after`: what a campaign's dry run replays. Returns each with its id.
pub async fn past_earns(
    mut conn: &AsyncPgConnection,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(Uuid, PastEarn)>, StorageError> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
        #[diesel(sql_type = Timestamptz)]
        happened_at: chrono::DateTime<chrono::Utc>,
        #[diesel(sql_type = SqlUuid)]
        member_id: Uuid,
        #[diesel(sql_type = SqlUuid)]
        partner_id: Uuid,
        #[diesel(sql_type = SqlUuid)]
        branch_id: Uuid,
        #[diesel(sql_type = BigInt)]
        base_points: i64,
        #[diesel(sql_type = Nullable<Text>)]
        tier: Option<String>,
    }
    use domain::ids::TransferId;
    // Every one was made no earlier than it happened, so its id is no lower than `from`'s.
    let first = TransferId::first_at(from).0;
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT t.id, coalesce(l.occurred_at, t.created_at) AS happened_at, \
                t.member_id, t.partner_id, t.branch_id, \
                coalesce(e.base_points, t.amount) AS base_points, e.tier \
           FROM transfers t \
           LEFT JOIN late_earns l ON l.transfer_id = t.id \
           LEFT JOIN earn_tiers e ON e.transfer_id = t.id \
          WHERE t.id >= $3 AND t.id < $4 AND t.id > $6 \
            AND t.code = 'earn' AND t.phase = 'single' \
            AND coalesce(l.occurred_at, t.created_at) >= $1 \
            AND coalesce(l.occurred_at, t.created_at) < $2 \
          ORDER BY t.id LIMIT $5",
    )
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .bind::<SqlUuid, _>(first)
    .bind::<SqlUuid, _>(TransferId::first_at(to).0)
    .bind::<BigInt, _>(limit)
    .bind::<SqlUuid, _>(after.unwrap_or(Uuid::nil()))
    .load(&mut conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let earn = PastEarn {
                at: r.happened_at,
                member_id: MemberId(r.member_id),
                partner_id: domain::ids::PartnerId(r.partner_id),
                branch_id: domain::ids::BranchId(r.branch_id),
                base: domain::points::Points(r.base_points),
                tier: r.tier,
            };
            (r.id, earn)
        })
        .collect())
}
