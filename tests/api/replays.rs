//! Answers recorded before outcomes were: a record that holds an HTTP status and body (written
//! by an earlier gateway) replays exactly that answer.

use diesel_async::RunQueryDsl as _;
use test_support::{TestApp, key_registration_body};

#[tokio::test]
async fn an_answer_recorded_before_outcomes_replays_as_it_was() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let draft = app.draft(
        &partner.key,
        "POST",
        "/v1/partner/keys",
        Some(key_registration_body("legacy")),
        Some("legacy-1"),
    );
    let fingerprint = operations::idempotency::Scope::of_request(
        partner.partner.id,
        operations::idempotency::IdempotencyKey::parse("legacy-1").unwrap(),
        "POST",
        "/v1/partner/keys",
        None,
        &draft.body,
    )
    .fingerprint;
    let recorded = br#"{"key_id":"legacy","status":"active"}"#;
    diesel::sql_query(
        "INSERT INTO idempotency_records \
             (partner_id, idempotency_key, request_fingerprint, state, response_status, response_body, completed_at) \
         VALUES ($1, 'legacy-1', $2, 'completed', 201, $3, now())",
    )
    .bind::<diesel::sql_types::Uuid, _>(partner.partner.id.0)
    .bind::<diesel::sql_types::Bytea, _>(fingerprint.to_vec())
    .bind::<diesel::sql_types::Bytea, _>(recorded.to_vec())
    .execute(&mut app.db.connect().await)
    .await
    .unwrap();

    let res = app.send(&draft, &partner.key).await;
    assert_eq!(res.status, 201);
    assert_eq!(res.body, recorded);
    assert!(
        res.headers
            .iter()
            .any(|(name, value)| name == "idempotent-replayed" && value == "true")
    );
}
