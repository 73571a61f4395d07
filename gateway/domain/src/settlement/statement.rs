//! Building a statement: its lines priced, its lines file, its signed payload.
//! Pure and deterministic: the same facts and lines give the same bytes, which is
//! how a stored statement is checked against the ledger (`regenerate`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use partners::settlement::{
    self as wire, LINES_HEADER, LinesFile, Period, Statement, StatementPartner, TermsApplied,
};
use sha2::{Digest as _, Sha256};

use super::money::{self, LineType, MoneyOverflow};
use super::terms::Terms;
use crate::ids::{PartnerId, StatementId, TermsId, TransferId};
use crate::ledger::TransferCode;

/// A transfer a statement settles, as the ledger has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSource {
    /// The transfer.
    pub transfer_id: TransferId,
    /// When it was made.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Its code.
    pub code: TransferCode,
    /// Its points.
    pub points: i64,
    /// The card presented (only its last four digits are printed).
    pub card_number: Option<String>,
    /// The branch's code.
    pub branch: Option<String>,
    /// The partner's reference.
    pub partner_reference: Option<String>,
    /// For a reversal: the terms its original was settled under, if it was.
    pub original_terms_id: Option<TermsId>,
    /// For an adjustment: its money, fixed by the resolution that posted it.
    pub adjustment_money: Option<i64>,
}

/// One priced line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// What it settles.
    pub source: LineSource,
    /// Its type, from the partner's side.
    pub line_type: LineType,
    /// Its money, rounded once (half to even).
    pub money_minor: i64,
}

/// Prices lines under `current` terms; a reversal of a line settled earlier is priced under
/// the terms it was settled at (`earlier`), so a reversal gives back exactly what was charged per point.
pub fn price_lines(
    sources: Vec<LineSource>,
    current: &Terms,
    earlier: &HashMap<TermsId, Terms>,
) -> Result<Vec<Line>, MoneyOverflow> {
    sources
        .into_iter()
        .filter_map(|source| LineType::from_code(source.code).map(|t| (t, source)))
        .map(|(line_type, source)| {
            let terms = source
                .original_terms_id
                .and_then(|id| earlier.get(&id))
                .unwrap_or(current);
            let money_minor = match line_type {
                LineType::Adjustment => source.adjustment_money.unwrap_or(0),
                _ => money::line_money(
                    line_type,
                    source.points,
                    terms.price_per_point,
                    terms.reimbursement_per_point,
                )?,
            };
            Ok(Line {
                source,
                line_type,
                money_minor,
            })
        })
        .collect()
}

fn card_last4(card: Option<&str>) -> &str {
    card.map_or("", |c| &c[c.len().saturating_sub(4)..])
}

/// The lines file: CSV with a header row, one line per settled transfer, oldest first.
pub fn lines_csv(lines: &[Line]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(64 + lines.len() * 120));
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(LINES_HEADER);
    for line in lines {
        let s = &line.source;
        let _ = writer.write_record([
            s.transfer_id.to_string().as_str(),
            &format_time(s.created_at),
            line.line_type.as_str(),
            card_last4(s.card_number.as_deref()),
            s.branch.as_deref().unwrap_or(""),
            s.partner_reference.as_deref().unwrap_or(""),
            &s.points.to_string(),
            &line.money_minor.to_string(),
        ]);
    }
    writer.into_inner().unwrap_or_default()
}

/// RFC 3339 in UTC with microseconds (what PostgreSQL keeps), always the same width.
pub(crate) fn format_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// What a statement says besides its lines.
#[derive(Debug, Clone)]
pub struct StatementFacts<'a> {
    /// The statement's id.
    pub id: StatementId,
    /// The partner.
    pub partner_id: PartnerId,
    /// The partner's code.
    pub partner_code: &'a str,
    /// Its gap-free sequence number.
    pub sequence: i32,
    /// The period's start.
    pub period_start: DateTime<Utc>,
    /// The period's end (the cut-off).
    pub period_end: DateTime<Utc>,
    /// When it was closed (stored precision).
    pub closed_at: DateTime<Utc>,
    /// The terms it settles under.
    pub terms: &'a Terms,
    /// The position carried from the previous statement.
    pub opening_minor: i64,
    /// The previous statement's payload hash.
    pub previous_sha256: Option<[u8; 32]>,
}

/// A built statement, ready to sign and store.
#[derive(Debug, Clone)]
pub struct BuiltStatement {
    /// The statement.
    pub statement: Statement,
    /// Its JSON payload, as signed.
    pub payload: Vec<u8>,
    /// The payload's SHA-256.
    pub payload_sha256: [u8; 32],
    /// The lines file.
    pub lines_csv: Vec<u8>,
    /// The lines file's SHA-256.
    pub lines_sha256: [u8; 32],
}

/// Builds the statement for `facts` over `lines`; refuses one whose sums do not fit the
/// statement's 64-bit figures rather than sign a wrapped number.
pub fn build(
    facts: &StatementFacts<'_>,
    lines: &[Line],
) -> Result<BuiltStatement, super::SettlementError> {
    let lines_csv = lines_csv(lines);
    let lines_sha256: [u8; 32] = Sha256::digest(&lines_csv).into();
    let overflow = || super::SettlementError::TotalsOverflow;
    let totals = wire::totals(
        lines
            .iter()
            .map(|l| (l.line_type.as_str(), l.source.points, l.money_minor)),
    )
    .ok_or_else(overflow)?;
    let money = |t: LineType| {
        totals
            .iter()
            .find(|total| total.line_type == t.as_str())
            .map_or(0, |total| total.money_minor)
    };
    // Bonus points a partner funds are points it issued: charged at the same price.
    let issuance_charge_minor = money(LineType::Earn)
        .checked_add(money(LineType::EarnReversal))
        .and_then(|m| m.checked_add(money(LineType::Bonus)))
        .ok_or_else(overflow)?;
    let redemption_credit_minor = money(LineType::Redemption)
        .checked_add(money(LineType::RedemptionReversal))
        .and_then(i64::checked_neg)
        .ok_or_else(overflow)?;
    let adjustments_minor = money(LineType::Adjustment);
    let net_minor = issuance_charge_minor
        .checked_sub(redemption_credit_minor)
        .and_then(|n| n.checked_add(adjustments_minor))
        .ok_or_else(overflow)?;
    let closing_position_minor = facts
        .opening_minor
        .checked_add(net_minor)
        .ok_or_else(overflow)?;
    let terms = facts.terms;
    let statement = Statement {
        statement_id: facts.id.0,
        partner: StatementPartner {
            id: facts.partner_id.0,
            code: facts.partner_code.to_owned(),
        },
        sequence: facts.sequence,
        period: Period {
            start: facts.period_start,
            end: facts.period_end,
            kind: terms.period.as_str().to_owned(),
            time_zone: terms.time_zone.name().to_owned(),
        },
        closed_at: facts.closed_at,
        currency: terms.currency.to_string(),
        terms: TermsApplied {
            version: terms.version,
            price_per_point: terms.price_per_point.normalize().to_string(),
            reimbursement_per_point: terms.reimbursement_per_point.normalize().to_string(),
        },
        opening_position_minor: facts.opening_minor,
        totals,
        issuance_charge_minor,
        redemption_credit_minor,
        adjustments_minor,
        net_minor,
        net_direction: wire::direction(net_minor).to_owned(),
        closing_position_minor,
        lines: LinesFile {
            count: i64::try_from(lines.len()).unwrap_or(i64::MAX),
            sha256: wire::hex(&lines_sha256),
            media_type: "text/csv".into(),
        },
        previous_statement_sha256: facts.previous_sha256.map(|h| wire::hex(&h)),
    };
    // A struct of plain fields always serializes; field order is fixed by the struct.
    let payload = serde_json::to_vec(&statement).unwrap_or_default();
    let payload_sha256 = Sha256::digest(&payload).into();
    Ok(BuiltStatement {
        statement,
        payload,
        payload_sha256,
        lines_csv,
        lines_sha256,
    })
}
