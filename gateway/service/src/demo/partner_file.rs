//! A partner's own transaction file, written from the ledger with seeded
//! differences: the input of the demo reconciliation and of its benchmark.
//!
//! Each class of difference is seeded the same number of times, spread evenly
//! through the file, on transfers whose reference is unique (so the expected
//! outcome does not depend on which of two equal rows the matcher picks). What a
//! reconciliation of the file must report is returned beside it.

use std::collections::HashMap;
use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat, Utc};

use domain::settlement::reconcile::{COLUMNS, LedgerEntry, STATUSES};

/// What the file holds and what a reconciliation of it must report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    /// Data rows written (the header not counted).
    pub rows: u64,
    /// Seeds of each class.
    pub per_class: u64,
    /// The expected count of every status, in [`STATUSES`] order.
    pub expected: Vec<(&'static str, u64)>,
}

/// The seeded differences, in the order they are spread through the file.
#[derive(Clone, Copy)]
enum Seed {
    WrongType,
    WrongPoints,
    WrongAmount,
    Dropped,
    Duplicated,
}

const SEEDS: [Seed; 5] = [
    Seed::WrongType,
    Seed::WrongPoints,
    Seed::WrongAmount,
    Seed::Dropped,
    Seed::Duplicated,
];

/// Writes `entries` as the partner's CSV with `per_class` seeds of each class (fewer when
/// the ledger has too few uniquely referenced transfers). Besides the five seeds above,
/// each duplicated row is followed by a row the gateway never saw and a malformed row.
pub fn write(entries: &[LedgerEntry], per_class: usize, out: impl Write) -> io::Result<Seeded> {
    let mut uses: HashMap<&str, u32> = HashMap::with_capacity(entries.len());
    for entry in entries {
        *uses.entry(entry.reference.as_str()).or_default() += 1;
    }
    let candidates: Vec<usize> = (0..entries.len())
        .filter(|&i| !entries[i].reference.is_empty() && uses[entries[i].reference.as_str()] == 1)
        .collect();
    let per_class = per_class.min(candidates.len() / SEEDS.len());
    let seeds = per_class * SEEDS.len();
    let mut seeded: HashMap<usize, Seed> = HashMap::with_capacity(seeds);
    for j in 0..seeds {
        seeded.insert(
            candidates[j * candidates.len() / seeds],
            SEEDS[j % SEEDS.len()],
        );
    }

    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COLUMNS)?;
    let mut rows = 0u64;
    let mut unreferenced = 0u64;
    for (index, entry) in entries.iter().enumerate() {
        if entry.reference.is_empty() {
            unreferenced += 1;
            continue;
        }
        let time = entry_time(entry);
        let mut row = |reference: &str, kind: &str, points: i64, amount: i64| {
            rows += 1;
            let (points, amount) = (points.to_string(), amount.to_string());
            writer.write_record([reference, kind, points.as_str(), amount.as_str(), &time])
        };
        let (reference, kind) = (entry.reference.as_str(), entry.line_type);
        let (points, amount) = (entry.points, entry.amount_minor);
        match seeded.get(&index) {
            None => row(reference, kind, points, amount)?,
            Some(Seed::WrongType) => row(reference, other_type(kind), points, amount)?,
            Some(Seed::WrongPoints) => row(reference, kind, points + 1, amount)?,
            Some(Seed::WrongAmount) => row(reference, kind, points, amount + 100)?,
            Some(Seed::Dropped) => {}
            Some(Seed::Duplicated) => {
                row(reference, kind, points, amount)?;
                row(reference, kind, points, amount)?;
                row(&format!("{reference}-not-at-gateway"), "earn", 10, 1000)?;
                row(reference, kind, 0, amount)?;
            }
        }
    }
    writer.flush()?;

    let k = per_class as u64;
    let referenced = entries.len() as u64 - unreferenced;
    let expected = STATUSES
        .iter()
        .map(|&status| {
            let count = match status {
                "matched" => referenced - 4 * k,
                "mismatched" => 3 * k,
                "missing_at_partner" => k + unreferenced,
                _ => k,
            };
            (status, count)
        })
        .collect();
    Ok(Seeded {
        rows,
        per_class: k,
        expected,
    })
}

/// The partner's clock for the row: the time in the transfer's UUIDv7 (milliseconds).
fn entry_time(entry: &LedgerEntry) -> String {
    entry
        .transfer_id
        .get_timestamp()
        .and_then(|t| {
            let (seconds, nanos) = t.to_unix();
            DateTime::<Utc>::from_timestamp(i64::try_from(seconds).ok()?, nanos)
        })
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn other_type(kind: &str) -> &'static str {
    match kind {
        "earn" => "redemption",
        "redemption" => "earn",
        "earn_reversal" => "redemption_reversal",
        _ => "earn_reversal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::settlement::reconcile::{Scope, reconcile};
    use uuid::Uuid;

    #[test]
    fn the_reconciliation_reports_exactly_what_was_seeded() {
        let kinds = ["earn", "redemption", "earn_reversal", "redemption_reversal"];
        let mut entries: Vec<LedgerEntry> = (0..200u32)
            .map(|n| LedgerEntry {
                transfer_id: Uuid::now_v7(),
                reference: format!("R{n}"),
                line_type: kinds[n as usize % 4],
                points: 10 + i64::from(n),
                amount_minor: 1000 * i64::from(n),
            })
            .collect();
        // A capture in parts shares its hold's reference, and a transfer may have none.
        entries[7].reference = "R6".into();
        entries[9].reference = String::new();
        let mut file = Vec::new();
        let seeded = write(&entries, 4, &mut file).unwrap();
        assert_eq!(seeded.per_class, 4);
        assert_eq!(seeded.rows, 199 + 2 * 4);

        let scope = Scope {
            partner: "hotel".into(),
            from: Utc::now(),
            to: Utc::now(),
        };
        let report = reconcile(scope, entries, file.as_slice()).unwrap();
        let counts: Vec<(&str, u64)> = report.totals.iter().map(|t| (t.status, t.count)).collect();
        assert_eq!(counts, seeded.expected);
        assert_eq!(report.rows, seeded.rows);
        assert_eq!(
            seeded.expected,
            [
                ("matched", 199 - 16),
                ("mismatched", 12),
                ("missing_at_gateway", 4),
                ("missing_at_partner", 5),
                ("duplicate", 4),
                ("malformed", 4)
            ]
        );
    }
}
