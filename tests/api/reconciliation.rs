//! Reconciliation of a partner's own file against the ledger: every status with its
//! line numbers over HTTP (the upload streamed and checked against its signed digest),
//! and the demo's seeded partner file reported exactly as seeded.

use chrono::{DateTime, SecondsFormat, Utc};
use domain::keys::OperatorRole;
use domain::settlement::reconcile::LedgerEntry;
use gateway::demo::partner_file;
use operations::settlement::reconcile;
use partners::client::{Client, ClientError};
use partners::jwk::PrivateKey;
use serde_json::Value;
use test_support::app::unique_code;
use test_support::protocol::code;
use test_support::{TestApp, TestPartner};

async fn finance(app: &TestApp, role: OperatorRole) -> (Client, PrivateKey) {
    let key = app.operator_key("Finance staff", role).await;
    (app.client(&key).await, key)
}

/// Four earns and a redemption (the partner has the default rule); the ledger's view of them,
/// oldest first.
async fn traffic(app: &TestApp, partner: &TestPartner) -> (Vec<LedgerEntry>, DateTime<Utc>) {
    let from = Utc::now();
    let card = partner.member().await.card;
    for points in [5, 6, 7, 8] {
        partner.earn_points(&card, points).await;
    }
    partner.redeem_points(&card, 3).await;
    let ledger = reconcile::ledger_entries(
        &app.storage,
        partner.partner.code.as_str(),
        from,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(ledger.len(), 5);
    (ledger, from)
}

fn row(entry: &LedgerEntry, line_type: &str, points: i64, amount: &str) -> String {
    format!(
        "{},{line_type},{points},{amount},2026-11-22T10:00:00Z\n",
        entry.reference
    )
}

fn path(partner: &TestPartner, from: DateTime<Utc>, format: &str) -> String {
    let at = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
    format!(
        "/v1/operator/reconciliations?partner={}&from={}&to={}{format}",
        partner.partner.code.as_str(),
        at(from),
        at(Utc::now())
    )
}

/// The report of `file` uploaded to `path`, JSON.
async fn upload(client: &Client, path: &str, file: &[u8]) -> Result<Value, ClientError> {
    client
        .post_csv(path, &unique_code("reconcile"), file.to_vec())
        .await
        .map(|receipt| receipt.body)
}

/// The code of the problem an upload is refused with.
async fn refusal(client: &Client, path: &str, file: &[u8]) -> String {
    code(upload(client, path, file).await.unwrap_err())
}

#[tokio::test]
async fn a_partner_file_reconciles_over_http_with_every_status_and_line() {
    let app = TestApp::spawn().await;
    let partner = app.partner().with_default_rule().await;
    let (ledger, from) = traffic(&app, &partner).await;
    let [first, second, third, fourth, redemption] = &ledger[..] else {
        unreachable!()
    };
    let amount = |e: &LedgerEntry| e.amount_minor.to_string();
    let file = [
        "Reference,Type,Points,Amount,Time,Till\n".to_owned(),
        row(first, "earn", first.points, &amount(first)),
        row(second, "earn", second.points + 1, &amount(second)),
        row(redemption, "earn", redemption.points, &amount(redemption)),
        "not-ours-1,earn,10,100000,2026-11-22T10:00:00Z\n".to_owned(),
        row(first, "earn", first.points, &amount(first)),
        row(fourth, "earn", fourth.points, "12.50"),
        row(fourth, "earn", fourth.points, &amount(fourth)),
        "garbage\n".to_owned(),
    ]
    .concat();
    let (client, _) = finance(&app, OperatorRole::Finance).await;
    let report = upload(&client, &path(&partner, from, ""), file.as_bytes())
        .await
        .unwrap();

    let totals: Vec<(String, u64)> = report["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["status"].as_str().unwrap().to_owned(),
                t["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("matched", 2),
        ("mismatched", 2),
        ("missing_at_gateway", 1),
        ("missing_at_partner", 1),
        ("duplicate", 1),
        ("malformed", 2),
    ];
    assert_eq!(
        totals,
        expected.map(|(s, n)| (s.to_owned(), n)).to_vec(),
        "{report:#}"
    );
    assert_eq!(
        (report["rows"].as_u64(), report["ledger_transfers"].as_u64()),
        (Some(8), Some(5))
    );
    let exceptions: Vec<(&str, Option<u64>, &str)> = report["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["status"].as_str().unwrap(),
                e["line"].as_u64(),
                e["detail"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        exceptions,
        [
            ("mismatched", Some(3), "points"),
            ("mismatched", Some(4), "type"),
            ("missing_at_gateway", Some(5), ""),
            (
                "duplicate",
                Some(6),
                "this reference and type already matched an earlier row"
            ),
            (
                "malformed",
                Some(7),
                "amount must be a whole number of minor units, zero or more"
            ),
            (
                "malformed",
                Some(9),
                "the row has 1 fields; the columns need 5"
            ),
            ("missing_at_partner", None, ""),
        ]
    );
    let missing = &report["exceptions"][6];
    assert_eq!(missing["transfer_id"], third.transfer_id.to_string());
    assert_eq!(missing["gateway_points"], third.points);
    // The partner's and the gateway's sums of a mismatch, side by side.
    let mismatched = &report["totals"][1];
    assert_eq!(
        (
            mismatched["partner_points"].as_i64(),
            mismatched["gateway_points"].as_i64()
        ),
        (
            Some(second.points + 1 + redemption.points),
            Some(second.points + redemption.points)
        )
    );

    // The exceptions as CSV: a header and one row each.
    let csv = client
        .send(
            reqwest::Method::POST,
            &path(&partner, from, "&format=csv"),
            Some(partners::client::Body::csv(file.into_bytes())),
            Some(&unique_code("reconcile")),
        )
        .await
        .unwrap();
    assert_eq!(csv.status, 200);
    let text = String::from_utf8(csv.raw_body).unwrap();
    assert!(text.starts_with("status,line,reference,"), "{text}");
    assert_eq!(text.lines().count(), 1 + 7);
    assert!(text.contains(&format!("mismatched,3,{},earn,earn,", second.reference)));
}

#[tokio::test]
async fn an_upload_streams_past_the_body_limit_and_is_held_to_its_digest() {
    let app = TestApp::spawn().await;
    let partner = app.partner().with_default_rule().await;
    let (ledger, from) = traffic(&app, &partner).await;
    let (client, key) = finance(&app, OperatorRole::Finance).await;

    // Well past `server.max_body_bytes` (64 KiB in tests), within `max_upload_bytes` (1 MiB).
    let mut file = String::from("reference,type,points,amount,time\n");
    for entry in &ledger {
        file += &row(
            entry,
            entry.line_type,
            entry.points,
            &entry.amount_minor.to_string(),
        );
    }
    for n in 0..3000 {
        file += &format!("elsewhere-{n},earn,10,100000,2026-11-22T10:00:00Z\n");
    }
    assert!(file.len() > 64 * 1024);
    let report = upload(&client, &path(&partner, from, ""), file.as_bytes())
        .await
        .unwrap();
    assert_eq!(report["totals"][0]["count"], 5, "matched");
    assert_eq!(report["totals"][2]["count"], 3000, "missing_at_gateway");

    // The signature covers the digest of one file; another file arrives.
    let mut draft = app.draft(
        &key,
        "POST",
        &path(&partner, from, ""),
        Some(serde_json::json!({})),
        Some(&unique_code("reconcile")),
    );
    draft.body = file.clone().into_bytes();
    draft.headers = vec![
        ("content-type".into(), "text/csv".into()),
        (
            "content-digest".into(),
            partners::digest::content_digest(&draft.body),
        ),
        (partners::protocol::IDEMPOTENCY_KEY.into(), unique_code("k")),
    ];
    let mut tampered = draft.body.clone();
    let at = tampered.len() - 40;
    tampered[at] ^= 1;
    draft.sent_body = Some(tampered);
    let refused = app.send(&draft, &key).await;
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (400, "content_digest_mismatch")
    );

    // Past `max_upload_bytes`.
    let mut huge = file.into_bytes();
    huge.resize(1024 * 1024 + 1, b'\n');
    assert_eq!(
        refusal(&client, &path(&partner, from, ""), &huge).await,
        "payload_too_large"
    );
}

#[tokio::test]
async fn unusable_files_and_callers_are_refused_with_their_codes() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let (client, _) = finance(&app, OperatorRole::Finance).await;
    let (admin, _) = finance(&app, OperatorRole::Admin).await;
    let path = path(&partner, Utc::now(), "");
    let good = b"reference,type,points,amount,time\n";
    let no_amount = b"reference,type,points,time\nR1,earn,1,x\n";
    assert_eq!(
        refusal(&client, &path, no_amount).await,
        "reconciliation_file_invalid"
    );
    assert_eq!(
        refusal(&partner.client, &path, good).await,
        "operator_key_required"
    );
    assert_eq!(refusal(&admin, &path, good).await, "role_not_granted");
    let elsewhere = path.replace(partner.partner.code.as_str(), "no-such-partner");
    assert_eq!(
        refusal(&client, &elsewhere, good).await,
        "partner_not_found"
    );
}

#[tokio::test]
async fn the_demo_partner_file_reports_exactly_what_was_seeded() {
    let app = TestApp::spawn().await;
    let partner = app.partner().with_default_rule().await;
    let card = partner.member().await.card;
    for points in 1..=30 {
        partner.earn_points(&card, points).await;
    }
    let (from, to) = (DateTime::UNIX_EPOCH, Utc::now());
    let code = partner.partner.code.as_str();
    let ledger = reconcile::ledger_entries(&app.storage, code, from, to)
        .await
        .unwrap();
    let mut file = Vec::new();
    let seeded = partner_file::write(&ledger, 2, &mut file).unwrap();
    assert_eq!(seeded.per_class, 2);

    let report =
        reconcile::reconcile_partner(&app.storage, code, from, to, std::io::Cursor::new(file))
            .await
            .unwrap();
    let counts: Vec<(&str, u64)> = report.totals.iter().map(|t| (t.status, t.count)).collect();
    assert_eq!(counts, seeded.expected);
    assert_eq!(
        counts,
        [
            ("matched", 22),
            ("mismatched", 6),
            ("missing_at_gateway", 2),
            ("missing_at_partner", 2),
            ("duplicate", 2),
            ("malformed", 2)
        ]
    );
}

#[tokio::test]
async fn a_file_of_the_largest_numbers_adds_up_exactly() {
    let app = TestApp::spawn().await;
    let partner = app.partner().with_default_rule().await;
    let (_, from) = traffic(&app, &partner).await;
    let max = i64::MAX;
    let file = format!(
        "reference,type,points,amount,time\n\
         huge-1,earn,{max},{max},2026-11-22T10:00:00Z\n\
         huge-2,earn,{max},{max},2026-11-22T10:00:00Z\n\
         huge-3,earn,{max},{max},2026-11-22T10:00:00Z\n"
    );
    #[derive(serde::Deserialize)]
    struct Total {
        status: String,
        count: u64,
        partner_points: i128,
        partner_amount_minor: i128,
    }
    #[derive(serde::Deserialize)]
    struct Report {
        totals: Vec<Total>,
    }
    let (client, _) = finance(&app, OperatorRole::Finance).await;
    let report: Report = client
        .post_csv(
            &path(&partner, from, ""),
            &unique_code("reconcile"),
            file.into_bytes(),
        )
        .await
        .unwrap()
        .body;
    let missing = report
        .totals
        .iter()
        .find(|t| t.status == "missing_at_gateway")
        .unwrap();
    // 3 × (2^63 − 1), past any 64-bit integer, exactly.
    let expected = 3 * i128::from(max);
    assert_eq!(
        (
            missing.count,
            missing.partner_points,
            missing.partner_amount_minor
        ),
        (3, expected, expected)
    );
}
