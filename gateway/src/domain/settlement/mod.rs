//! Settlement between the operator and its partners (see `docs/settlement.md`):
//! terms, the period close that issues signed statements, the partners'
//! acknowledgements and disputes, the resolutions that adjust the next
//! statement, and reconciliation against a partner's own records.

pub mod close;
pub mod money;
pub mod reconcile;
pub mod responses;
pub mod statement;
pub mod terms;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;

use self::terms::{NewTerms, PeriodKind, Terms, TermsError};
use crate::domain::partners::PartnerId;
use crate::storage::settlement::{self as rows, TermsRow};
use crate::storage::{self, Storage, StorageError};

impl From<TermsRow> for Terms {
    fn from(row: TermsRow) -> Self {
        Self {
            id: row.id,
            partner_id: PartnerId(row.partner_id),
            version: row.version,
            effective_from: row.effective_from,
            currency: row.currency,
            price_per_point: row.price_per_point.normalize(),
            reimbursement_per_point: row.reimbursement_per_point.normalize(),
            // Rows are written only from validated terms (and the column is CHECKed).
            period: PeriodKind::parse(&row.period).unwrap_or(PeriodKind::Daily),
            time_zone: terms::parse_zone(&row.time_zone).unwrap_or(chrono_tz::UTC),
        }
    }
}

impl From<&Terms> for TermsRow {
    fn from(terms: &Terms) -> Self {
        Self {
            id: terms.id,
            partner_id: terms.partner_id.0,
            version: terms.version,
            effective_from: terms.effective_from,
            currency: terms.currency.clone(),
            price_per_point: terms.price_per_point,
            reimbursement_per_point: terms.reimbursement_per_point,
            period: terms.period.as_str().to_owned(),
            time_zone: terms.time_zone.name().to_owned(),
            created_at: Utc::now(),
        }
    }
}

/// `now` as PostgreSQL keeps it (microseconds): a time written into a signed payload or an
/// answer must read back the same.
pub fn stored_time(now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::DurationRound as _;
    now.duration_trunc(chrono::Duration::microseconds(1))
        .unwrap_or(now)
}

/// The terms in force at `instant`, from a partner's versions (oldest first).
pub fn terms_at(versions: &[Terms], instant: DateTime<Utc>) -> Option<&Terms> {
    versions
        .iter()
        .rev()
        .find(|terms| terms.effective_from <= instant)
}

async fn partner_id_of(storage: &Storage, code: &str) -> Result<PartnerId, TermsError> {
    let mut conn = storage.db().await?;
    storage::partners::find_by_code(&mut conn, code)
        .await?
        .map(|p| p.id)
        .ok_or_else(|| TermsError::PartnerNotFound(code.to_owned()))
}

/// Sets a partner's next terms version (the first one, or one from the next period).
#[tracing::instrument(skip_all, fields(partner.code = %code))]
pub async fn set_terms(
    storage: &Storage,
    code: &str,
    new: NewTerms,
    now: DateTime<Utc>,
) -> Result<Terms, TermsError> {
    let partner_id = partner_id_of(storage, code).await?;
    let mut conn = storage.db().await?;
    conn.transaction::<_, TermsError, _>(async |conn| {
        // The same lock as the period close: a version is never added under a close.
        rows::lock_partner_settlement(conn, partner_id.0).await?;
        let versions: Vec<Terms> = rows::terms_of(conn, partner_id.0)
            .await?
            .into_iter()
            .map(Terms::from)
            .collect();
        let terms = terms::next_version(partner_id, versions.last(), new, now)?;
        if !rows::insert_terms(conn, &TermsRow::from(&terms)).await? {
            return Err(TermsError::Invalid(format!(
                "a terms version starting {} already exists",
                terms.effective_from
            )));
        }
        tracing::info!(version = terms.version, from = %terms.effective_from, "terms set");
        Ok(terms)
    })
    .await
}

/// Every terms version of a partner, oldest first.
pub async fn list_terms(storage: &Storage, code: &str) -> Result<Vec<Terms>, TermsError> {
    let partner_id = partner_id_of(storage, code).await?;
    let mut conn = storage.db().await?;
    Ok(rows::terms_of(&mut conn, partner_id.0)
        .await?
        .into_iter()
        .map(Terms::from)
        .collect())
}

/// A stored statement with its partner's code and the answers to it.
#[derive(Debug, Clone)]
pub struct StatementRecord {
    pub row: rows::StatementRow,
    pub partner_code: String,
    pub responses: Vec<rows::ResponseRow>,
}

impl StatementRecord {
    /// Where the statement stands.
    pub fn status(&self) -> responses::StatementStatus {
        responses::StatementStatus::of(&self.responses)
    }

    /// The signed statement (our own serialization, stored as signed).
    pub fn statement(&self) -> Result<partners::settlement::Statement, SettlementError> {
        serde_json::from_slice(&self.row.payload)
            .map_err(|e| SettlementError::Corrupt(self.row.id, e.to_string()))
    }
}

/// Statements matching `filter`, with their answers.
pub async fn statements(
    storage: &Storage,
    filter: &rows::StatementFilter,
) -> Result<Vec<StatementRecord>, SettlementError> {
    let mut conn = storage.db().await?;
    let found = rows::list_statements(&mut conn, filter).await?;
    let ids: Vec<uuid::Uuid> = found.iter().map(|(row, _)| row.id).collect();
    let mut answers: std::collections::HashMap<uuid::Uuid, Vec<rows::ResponseRow>> =
        std::collections::HashMap::new();
    for answer in rows::responses(&mut conn, &ids).await? {
        answers.entry(answer.statement_id).or_default().push(answer);
    }
    Ok(found
        .into_iter()
        .map(|(row, partner_code)| StatementRecord {
            responses: answers.remove(&row.id).unwrap_or_default(),
            row,
            partner_code,
        })
        .collect())
}

/// One statement; with `partner`, only if it is that partner's.
pub async fn statement_record(
    storage: &Storage,
    partner: Option<PartnerId>,
    id: uuid::Uuid,
) -> Result<StatementRecord, SettlementError> {
    let filter = rows::StatementFilter {
        id: Some(id),
        partner_id: partner.map(|p| p.0),
        limit: 1,
        ..rows::StatementFilter::default()
    };
    statements(storage, &filter)
        .await?
        .pop()
        .ok_or(SettlementError::StatementNotFound(id))
}

/// A statement's lines file.
pub async fn lines_file(
    storage: &Storage,
    record: &StatementRecord,
) -> Result<Vec<u8>, SettlementError> {
    close::lines_file(&mut *storage.db().await?, &record.row).await
}

/// Everything a third party needs to check what a statement's parties agreed: the signed
/// statement, its lines, each answer's signed request, and the public keys of both sides.
pub async fn proof(
    storage: &Storage,
    gateway_keys: &partners::jwk::JwkSet,
    id: uuid::Uuid,
) -> Result<serde_json::Value, SettlementError> {
    let record = statement_record(storage, None, id).await?;
    let lines = lines_file(storage, &record).await?;
    let mut conn = storage.db().await?;
    let mut answers = Vec::new();
    for response in &record.responses {
        let public_key =
            match storage::partner_keys::find_owner(&mut conn, &response.key_id).await? {
                Some(owner) => Some(owner.key.public_key),
                None => storage::operator_keys::find(&mut conn, &response.key_id)
                    .await?
                    .map(|k| k.public_key),
            }
            .map(|key| {
                partners::jwk::PublicKey {
                    kid: response.key_id.clone(),
                    key,
                }
                .to_jwk()
            });
        answers.push(serde_json::json!({
            "kind": response.kind,
            "created_at": response.created_at,
            "statement_sha256": partners::settlement::hex(&response.statement_sha256),
            "disputed_lines": response.disputed_lines,
            "accepted_lines": response.accepted_lines,
            "reason": response.reason,
            "key_id": response.key_id,
            "public_jwk": public_key,
            "signed_request": response.signed_request,
        }));
    }
    Ok(serde_json::json!({
        "statement_id": record.row.id,
        "partner": record.partner_code,
        "sequence": record.row.sequence,
        "status": record.status().as_str(),
        "statement_sha256": partners::settlement::hex(&record.row.payload_sha256),
        "jws": record.row.jws,
        "lines_sha256": partners::settlement::hex(&record.row.lines_sha256),
        "lines_csv": String::from_utf8_lossy(&lines),
        "gateway_jwks": gateway_keys,
        "answers": answers,
    }))
}

/// Rebuilds every statement from the ledger; one line per statement that differs from what
/// was signed or does not link to its predecessor.
pub async fn check_statements(storage: &Storage) -> Result<Vec<String>, SettlementError> {
    let filter = rows::StatementFilter {
        limit: i64::MAX,
        ..rows::StatementFilter::default()
    };
    let mut conn = storage.db().await?;
    let mut problems = Vec::new();
    let mut previous: Option<&rows::StatementRow> = None;
    let found = rows::list_statements(&mut conn, &filter).await?;
    for (row, code) in &found {
        let name = format!("{code} #{}", row.sequence);
        let rebuilt = close::regenerate(&mut conn, row, code).await?;
        if rebuilt.payload != row.payload {
            problems.push(format!(
                "{name}: the statement rebuilt from the ledger differs"
            ));
        }
        if rebuilt.lines_sha256.as_slice() != row.lines_sha256.as_slice() {
            problems.push(format!(
                "{name}: the lines file rebuilt from the ledger differs"
            ));
        }
        let expected_previous = previous
            .filter(|p| p.partner_id == row.partner_id)
            .map(|p| p.payload_sha256.clone());
        if row.previous_sha256 != expected_previous {
            problems.push(format!(
                "{name}: does not name the previous statement's hash"
            ));
        }
        previous = Some(row);
    }
    Ok(problems)
}

/// One partner's part of the operator's position.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PartnerPosition {
    pub partner: String,
    pub currency: String,
    pub statements: u64,
    pub issuance_charge_minor: i64,
    pub redemption_credit_minor: i64,
    pub adjustments_minor: i64,
    /// Positive: the partner owes the operator; negative: the operator owes the partner.
    pub net_minor: i64,
    pub net_direction: &'static str,
}

/// The operator's position across partners for the statements of a window.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Position {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub partners: Vec<PartnerPosition>,
    /// Per currency: what partners owe the operator less what it owes them (its margin).
    pub margin_minor: std::collections::BTreeMap<String, i64>,
    /// Points members hold now, not yet redeemed or expired.
    pub outstanding_points: i64,
}

/// The position over statements whose periods lie within `[from, to)`.
pub async fn position(
    storage: &Storage,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Position, SettlementError> {
    let filter = rows::StatementFilter {
        ending_after: Some(from),
        starting_before: Some(to),
        limit: i64::MAX,
        ..rows::StatementFilter::default()
    };
    let mut positions: Vec<PartnerPosition> = Vec::new();
    for record in statements(storage, &filter).await? {
        if record.row.period_start < from || record.row.period_end > to {
            continue;
        }
        let statement = record.statement()?;
        let entry = match positions.last_mut() {
            Some(last)
                if last.partner == record.partner_code && last.currency == statement.currency =>
            {
                last
            }
            _ => {
                positions.push(PartnerPosition {
                    partner: record.partner_code.clone(),
                    currency: statement.currency.clone(),
                    statements: 0,
                    issuance_charge_minor: 0,
                    redemption_credit_minor: 0,
                    adjustments_minor: 0,
                    net_minor: 0,
                    net_direction: "settled",
                });
                positions
                    .last_mut()
                    .ok_or(SettlementError::StatementNotFound(record.row.id))?
            }
        };
        entry.statements += 1;
        entry.issuance_charge_minor += statement.issuance_charge_minor;
        entry.redemption_credit_minor += statement.redemption_credit_minor;
        entry.adjustments_minor += statement.adjustments_minor;
        entry.net_minor += statement.net_minor;
        entry.net_direction = partners::settlement::direction(entry.net_minor);
    }
    let mut margin_minor = std::collections::BTreeMap::new();
    for p in &positions {
        *margin_minor.entry(p.currency.clone()).or_insert(0) += p.net_minor;
    }
    let outstanding_points = rows::outstanding_points(&mut *storage.db().await?).await?;
    Ok(Position {
        from,
        to,
        partners: positions,
        margin_minor,
        outstanding_points,
    })
}

/// Why a settlement operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SettlementError {
    #[error("no statement {0}")]
    StatementNotFound(uuid::Uuid),
    #[error("{0}")]
    Money(#[from] money::MoneyOverflow),
    #[error("statement {0} cannot be read: {1}")]
    Corrupt(uuid::Uuid, String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<diesel::result::Error> for SettlementError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Storage(storage::StorageError::from(err))
    }
}

impl From<diesel::result::Error> for TermsError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Storage(StorageError::from(err))
    }
}
