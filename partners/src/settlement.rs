//! Settlement statements as both sides see them: the signed payload, its lines
//! file, and the checks a partner (or anyone holding the gateway's JWKS) runs
//! to trust a statement without trusting the gateway's database.
//!
//! See `docs/settlement.md` for the formulas and the format.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::jwk::JwkSet;
use crate::jws;

/// The JWS `typ` of a statement.
pub const STATEMENT_TYPE: &str = "clubgate-statement+json";
/// The header row of a statement's lines file.
pub const LINES_HEADER: [&str; 8] = [
    "transfer_id",
    "time",
    "type",
    "card_last4",
    "branch",
    "partner_reference",
    "points",
    "money_minor",
];
/// The line types every statement's totals list, in this order.
pub const LINE_TYPES: [&str; 5] = [
    "earn",
    "earn_reversal",
    "redemption",
    "redemption_reversal",
    "adjustment",
];
/// Line types a statement's totals list after those, only when it has such lines (so statements
/// issued before they existed read the same): bonus points the partner funded.
pub const OPTIONAL_LINE_TYPES: [&str; 1] = ["bonus"];

/// The signed content of a statement. Field order is the byte order of the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Statement {
    pub statement_id: Uuid,
    pub partner: StatementPartner,
    /// 1, 2, 3, … per partner, without gaps.
    pub sequence: i32,
    pub period: Period,
    pub closed_at: DateTime<Utc>,
    pub currency: String,
    pub terms: TermsApplied,
    /// What the partner owed (positive) or was owed (negative) before this period.
    pub opening_position_minor: i64,
    /// One entry per line type: always all of [`LINE_TYPES`], in that order, then each of
    /// [`OPTIONAL_LINE_TYPES`] the statement has lines of.
    pub totals: Vec<TypeTotal>,
    /// Money for points issued (and bonus points funded), less issuance reversed.
    pub issuance_charge_minor: i64,
    /// Money for points redeemed, less redemptions reversed.
    pub redemption_credit_minor: i64,
    /// Money of the adjustments that resolved disputes (signed like the net).
    pub adjustments_minor: i64,
    /// issuance charge − redemption credit + adjustments: positive, the partner pays.
    pub net_minor: i64,
    /// `partner_pays`, `operator_pays` or `settled` (net zero).
    pub net_direction: String,
    pub closing_position_minor: i64,
    pub lines: LinesFile,
    /// Hex SHA-256 of the previous statement's payload; absent on the first.
    pub previous_statement_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementPartner {
    pub id: Uuid,
    pub code: String,
}

/// The settled period: `[start, end)`, `end` being the cut-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `daily`, `weekly` or `monthly`.
    pub kind: String,
    /// The IANA zone whose midnight the cut-off is.
    pub time_zone: String,
}

/// The terms version the period was settled under; rates as exact decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TermsApplied {
    pub version: i32,
    /// Money (minor units) the partner pays per point issued.
    pub price_per_point: String,
    /// Money (minor units) the partner is paid per point redeemed.
    pub reimbursement_per_point: String,
}

/// Count, points and money of one line type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TypeTotal {
    #[serde(rename = "type")]
    pub line_type: String,
    pub count: i64,
    pub points: i64,
    pub money_minor: i64,
}

/// The lines file, bound to the statement by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinesFile {
    pub count: i64,
    pub sha256: String,
    pub media_type: String,
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Totals per type (all five types, in order) of the lines' `(type, points, money)`; `None` if a
/// sum does not fit 64 bits.
pub fn totals<'a>(lines: impl IntoIterator<Item = (&'a str, i64, i64)>) -> Option<Vec<TypeTotal>> {
    let mut by_type: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    for (line_type, points, money) in lines {
        let entry = by_type.entry(line_type).or_default();
        entry.0 += 1;
        entry.1 = entry.1.checked_add(points)?;
        entry.2 = entry.2.checked_add(money)?;
    }
    let present = OPTIONAL_LINE_TYPES
        .iter()
        .filter(|t| by_type.contains_key(*t));
    let totals = LINE_TYPES
        .iter()
        .chain(present)
        .map(|t| {
            let (count, points, money_minor) = by_type.get(t).copied().unwrap_or_default();
            TypeTotal {
                line_type: (*t).to_owned(),
                count,
                points,
                money_minor,
            }
        })
        .collect();
    Some(totals)
}

/// Why a statement is not to be trusted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the JWS does not verify: {0}")]
    Signature(#[from] jws::JwsError),
    #[error("the JWS payload is not a statement: {0}")]
    Payload(String),
    #[error("the lines file's SHA-256 is {actual}, the statement says {expected}")]
    LinesHash { expected: String, actual: String },
    #[error("the lines file is not valid: {0}")]
    Lines(String),
    #[error("the lines do not add up to the statement: {0}")]
    Totals(String),
    #[error("the chain is broken: {0}")]
    Chain(String),
}

/// A statement whose signature, lines and arithmetic were checked.
#[derive(Debug, Clone)]
pub struct VerifiedStatement {
    pub statement: Statement,
    /// The exact signed bytes.
    pub payload: Vec<u8>,
    /// Hex SHA-256 of the payload: what acknowledgements and the next statement name.
    pub sha256: String,
}

/// Checks a statement JWS against the gateway's key set, its lines file against the
/// statement, the statement's own arithmetic, and (when given) its link to the previous one.
pub fn verify(
    jws_text: &str,
    keys: &JwkSet,
    lines: &[u8],
    previous: Option<&VerifiedStatement>,
) -> Result<VerifiedStatement, VerifyError> {
    let verified = jws::verify(jws_text.trim(), keys)?;
    let statement: Statement = serde_json::from_slice(&verified.payload)
        .map_err(|e| VerifyError::Payload(e.to_string()))?;
    let actual = sha256_hex(lines);
    if actual != statement.lines.sha256 {
        return Err(VerifyError::LinesHash {
            expected: statement.lines.sha256.clone(),
            actual,
        });
    }
    check_arithmetic(&statement, &parse_lines(lines)?)?;
    let sha256 = sha256_hex(&verified.payload);
    if let Some(previous) = previous {
        check_link(previous, &statement)?;
    } else if statement.sequence == 1 && statement.previous_statement_sha256.is_some() {
        return Err(VerifyError::Chain(
            "the first statement names a previous one".into(),
        ));
    }
    Ok(VerifiedStatement {
        statement,
        payload: verified.payload,
        sha256,
    })
}

/// One row of a lines file, as far as the arithmetic needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineAmounts {
    pub transfer_id: Uuid,
    pub line_type: String,
    pub points: i64,
    pub money_minor: i64,
}

/// Parses a lines file (header row first).
pub fn parse_lines(lines: &[u8]) -> Result<Vec<LineAmounts>, VerifyError> {
    let mut reader = csv::ReaderBuilder::new().from_reader(lines);
    let header = reader
        .headers()
        .map_err(|e| VerifyError::Lines(e.to_string()))?;
    if header.iter().ne(LINES_HEADER) {
        return Err(VerifyError::Lines(format!(
            "unexpected header {:?}",
            header.iter().collect::<Vec<_>>()
        )));
    }
    reader
        .records()
        .enumerate()
        .map(|(index, record)| {
            let at = |e: String| VerifyError::Lines(format!("line {}: {e}", index + 2));
            let record = record.map_err(|e| at(e.to_string()))?;
            let field = |i: usize| record.get(i).unwrap_or_default();
            Ok(LineAmounts {
                transfer_id: field(0).parse().map_err(|e| at(format!("{e}")))?,
                line_type: field(2).to_owned(),
                points: field(6).parse().map_err(|e| at(format!("points: {e}")))?,
                money_minor: field(7).parse().map_err(|e| at(format!("money: {e}")))?,
            })
        })
        .collect()
}

fn check_arithmetic(statement: &Statement, lines: &[LineAmounts]) -> Result<(), VerifyError> {
    let wrong = |what: &str| Err(VerifyError::Totals(what.to_owned()));
    if i64::try_from(lines.len()).ok() != Some(statement.lines.count) {
        return wrong("the number of lines");
    }
    let Some(recomputed) = totals(
        lines
            .iter()
            .map(|l| (l.line_type.as_str(), l.points, l.money_minor)),
    ) else {
        return wrong("the totals per type (a sum past 64 bits)");
    };
    if recomputed != statement.totals {
        return wrong("the totals per type");
    }
    // In 128 bits: a statement's figures are checked, never trusted not to overflow.
    let money = |t: &str| {
        recomputed
            .iter()
            .find(|total| total.line_type == t)
            .map_or(0, |total| i128::from(total.money_minor))
    };
    let wide = i128::from;
    if wide(statement.issuance_charge_minor)
        != money("earn") + money("earn_reversal") + money("bonus")
    {
        return wrong("the issuance charge");
    }
    if wide(statement.redemption_credit_minor)
        != -(money("redemption") + money("redemption_reversal"))
    {
        return wrong("the redemption credit");
    }
    if wide(statement.adjustments_minor) != money("adjustment") {
        return wrong("the adjustments");
    }
    if wide(statement.net_minor)
        != wide(statement.issuance_charge_minor) - wide(statement.redemption_credit_minor)
            + wide(statement.adjustments_minor)
    {
        return wrong("the net");
    }
    if statement.net_direction != direction(statement.net_minor) {
        return wrong("the direction of the net");
    }
    if wide(statement.closing_position_minor)
        != wide(statement.opening_position_minor) + wide(statement.net_minor)
    {
        return wrong("the closing position");
    }
    Ok(())
}

/// Who pays whom for a net amount.
pub fn direction(net_minor: impl Into<i128>) -> &'static str {
    match net_minor.into().signum() {
        1 => "partner_pays",
        -1 => "operator_pays",
        _ => "settled",
    }
}

/// Checks that `next` follows `previous` in the chain.
pub fn check_link(previous: &VerifiedStatement, next: &Statement) -> Result<(), VerifyError> {
    let broken = |what: String| Err(VerifyError::Chain(what));
    let before = &previous.statement;
    if next.partner.id != before.partner.id {
        return broken("the statements belong to different partners".into());
    }
    if next.sequence != before.sequence + 1 {
        return broken(format!(
            "sequence {} does not follow {}",
            next.sequence, before.sequence
        ));
    }
    if next.previous_statement_sha256.as_deref() != Some(previous.sha256.as_str()) {
        return broken(format!(
            "statement {} does not name the hash of statement {}",
            next.sequence, before.sequence
        ));
    }
    if next.period.start != before.period.end {
        return broken("the periods are not contiguous".into());
    }
    if next.opening_position_minor != before.closing_position_minor {
        return broken("the opening position is not the previous closing position".into());
    }
    Ok(())
}

/// Body of `POST /v1/statements/{id}/acknowledgement`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeRequest {
    /// Hex SHA-256 of the statement payload being acknowledged.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9a-f]{64}$"))]
    pub statement_sha256: String,
}

/// Body of `POST /v1/statements/{id}/dispute`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DisputeRequest {
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9a-f]{64}$"))]
    pub statement_sha256: String,
    /// Transfer ids of the disputed lines.
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub lines: Vec<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 2000, pattern = r"\S")
    )]
    pub reason: String,
}

/// Body of `POST /v1/operator/statements/{id}/resolution`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// Disputed lines the operator accepts: each is corrected by an adjustment in the next statement.
    pub accepted_lines: Vec<Uuid>,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 2000))]
    pub note: String,
}

/// A statement as listed and fetched.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementView {
    pub id: Uuid,
    pub partner_code: String,
    pub sequence: i32,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// `issued`, `acknowledged`, `disputed` or `resolved`.
    pub status: String,
    pub net_minor: i64,
    pub currency: String,
    /// Hex SHA-256 of the payload.
    pub sha256: String,
    /// The statement, parsed (fetch only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<Statement>,
    /// The compact JWS (fetch only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jws: Option<String>,
    /// Acknowledgement, dispute and resolution, oldest first (fetch only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<ResponseView>,
}

/// A partner's answer to a statement, or the operator's resolution.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResponseView {
    pub id: Uuid,
    /// `acknowledgement`, `dispute` or `resolution`.
    pub kind: String,
    pub statement_sha256: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disputed_lines: Vec<Uuid>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_lines: Vec<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub key_id: String,
    pub created_at: DateTime<Utc>,
}

/// A page of statements.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementList {
    pub statements: Vec<StatementView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_exact_or_none_never_wrapped() {
        let totals = totals([
            ("earn", 10, 1_000),
            ("redemption", -4, -400),
            ("earn", 5, 500),
        ])
        .expect("small sums fit");
        let earn = totals.iter().find(|t| t.line_type == "earn").unwrap();
        assert_eq!((earn.count, earn.points, earn.money_minor), (2, 15, 1_500));
        assert_eq!(totals.len(), LINE_TYPES.len());
        let with_bonus = super::totals([("earn", 1, 10), ("bonus", 2, 20)]).unwrap();
        assert_eq!(with_bonus.len(), LINE_TYPES.len() + 1);
        assert_eq!(with_bonus.last().unwrap().line_type, "bonus");
        assert!(super::totals([("earn", 1, i64::MAX), ("earn", 1, 1)]).is_none());
        assert!(super::totals([("earn", i64::MAX, 0), ("earn", 1, 0)]).is_none());
    }
}
