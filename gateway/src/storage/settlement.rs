//! The settlement tables: `partner_terms`, `statements`, `statement_lines`,
//! `statement_responses` and `settlement_adjustments`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::StorageError;
use super::schema::{
    partner_terms, partners, settlement_adjustments, statement_lines, statement_responses,
    statements,
};

/// A `partner_terms` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = partner_terms, check_for_backend(diesel::pg::Pg))]
pub struct TermsRow {
    pub id: Uuid,
    pub partner_id: Uuid,
    pub version: i32,
    pub effective_from: DateTime<Utc>,
    pub currency: String,
    pub price_per_point: Decimal,
    pub reimbursement_per_point: Decimal,
    pub period: String,
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
}

/// Inserts a terms version; `false` if that version or start already exists (a concurrent set).
pub async fn insert_terms(
    conn: &mut AsyncPgConnection,
    row: &TermsRow,
) -> Result<bool, StorageError> {
    let inserted = diesel::insert_into(partner_terms::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Every terms version of a partner, oldest first.
pub async fn terms_of(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
) -> Result<Vec<TermsRow>, StorageError> {
    Ok(partner_terms::table
        .filter(partner_terms::partner_id.eq(partner_id))
        .order(partner_terms::version)
        .select(TermsRow::as_select())
        .load(conn)
        .await?)
}

/// The partners that have terms (and so are settled), with their codes.
pub async fn settled_partners(
    conn: &mut AsyncPgConnection,
) -> Result<Vec<(Uuid, String)>, StorageError> {
    Ok(partners::table
        .filter(diesel::dsl::exists(
            partner_terms::table.filter(partner_terms::partner_id.eq(partners::id)),
        ))
        .order(partners::code)
        .select((partners::id, partners::code))
        .load(conn)
        .await?)
}

/// A `statements` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = statements, check_for_backend(diesel::pg::Pg))]
pub struct StatementRow {
    pub id: Uuid,
    pub partner_id: Uuid,
    pub sequence: i32,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub terms_id: Uuid,
    pub closed_at: DateTime<Utc>,
    pub net_minor: i64,
    pub closing_minor: i64,
    pub payload: Vec<u8>,
    pub payload_sha256: Vec<u8>,
    pub previous_sha256: Option<Vec<u8>>,
    pub lines_sha256: Vec<u8>,
    pub jws: String,
}

/// Serializes settlement of one partner across gateway instances and `clubgate settle`.
pub async fn lock_partner_settlement(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
) -> Result<(), StorageError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('settle:' || $1::text))")
        .bind::<SqlUuid, _>(partner_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The partner's latest statement.
pub async fn last_statement(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
) -> Result<Option<StatementRow>, StorageError> {
    Ok(statements::table
        .filter(statements::partner_id.eq(partner_id))
        .order(statements::sequence.desc())
        .select(StatementRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The statement with this sequence number of a partner.
pub async fn statement_by_sequence(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
    sequence: i32,
) -> Result<Option<StatementRow>, StorageError> {
    Ok(statements::table
        .filter(statements::partner_id.eq(partner_id))
        .filter(statements::sequence.eq(sequence))
        .select(StatementRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Inserts a statement and the transfers it settles, with each line's money.
pub async fn insert_statement(
    conn: &mut AsyncPgConnection,
    row: &StatementRow,
    lines: &[(Uuid, i64)],
) -> Result<(), StorageError> {
    diesel::insert_into(statements::table)
        .values(row)
        .execute(conn)
        .await?;
    for chunk in lines.chunks(10_000) {
        let (ids, money): (Vec<Uuid>, Vec<i64>) = chunk.iter().copied().unzip();
        diesel::sql_query(
            "INSERT INTO statement_lines (transfer_id, statement_id, money_minor)
             SELECT t, $1, m FROM UNNEST($2::uuid[], $3::bigint[]) AS u(t, m)",
        )
        .bind::<SqlUuid, _>(row.id)
        .bind::<diesel::sql_types::Array<SqlUuid>, _>(ids)
        .bind::<diesel::sql_types::Array<BigInt>, _>(money)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// One statement by id.
pub async fn statement(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Option<StatementRow>, StorageError> {
    Ok(statements::table
        .find(id)
        .select(StatementRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Which statements to list.
#[derive(Debug, Clone, Default)]
pub struct StatementFilter {
    pub id: Option<Uuid>,
    pub partner_id: Option<Uuid>,
    /// Statements whose period ends after this instant.
    pub ending_after: Option<DateTime<Utc>>,
    /// Statements whose period starts before this instant.
    pub starting_before: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// Statements with their partner's code, by partner and sequence.
pub async fn list_statements(
    conn: &mut AsyncPgConnection,
    filter: &StatementFilter,
) -> Result<Vec<(StatementRow, String)>, StorageError> {
    let mut query = statements::table
        .inner_join(partners::table)
        .select((StatementRow::as_select(), partners::code))
        .order((partners::code, statements::sequence))
        .limit(filter.limit)
        .into_boxed();
    if let Some(id) = filter.id {
        query = query.filter(statements::id.eq(id));
    }
    if let Some(partner_id) = filter.partner_id {
        query = query.filter(statements::partner_id.eq(partner_id));
    }
    if let Some(after) = filter.ending_after {
        query = query.filter(statements::period_end.gt(after));
    }
    if let Some(before) = filter.starting_before {
        query = query.filter(statements::period_start.lt(before));
    }
    Ok(query.load(conn).await?)
}

/// A transfer as a statement line needs it.
#[derive(Debug, Clone, QueryableByName, PartialEq, Eq)]
pub struct LineSourceRow {
    #[diesel(sql_type = SqlUuid)]
    pub transfer_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = BigInt)]
    pub points: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub card_number: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub branch: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub partner_reference: Option<String>,
    /// For a reversal: the terms its original was settled under, if it was.
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub original_terms_id: Option<Uuid>,
    /// For an adjustment: its money, fixed by the resolution that posted it.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub adjustment_money: Option<i64>,
}

// The columns of a line; `t` is the transfer, `p` its pending original (for a capture).
const LINE_COLUMNS: &str = "
    t.id AS transfer_id, t.created_at, t.code, t.amount AS points, t.card_number,
    b.code AS branch, COALESCE(t.partner_reference, p.partner_reference) AS partner_reference,
    (SELECT s.terms_id FROM transfers o
       JOIN statement_lines l ON l.transfer_id = o.id
       JOIN statements s ON s.id = l.statement_id
      WHERE t.reverses_id IS NOT NULL AND (o.id = t.reverses_id OR o.pending_id = t.reverses_id)
      LIMIT 1) AS original_terms_id,
    a.money_minor AS adjustment_money";
const LINE_JOINS: &str = "
    LEFT JOIN transfers p ON p.id = t.pending_id
    LEFT JOIN branches b ON b.id = t.branch_id
    LEFT JOIN settlement_adjustments a ON a.transfer_id = t.id";

/// The partner's posted, not yet settled transfers with ids in `[from_id, to_id)` and times
/// before `end`, oldest first. Transfer ids are UUIDv7 carrying their time, so the id range
/// is the time range on the `(partner_id, id)` index.
pub async fn unsettled_lines(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
    from_id: Uuid,
    to_id: Uuid,
    end: DateTime<Utc>,
) -> Result<Vec<LineSourceRow>, StorageError> {
    Ok(diesel::sql_query(format!(
        "SELECT {LINE_COLUMNS} FROM transfers t {LINE_JOINS}
          WHERE t.partner_id = $1 AND t.id >= $2 AND t.id < $3 AND t.created_at < $4
            AND t.phase IN ('single', 'post')
            AND t.code IN ('earn', 'redeem', 'earn_reversal', 'redeem_reversal', 'adjustment')
            AND NOT EXISTS (SELECT 1 FROM statement_lines l WHERE l.transfer_id = t.id)
          ORDER BY t.id"
    ))
    .bind::<SqlUuid, _>(partner_id)
    .bind::<SqlUuid, _>(from_id)
    .bind::<SqlUuid, _>(to_id)
    .bind::<Timestamptz, _>(end)
    .load(conn)
    .await?)
}

/// The lines a statement settled, in file order, with the money stored at close.
pub async fn statement_lines(
    conn: &mut AsyncPgConnection,
    statement_id: Uuid,
) -> Result<Vec<(LineSourceRow, i64)>, StorageError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(embed)]
        line: LineSourceRow,
        #[diesel(sql_type = BigInt)]
        settled_money: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT {LINE_COLUMNS}, sl.money_minor AS settled_money
           FROM statement_lines sl JOIN transfers t ON t.id = sl.transfer_id {LINE_JOINS}
          WHERE sl.statement_id = $1
          ORDER BY t.id"
    ))
    .bind::<SqlUuid, _>(statement_id)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.line, r.settled_money))
        .collect())
}

/// The statement that settled a transfer, and the line's money there.
pub async fn settled_line(
    conn: &mut AsyncPgConnection,
    transfer_id: Uuid,
) -> Result<Option<(Uuid, i64)>, StorageError> {
    Ok(statement_lines::table
        .find(transfer_id)
        .select((statement_lines::statement_id, statement_lines::money_minor))
        .first(conn)
        .await
        .optional()?)
}

/// The first of `lines` that the statement does not settle.
pub async fn lines_outside(
    conn: &mut AsyncPgConnection,
    statement_id: Uuid,
    lines: &[Uuid],
) -> Result<Option<Uuid>, StorageError> {
    #[derive(QueryableByName)]
    struct Stray {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    let stray: Vec<Stray> = diesel::sql_query(
        "SELECT u.id FROM UNNEST($2::uuid[]) AS u(id)
          WHERE NOT EXISTS (SELECT 1 FROM statement_lines l
                             WHERE l.transfer_id = u.id AND l.statement_id = $1)
          LIMIT 1",
    )
    .bind::<SqlUuid, _>(statement_id)
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(lines)
    .load(conn)
    .await?;
    Ok(stray.into_iter().next().map(|s| s.id))
}

/// A `statement_responses` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = statement_responses, check_for_backend(diesel::pg::Pg))]
pub struct ResponseRow {
    pub id: Uuid,
    pub statement_id: Uuid,
    pub kind: String,
    pub statement_sha256: Vec<u8>,
    pub disputed_lines: Vec<Uuid>,
    pub accepted_lines: Vec<Uuid>,
    pub reason: Option<String>,
    pub key_id: String,
    pub signed_request: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Inserts a response; `false` if the statement already has one of its kind.
pub async fn insert_response(
    conn: &mut AsyncPgConnection,
    row: &ResponseRow,
) -> Result<bool, StorageError> {
    let inserted = diesel::insert_into(statement_responses::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// A statement's responses, oldest first.
pub async fn responses(
    conn: &mut AsyncPgConnection,
    statement_ids: &[Uuid],
) -> Result<Vec<ResponseRow>, StorageError> {
    Ok(statement_responses::table
        .filter(statement_responses::statement_id.eq_any(statement_ids))
        .order((statement_responses::created_at, statement_responses::id))
        .select(ResponseRow::as_select())
        .load(conn)
        .await?)
}

/// Records that `transfer_id` adjusts `corrects` by `money_minor`, under `resolution_id`.
pub async fn insert_adjustment(
    conn: &mut AsyncPgConnection,
    transfer_id: Uuid,
    resolution_id: Uuid,
    corrects: Uuid,
    money_minor: i64,
) -> Result<(), StorageError> {
    diesel::insert_into(settlement_adjustments::table)
        .values((
            settlement_adjustments::transfer_id.eq(transfer_id),
            settlement_adjustments::resolution_id.eq(resolution_id),
            settlement_adjustments::corrects_transfer_id.eq(corrects),
            settlement_adjustments::money_minor.eq(money_minor),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A posted transfer as reconciliation compares it.
#[derive(Debug, Clone, QueryableByName)]
pub struct ReconciliationRow {
    #[diesel(sql_type = SqlUuid)]
    pub transfer_id: Uuid,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub partner_reference: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub points: i64,
    #[diesel(sql_type = BigInt)]
    pub amount_minor: i64,
}

/// The partner's posted earns, redemptions and their reversals with ids in `[from_id, to_id)`
/// (UUIDv7: the time window on the `(partner_id, id)` index).
pub async fn reconciliation_rows(
    conn: &mut AsyncPgConnection,
    partner_id: Uuid,
    from_id: Uuid,
    to_id: Uuid,
) -> Result<Vec<ReconciliationRow>, StorageError> {
    Ok(diesel::sql_query(
        "SELECT t.id AS transfer_id, t.code,
                COALESCE(t.partner_reference, p.partner_reference) AS partner_reference,
                t.amount AS points, COALESCE(t.money_minor, 0) AS amount_minor
           FROM transfers t LEFT JOIN transfers p ON p.id = t.pending_id
          WHERE t.partner_id = $1 AND t.id >= $2 AND t.id < $3
            AND t.phase IN ('single', 'post')
            AND t.code IN ('earn', 'redeem', 'earn_reversal', 'redeem_reversal')
          ORDER BY t.id",
    )
    .bind::<SqlUuid, _>(partner_id)
    .bind::<SqlUuid, _>(from_id)
    .bind::<SqlUuid, _>(to_id)
    .load(conn)
    .await?)
}

/// Points members hold now (posted credits less posted and held debits): the outstanding liability.
pub async fn outstanding_points(conn: &mut AsyncPgConnection) -> Result<i64, StorageError> {
    use super::schema::accounts;
    let total: Option<rust_decimal::Decimal> = accounts::table
        .filter(accounts::kind.eq("member"))
        .select(diesel::dsl::sum(
            accounts::credits_posted - accounts::debits_posted - accounts::debits_pending,
        ))
        .first(conn)
        .await?;
    Ok(total.and_then(|t| i64::try_from(t).ok()).unwrap_or(0))
}
