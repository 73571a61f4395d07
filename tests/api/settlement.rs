//! Settlement: the period close issues signed, chained statements that match the ledger;
//! partners verify, acknowledge and dispute them; a resolution adjusts the next statement;
//! access is by principal and role.

use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use domain::keys::OperatorRole;
use domain::points::Currency;
use domain::settlement::terms::{self, NewTerms, PeriodKind};
use operations::settlement::statements::{self, check as check_statements};
use partners::client::{Client, ClientError, Receipt};
use partners::protocol::ReverseRequest;
use partners::settlement::{
    DisputeRequest, ResolveRequest, StatementList, StatementView, VerifiedStatement, VerifyError,
    verify,
};
use test_support::app::unique_code;
use test_support::protocol::code;
use test_support::{TestApp, TestPartner};

const TEHRAN: chrono_tz::Tz = chrono_tz::Asia::Tehran;

/// Terms from two local days ago: 12.5 per point issued, 10 per point redeemed, daily, Tehran.
async fn set_terms(app: &TestApp, partner: &TestPartner, price: &str) {
    let today = Utc::now().with_timezone(&TEHRAN).date_naive();
    let new = NewTerms {
        currency: Currency::parse("IRR").unwrap(),
        price_per_point: terms::parse_rate("price", price).unwrap(),
        reimbursement_per_point: terms::parse_rate("reimbursement", "10").unwrap(),
        period: PeriodKind::Daily,
        time_zone: TEHRAN,
        starts_on: Some(today - chrono::Days::new(2)),
    };
    operations::settlement::terms::set(
        &app.storage,
        partner.partner.code.as_str(),
        new,
        Utc::now(),
    )
    .await
    .unwrap();
}

/// The end of today in Tehran plus the grace: today's period is due then.
fn after_today() -> DateTime<Utc> {
    PeriodKind::Daily.next_boundary(Utc::now(), TEHRAN) + Duration::minutes(11)
}

async fn operator(app: &TestApp, role: OperatorRole) -> Client {
    let key = app.operator_key("Test staff", role).await;
    app.client(&key).await
}

/// Earn 7 points, redeem 3, reverse 2 of the earn and 1 of the redemption, all today.
async fn a_day_of_traffic(partner: &TestPartner) -> (uuid::Uuid, uuid::Uuid) {
    let card = partner.member().await.card;
    let earn = partner.earn_points(&card, 7).await.transaction.id;
    let redeem = partner.redeem_points(&card, 3).await.transaction.id;
    for (id, points) in [(earn, 2), (redeem, 1)] {
        partner
            .client
            .reverse(
                &ReverseRequest {
                    transaction_id: id,
                    points: Some(points),
                    reference: Some(unique_code("return")),
                },
                &unique_code("reverse"),
            )
            .await
            .unwrap();
    }
    (earn, redeem)
}

/// The code a call is refused with.
fn refusal(result: Result<Receipt<serde_json::Value>, ClientError>) -> String {
    code(result.unwrap_err())
}

async fn verified_chain(
    partner: &TestPartner,
    keys: &partners::jwk::JwkSet,
) -> Vec<VerifiedStatement> {
    let list: StatementList = partner.client.statements().await.unwrap().body;
    let mut chain: Vec<VerifiedStatement> = Vec::new();
    for summary in &list.statements {
        let view = partner.client.statement(summary.id).await.unwrap().body;
        let lines = partner.client.statement_lines(summary.id).await.unwrap();
        let verified = verify(&view.jws.unwrap(), keys, &lines, chain.last()).unwrap();
        chain.push(verified);
    }
    chain
}

#[tokio::test]
async fn a_closed_day_is_a_signed_chained_statement_that_matches_the_ledger() {
    let app = TestApp::spawn().await;
    let partner = app.partner().with_default_rule().await;
    set_terms(&app, &partner, "12.5").await;
    a_day_of_traffic(&partner).await;

    // Today is still open: two empty days close; then today closes too.
    assert_eq!(app.settle(Utc::now()).await, 2);
    assert_eq!(app.settle(after_today()).await, 1);
    assert_eq!(
        app.settle(after_today()).await,
        0,
        "a closed period closes once"
    );

    let chain = verified_chain(&partner, &app.gateway_keys()).await;
    assert_eq!(chain.len(), 3);
    let today = &chain[2].statement;
    let total = |t: &str| {
        today
            .totals
            .iter()
            .find(|x| x.line_type == t)
            .unwrap()
            .clone()
    };
    // 7 × 12.5 = 87.5 → 88 (half to even); 2 × 12.5 = 25; 3 × 10 = 30; 1 × 10 = 10.
    assert_eq!(
        (
            total("earn").count,
            total("earn").points,
            total("earn").money_minor
        ),
        (1, 7, 88)
    );
    assert_eq!(total("earn_reversal").money_minor, -25);
    assert_eq!(total("redemption").money_minor, -30);
    assert_eq!(total("redemption_reversal").money_minor, 10);
    assert_eq!(today.issuance_charge_minor, 63);
    assert_eq!(today.redemption_credit_minor, 20);
    assert_eq!(
        (today.net_minor, today.net_direction.as_str()),
        (43, "partner_pays")
    );
    assert_eq!(today.period.end - today.period.start, Duration::days(1));
    assert_eq!(
        today
            .period
            .end
            .with_timezone(&TEHRAN)
            .format("%H:%M")
            .to_string(),
        "00:00"
    );

    // Regenerating from the ledger gives the same bytes; the chains link.
    assert!(check_statements(&app.storage).await.unwrap().is_empty());

    // Tampering with any byte of the lines or the statement is detected.
    let id = partner.client.statements().await.unwrap().body.statements[2].id;
    let view = partner.client.statement(id).await.unwrap().body;
    let jws = view.jws.clone().unwrap();
    let mut lines = partner.client.statement_lines(id).await.unwrap();
    let last = lines.len() - 3;
    lines[last] ^= 1;
    assert!(matches!(
        verify(&jws, &app.gateway_keys(), &lines, None),
        Err(VerifyError::LinesHash { .. })
    ));
    let good_lines = partner.client.statement_lines(id).await.unwrap();
    let mut forged = jws.clone().into_bytes();
    let middle = jws.find('.').unwrap() + 10;
    forged[middle] = if forged[middle] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert!(matches!(
        verify(&forged, &app.gateway_keys(), &good_lines, None),
        Err(VerifyError::Signature(_))
    ));

    // An independent JOSE implementation verifies the JWS with nothing but the JWKS.
    let python = std::env::var("INTEROP_PYTHON")
        .expect("INTEROP_PYTHON must name a Python with tests/interop/requirements.txt installed (make test does this)");
    let jwks_file = app.dir.join("jwks.json");
    let jws_file = app.dir.join("statement.jws");
    std::fs::write(&jwks_file, serde_json::to_vec(&app.gateway_keys()).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/jws_verify.py");
    let jwcrypto = |jws: &str| {
        std::fs::write(&jws_file, jws).unwrap();
        Command::new(&python)
            .arg(script)
            .arg(&jwks_file)
            .arg(&jws_file)
            .output()
            .unwrap()
    };
    let output = jwcrypto(&jws);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout, chain[2].payload);
    assert!(
        !jwcrypto(&forged).status.success(),
        "jwcrypto accepted a forged statement"
    );
}

#[tokio::test]
async fn a_resolved_dispute_adjusts_the_next_statement() {
    let app = TestApp::spawn().await;
    let partner = app.partner().with_default_rule().await;
    set_terms(&app, &partner, "12.5").await;
    let (earn, _) = a_day_of_traffic(&partner).await;
    app.settle(after_today()).await;
    let chain = verified_chain(&partner, &app.gateway_keys()).await;
    let statement_id = chain[2].statement.statement_id;
    let sha256 = chain[2].sha256.clone();

    // Another partner can neither read nor answer it.
    let stranger = app.partner().await;
    let refused = stranger.client.statement(statement_id).await.unwrap_err();
    assert_eq!(code(refused), "statement_not_found");
    let refused = stranger
        .client
        .acknowledge_statement(statement_id, &unique_code("ack"), &sha256)
        .await
        .unwrap_err();
    assert_eq!(code(refused), "statement_not_found");

    // A wrong hash is refused; a dispute of a line elsewhere too; then the dispute stands once.
    let wrong = partner
        .client
        .acknowledge_statement(statement_id, &unique_code("ack"), &"0".repeat(64))
        .await
        .unwrap_err();
    assert_eq!(code(wrong), "statement_hash_mismatch");
    let unreadable = DisputeRequest {
        statement_sha256: sha256.clone(),
        lines: vec![earn],
        reason: "never\u{0}stayed".into(),
    };
    let refused = partner
        .client
        .dispute_statement(statement_id, &unique_code("dispute"), &unreadable)
        .await
        .unwrap_err();
    assert_eq!(code(refused), "reason_invalid");
    let dispute = DisputeRequest {
        statement_sha256: sha256.clone(),
        lines: vec![earn],
        reason: "the guest never stayed".into(),
    };
    let key = unique_code("dispute");
    let first = partner
        .client
        .dispute_statement(statement_id, &key, &dispute)
        .await
        .unwrap();
    let retry = partner
        .client
        .dispute_statement(statement_id, &key, &dispute)
        .await
        .unwrap();
    assert!(retry.is_replay);
    assert_eq!(first.raw_body, retry.raw_body);
    let again = partner
        .client
        .acknowledge_statement(statement_id, &unique_code("ack"), &sha256)
        .await
        .unwrap_err();
    assert_eq!(code(again), "statement_already_answered");

    // Finance resolves it, accepting the line; the next statement reverses its money.
    let finance = operator(&app, OperatorRole::Finance).await;
    let resolution = ResolveRequest {
        accepted_lines: vec![earn],
        note: "no stay found in the hotel's records".into(),
    };
    let path = format!("/v1/operator/statements/{statement_id}/resolution");
    let first = finance
        .post::<_, serde_json::Value>(&path, &unique_code("resolve"), &resolution)
        .await
        .unwrap();
    // The same resolution again gets the first answer; another one is refused.
    let retry = finance
        .post::<_, serde_json::Value>(&path, &unique_code("resolve"), &resolution)
        .await
        .unwrap();
    assert!(retry.is_replay && !first.is_replay);
    assert_eq!(first.raw_body, retry.raw_body);
    let other = ResolveRequest {
        accepted_lines: Vec::new(),
        note: "changed our mind".into(),
    };
    let refused = finance
        .post::<_, serde_json::Value>(&path, &unique_code("resolve"), &other)
        .await
        .unwrap_err();
    assert_eq!(code(refused), "statement_already_resolved");
    let view: StatementView = finance
        .get(&format!("/v1/operator/statements/{statement_id}"))
        .await
        .unwrap()
        .body;
    assert_eq!(view.status, "resolved");
    app.settle(after_today() + Duration::days(1)).await;
    let chain = verified_chain(&partner, &app.gateway_keys()).await;
    let next = &chain[3].statement;
    let adjustment = next
        .totals
        .iter()
        .find(|t| t.line_type == "adjustment")
        .unwrap();
    assert_eq!(
        (adjustment.count, adjustment.points, adjustment.money_minor),
        (1, 7, -88)
    );
    assert_eq!(next.net_minor, -88);
    assert_eq!(next.opening_position_minor, 43);
    assert_eq!(next.closing_position_minor, -45);

    // The proof carries the partner's signed dispute, which verifies with its public key.
    let proof = statements::proof(
        &app.storage,
        &app.gateway_keys(),
        domain::ids::StatementId(statement_id),
    )
    .await
    .unwrap();
    let answer = &proof["answers"][0];
    assert_eq!(answer["kind"], "dispute");
    let signed = &answer["signed_request"];
    let mut message = partners::signatures::MessageParts::request(
        signed["method"].as_str().unwrap(),
        signed["scheme"].as_str().unwrap(),
        signed["authority"].as_str().unwrap(),
        signed["path"].as_str().unwrap(),
        signed["query"].as_str(),
    );
    for (name, value) in signed["headers"].as_object().unwrap() {
        message.add_header(name, value.as_str().unwrap());
    }
    let parsed = partners::signatures::parse(
        &message.header("signature-input").unwrap(),
        &message.header("signature").unwrap(),
    )
    .unwrap();
    let jwk: partners::jwk::Jwk = serde_json::from_value(answer["public_jwk"].clone()).unwrap();
    parsed[0]
        .verify(&message, &jwk.public_key().unwrap().key)
        .unwrap();
    partners::digest::verify(
        &message.header("content-digest").unwrap(),
        signed["body"].as_str().unwrap().as_bytes(),
    )
    .unwrap();
    assert!(check_statements(&app.storage).await.unwrap().is_empty());
}

#[tokio::test]
async fn operator_endpoints_take_operator_keys_of_the_right_role() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let finance = operator(&app, OperatorRole::Finance).await;
    let admin = operator(&app, OperatorRole::Admin).await;
    assert_eq!(
        refusal(partner.client.get("/v1/operator/statements").await),
        "operator_key_required"
    );
    assert_eq!(
        refusal(finance.get("/v1/statements").await),
        "partner_key_required"
    );
    assert_eq!(
        refusal(
            finance
                .post(
                    "/v1/operator/settlement/close",
                    &unique_code("close"),
                    &serde_json::json!({})
                )
                .await
        ),
        "role_not_granted"
    );
    assert_eq!(
        refusal(admin.get("/v1/operator/statements").await),
        "role_not_granted"
    );
    let terms_path = format!(
        "/v1/operator/partners/{}/terms",
        partner.partner.code.as_str()
    );
    assert_eq!(refusal(finance.get(&terms_path).await), "role_not_granted");
    // Each role reaches its own endpoints.
    assert!(
        finance
            .get::<serde_json::Value>("/v1/operator/statements")
            .await
            .is_ok()
    );
    assert!(admin.get::<serde_json::Value>(&terms_path).await.is_ok());
}

#[tokio::test]
async fn a_partner_funded_bonus_is_a_line_of_its_own_charged_at_the_partners_price() {
    let app = TestApp::spawn().await;
    let partner = app.partner().with_default_rule().await;
    set_terms(&app, &partner, "12.5").await;
    // A joint sign-up bonus: 101 points, half the partner's (51, with what rounding leaves),
    // half the operator's.
    let funding = serde_json::json!([
        {"funder": partner.partner.code.to_string(), "share": "0.5"},
        {"funder": "operator", "share": "0.5"},
    ]);
    app.program_rule(
        domain::program::rules::RuleKind::Bonus,
        "welcome",
        serde_json::json!({"occasion": "sign_up", "points": 101, "funding": funding}),
    )
    .await;
    let card = partner.member().await.card;
    partner.earn_points(&card, 7).await;

    assert_eq!(app.settle(after_today()).await, 3);
    let chain = verified_chain(&partner, &app.gateway_keys()).await;
    let today = &chain[2].statement;
    let total = |t: &str| today.totals.iter().find(|x| x.line_type == t).cloned();
    let bonus = total("bonus").expect("a bonus line");
    // 51 × 12.5 = 637.5 → 638 (half to even); with the earn's 88, the issuance charge.
    assert_eq!((bonus.count, bonus.points, bonus.money_minor), (1, 51, 638));
    assert_eq!(today.issuance_charge_minor, 88 + 638);
    let lines = String::from_utf8(
        partner
            .client
            .statement_lines(chain[2].statement.statement_id)
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        lines
            .lines()
            .any(|l| l.contains(",bonus,") && l.ends_with(",51,638")),
        "{lines}"
    );
    assert!(check_statements(&app.storage).await.unwrap().is_empty());
}
