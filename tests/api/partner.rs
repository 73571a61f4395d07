//! `GET /v1/partner`, key rotation through `POST /v1/partner/keys`, and the JWKS.

use domain::partners::NewBranch;
use partners::client::ClientError;
use partners::jwk::PrivateKey;
use partners::protocol::{PartnerKind, RegisterKeyRequest};
use test_support::TestApp;
use test_support::protocol::problem;

#[tokio::test]
async fn whoami_returns_the_callers_profile_with_a_verified_receipt() {
    let app = TestApp::spawn().await;
    let partner = app.partner().kind(PartnerKind::Restaurant).await;
    let receipt = partner.client.whoami().await.unwrap();
    let profile = receipt.body;
    assert_eq!(profile.id, partner.partner.id.0);
    assert_eq!(profile.code, partner.partner.code.as_str());
    assert_eq!(profile.kind, PartnerKind::Restaurant);
    assert_eq!(profile.key_id, partner.key.kid);
    assert_eq!(profile.branches.len(), 1);
    assert_eq!(profile.branches[0].code, "main");
    assert_eq!(receipt.gateway_key_id, app.config.keys.current.kid);
}

#[tokio::test]
async fn a_branch_opened_after_a_whoami_shows_within_the_key_cache_lifetime() {
    // The profile is cached like the keys (1 s in tests): the first whoami fills the cache, and
    // the branch opened after it shows once the entry lapses.
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    assert_eq!(
        partner.client.whoami().await.unwrap().body.branches.len(),
        1
    );
    operations::partners::add_branch(
        &app.storage,
        partner.partner.code.as_str(),
        NewBranch::parse("airport", "Airport desk", Some("Shiraz")).unwrap(),
    )
    .await
    .unwrap();
    let client = &partner.client;
    let branches = test_support::eventually("the new branch", || async move {
        let branches = client.whoami().await.unwrap().body.branches;
        (branches.len() == 2).then_some(branches)
    })
    .await;
    assert!(branches.iter().any(|b| b.code == "airport"));
}

#[tokio::test]
async fn a_partner_opens_with_its_two_ledger_accounts_before_any_transfer() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let kinds: Vec<String> = app
        .partner_accounts(partner.partner.id)
        .await
        .into_iter()
        .map(|account| account.kind)
        .collect();
    assert_eq!(kinds, ["partner_issuance", "partner_redemption"]);
}

#[tokio::test]
async fn a_partner_sees_only_itself() {
    let app = TestApp::spawn().await;
    let hotel = app.partner().await;
    let restaurant = app.partner().await;
    assert_eq!(
        hotel.client.whoami().await.unwrap().body.id,
        hotel.partner.id.0
    );
    assert_eq!(
        restaurant.client.whoami().await.unwrap().body.id,
        restaurant.partner.id.0
    );
}

#[tokio::test]
async fn key_rotation_registers_the_next_key_and_both_work_until_the_old_is_revoked() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let next = PrivateKey::generate(&format!("{}-next", partner.key.kid)).unwrap();
    let receipt = partner
        .client
        .register_key(
            &RegisterKeyRequest {
                jwk: next.public_key().to_jwk(),
            },
            "rotate-next",
        )
        .await
        .unwrap();
    assert_eq!(receipt.status, 201);
    assert_eq!(receipt.body.key_id, next.kid);
    assert_eq!(receipt.body.status, "active");

    let next_client = app.client(&next).await;
    assert_eq!(next_client.whoami().await.unwrap().body.key_id, next.kid);
    assert_eq!(
        partner.client.whoami().await.unwrap().body.key_id,
        partner.key.kid
    );

    operations::keys::revoke(&app.storage, &partner.key.kid)
        .await
        .unwrap();
    let client = &partner.client;
    let problem = test_support::eventually("the revoked key's refusal", || async move {
        match client.whoami().await {
            Err(ClientError::Problem { problem }) => Some(problem),
            Ok(_) => None,
            Err(other) => panic!("unexpected error: {other}"),
        }
    })
    .await;
    assert_eq!(problem.code, "key_revoked");
    assert_eq!(next_client.whoami().await.unwrap().body.key_id, next.kid);
}

#[tokio::test]
async fn a_private_jwk_is_refused_for_registration() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let next = PrivateKey::generate("leaky").unwrap();
    let err = partner
        .client
        .register_key(&RegisterKeyRequest { jwk: next.to_jwk() }, "leak-1")
        .await
        .unwrap_err();
    let problem = problem(err);
    assert_eq!(problem.code, "invalid_key");
    assert_eq!(problem.status, 422);
}

#[tokio::test]
async fn a_non_ed25519_jwk_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut jwk = PrivateKey::generate("x25519")
        .unwrap()
        .public_key()
        .to_jwk();
    jwk.crv = "X25519".into();
    let err = partner
        .client
        .register_key(&RegisterKeyRequest { jwk }, "crv-1")
        .await
        .unwrap_err();
    let problem = problem(err);
    assert_eq!(problem.code, "invalid_key");
}

#[tokio::test]
async fn registering_a_public_key_twice_is_refused() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let mut jwk = partner.key.public_key().to_jwk();
    jwk.kid = Some("same-bytes-new-kid".into());
    let err = partner
        .client
        .register_key(&RegisterKeyRequest { jwk }, "dup-1")
        .await
        .unwrap_err();
    let problem = problem(err);
    assert_eq!(problem.code, "public_key_taken");
}

#[tokio::test]
async fn jwks_publishes_the_gateway_signing_key() {
    let app = TestApp::spawn().await;
    let res = app
        .send_raw("GET", "/.well-known/jwks.json", &[], Vec::new())
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("content-type").as_deref(),
        Some("application/jwk-set+json")
    );
    let set: partners::jwk::JwkSet = res.json();
    assert_eq!(set, app.gateway_keys());
    assert!(
        set.keys.iter().all(|k| k.d.is_none()),
        "no private key material may be published"
    );
    let key = set.find(&app.config.keys.current.kid).unwrap();
    assert_eq!(key.key, app.config.keys.current.key.verifying_key());
}

#[tokio::test]
async fn the_gateways_own_keys_and_key_ids_cannot_be_registered_by_anyone() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let gateway = app.gateway_keys().keys[0].clone();
    let gateway_kid = gateway.kid.clone().unwrap();

    // The gateway's public key under a new key id.
    let mut stolen = gateway.clone();
    stolen.kid = Some("not-the-gateway".into());
    let err = partner
        .client
        .register_key(&RegisterKeyRequest { jwk: stolen }, "own-1")
        .await
        .unwrap_err();
    assert_eq!(problem(err).code, "public_key_taken");

    // A key of the partner's own under the gateway's key id.
    let mut impostor = PrivateKey::generate("x").unwrap().public_key().to_jwk();
    impostor.kid = Some(gateway_kid.clone());
    let err = partner
        .client
        .register_key(
            &RegisterKeyRequest {
                jwk: impostor.clone(),
            },
            "own-2",
        )
        .await
        .unwrap_err();
    assert_eq!(problem(err).code, "key_id_taken");

    // Nor through the operator's tools.
    let public = impostor.public_key().unwrap();
    let refused = operations::keys::register_operator(
        &app.storage,
        &app.club.reserved_keys,
        "Finance",
        domain::keys::OperatorRole::Finance,
        &public,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            refused,
            operations::error::OperationError::Refused(domain::keys::KeyError::KeyIdTaken(ref kid))
                if *kid == gateway_kid
        ),
        "{refused}"
    );
}
