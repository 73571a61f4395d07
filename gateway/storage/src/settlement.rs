//! The settlement tables: `partner_terms`, `statements`, `statement_lines`,
//! `statement_responses` and `settlement_adjustments`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::ids::{AnswerId, PartnerId, StatementId, TermsId, TransferId};
use domain::points::Currency;
use domain::settlement::reconcile::LedgerEntry;
use domain::settlement::statement::LineSource;
use domain::settlement::terms::{PeriodKind, Terms};
use domain::settlement::{IssuedStatement, StatementAnswer, money::LineType};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::schema::{
    partner_terms, partners, settlement_adjustments, statement_lines, statement_responses,
    statements,
};
use super::{StorageError, stored};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = partner_terms, check_for_backend(diesel::pg::Pg))]
struct TermsRow {
    id: Uuid,
    partner_id: Uuid,
    version: i32,
    effective_from: DateTime<Utc>,
    currency: String,
    price_per_point: Decimal,
    reimbursement_per_point: Decimal,
    period: String,
    time_zone: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<TermsRow> for Terms {
    type Error = StorageError;

    fn try_from(row: TermsRow) -> Result<Self, StorageError> {
        let corrupt = |e: String| StorageError::Corrupt(format!("partner_terms: {e}"));
        Ok(Self {
            id: TermsId(row.id),
            partner_id: PartnerId(row.partner_id),
            version: row.version,
            effective_from: row.effective_from,
            currency: Currency::parse(&row.currency).map_err(|e| corrupt(e.to_string()))?,
            price_per_point: row.price_per_point.normalize(),
            reimbursement_per_point: row.reimbursement_per_point.normalize(),
            period: PeriodKind::parse(&row.period).map_err(|e| corrupt(e.to_string()))?,
            time_zone: domain::settlement::terms::parse_zone(&row.time_zone)
                .map_err(|e| corrupt(e.to_string()))?,
        })
    }
}

/// Inserts a terms version; `false` if that version or start already exists (a concurrent set).
pub async fn insert_terms(
    conn: &mut AsyncPgConnection,
    terms: &Terms,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let row = TermsRow {
        id: terms.id.0,
        partner_id: terms.partner_id.0,
        version: terms.version,
        effective_from: terms.effective_from,
        currency: terms.currency.to_string(),
        price_per_point: terms.price_per_point,
        reimbursement_per_point: terms.reimbursement_per_point,
        period: terms.period.as_str().to_owned(),
        time_zone: terms.time_zone.name().to_owned(),
        created_at: now,
    };
    let inserted = diesel::insert_into(partner_terms::table)
        .values(&row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Every terms version of a partner, oldest first.
pub async fn terms_of(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
) -> Result<Vec<Terms>, StorageError> {
    partner_terms::table
        .filter(partner_terms::partner_id.eq(partner_id.0))
        .order(partner_terms::version)
        .select(TermsRow::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(Terms::try_from)
        .collect()
}

/// The partners that have terms (and so are settled), with their codes.
pub async fn settled_partners(
    conn: &mut AsyncPgConnection,
) -> Result<Vec<(PartnerId, String)>, StorageError> {
    Ok(partners::table
        .filter(diesel::dsl::exists(
            partner_terms::table.filter(partner_terms::partner_id.eq(partners::id)),
        ))
        .order(partners::code)
        .select((partners::id, partners::code))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .map(|(id, code)| (PartnerId(id), code))
        .collect())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = statements, check_for_backend(diesel::pg::Pg))]
struct StatementRow {
    id: Uuid,
    partner_id: Uuid,
    sequence: i32,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    terms_id: Uuid,
    closed_at: DateTime<Utc>,
    net_minor: i64,
    closing_minor: i64,
    payload: Vec<u8>,
    payload_sha256: Vec<u8>,
    previous_sha256: Option<Vec<u8>>,
    lines_sha256: Vec<u8>,
    jws: String,
}

fn hash(column: &str, bytes: Vec<u8>) -> Result<[u8; 32], StorageError> {
    bytes
        .try_into()
        .map_err(|_| StorageError::Corrupt(format!("{column} is not a SHA-256")))
}

impl TryFrom<StatementRow> for IssuedStatement {
    type Error = StorageError;

    fn try_from(row: StatementRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: StatementId(row.id),
            partner_id: PartnerId(row.partner_id),
            sequence: row.sequence,
            period_start: row.period_start,
            period_end: row.period_end,
            terms_id: TermsId(row.terms_id),
            closed_at: row.closed_at,
            net_minor: row.net_minor,
            closing_minor: row.closing_minor,
            payload: row.payload,
            payload_sha256: hash("statements.payload_sha256", row.payload_sha256)?,
            previous_sha256: row
                .previous_sha256
                .map(|h| hash("statements.previous_sha256", h))
                .transpose()?,
            lines_sha256: hash("statements.lines_sha256", row.lines_sha256)?,
            jws: row.jws,
        })
    }
}

impl From<&IssuedStatement> for StatementRow {
    fn from(s: &IssuedStatement) -> Self {
        Self {
            id: s.id.0,
            partner_id: s.partner_id.0,
            sequence: s.sequence,
            period_start: s.period_start,
            period_end: s.period_end,
            terms_id: s.terms_id.0,
            closed_at: s.closed_at,
            net_minor: s.net_minor,
            closing_minor: s.closing_minor,
            payload: s.payload.clone(),
            payload_sha256: s.payload_sha256.to_vec(),
            previous_sha256: s.previous_sha256.map(|h| h.to_vec()),
            lines_sha256: s.lines_sha256.to_vec(),
            jws: s.jws.clone(),
        }
    }
}

/// Serializes settlement of one partner across gateway instances and `clubgate settle`.
pub async fn lock_partner_settlement(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
) -> Result<(), StorageError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('settle:' || $1::text))")
        .bind::<SqlUuid, _>(partner_id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// The partner's latest statement.
pub async fn last_statement(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
) -> Result<Option<IssuedStatement>, StorageError> {
    statements::table
        .filter(statements::partner_id.eq(partner_id.0))
        .order(statements::sequence.desc())
        .select(StatementRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(IssuedStatement::try_from)
        .transpose()
}

/// The statement with this sequence number of a partner.
pub async fn statement_by_sequence(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
    sequence: i32,
) -> Result<Option<IssuedStatement>, StorageError> {
    statements::table
        .filter(statements::partner_id.eq(partner_id.0))
        .filter(statements::sequence.eq(sequence))
        .select(StatementRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(IssuedStatement::try_from)
        .transpose()
}

/// Inserts a statement and the transfers it settles, with each line's money.
pub async fn insert_statement(
    conn: &mut AsyncPgConnection,
    statement: &IssuedStatement,
    lines: &[(TransferId, i64)],
) -> Result<(), StorageError> {
    diesel::insert_into(statements::table)
        .values(StatementRow::from(statement))
        .execute(conn)
        .await?;
    for chunk in lines.chunks(10_000) {
        let (ids, money): (Vec<Uuid>, Vec<i64>) = chunk.iter().map(|(t, m)| (t.0, *m)).unzip();
        diesel::sql_query(
            "INSERT INTO statement_lines (transfer_id, statement_id, money_minor)
             SELECT t, $1, m FROM UNNEST($2::uuid[], $3::bigint[]) AS u(t, m)",
        )
        .bind::<SqlUuid, _>(statement.id.0)
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
    id: StatementId,
) -> Result<Option<IssuedStatement>, StorageError> {
    statements::table
        .find(id.0)
        .select(StatementRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(IssuedStatement::try_from)
        .transpose()
}

/// Which statements to list.
#[derive(Debug, Clone, Default)]
pub struct StatementFilter {
    /// Only this statement.
    pub id: Option<StatementId>,
    /// Only this partner's.
    pub partner_id: Option<PartnerId>,
    /// Statements whose period ends after this instant.
    pub ending_after: Option<DateTime<Utc>>,
    /// Statements whose period starts before this instant.
    pub starting_before: Option<DateTime<Utc>>,
    /// At most this many.
    pub limit: i64,
}

/// Statements with their partner's code, by partner and sequence.
pub async fn list_statements(
    conn: &mut AsyncPgConnection,
    filter: &StatementFilter,
) -> Result<Vec<(IssuedStatement, String)>, StorageError> {
    let mut query = statements::table
        .inner_join(partners::table)
        .select((StatementRow::as_select(), partners::code))
        .order((partners::code, statements::sequence))
        .limit(filter.limit)
        .into_boxed();
    if let Some(id) = filter.id {
        query = query.filter(statements::id.eq(id.0));
    }
    if let Some(partner_id) = filter.partner_id {
        query = query.filter(statements::partner_id.eq(partner_id.0));
    }
    if let Some(after) = filter.ending_after {
        query = query.filter(statements::period_end.gt(after));
    }
    if let Some(before) = filter.starting_before {
        query = query.filter(statements::period_start.lt(before));
    }
    query
        .load::<(StatementRow, String)>(conn)
        .await?
        .into_iter()
        .map(|(row, code)| Ok((row.try_into()?, code)))
        .collect()
}

#[derive(Debug, Clone, QueryableByName, PartialEq, Eq)]
struct LineSourceRow {
    #[diesel(sql_type = SqlUuid)]
    transfer_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    code: String,
    #[diesel(sql_type = BigInt)]
    points: i64,
    #[diesel(sql_type = Nullable<Text>)]
    card_number: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    branch: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    partner_reference: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    original_terms_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<BigInt>)]
    adjustment_money: Option<i64>,
}

impl TryFrom<LineSourceRow> for LineSource {
    type Error = StorageError;

    fn try_from(row: LineSourceRow) -> Result<Self, StorageError> {
        Ok(Self {
            transfer_id: TransferId(row.transfer_id),
            created_at: row.created_at,
            code: stored("transfers.code", &row.code)?,
            points: row.points,
            card_number: row.card_number,
            branch: row.branch,
            partner_reference: row.partner_reference,
            original_terms_id: row.original_terms_id.map(TermsId),
            adjustment_money: row.adjustment_money,
        })
    }
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
    partner_id: PartnerId,
    from_id: TransferId,
    to_id: TransferId,
    end: DateTime<Utc>,
) -> Result<Vec<LineSource>, StorageError> {
    let rows: Vec<LineSourceRow> = diesel::sql_query(format!(
        "SELECT {LINE_COLUMNS} FROM transfers t {LINE_JOINS}
          WHERE t.partner_id = $1 AND t.id >= $2 AND t.id < $3 AND t.created_at < $4
            AND t.phase IN ('single', 'post')
            AND t.code IN ('earn', 'redeem', 'earn_reversal', 'redeem_reversal', 'adjustment', 'bonus')
            AND NOT EXISTS (SELECT 1 FROM statement_lines l WHERE l.transfer_id = t.id)
          ORDER BY t.id"
    ))
    .bind::<SqlUuid, _>(partner_id.0)
    .bind::<SqlUuid, _>(from_id.0)
    .bind::<SqlUuid, _>(to_id.0)
    .bind::<Timestamptz, _>(end)
    .load(conn)
    .await?;
    rows.into_iter().map(LineSource::try_from).collect()
}

/// The lines a statement settled, in file order, with the money stored at close.
pub async fn statement_lines(
    conn: &mut AsyncPgConnection,
    statement_id: StatementId,
) -> Result<Vec<(LineSource, i64)>, StorageError> {
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
    .bind::<SqlUuid, _>(statement_id.0)
    .load(conn)
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.line.try_into()?, r.settled_money)))
        .collect()
}

/// The statement that settled a transfer, and the line's money there.
pub async fn settled_line(
    conn: &mut AsyncPgConnection,
    transfer_id: TransferId,
) -> Result<Option<(StatementId, i64)>, StorageError> {
    Ok(statement_lines::table
        .find(transfer_id.0)
        .select((statement_lines::statement_id, statement_lines::money_minor))
        .first::<(Uuid, i64)>(conn)
        .await
        .optional()?
        .map(|(statement, money)| (StatementId(statement), money)))
}

/// The first of `lines` that the statement does not settle.
pub async fn lines_outside(
    conn: &mut AsyncPgConnection,
    statement_id: StatementId,
    lines: &[TransferId],
) -> Result<Option<TransferId>, StorageError> {
    let lines: Vec<Uuid> = lines.iter().map(|l| l.0).collect();
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
    .bind::<SqlUuid, _>(statement_id.0)
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(lines)
    .load(conn)
    .await?;
    Ok(stray.into_iter().next().map(|s| TransferId(s.id)))
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = statement_responses, check_for_backend(diesel::pg::Pg))]
struct AnswerRow {
    id: Uuid,
    statement_id: Uuid,
    kind: String,
    statement_sha256: Vec<u8>,
    // PostgreSQL arrays may hold NULLs, so the generated schema says so; none are ever written.
    disputed_lines: Vec<Option<Uuid>>,
    accepted_lines: Vec<Option<Uuid>>,
    reason: Option<String>,
    key_id: String,
    signed_request: serde_json::Value,
    created_at: DateTime<Utc>,
}

/// The lines of an answer, refusing a NULL (which no writer stores).
fn answer_lines(column: &str, lines: Vec<Option<Uuid>>) -> Result<Vec<TransferId>, StorageError> {
    lines
        .into_iter()
        .map(|line| {
            line.map(TransferId)
                .ok_or_else(|| StorageError::Corrupt(format!("{column} holds a NULL line")))
        })
        .collect()
}

impl TryFrom<AnswerRow> for StatementAnswer {
    type Error = StorageError;

    fn try_from(row: AnswerRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: AnswerId(row.id),
            statement_id: StatementId(row.statement_id),
            kind: stored("statement_responses.kind", &row.kind)?,
            statement_sha256: row.statement_sha256,
            disputed_lines: answer_lines("statement_responses.disputed_lines", row.disputed_lines)?,
            accepted_lines: answer_lines("statement_responses.accepted_lines", row.accepted_lines)?,
            reason: row.reason,
            key_id: row.key_id,
            signed_request: row.signed_request,
            created_at: row.created_at,
        })
    }
}

/// Inserts an answer; `false` if the statement already has one of its kind.
pub async fn insert_answer(
    conn: &mut AsyncPgConnection,
    answer: &StatementAnswer,
) -> Result<bool, StorageError> {
    let row = AnswerRow {
        id: answer.id.0,
        statement_id: answer.statement_id.0,
        kind: answer.kind.as_str().to_owned(),
        statement_sha256: answer.statement_sha256.clone(),
        disputed_lines: answer.disputed_lines.iter().map(|l| Some(l.0)).collect(),
        accepted_lines: answer.accepted_lines.iter().map(|l| Some(l.0)).collect(),
        reason: answer.reason.clone(),
        key_id: answer.key_id.clone(),
        signed_request: answer.signed_request.clone(),
        created_at: answer.created_at,
    };
    let inserted = diesel::insert_into(statement_responses::table)
        .values(&row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// The answers to these statements, oldest first.
pub async fn answers(
    conn: &mut AsyncPgConnection,
    statement_ids: &[StatementId],
) -> Result<Vec<StatementAnswer>, StorageError> {
    let ids: Vec<Uuid> = statement_ids.iter().map(|id| id.0).collect();
    statement_responses::table
        .filter(statement_responses::statement_id.eq_any(&ids))
        .order((statement_responses::created_at, statement_responses::id))
        .select(AnswerRow::as_select())
        .load(conn)
        .await?
        .into_iter()
        .map(StatementAnswer::try_from)
        .collect()
}

/// Records that `transfer_id` adjusts `corrects` by `money_minor`, under `resolution_id`.
pub async fn insert_adjustment(
    conn: &mut AsyncPgConnection,
    transfer_id: TransferId,
    resolution_id: AnswerId,
    corrects: TransferId,
    money_minor: i64,
) -> Result<(), StorageError> {
    diesel::insert_into(settlement_adjustments::table)
        .values((
            settlement_adjustments::transfer_id.eq(transfer_id.0),
            settlement_adjustments::resolution_id.eq(resolution_id.0),
            settlement_adjustments::corrects_transfer_id.eq(corrects.0),
            settlement_adjustments::money_minor.eq(money_minor),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, QueryableByName)]
struct ReconciliationRow {
    #[diesel(sql_type = SqlUuid)]
    transfer_id: Uuid,
    #[diesel(sql_type = Text)]
    code: String,
    #[diesel(sql_type = Nullable<Text>)]
    partner_reference: Option<String>,
    #[diesel(sql_type = BigInt)]
    points: i64,
    #[diesel(sql_type = BigInt)]
    amount_minor: i64,
}

/// The partner's posted earns, redemptions and their reversals with ids in `[from_id, to_id)`
/// (UUIDv7: the time window on the `(partner_id, id)` index), as reconciliation compares them.
pub async fn reconciliation_entries(
    conn: &mut AsyncPgConnection,
    partner_id: PartnerId,
    from_id: TransferId,
    to_id: TransferId,
) -> Result<Vec<LedgerEntry>, StorageError> {
    let rows: Vec<ReconciliationRow> = diesel::sql_query(
        "SELECT t.id AS transfer_id, t.code,
                COALESCE(t.partner_reference, p.partner_reference) AS partner_reference,
                t.amount AS points, COALESCE(t.money_minor, 0) AS amount_minor
           FROM transfers t LEFT JOIN transfers p ON p.id = t.pending_id
          WHERE t.partner_id = $1 AND t.id >= $2 AND t.id < $3
            AND t.phase IN ('single', 'post')
            AND t.code IN ('earn', 'redeem', 'earn_reversal', 'redeem_reversal')
          ORDER BY t.id",
    )
    .bind::<SqlUuid, _>(partner_id.0)
    .bind::<SqlUuid, _>(from_id.0)
    .bind::<SqlUuid, _>(to_id.0)
    .load(conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            let code = stored("transfers.code", &row.code)?;
            let line_type = LineType::from_code(code).ok_or_else(|| {
                StorageError::Corrupt(format!("{code} transfer {} is not a line", row.transfer_id))
            })?;
            Ok(LedgerEntry {
                transfer_id: row.transfer_id,
                // A transfer without a reference can match no row: it is reported missing.
                reference: row.partner_reference.unwrap_or_default(),
                line_type: line_type.as_str(),
                points: row.points,
                amount_minor: row.amount_minor,
            })
        })
        .collect()
}

/// Points members hold now (posted credits less posted and held debits): the outstanding liability.
pub async fn outstanding_points(conn: &mut AsyncPgConnection) -> Result<i128, StorageError> {
    use super::schema::accounts;
    let total: Option<rust_decimal::Decimal> = accounts::table
        .filter(accounts::kind.eq(domain::ledger::AccountKind::Member.as_str()))
        .select(diesel::dsl::sum(
            accounts::credits_posted - accounts::debits_posted - accounts::debits_pending,
        ))
        .first(conn)
        .await?;
    // Each member's points fit in 64 bits, all members' together need not.
    let total = total.unwrap_or_default();
    i128::try_from(total)
        .map_err(|_| StorageError::Corrupt(format!("members hold {total} points in all")))
}
