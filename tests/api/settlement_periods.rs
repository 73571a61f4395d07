//! Settlement periods with the clock in the test's hands: the Tehran day edge, a
//! transfer committed after its period closed, a hold captured across the cut-off,
//! reversals priced at their original's terms after a change of terms, and a
//! property test that every statement's totals are the ledger's for its period.

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::cards::CardNumber;
use domain::ids::TransferId;
use domain::points::Currency;
use domain::settlement::terms::{self, NewTerms, PeriodKind, Terms};
use operations::settlement::reconcile;
use operations::settlement::statements::{self, check as check_statements};
use partners::settlement::Statement;
use proptest::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};
use storage::settlement::StatementFilter;
use test_support::till::DirectTill;
use test_support::{TestApp, TestPartner};

const TEHRAN: chrono_tz::Tz = chrono_tz::Asia::Tehran;

/// Sets daily Tehran terms; the first version starts on `starts_on`, later ones from the
/// period after `now`.
async fn set_terms(
    app: &TestApp,
    partner: &TestPartner,
    (price, reimbursement): (&str, &str),
    starts_on: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Terms {
    let new = NewTerms {
        currency: Currency::parse("IRR").unwrap(),
        price_per_point: terms::parse_rate("price", price).unwrap(),
        reimbursement_per_point: terms::parse_rate("reimbursement", reimbursement).unwrap(),
        period: PeriodKind::Daily,
        time_zone: TEHRAN,
        starts_on,
    };
    operations::settlement::terms::set(&app.storage, partner.partner.code.as_str(), new, now)
        .await
        .unwrap()
}

/// A Tehran day well in the past, so its periods can be opened and closed at will.
fn ten_days_ago() -> NaiveDate {
    (Utc::now() - Duration::days(10))
        .with_timezone(&TEHRAN)
        .date_naive()
}

/// A partner with daily Tehran terms (`rates`) from ten days ago, its till and a member.
async fn opened<'a>(
    app: &'a TestApp,
    phone: &str,
    rates: (&str, &str),
) -> (TestPartner, DirectTill<'a>, CardNumber, Terms) {
    let (partner, till) = DirectTill::open(app).await;
    let card = till.enroll(phone).await;
    let v1 = set_terms(app, &partner, rates, Some(ten_days_ago()), Utc::now()).await;
    (partner, till, card, v1)
}

/// A closed statement: its stored payload, decoded, and the transfers its lines settle.
struct Closed {
    payload: Vec<u8>,
    statement: Statement,
    lines: Vec<TransferId>,
}

impl Closed {
    fn total(&self, line_type: &str) -> (i64, i64, i64) {
        let total = self
            .statement
            .totals
            .iter()
            .find(|t| t.line_type == line_type)
            .unwrap();
        (total.count, total.points, total.money_minor)
    }
}

async fn statements(app: &TestApp, partner: &TestPartner) -> Vec<Closed> {
    let filter = StatementFilter {
        partner_id: Some(partner.partner.id),
        limit: 1000,
        ..StatementFilter::default()
    };
    let mut closed = Vec::new();
    for record in statements::list(&app.storage, &filter).await.unwrap() {
        let file = statements::lines_file(&app.storage, &record).await.unwrap();
        let lines = String::from_utf8(file)
            .unwrap()
            .lines()
            .skip(1)
            .map(|line| TransferId(line.split(',').next().unwrap().parse().unwrap()))
            .collect();
        closed.push(Closed {
            statement: serde_json::from_slice(&record.issued.payload).unwrap(),
            payload: record.issued.payload,
            lines,
        });
    }
    closed.sort_by_key(|c| c.statement.sequence);
    closed
}

#[tokio::test]
async fn the_tehran_day_ends_at_20_30_utc_and_a_late_transfer_lands_in_the_next_statement() {
    let app = TestApp::spawn().await;
    let (partner, till, card, v1) = opened(&app, "+989350000001", ("12.5", "10")).await;
    let cut = PeriodKind::Daily.next_boundary(v1.effective_from, TEHRAN);
    // Tehran is UTC+03:30 all year: its midnight is 20:30 UTC.
    assert_eq!(cut.format("%H:%M:%S%.3f").to_string(), "20:30:00.000");

    let last_of_the_day = till
        .earn(&card, 4, cut - Duration::milliseconds(1))
        .await
        .unwrap()
        .transfer
        .id;
    let first_of_the_next = till.earn(&card, 5, cut).await.unwrap().transfer.id;
    assert_eq!(app.settle(cut + Duration::minutes(11)).await, 1);
    let first = statements(&app, &partner).await.remove(0);
    assert_eq!(
        (first.statement.period.start, first.statement.period.end),
        (v1.effective_from, cut)
    );
    assert_eq!(first.lines, [last_of_the_day]);
    assert_eq!(first.total("earn"), (1, 4, 50));

    // Committed now, stamped inside the day that is already closed (it was in flight).
    let late = till
        .earn(&card, 6, cut - Duration::minutes(5))
        .await
        .unwrap()
        .transfer
        .id;
    assert_eq!(app.settle(cut + Duration::minutes(30)).await, 0);
    assert_eq!(
        app.settle(cut + Duration::days(1) + Duration::minutes(11))
            .await,
        1
    );
    let [again, second] = &statements(&app, &partner).await[..] else {
        panic!("expected two statements")
    };
    assert_eq!(
        again.payload, first.payload,
        "a closed statement never changes"
    );
    assert_eq!(
        second.lines.iter().collect::<HashSet<_>>(),
        HashSet::from([&first_of_the_next, &late])
    );
    // Rounded once per line, half to even: 62.5 → 62, 75 → 75.
    assert_eq!(second.total("earn"), (2, 11, 137));
    assert!(check_statements(&app.storage).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_hold_settles_when_captured_and_reversals_keep_their_originals_terms() {
    let app = TestApp::spawn().await;
    let (partner, till, card, v1) = opened(&app, "+989350000002", ("12.5", "10")).await;
    let cut1 = PeriodKind::Daily.next_boundary(v1.effective_from, TEHRAN);
    let cut2 = PeriodKind::Daily.next_boundary(cut1, TEHRAN);
    let cut3 = PeriodKind::Daily.next_boundary(cut2, TEHRAN);
    // Set during the second day: the new version starts with the third.
    let v2 = set_terms(&app, &partner, ("20", "8"), None, cut1 + Duration::hours(1)).await;
    assert_eq!(v2.effective_from, cut2);

    let earn = till
        .earn(&card, 8, cut1 - Duration::hours(2))
        .await
        .unwrap()
        .transfer
        .id;
    let hold = till
        .redeem(&card, 3, true, cut1 - Duration::minutes(1))
        .await
        .unwrap()
        .transfer
        .id;
    let capture = till
        .capture(hold, None, cut1 + Duration::minutes(1))
        .await
        .unwrap()
        .transfer
        .id;
    let later_earn = till
        .earn(&card, 5, cut2 + Duration::hours(1))
        .await
        .unwrap()
        .transfer
        .id;
    let earn_reversal = till
        .reverse(earn, Some(2), cut2 + Duration::hours(2))
        .await
        .unwrap()
        .transfer
        .id;
    let redemption_reversal = till
        .reverse(capture, Some(1), cut2 + Duration::hours(3))
        .await
        .unwrap()
        .transfer
        .id;
    assert_eq!(app.settle(cut3 + Duration::minutes(11)).await, 3);
    let closed = statements(&app, &partner).await;

    // The hold was open at the first cut-off: nothing of it is settled there.
    assert_eq!(closed[0].lines, [earn]);
    assert_eq!(closed[0].total("earn"), (1, 8, 100));
    assert_eq!(closed[0].total("redemption"), (0, 0, 0));
    // Its capture is settled in the period it was captured, as a redemption.
    assert_eq!(closed[1].lines, [capture]);
    assert_eq!(closed[1].total("redemption"), (1, 3, -30));
    assert_eq!(closed[1].statement.net_minor, -30);
    // Under the new terms, the new earn is priced at 20; the reversals of last period's
    // transactions at the terms of their originals (12.5 and 10), not 20 and 8.
    let third = &closed[2];
    assert_eq!(third.statement.terms.version, 2);
    assert_eq!(
        third.lines.iter().collect::<HashSet<_>>(),
        HashSet::from([&later_earn, &earn_reversal, &redemption_reversal])
    );
    assert_eq!(third.total("earn"), (1, 5, 100));
    assert_eq!(third.total("earn_reversal"), (1, 2, -25));
    assert_eq!(third.total("redemption_reversal"), (1, 1, 10));
    assert_eq!(third.statement.net_minor, 85);
    assert!(check_statements(&app.storage).await.unwrap().is_empty());
}

/// One step of a random history.
#[derive(Debug, Clone)]
enum Op {
    Earn(i64),
    Redeem(i64),
    /// Hold, then capture part of it `later` minutes on (within the hold's 15 minutes).
    HoldAndCapture {
        points: i64,
        captured: i64,
        later: i64,
    },
    /// Reverse (part of) an earlier settled transfer, picked by index.
    Reverse(usize, Option<i64>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1..60i64).prop_map(Op::Earn),
        2 => (1..40i64).prop_map(Op::Redeem),
        1 => (1..30i64, 1..30i64, 1..15i64)
            .prop_map(|(points, captured, later)| Op::HoldAndCapture { points, captured: captured.min(points), later }),
        2 => (0..20usize, proptest::option::of(1..20i64)).prop_map(|(i, p)| Op::Reverse(i, p)),
    ]
}

const RATES: [&str; 6] = ["12.5", "0.333", "1.05", "7", "0.5", "2.75"];

/// What the test itself recorded of a settled transfer.
struct Settled {
    id: TransferId,
    line_type: &'static str,
    points: i64,
    at: DateTime<Utc>,
    /// For a reversal, when the transfer it reverses was settled (a hold: its capture):
    /// the terms of that period apply.
    priced_at: DateTime<Utc>,
}

fn half_even(points: i64, rate: Decimal) -> i64 {
    let exact = Decimal::from(points) * rate;
    i64::try_from(exact.round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)).unwrap()
}

async fn random_history(ops: Vec<Op>, gaps: Vec<i64>, rates: [usize; 4], change_after_hours: i64) {
    let app = TestApp::spawn().await;
    let (partner, till, card, v1) =
        opened(&app, "+989350000003", (RATES[rates[0]], RATES[rates[1]])).await;
    let v2 = set_terms(
        &app,
        &partner,
        // Different rates from the first version's, so the version that applies shows.
        (
            RATES[(rates[0] + rates[2]) % RATES.len()],
            RATES[(rates[1] + rates[3]) % RATES.len()],
        ),
        None,
        v1.effective_from + Duration::hours(change_after_hours),
    )
    .await;

    let mut at = v1.effective_from;
    let mut settled: Vec<Settled> = Vec::new();
    for (op, gap) in ops.into_iter().zip(gaps) {
        at += Duration::minutes(gap);
        let record = |movement: domain::ledger::Movement, line_type, priced_at| Settled {
            id: movement.transfer.id,
            line_type,
            points: movement.transfer.amount.get(),
            at: movement.transfer.created_at,
            priced_at,
        };
        match op {
            Op::Earn(points) => {
                let earned = till.earn(&card, points, at).await.unwrap();
                settled.push(record(earned, "earn", at));
            }
            Op::Redeem(points) => {
                if let Ok(redeemed) = till.redeem(&card, points, false, at).await {
                    settled.push(record(redeemed, "redemption", at));
                }
            }
            Op::HoldAndCapture {
                points,
                captured,
                later,
            } => {
                if let Ok(hold) = till.redeem(&card, points, true, at).await {
                    at += Duration::minutes(later);
                    let capture = till
                        .capture(hold.transfer.id, Some(captured), at)
                        .await
                        .unwrap();
                    settled.push(record(capture, "redemption", at));
                }
            }
            Op::Reverse(index, points) => {
                let originals: Vec<&Settled> = settled
                    .iter()
                    .filter(|s| matches!(s.line_type, "earn" | "redemption"))
                    .collect();
                let Some(original) =
                    (!originals.is_empty()).then(|| originals[index % originals.len()])
                else {
                    continue;
                };
                let (id, line_type, priced_at) = (
                    original.id,
                    if original.line_type == "earn" {
                        "earn_reversal"
                    } else {
                        "redemption_reversal"
                    },
                    original.priced_at,
                );
                // Refused when nothing is left to reverse or the points are spent: not a transfer.
                if let Ok(reversed) = till.reverse(id, points, at).await {
                    settled.push(record(reversed, line_type, priced_at));
                }
            }
        }
    }

    let settle_at = PeriodKind::Daily.next_boundary(at, TEHRAN) + Duration::minutes(11);
    let issued = app.settle(settle_at).await;
    let closed = statements(&app, &partner).await;
    assert_eq!(closed.len(), issued);
    let rate = |line_type: &str, priced_at: DateTime<Utc>| {
        let terms = if priced_at >= v2.effective_from {
            &v2
        } else {
            &v1
        };
        match line_type {
            "earn" | "earn_reversal" => terms.price_per_point,
            _ => terms.reimbursement_per_point,
        }
    };
    let sign = |line_type: &str| match line_type {
        "earn" | "redemption_reversal" => 1,
        _ => -1,
    };
    for statement in &closed {
        let period = &statement.statement.period;
        let mine: Vec<&Settled> = settled
            .iter()
            .filter(|s| period.start <= s.at && s.at < period.end)
            .collect();
        assert_eq!(
            statement.lines.iter().collect::<HashSet<_>>(),
            mine.iter().map(|s| &s.id).collect::<HashSet<_>>(),
            "statement {} settles its period's transfers",
            statement.statement.sequence
        );
        for line_type in ["earn", "earn_reversal", "redemption", "redemption_reversal"] {
            let of_type: Vec<&&Settled> =
                mine.iter().filter(|s| s.line_type == line_type).collect();
            let expected = (
                of_type.len() as i64,
                of_type.iter().map(|s| s.points).sum::<i64>(),
                of_type
                    .iter()
                    .map(|s| sign(line_type) * half_even(s.points, rate(line_type, s.priced_at)))
                    .sum::<i64>(),
            );
            assert_eq!(
                statement.total(line_type),
                expected,
                "{line_type} in statement {}",
                statement.statement.sequence
            );
        }
        let s = &statement.statement;
        assert_eq!(
            s.net_minor,
            s.issuance_charge_minor - s.redemption_credit_minor + s.adjustments_minor
        );
    }
    // Every settled transfer in exactly one statement; and the ledger read another way
    // (the reconciliation's query) holds the same points per type.
    let all_lines: Vec<&TransferId> = closed.iter().flat_map(|c| &c.lines).collect();
    assert_eq!(all_lines.len(), settled.len());
    let ledger = reconcile::ledger_entries(
        &app.storage,
        partner.partner.code.as_str(),
        v1.effective_from,
        settle_at,
    )
    .await
    .unwrap();
    for line_type in ["earn", "earn_reversal", "redemption", "redemption_reversal"] {
        let in_ledger: i64 = ledger
            .iter()
            .filter(|e| e.line_type == line_type)
            .map(|e| e.points)
            .sum();
        let in_statements: i64 = closed.iter().map(|c| c.total(line_type).1).sum();
        assert_eq!(in_statements, in_ledger, "{line_type}");
    }
    assert!(check_statements(&app.storage).await.unwrap().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, max_shrink_iters: 30, ..ProptestConfig::default() })]

    #[test]
    fn statement_totals_are_the_ledgers_totals_for_each_period(
        ops in proptest::collection::vec(op(), 5..40),
        gaps in proptest::collection::vec(1..300i64, 40),
        rates in [0..6usize, 0..6usize, 1..6usize, 1..6usize],
        change_after_hours in 0..24i64,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(random_history(ops, gaps, rates, change_after_hours));
    }
}

#[tokio::test]
async fn a_period_whose_figures_overflow_is_reported_and_the_other_partners_still_close() {
    let app = TestApp::spawn().await;
    // 10^9 points (the most one earn may credit) at 5 × 10^9 IRR a point: 5 × 10^18 a line,
    // so two lines overflow the statement's totals; at 10^11 a point one line overflows.
    let (big, big_till, big_card, v1) = opened(&app, "+989350000011", ("5000000000", "1")).await;
    let (huge, huge_till, huge_card, _) =
        opened(&app, "+989350000012", ("100000000000", "1")).await;
    let (fine, fine_till, fine_card, _) = opened(&app, "+989350000013", ("12.5", "10")).await;
    let cut1 = PeriodKind::Daily.next_boundary(v1.effective_from, TEHRAN);
    let at = cut1 - Duration::hours(2);
    for _ in 0..2 {
        big_till.earn(&big_card, 1_000_000_000, at).await.unwrap();
    }
    huge_till.earn(&huge_card, 1_000_000_000, at).await.unwrap();
    fine_till.earn(&fine_card, 8, at).await.unwrap();

    let settled = operations::settlement::close::settle(
        &app.storage,
        &app.config.keys.current,
        operations::settlement::close::CloseSettings::default(),
        cut1 + Duration::minutes(11),
    )
    .await
    .unwrap();
    let stuck: Vec<(&str, &str)> = settled
        .stuck
        .iter()
        .map(|s| (s.partner_code.as_str(), s.code))
        .collect();
    assert_eq!(stuck.len(), 2, "{stuck:?}");
    assert!(
        stuck.contains(&(big.partner.code.as_str(), "statement_totals_overflow")),
        "{stuck:?}"
    );
    assert!(
        stuck.contains(&(huge.partner.code.as_str(), "line_money_overflow")),
        "{stuck:?}"
    );
    // The healthy partner's periods all closed; the others issued nothing, not even later periods.
    let closed: HashSet<&str> = settled
        .closed
        .iter()
        .map(|c| c.partner_code.as_str())
        .collect();
    assert_eq!(closed, HashSet::from([fine.partner.code.as_str()]));
    assert!(statements(&app, &big).await.is_empty());
    assert!(statements(&app, &huge).await.is_empty());
}

#[tokio::test]
async fn the_operators_margin_sums_partners_past_64_bits_exactly() {
    let app = TestApp::spawn().await;
    // 10^9 points at 4 × 10^9 IRR a point: each day's statement charges 4 × 10^18, two days
    // 8 × 10^18 a partner (a partner's running position stays within 64 bits), two partners
    // 1.6 × 10^19 together, past what 64 bits hold.
    let mut codes = Vec::new();
    let mut cut = None;
    for phone in ["+989350000021", "+989350000022"] {
        let (partner, till, card, v1) = opened(&app, phone, ("4000000000", "1")).await;
        let mut at = v1.effective_from;
        for _ in 0..2 {
            at = PeriodKind::Daily.next_boundary(at, TEHRAN);
            till.earn(&card, 1_000_000_000, at - Duration::hours(2))
                .await
                .unwrap();
        }
        codes.push(partner.partner.code.to_string());
        cut = Some((v1.effective_from, at));
    }
    let (from, to) = cut.unwrap();
    assert_eq!(app.settle(to + Duration::minutes(11)).await, 4);
    let position = statements::position(&app.storage, from, to).await.unwrap();
    for code in &codes {
        let one = position
            .partners
            .iter()
            .find(|p| &p.partner == code)
            .unwrap();
        assert_eq!(
            (one.statements, one.net_minor),
            (2, 8_000_000_000_000_000_000)
        );
    }
    assert_eq!(position.margin_minor["IRR"], 16_000_000_000_000_000_000);
    assert_eq!(position.outstanding_points, 4_000_000_000);
}
