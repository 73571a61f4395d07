//! Reading statements: a partner's or the operator's lists, one statement with its
//! answers and lines, the proof of what was agreed, the check that every statement
//! still rebuilds from the ledger, and the operator's position across partners.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use domain::ids::{PartnerId, StatementId};
use domain::settlement::{IssuedStatement, SettlementError, StatementAnswer, StatementStatus};
use storage::Storage;
use storage::settlement::StatementFilter;

use crate::error::OperationError;

type Result<T> = std::result::Result<T, OperationError<SettlementError>>;

/// A stored statement with its partner's code and the answers to it.
#[derive(Debug, Clone)]
pub struct StatementRecord {
    /// The statement as issued.
    pub issued: IssuedStatement,
    /// Its partner's code.
    pub partner_code: String,
    /// The answers to it, oldest first.
    pub answers: Vec<StatementAnswer>,
}

impl StatementRecord {
    /// Where the statement stands.
    pub fn status(&self) -> StatementStatus {
        StatementStatus::of(self.answers.iter().map(|a| a.kind))
    }

    /// The signed statement (our own serialization, stored as signed).
    pub fn statement(
        &self,
    ) -> std::result::Result<partners::settlement::Statement, SettlementError> {
        serde_json::from_slice(&self.issued.payload)
            .map_err(|e| SettlementError::Corrupt(self.issued.id, e.to_string()))
    }
}

/// Statements matching `filter`, with their answers.
pub async fn list(storage: &Storage, filter: &StatementFilter) -> Result<Vec<StatementRecord>> {
    let mut conn = storage.db().await?;
    let found = storage::settlement::list_statements(&mut conn, filter).await?;
    let ids: Vec<StatementId> = found.iter().map(|(issued, _)| issued.id).collect();
    let mut answers: HashMap<StatementId, Vec<StatementAnswer>> = HashMap::new();
    for answer in storage::settlement::answers(&mut conn, &ids).await? {
        answers.entry(answer.statement_id).or_default().push(answer);
    }
    Ok(found
        .into_iter()
        .map(|(issued, partner_code)| StatementRecord {
            answers: answers.remove(&issued.id).unwrap_or_default(),
            issued,
            partner_code,
        })
        .collect())
}

/// One statement; with `partner`, only if it is that partner's.
pub async fn get(
    storage: &Storage,
    partner: Option<PartnerId>,
    id: StatementId,
) -> Result<StatementRecord> {
    let filter = StatementFilter {
        id: Some(id),
        partner_id: partner,
        limit: 1,
        ..StatementFilter::default()
    };
    list(storage, &filter)
        .await?
        .pop()
        .ok_or_else(|| SettlementError::StatementNotFound(id).into())
}

/// A statement's lines file.
pub async fn lines_file(storage: &Storage, record: &StatementRecord) -> Result<Vec<u8>> {
    super::close::lines_file(&mut *storage.db().await?, &record.issued).await
}

/// Everything a third party needs to check what a statement's parties agreed: the signed
/// statement, its lines, each answer's signed request, and the public keys of both sides.
pub async fn proof(
    storage: &Storage,
    gateway_keys: &partners::jwk::JwkSet,
    id: StatementId,
) -> Result<serde_json::Value> {
    let record = get(storage, None, id).await?;
    let lines = lines_file(storage, &record).await?;
    let mut conn = storage.db().await?;
    let mut answers = Vec::new();
    for answer in &record.answers {
        let public_key =
            match storage::partner_keys::find_owner(&mut conn, &answer.key_id).await? {
                Some(owner) => Some(owner.key.public_key),
                None => storage::operator_keys::find(&mut conn, &answer.key_id)
                    .await?
                    .map(|k| k.public_key),
            }
            .map(|key| {
                partners::jwk::PublicKey {
                    kid: answer.key_id.clone(),
                    key,
                }
                .to_jwk()
            });
        answers.push(serde_json::json!({
            "kind": answer.kind.as_str(),
            "created_at": answer.created_at,
            "statement_sha256": partners::settlement::hex(&answer.statement_sha256),
            "disputed_lines": answer.disputed_lines,
            "accepted_lines": answer.accepted_lines,
            "reason": answer.reason,
            "key_id": answer.key_id,
            "public_jwk": public_key,
            "signed_request": answer.signed_request,
        }));
    }
    Ok(serde_json::json!({
        "statement_id": record.issued.id,
        "partner": record.partner_code,
        "sequence": record.issued.sequence,
        "status": record.status().as_str(),
        "statement_sha256": partners::settlement::hex(&record.issued.payload_sha256),
        "jws": record.issued.jws,
        "lines_sha256": partners::settlement::hex(&record.issued.lines_sha256),
        "lines_csv": String::from_utf8_lossy(&lines),
        "gateway_jwks": gateway_keys,
        "answers": answers,
    }))
}

/// Rebuilds every statement from the ledger; one line per statement that differs from what
/// was signed or does not link to its predecessor.
pub async fn check(storage: &Storage) -> Result<Vec<String>> {
    let filter = StatementFilter {
        limit: i64::MAX,
        ..StatementFilter::default()
    };
    let mut conn = storage.db().await?;
    let mut problems = Vec::new();
    let mut previous: Option<&IssuedStatement> = None;
    let found = storage::settlement::list_statements(&mut conn, &filter).await?;
    for (issued, code) in &found {
        let name = format!("{code} #{}", issued.sequence);
        let rebuilt = super::close::regenerate(&mut conn, issued, code).await?;
        if rebuilt.payload != issued.payload {
            problems.push(format!(
                "{name}: the statement rebuilt from the ledger differs"
            ));
        }
        if rebuilt.lines_sha256 != issued.lines_sha256 {
            problems.push(format!(
                "{name}: the lines file rebuilt from the ledger differs"
            ));
        }
        let expected_previous = previous
            .filter(|p| p.partner_id == issued.partner_id)
            .map(|p| p.payload_sha256);
        if issued.previous_sha256 != expected_previous {
            problems.push(format!(
                "{name}: does not name the previous statement's hash"
            ));
        }
        previous = Some(issued);
    }
    Ok(problems)
}

/// One partner's part of the operator's position.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PartnerPosition {
    /// The partner's code.
    pub partner: String,
    /// The currency of its statements.
    pub currency: String,
    /// How many statements.
    pub statements: u64,
    /// What it was charged for points issued (sums of 64-bit statement figures are 128-bit, so no
    /// number of statements can overflow them).
    pub issuance_charge_minor: i128,
    /// What it was credited for points redeemed.
    pub redemption_credit_minor: i128,
    /// Resolved disputes.
    pub adjustments_minor: i128,
    /// Positive: the partner owes the operator; negative: the operator owes the partner.
    pub net_minor: i128,
    /// Who pays.
    pub net_direction: &'static str,
}

/// The operator's position across partners for the statements of a window.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Position {
    /// The window's start.
    pub from: DateTime<Utc>,
    /// The window's end.
    pub to: DateTime<Utc>,
    /// Per partner and currency.
    pub partners: Vec<PartnerPosition>,
    /// Per currency: what partners owe the operator less what it owes them (its margin).
    pub margin_minor: BTreeMap<String, i128>,
    /// Points members hold now, not yet redeemed or expired.
    pub outstanding_points: i128,
}

/// The position over statements whose periods lie within `[from, to)`.
pub async fn position(
    storage: &Storage,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Position> {
    let filter = StatementFilter {
        ending_after: Some(from),
        starting_before: Some(to),
        limit: i64::MAX,
        ..StatementFilter::default()
    };
    let mut positions: Vec<PartnerPosition> = Vec::new();
    for record in list(storage, &filter).await? {
        if record.issued.period_start < from || record.issued.period_end > to {
            continue;
        }
        let statement = record.statement()?;
        let is_same = positions.last().is_some_and(|last| {
            last.partner == record.partner_code && last.currency == statement.currency
        });
        if !is_same {
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
        }
        let Some(entry) = positions.last_mut() else {
            continue;
        };
        entry.statements += 1;
        entry.issuance_charge_minor += i128::from(statement.issuance_charge_minor);
        entry.redemption_credit_minor += i128::from(statement.redemption_credit_minor);
        entry.adjustments_minor += i128::from(statement.adjustments_minor);
        entry.net_minor += i128::from(statement.net_minor);
        entry.net_direction = partners::settlement::direction(entry.net_minor);
    }
    let mut margin_minor = BTreeMap::new();
    for p in &positions {
        *margin_minor.entry(p.currency.clone()).or_insert(0) += p.net_minor;
    }
    let outstanding_points =
        storage::settlement::outstanding_points(&mut *storage.db().await?).await?;
    Ok(Position {
        from,
        to,
        partners: positions,
        margin_minor,
        outstanding_points,
    })
}

/// `rows` under `header` as CSV (writing to memory cannot fail).
fn csv_of<R: IntoIterator<Item = String>>(
    header: &[&str],
    rows: impl IntoIterator<Item = R>,
) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(header);
    for row in rows {
        let _ = writer.write_record(row);
    }
    writer.into_inner().unwrap_or_default()
}

/// Statements as CSV, exact minor units and machine dates (the operator API's and the finance
/// page's export).
pub fn statements_csv(
    records: &[StatementRecord],
) -> std::result::Result<Vec<u8>, SettlementError> {
    let rows = records
        .iter()
        .map(|r| {
            let s = r.statement()?;
            Ok(vec![
                r.issued.id.to_string(),
                r.partner_code.clone(),
                r.issued.sequence.to_string(),
                s.period.start.to_rfc3339(),
                s.period.end.to_rfc3339(),
                r.status().as_str().to_owned(),
                s.currency.clone(),
                s.issuance_charge_minor.to_string(),
                s.redemption_credit_minor.to_string(),
                s.adjustments_minor.to_string(),
                s.net_minor.to_string(),
                s.closing_position_minor.to_string(),
                partners::settlement::hex(&r.issued.payload_sha256),
            ])
        })
        .collect::<std::result::Result<Vec<_>, SettlementError>>()?;
    let header = [
        "statement_id",
        "partner",
        "sequence",
        "period_start",
        "period_end",
        "status",
        "currency",
        "issuance_charge_minor",
        "redemption_credit_minor",
        "adjustments_minor",
        "net_minor",
        "closing_position_minor",
        "sha256",
    ];
    Ok(csv_of(&header, rows))
}

impl Position {
    /// Per partner and currency as CSV, exact minor units (the operator API's and the finance
    /// page's export).
    pub fn csv(&self) -> Vec<u8> {
        let header = [
            "partner",
            "currency",
            "statements",
            "issuance_charge_minor",
            "redemption_credit_minor",
            "adjustments_minor",
            "net_minor",
            "net_direction",
        ];
        let rows = self.partners.iter().map(|p| {
            vec![
                p.partner.clone(),
                p.currency.clone(),
                p.statements.to_string(),
                p.issuance_charge_minor.to_string(),
                p.redemption_credit_minor.to_string(),
                p.adjustments_minor.to_string(),
                p.net_minor.to_string(),
                p.net_direction.to_owned(),
            ]
        });
        csv_of(&header, rows)
    }
}
