//! Idempotency-Key semantics on POST: the first answer is replayed byte for byte,
//! another payload under the same key gets 422, a retry while in flight gets 409,
//! and a request that failed stays failed for its key.

use diesel_async::RunQueryDsl as _;
use partners::jwk::PrivateKey;
use test_support::{TestApp, TestPartner, key_registration_body};

async fn post_key(
    app: &TestApp,
    partner: &TestPartner,
    body: serde_json::Value,
    idempotency_key: &str,
) -> test_support::TestResponse {
    let draft = app.draft(
        &partner.key,
        "POST",
        "/v1/partner/keys",
        Some(body),
        Some(idempotency_key),
    );
    app.send(&draft, &partner.key).await
}

#[tokio::test]
async fn a_retry_gets_the_byte_identical_first_answer() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let body = key_registration_body("rotated-1");
    let first = post_key(&app, &partner, body.clone(), "rotate-1").await;
    assert_eq!(
        first.status,
        201,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    assert_eq!(first.header("idempotent-replayed"), None);
    let retry = post_key(&app, &partner, body, "rotate-1").await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.body, first.body, "the replay must be byte-identical");
    assert_eq!(retry.header("idempotent-replayed").as_deref(), Some("true"));
    retry.verify_receipt(&app.gateway_keys()).unwrap();
    assert_eq!(
        app.keys_with_id("rotated-1").await,
        1,
        "the retry must not register twice"
    );
}

#[tokio::test]
async fn the_same_key_with_another_payload_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    assert_eq!(
        post_key(
            &app,
            &partner,
            key_registration_body("first-payload"),
            "reuse-1"
        )
        .await
        .status,
        201
    );
    let res = post_key(
        &app,
        &partner,
        key_registration_body("second-payload"),
        "reuse-1",
    )
    .await;
    assert_eq!(res.status, 422);
    assert_eq!(res.error_code(), "idempotency_key_reused");
    assert_eq!(app.keys_with_id("second-payload").await, 0);
}

#[tokio::test]
async fn idempotency_keys_are_scoped_to_the_partner() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().await;
    let restaurant = app.partner().await;
    assert_eq!(
        post_key(
            &app,
            &hotel,
            key_registration_body("hotel-next"),
            "shared-key"
        )
        .await
        .status,
        201
    );
    let res = post_key(
        &app,
        &restaurant,
        key_registration_body("restaurant-next"),
        "shared-key",
    )
    .await;
    assert_eq!(res.status, 201, "another partner's key space is separate");
}

#[tokio::test]
async fn a_retry_while_the_first_is_in_flight_gets_409() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let body = key_registration_body("in-flight");
    // Another gateway instance holds the claim (as if mid-request): compute the same fingerprint.
    let draft = app.draft(
        &partner.key,
        "POST",
        "/v1/partner/keys",
        Some(body),
        Some("busy-1"),
    );
    let fingerprint = operations::idempotency::Scope::of_request(
        partner.partner.id,
        operations::idempotency::IdempotencyKey::parse("busy-1").unwrap(),
        "POST",
        "/v1/partner/keys",
        None,
        &draft.body,
    )
    .fingerprint;
    let mut conn = app.db.connect().await;
    diesel::sql_query(
        "INSERT INTO idempotency_records (partner_id, idempotency_key, request_fingerprint, state, lease_token, lease_expires_at) \
         VALUES ($1, 'busy-1', $2, 'in_flight', gen_random_uuid(), now() + interval '1 minute')",
    )
    .bind::<diesel::sql_types::Uuid, _>(partner.partner.id.0)
    .bind::<diesel::sql_types::Bytea, _>(fingerprint.to_vec())
    .execute(&mut conn)
    .await
    .unwrap();
    let res = app.send(&draft, &partner.key).await;
    assert_eq!(res.status, 409);
    assert_eq!(res.error_code(), "idempotency_request_in_flight");
    assert_eq!(app.keys_with_id("in-flight").await, 0);

    // Once the holder's lease has expired (it died), a retry with the same payload takes over.
    diesel::sql_query("UPDATE idempotency_records SET lease_expires_at = now() - interval '1 second' WHERE idempotency_key = 'busy-1'")
        .execute(&mut conn)
        .await
        .unwrap();
    let mut retry = draft.clone();
    retry.params.nonce = Some("takeover-nonce".into());
    let res = app.send(&retry, &partner.key).await;
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(app.keys_with_id("in-flight").await, 1);
}

#[tokio::test]
async fn a_failed_request_stays_failed_for_its_key() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let other = app.partner().await;
    // The key id is already taken by another partner: a business refusal, recorded.
    let taken = serde_json::json!({ "jwk": PrivateKey::generate(&other.key.kid).unwrap().public_key().to_jwk() });
    let first = post_key(&app, &partner, taken.clone(), "fails-1").await;
    assert_eq!(first.status, 409);
    assert_eq!(first.error_code(), "key_id_taken");
    // Free the key id; the same key must still answer with the first refusal.
    let mut conn = app.db.connect().await;
    diesel::sql_query("UPDATE partner_keys SET kid = kid || '-renamed' WHERE kid = $1")
        .bind::<diesel::sql_types::Text, _>(&other.key.kid)
        .execute(&mut conn)
        .await
        .unwrap();
    let retry = post_key(&app, &partner, taken, "fails-1").await;
    assert_eq!(retry.status, 409);
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.header("idempotent-replayed").as_deref(), Some("true"));
}

#[tokio::test]
async fn malformed_json_is_refused_and_not_recorded() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut draft = app.draft(
        &partner.key,
        "POST",
        "/v1/partner/keys",
        Some(serde_json::json!({})),
        Some("json-1"),
    );
    draft.body = b"{\"jwk\": ".to_vec();
    draft.set_header(
        "content-digest",
        &partners::digest::content_digest(&draft.body),
    );
    let res = app.send(&draft, &partner.key).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.error_code(), "malformed_json");
    // The corrected request may reuse the key: validation failures are not recorded.
    let res = post_key(
        &app,
        &partner,
        key_registration_body("after-typo"),
        "json-1",
    )
    .await;
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
}
