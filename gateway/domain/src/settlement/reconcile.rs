//! Reconciliation: a partner's own transaction file against the ledger.
//!
//! The file is read as a stream (millions of rows, constant memory per row);
//! the ledger side is the partner's posted transfers in the window, keyed by the
//! partner's reference. Every row ends in exactly one status: `matched`,
//! `mismatched` (type, points or amount differ), `missing_at_gateway`,
//! `duplicate` (the same reference and type again in the file) or `malformed`
//! (with its line number); ledger transfers no row claimed are
//! `missing_at_partner`. Nothing is skipped silently.

use std::collections::HashMap;
use std::io::Read;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// A posted transfer as the partner should have it in its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The transfer.
    pub transfer_id: Uuid,
    /// The partner's reference (empty when it has none).
    pub reference: String,
    /// Its statement line type.
    pub line_type: &'static str,
    /// Its points.
    pub points: i64,
    /// Its money, in minor units.
    pub amount_minor: i64,
}

/// The types a partner file may name (the statement line types without adjustments).
pub const ROW_TYPES: [&str; 4] = ["earn", "earn_reversal", "redemption", "redemption_reversal"];

/// The columns a partner file must have (in any order; other columns are ignored).
pub const COLUMNS: [&str; 5] = ["reference", "type", "points", "amount", "time"];

/// One row's outcome, unless it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exception {
    /// One of [`STATUSES`], never `matched`.
    pub status: &'static str,
    /// The row's line in the file (the header is line 1); absent for `missing_at_partner`.
    pub line: Option<u64>,
    /// The reference, from the row or the transfer.
    pub reference: Option<String>,
    /// The type the row says.
    pub partner_type: Option<String>,
    /// The type the ledger says.
    pub gateway_type: Option<&'static str>,
    /// The points the row says.
    pub partner_points: Option<i64>,
    /// The points the ledger says.
    pub gateway_points: Option<i64>,
    /// The amount the row says.
    pub partner_amount_minor: Option<i64>,
    /// The amount the ledger says.
    pub gateway_amount_minor: Option<i64>,
    /// The transfer, when there is one.
    pub transfer_id: Option<Uuid>,
    /// What differs (`mismatched`) or what is wrong with the row (`malformed`).
    pub detail: Option<String>,
}

/// Count and sums of one status. The sums are 128-bit: a partner's file may hold any 64-bit
/// values, and a million of them cannot overflow these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusTotal {
    /// The status.
    pub status: &'static str,
    /// Rows (or transfers) with it.
    pub count: u64,
    /// Their points, as the partner has them.
    pub partner_points: i128,
    /// Their points, as the ledger has them.
    pub gateway_points: i128,
    /// Their amounts, as the partner has them.
    pub partner_amount_minor: i128,
    /// Their amounts, as the ledger has them.
    pub gateway_amount_minor: i128,
}

/// The statuses, in report order.
pub const STATUSES: [&str; 6] = [
    "matched",
    "mismatched",
    "missing_at_gateway",
    "missing_at_partner",
    "duplicate",
    "malformed",
];

/// The outcome of a reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The partner's code.
    pub partner: String,
    /// The window's start.
    pub from: DateTime<Utc>,
    /// The window's end.
    pub to: DateTime<Utc>,
    /// Data rows read from the file (the header not counted).
    pub rows: u64,
    /// Ledger transfers in the window.
    pub ledger_transfers: u64,
    /// One total per status, in [`STATUSES`] order.
    pub totals: Vec<StatusTotal>,
    /// Every row and transfer that did not match, in file order, then ledger order.
    pub exceptions: Vec<Exception>,
}

/// Why a file could not be reconciled at all (single bad rows are reported, not errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::EnumIter)]
pub enum ReconcileError {
    /// The file is empty.
    #[error("the file has no header row naming the columns {COLUMNS:?}")]
    NoHeader,
    /// A needed column is missing.
    #[error("the header lacks the column {0:?} (needed: {COLUMNS:?})")]
    MissingColumn(&'static str),
    /// The file is not CSV, or its transfer broke off.
    #[error("the file cannot be read: {0}")]
    Unreadable(String),
    /// No partner has this code.
    #[error("no partner {0:?}")]
    PartnerNotFound(String),
    /// The window ends before it starts.
    #[error("the window is empty: from must be before to")]
    Window,
}

impl ReconcileError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoHeader | Self::MissingColumn(_) | Self::Unreadable(_) => {
                "reconciliation_file_invalid"
            }
            Self::PartnerNotFound(_) => "partner_not_found",
            Self::Window => "invalid_request",
        }
    }
}

struct ParsedRow {
    reference: String,
    row_type: String,
    points: i64,
    amount_minor: i64,
}

fn parse_row(record: &csv::ByteRecord, columns: &[usize; 5]) -> Result<ParsedRow, String> {
    let needed = columns.iter().max().map_or(0, |last| last + 1);
    if record.len() < needed {
        return Err(format!(
            "the row has {} fields; the columns need {needed}",
            record.len()
        ));
    }
    let field = |i: usize| -> Result<&str, String> {
        let bytes = record.get(columns[i]).unwrap_or_default();
        std::str::from_utf8(bytes)
            .map(str::trim)
            .map_err(|_| format!("{} is not UTF-8", COLUMNS[i]))
    };
    // The same rule as the reference the partner sent with the operation, so a row that could
    // never match is malformed, and the report never echoes a control character.
    let reference = field(0)?;
    crate::text::check("reference", reference, 100).map_err(|e| e.to_string())?;
    let row_type = field(1)?;
    if !ROW_TYPES.contains(&row_type) {
        return Err(format!("type {row_type:?} is not one of {ROW_TYPES:?}"));
    }
    let points = field(2)?
        .parse::<i64>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| "points must be a whole number above zero".to_owned())?;
    let amount_minor = field(3)?
        .parse::<i64>()
        .ok()
        .filter(|a| *a >= 0)
        .ok_or_else(|| "amount must be a whole number of minor units, zero or more".to_owned())?;
    let time = field(4)?;
    if DateTime::parse_from_rfc3339(time).is_err()
        && chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S").is_err()
    {
        return Err(format!(
            "time {time:?} is not RFC 3339 or YYYY-MM-DD HH:MM:SS"
        ));
    }
    Ok(ParsedRow {
        reference: reference.to_owned(),
        row_type: row_type.to_owned(),
        points,
        amount_minor,
    })
}

/// The report's window and partner.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The partner's code.
    pub partner: String,
    /// The window's start.
    pub from: DateTime<Utc>,
    /// The window's end.
    pub to: DateTime<Utc>,
}

/// Matches the partner's CSV `file` against `ledger`, reading the file once, row by row.
pub fn reconcile(
    scope: Scope,
    ledger: Vec<LedgerEntry>,
    file: impl Read,
) -> Result<Report, ReconcileError> {
    let ledger_transfers = ledger.len() as u64;
    // The entries stay as read; which of them a row claimed is kept beside them, so the
    // index can borrow the references instead of copying them.
    let mut claimed = vec![false; ledger.len()];
    let mut by_reference: HashMap<&str, Vec<usize>> = HashMap::with_capacity(ledger.len());
    for (index, entry) in ledger.iter().enumerate() {
        by_reference
            .entry(entry.reference.as_str())
            .or_default()
            .push(index);
    }

    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(file);
    let header = reader
        .byte_headers()
        .map_err(|e| ReconcileError::Unreadable(e.to_string()))?
        .clone();
    if header.is_empty() {
        return Err(ReconcileError::NoHeader);
    }
    let mut columns = [0usize; 5];
    for (slot, name) in columns.iter_mut().zip(COLUMNS) {
        *slot = header
            .iter()
            .position(|h| h.trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
            .ok_or(ReconcileError::MissingColumn(name))?;
    }

    let mut totals: Vec<StatusTotal> = STATUSES
        .iter()
        .map(|status| StatusTotal {
            status,
            ..StatusTotal::default()
        })
        .collect();
    let mut exceptions = Vec::new();
    let mut missing_seen: HashMap<(String, String), u64> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) if e.is_io_error() => return Err(ReconcileError::Unreadable(e.to_string())),
            Err(e) => {
                rows += 1;
                let line = e.position().map_or(rows + 1, |p| p.line());
                push(&mut totals, &mut exceptions, malformed(line, e.to_string()));
                continue;
            }
        }
        rows += 1;
        let line = record.position().map_or(rows + 1, |p| p.line());
        let row = match parse_row(&record, &columns) {
            Ok(row) => row,
            Err(detail) => {
                push(&mut totals, &mut exceptions, malformed(line, detail));
                continue;
            }
        };
        let found = by_reference.get(row.reference.as_str());
        // Prefer an exact match, then the same type, then another type (a type mismatch).
        let pick = |accept: &dyn Fn(&LedgerEntry) -> bool| {
            found.and_then(|indexes| {
                indexes
                    .iter()
                    .copied()
                    .find(|&i| !claimed[i] && accept(&ledger[i]))
            })
        };
        let same_type = |e: &LedgerEntry| e.line_type == row.row_type;
        let exact = |e: &LedgerEntry| {
            same_type(e) && e.points == row.points && e.amount_minor == row.amount_minor
        };
        let outcome = match pick(&exact)
            .or_else(|| pick(&same_type))
            .or_else(|| pick(&|_| true))
        {
            Some(index) => {
                claimed[index] = true;
                compare(line, &row, &ledger[index])
            }
            None => {
                let twice = found.is_some_and(|indexes| {
                    indexes.iter().any(|&i| ledger[i].line_type == row.row_type)
                });
                let key = (row.reference.clone(), row.row_type.clone());
                let first_line = if twice {
                    Some(0)
                } else {
                    missing_seen.get(&key).copied()
                };
                match first_line {
                    Some(first) => Exception {
                        detail: Some(if first == 0 {
                            "this reference and type already matched an earlier row".into()
                        } else {
                            format!("the same reference and type as line {first}")
                        }),
                        ..row_exception("duplicate", line, &row)
                    },
                    None => {
                        missing_seen.insert(key, line);
                        row_exception("missing_at_gateway", line, &row)
                    }
                }
            }
        };
        match outcome.status {
            "matched" => add(&mut totals, &outcome),
            _ => push(&mut totals, &mut exceptions, outcome),
        }
    }
    let unclaimed = ledger
        .iter()
        .zip(&claimed)
        .filter(|(_, claimed)| !**claimed);
    for (entry, _) in unclaimed {
        let exception = Exception {
            status: "missing_at_partner",
            line: None,
            reference: Some(entry.reference.clone()),
            partner_type: None,
            gateway_type: Some(entry.line_type),
            partner_points: None,
            gateway_points: Some(entry.points),
            partner_amount_minor: None,
            gateway_amount_minor: Some(entry.amount_minor),
            transfer_id: Some(entry.transfer_id),
            detail: None,
        };
        push(&mut totals, &mut exceptions, exception);
    }
    Ok(Report {
        partner: scope.partner,
        from: scope.from,
        to: scope.to,
        rows,
        ledger_transfers,
        totals,
        exceptions,
    })
}

fn row_exception(status: &'static str, line: u64, row: &ParsedRow) -> Exception {
    Exception {
        status,
        line: Some(line),
        reference: Some(row.reference.clone()),
        partner_type: Some(row.row_type.clone()),
        gateway_type: None,
        partner_points: Some(row.points),
        gateway_points: None,
        partner_amount_minor: Some(row.amount_minor),
        gateway_amount_minor: None,
        transfer_id: None,
        detail: None,
    }
}

fn malformed(line: u64, detail: String) -> Exception {
    Exception {
        status: "malformed",
        line: Some(line),
        reference: None,
        partner_type: None,
        gateway_type: None,
        partner_points: None,
        gateway_points: None,
        partner_amount_minor: None,
        gateway_amount_minor: None,
        transfer_id: None,
        detail: Some(detail),
    }
}

fn compare(line: u64, row: &ParsedRow, entry: &LedgerEntry) -> Exception {
    let mut differs = Vec::new();
    if row.row_type != entry.line_type {
        differs.push("type");
    }
    if row.points != entry.points {
        differs.push("points");
    }
    if row.amount_minor != entry.amount_minor {
        differs.push("amount");
    }
    Exception {
        gateway_type: Some(entry.line_type),
        gateway_points: Some(entry.points),
        gateway_amount_minor: Some(entry.amount_minor),
        transfer_id: Some(entry.transfer_id),
        detail: (!differs.is_empty()).then(|| differs.join(",")),
        ..row_exception(
            if differs.is_empty() {
                "matched"
            } else {
                "mismatched"
            },
            line,
            row,
        )
    }
}

fn add(totals: &mut [StatusTotal], exception: &Exception) {
    if let Some(total) = totals.iter_mut().find(|t| t.status == exception.status) {
        total.count += 1;
        let wide = |value: Option<i64>| i128::from(value.unwrap_or(0));
        total.partner_points += wide(exception.partner_points);
        total.gateway_points += wide(exception.gateway_points);
        total.partner_amount_minor += wide(exception.partner_amount_minor);
        total.gateway_amount_minor += wide(exception.gateway_amount_minor);
    }
}

fn push(totals: &mut [StatusTotal], exceptions: &mut Vec<Exception>, exception: Exception) {
    add(totals, &exception);
    exceptions.push(exception);
}

/// The report's exceptions as CSV (one row each; the totals are in the JSON report).
pub fn exceptions_csv(report: &Report) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let text = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    // Writing to a Vec cannot fail.
    let _ = writer.write_record([
        "status",
        "line",
        "reference",
        "partner_type",
        "gateway_type",
        "partner_points",
        "gateway_points",
        "partner_amount_minor",
        "gateway_amount_minor",
        "transfer_id",
        "detail",
    ]);
    for e in &report.exceptions {
        let _ = writer.write_record([
            e.status.to_owned(),
            e.line.map(|l| l.to_string()).unwrap_or_default(),
            e.reference.clone().unwrap_or_default(),
            e.partner_type.clone().unwrap_or_default(),
            e.gateway_type.unwrap_or_default().to_owned(),
            text(e.partner_points),
            text(e.gateway_points),
            text(e.partner_amount_minor),
            text(e.gateway_amount_minor),
            e.transfer_id.map(|t| t.to_string()).unwrap_or_default(),
            e.detail.clone().unwrap_or_default(),
        ]);
    }
    writer.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        n: u128,
        reference: &str,
        line_type: &'static str,
        points: i64,
        amount: i64,
    ) -> LedgerEntry {
        LedgerEntry {
            transfer_id: Uuid::from_u128(n),
            reference: reference.into(),
            line_type,
            points,
            amount_minor: amount,
        }
    }

    fn run(ledger: Vec<LedgerEntry>, file: &str) -> Report {
        let scope = Scope {
            partner: "hotel".into(),
            from: Utc::now(),
            to: Utc::now(),
        };
        reconcile(scope, ledger, file.as_bytes()).unwrap()
    }

    fn count(report: &Report, status: &str) -> u64 {
        report
            .totals
            .iter()
            .find(|t| t.status == status)
            .unwrap()
            .count
    }

    #[test]
    fn every_status_is_reported_with_its_line() {
        let ledger = vec![
            entry(1, "A", "earn", 10, 1000),
            entry(2, "B", "earn", 10, 1000),
            entry(3, "C", "redemption", 5, 500),
            entry(4, "D", "earn", 7, 700),
            entry(5, "E", "redemption", 3, 300),
        ];
        let file = "reference,type,points,amount,time\n\
                    A,earn,10,1000,2026-11-21T10:00:00Z\n\
                    B,earn,11,1000,2026-11-21T10:00:00Z\n\
                    C,earn,5,500,2026-11-21 10:00:00\n\
                    X,earn,1,100,2026-11-21T10:00:00Z\n\
                    A,earn,10,1000,2026-11-21T10:00:00Z\n\
                    E,redemption,three,300,2026-11-21T10:00:00Z\n\
                    X,earn,1,100,2026-11-21T10:00:00Z\n";
        let report = run(ledger, file);
        assert_eq!(report.rows, 7);
        assert_eq!(count(&report, "matched"), 1);
        assert_eq!(count(&report, "mismatched"), 2);
        assert_eq!(count(&report, "missing_at_gateway"), 1);
        assert_eq!(count(&report, "duplicate"), 2);
        assert_eq!(count(&report, "malformed"), 1);
        // D and E (E's row was malformed) are missing at the partner.
        assert_eq!(count(&report, "missing_at_partner"), 2);
        let by_line = |line: u64| {
            report
                .exceptions
                .iter()
                .find(|e| e.line == Some(line))
                .unwrap()
        };
        assert_eq!(by_line(3).detail.as_deref(), Some("points"));
        assert_eq!(by_line(4).detail.as_deref(), Some("type"));
        assert_eq!(by_line(5).status, "missing_at_gateway");
        assert_eq!(by_line(6).status, "duplicate");
        assert!(by_line(7).detail.as_deref().unwrap().contains("points"));
        assert_eq!(
            by_line(8).detail.as_deref(),
            Some("the same reference and type as line 5")
        );
    }

    #[test]
    fn a_file_without_the_columns_is_refused() {
        let scope = Scope {
            partner: "hotel".into(),
            from: Utc::now(),
            to: Utc::now(),
        };
        let err = reconcile(scope, vec![], "reference,type,points,time\n".as_bytes()).unwrap_err();
        assert!(matches!(err, ReconcileError::MissingColumn("amount")));
    }

    #[test]
    fn references_are_counted_in_characters_and_must_be_plain_text() {
        let persian = "فاکتور".repeat(10);
        let ledger = vec![entry(1, &persian, "earn", 10, 1000)];
        let file = format!(
            "reference,type,points,amount,time\n\
             {persian},earn,10,1000,2026-11-21T10:00:00Z\n\
             bill\u{1b}[2J,earn,10,1000,2026-11-21T10:00:00Z\n"
        );
        let report = run(ledger, &file);
        assert_eq!(count(&report, "matched"), 1, "60 characters, 110 bytes");
        assert_eq!(count(&report, "malformed"), 1);
        let detail = report.exceptions[0].detail.as_deref().unwrap_or_default();
        assert!(
            detail.contains("U+001B") && !detail.contains('\u{1b}'),
            "{detail}"
        );
    }

    #[test]
    fn partial_reversals_sharing_a_reference_match_one_row_each() {
        let ledger = vec![
            entry(1, "R", "earn_reversal", 4, 400),
            entry(2, "R", "earn_reversal", 6, 600),
        ];
        // Columns in another order; the rows in the other order than the ledger's.
        let file = "time,amount,points,type,reference\n\
                    2026-11-21T10:00:00Z,600,6,earn_reversal,R\n\
                    2026-11-21T10:00:00Z,400,4,earn_reversal,R\n";
        let report = run(ledger, file);
        assert_eq!(count(&report, "matched"), 2);
        assert!(report.exceptions.is_empty());
    }
}
