//! Every way a request signature can be refused has its own code, and every
//! refusal is itself a signed receipt.

use partners::signatures::Component;
use test_support::{Draft, TestApp, TestConfig, TestPartner, TestResponse};

fn assert_refused(app: &TestApp, res: &TestResponse, status: u16, code: &str) {
    assert_eq!(res.status, status, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.error_code(), code);
    res.verify_receipt(&app.gateway_keys())
        .unwrap_or_else(|e| panic!("refusal {code} is not a valid receipt: {e}"));
}

async fn whoami_draft(app: &TestApp, partner: &TestPartner) -> Draft {
    app.draft(&partner.key, "GET", "/v1/partner", None, None)
}

#[tokio::test]
async fn a_well_formed_request_is_accepted_and_its_receipt_verifies() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let res = app
        .send(&whoami_draft(&app, &partner).await, &partner.key)
        .await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let kid = res.verify_receipt(&app.gateway_keys()).unwrap();
    assert_eq!(kid, app.config.keys.current.kid);
}

#[tokio::test]
async fn missing_signature_is_refused() {
    let app = TestApp::spawn().await;
    let res = app.send_raw("GET", "/v1/partner", &[], Vec::new()).await;
    assert_refused(&app, &res, 401, "signature_missing");
}

#[tokio::test]
async fn malformed_signature_headers_are_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    for (input, signature) in [
        (
            Some("sig1=not-a-list".to_owned()),
            Some("sig1=:AAAA:".to_owned()),
        ),
        (Some("sig1=(\"@method\");created=1".to_owned()), None),
        (
            Some("sig1=(\"@method\")".to_owned()),
            Some("other=:AAAA:".to_owned()),
        ),
        (Some("((((".to_owned()), Some("sig1=:AAAA:".to_owned())),
    ] {
        let mut draft = whoami_draft(&app, &partner).await;
        draft.signature_headers_override = Some((input, signature));
        let res = app.send(&draft, &partner.key).await.without_request_nonce();
        assert_refused(&app, &res, 400, "signature_malformed");
    }
}

#[tokio::test]
async fn two_signatures_on_one_request_are_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut draft = whoami_draft(&app, &partner).await;
    draft.signature_headers_override = Some((
        Some("a=(\"@method\");created=1, b=(\"@method\");created=1".into()),
        Some("a=:AAAA:, b=:AAAA:".into()),
    ));
    let res = app.send(&draft, &partner.key).await.without_request_nonce();
    assert_refused(&app, &res, 400, "signature_malformed");
}

#[tokio::test]
async fn wrong_signature_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    // Signed by a key that is not the one named in keyid.
    let impostor = partners::jwk::PrivateKey::generate("impostor").unwrap();
    let draft = whoami_draft(&app, &partner).await;
    let res = app.send(&draft, &impostor).await;
    assert_refused(&app, &res, 401, "signature_invalid");
}

#[tokio::test]
async fn tampered_body_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut draft = app.key_registration_draft(&partner.key, "tamper-1");
    let mut tampered = draft.body.clone();
    tampered.extend_from_slice(b" ");
    draft.sent_body = Some(tampered);
    let res = app.send(&draft, &partner.key).await;
    assert_refused(&app, &res, 400, "content_digest_mismatch");
}

#[tokio::test]
async fn wrong_digest_is_refused_even_when_signed() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut draft = app.key_registration_draft(&partner.key, "digest-1");
    draft.set_header(
        "content-digest",
        &partners::digest::content_digest(b"something else"),
    );
    let res = app.send(&draft, &partner.key).await;
    assert_refused(&app, &res, 400, "content_digest_mismatch");
}

#[tokio::test]
async fn missing_digest_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut draft = app.key_registration_draft(&partner.key, "digest-2");
    draft.remove_header("content-digest");
    draft.uncover("content-digest");
    let res = app.send(&draft, &partner.key).await;
    assert_refused(&app, &res, 400, "content_digest_missing");
}

#[tokio::test]
async fn malformed_digest_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut draft = app.key_registration_draft(&partner.key, "digest-3");
    draft.set_header("content-digest", "md5=:AAAA:");
    let res = app.send(&draft, &partner.key).await;
    assert_refused(&app, &res, 400, "content_digest_malformed");
}

#[tokio::test]
async fn created_too_old_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut draft = whoami_draft(&app, &partner).await;
    draft.params.created = Some(draft.params.created.unwrap() - 301);
    let res = app.send(&draft, &partner.key).await;
    assert_refused(&app, &res, 401, "signature_too_old");
}

#[tokio::test]
async fn created_in_the_future_is_refused_beyond_the_skew() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut within = whoami_draft(&app, &partner).await;
    within.params.created = Some(within.params.created.unwrap() + 5);
    assert_eq!(
        app.send(&within, &partner.key).await.status,
        200,
        "5 s ahead is within the 10 s skew"
    );
    let mut draft = whoami_draft(&app, &partner).await;
    draft.params.created = Some(draft.params.created.unwrap() + 60);
    let res = app.send(&draft, &partner.key).await;
    assert_refused(&app, &res, 401, "signature_from_future");
}

#[tokio::test]
async fn passed_expires_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut draft = whoami_draft(&app, &partner).await;
    draft.params.expires = Some(draft.params.created.unwrap() - 1);
    let res = app.send(&draft, &partner.key).await;
    assert_refused(&app, &res, 401, "signature_expired");
    let mut valid = whoami_draft(&app, &partner).await;
    valid.params.expires = Some(valid.params.created.unwrap() + 60);
    assert_eq!(app.send(&valid, &partner.key).await.status, 200);
}

#[tokio::test]
async fn replayed_nonce_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let draft = whoami_draft(&app, &partner).await;
    assert_eq!(app.send(&draft, &partner.key).await.status, 200);
    let res = app.send(&draft, &partner.key).await;
    assert_refused(&app, &res, 401, "signature_replayed");
}

#[tokio::test]
async fn a_forged_request_does_not_burn_the_nonce() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let impostor = partners::jwk::PrivateKey::generate("impostor").unwrap();
    let draft = whoami_draft(&app, &partner).await;
    assert_eq!(
        app.send(&draft, &impostor).await.error_code(),
        "signature_invalid"
    );
    assert_eq!(app.send(&draft, &partner.key).await.status, 200);
}

#[tokio::test]
async fn unknown_key_is_refused() {
    let app = TestApp::spawn().await;
    let stranger = partners::jwk::PrivateKey::generate("never-registered").unwrap();
    let draft = app.draft(&stranger, "GET", "/v1/partner", None, None);
    let res = app.send(&draft, &stranger).await;
    assert_refused(&app, &res, 401, "key_unknown");
}

#[tokio::test]
async fn revoked_key_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    operations::keys::revoke(&app.storage, &partner.key.kid)
        .await
        .unwrap();
    // The key cache holds a looked-up key for its TTL; this key was never looked up.
    let res = app
        .send(&whoami_draft(&app, &partner).await, &partner.key)
        .await;
    assert_refused(&app, &res, 401, "key_revoked");
}

#[tokio::test]
async fn revocation_takes_effect_after_the_key_cache_ttl() {
    let app = TestApp::spawn_with(TestConfig {
        key_cache_ttl: std::time::Duration::from_secs(1),
        ..TestConfig::default()
    })
    .await;
    let partner = app.partner().await;
    assert_eq!(
        app.send(&whoami_draft(&app, &partner).await, &partner.key)
            .await
            .status,
        200
    );
    operations::keys::revoke(&app.storage, &partner.key.kid)
        .await
        .unwrap();
    // The refusal must come within the TTL (plus slack).
    let refused = test_support::eventually("the revoked key's refusal", || async {
        let res = app
            .send(&whoami_draft(&app, &partner).await, &partner.key)
            .await;
        (res.status == 401).then_some(res)
    })
    .await;
    assert_eq!(refused.error_code(), "key_revoked");
}

#[tokio::test]
async fn suspended_partner_is_refused() {
    use diesel_async::RunQueryDsl as _;
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut conn = app.db.connect().await;
    diesel::sql_query("UPDATE partners SET status = 'suspended' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(partner.partner.id.0)
        .execute(&mut conn)
        .await
        .unwrap();
    let res = app
        .send(&whoami_draft(&app, &partner).await, &partner.key)
        .await;
    assert_refused(&app, &res, 403, "partner_suspended");
}

#[tokio::test]
async fn each_required_component_must_be_covered() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    for name in ["@method", "@authority", "@path"] {
        let mut draft = whoami_draft(&app, &partner).await;
        draft.uncover(name);
        let res = app.send(&draft, &partner.key).await;
        assert_refused(&app, &res, 400, "signature_component_not_covered");
    }
    let mut with_query = app.draft(&partner.key, "GET", "/v1/partner?verbose=1", None, None);
    with_query.uncover("@query");
    let res = app.send(&with_query, &partner.key).await;
    assert_refused(&app, &res, 400, "signature_component_not_covered");
    for name in ["content-digest", "idempotency-key"] {
        let mut draft = app.key_registration_draft(&partner.key, "cover-1");
        draft.uncover(name);
        let res = app.send(&draft, &partner.key).await;
        assert_refused(&app, &res, 400, "signature_component_not_covered");
    }
}

#[tokio::test]
async fn a_covered_query_is_accepted() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let draft = app.draft(&partner.key, "GET", "/v1/partner?verbose=1", None, None);
    assert!(draft.components.contains(&Component::Query));
    assert_eq!(app.send(&draft, &partner.key).await.status, 200);
}

#[tokio::test]
async fn post_without_idempotency_key_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut draft = app.draft(
        &partner.key,
        "POST",
        "/v1/partner/keys",
        Some(test_support::key_registration_body("next-key")),
        None,
    );
    draft.uncover("idempotency-key");
    let res = app.send(&draft, &partner.key).await;
    assert_refused(&app, &res, 400, "idempotency_key_missing");
}

#[tokio::test]
async fn overlong_idempotency_key_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let key = "k".repeat(256);
    let draft = app.key_registration_draft(&partner.key, &key);
    let res = app.send(&draft, &partner.key).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.error_code(), "idempotency_key_invalid");
}

#[tokio::test]
async fn missing_signature_parameters_are_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    for param in ["created", "nonce", "keyid"] {
        let mut draft = whoami_draft(&app, &partner).await;
        match param {
            "created" => draft.params.created = None,
            "nonce" => draft.params.nonce = None,
            _ => draft.params.keyid = None,
        }
        let res = app.send(&draft, &partner.key).await;
        assert_refused(&app, &res, 400, "signature_parameter_missing");
    }
}

#[tokio::test]
async fn another_algorithm_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut draft = whoami_draft(&app, &partner).await;
    draft.params.alg = Some("hmac-sha256".into());
    let res = app.send(&draft, &partner.key).await;
    assert_refused(&app, &res, 400, "signature_algorithm_unsupported");
    let mut without_alg = whoami_draft(&app, &partner).await;
    without_alg.params.alg = None;
    assert_eq!(
        app.send(&without_alg, &partner.key).await.status,
        200,
        "alg is optional"
    );
}

#[tokio::test]
async fn any_label_is_accepted() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut draft = whoami_draft(&app, &partner).await;
    draft.label = "till-7".into();
    assert_eq!(app.send(&draft, &partner.key).await.status, 200);
}
