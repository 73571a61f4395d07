//! `bonus_awards`: each bonus once per member, bonus rule and occasion.

use diesel::sql_types::{Array, Text, Timestamptz, Uuid as SqlUuid};
use diesel::{QueryableByName, sql_types};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::ids::MemberId;
use domain::ledger::books::BonusAward;
use uuid::Uuid;

use super::StorageError;
use super::prepared::prepared;

/// Which of `keys` (member, bonus, occasion) are awarded already.
pub async fn awarded(
    mut conn: &AsyncPgConnection,
    keys: &[(MemberId, &str, &str)],
) -> Result<Vec<(MemberId, String, String)>, StorageError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = sql_types::Uuid)]
        member_id: Uuid,
        #[diesel(sql_type = Text)]
        bonus: String,
        #[diesel(sql_type = Text)]
        occasion: String,
    }
    let rows: Vec<Row> = prepared(
        diesel::sql_query(
            "SELECT a.member_id, a.bonus, a.occasion FROM bonus_awards a \
               JOIN UNNEST($1::uuid[], $2::text[], $3::text[]) AS k(member_id, bonus, occasion) \
                 ON (a.member_id, a.bonus, a.occasion) = (k.member_id, k.bonus, k.occasion)",
        )
        .bind::<Array<SqlUuid>, _>(keys.iter().map(|k| k.0.0).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(keys.iter().map(|k| k.1).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(keys.iter().map(|k| k.2).collect::<Vec<_>>()),
    )
    .load(&mut conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (MemberId(r.member_id), r.bonus, r.occasion))
        .collect())
}

/// Records awards.
pub async fn record(
    mut conn: &AsyncPgConnection,
    awards: &[BonusAward],
) -> Result<(), StorageError> {
    if awards.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(
            "INSERT INTO bonus_awards (member_id, bonus, occasion, transfer_id, awarded_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::uuid[], \
                 $5::timestamptz[])",
        )
        .bind::<Array<SqlUuid>, _>(awards.iter().map(|a| a.member_id.0).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(awards.iter().map(|a| a.bonus.clone()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            awards
                .iter()
                .map(|a| a.occasion.clone())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<SqlUuid>, _>(awards.iter().map(|a| a.transfer_id.0).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(awards.iter().map(|a| a.awarded_at).collect::<Vec<_>>()),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Points the campaigns `codes` have given, their rows locked to the end of the transaction
/// (made when missing).
pub async fn lock_campaign_spend(
    conn: &AsyncPgConnection,
    codes: &[&str],
) -> Result<Vec<(String, i64)>, StorageError> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        code: String,
        #[diesel(sql_type = sql_types::BigInt)]
        points: i64,
    }
    // Two statements on the one pipelined connection, sent in order: the insert runs first.
    let (mut inserts, mut selects) = (conn, conn);
    let ((), rows) = futures_util::try_join!(
        async {
            prepared(
                diesel::sql_query(
                    "INSERT INTO campaign_spend (code, points) SELECT UNNEST($1::text[]), 0 \
                     ON CONFLICT (code) DO NOTHING",
                )
                .bind::<Array<Text>, _>(codes),
            )
            .execute(&mut inserts)
            .await
            .map(|_| ())
        },
        async {
            prepared(
                diesel::sql_query(
                    "SELECT code, points FROM campaign_spend WHERE code = ANY($1::text[]) \
                     ORDER BY code FOR UPDATE",
                )
                .bind::<Array<Text>, _>(codes),
            )
            .load::<Row>(&mut selects)
            .await
        },
    )?;
    Ok(rows.into_iter().map(|r| (r.code, r.points)).collect())
}

/// Adds what the batch's campaigns gave.
pub async fn add_campaign_spend(
    mut conn: &AsyncPgConnection,
    spend: &std::collections::BTreeMap<String, i64>,
) -> Result<(), StorageError> {
    if spend.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(
            "UPDATE campaign_spend c SET points = c.points + d.points \
               FROM UNNEST($1::text[], $2::int8[]) AS d(code, points) WHERE c.code = d.code",
        )
        .bind::<Array<Text>, _>(spend.keys().cloned().collect::<Vec<_>>())
        .bind::<Array<sql_types::BigInt>, _>(spend.values().copied().collect::<Vec<_>>()),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// Points the campaigns `codes` have given (read without a lock: for quotes).
pub async fn campaign_spent(
    mut conn: &AsyncPgConnection,
    codes: &[&str],
) -> Result<Vec<(String, i64)>, StorageError> {
    use super::schema::campaign_spend;
    use diesel::{ExpressionMethods as _, QueryDsl as _};
    Ok(campaign_spend::table
        .filter(campaign_spend::code.eq_any(codes))
        .select((campaign_spend::code, campaign_spend::points))
        .load(&mut conn)
        .await?)
}
