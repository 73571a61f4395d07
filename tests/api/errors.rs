//! Problem documents for requests that never reach a handler's logic.

use test_support::TestApp;

#[tokio::test]
async fn an_oversized_body_is_refused_with_its_own_code() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let big = serde_json::json!({ "jwk": { "kty": "OKP", "padding": "x".repeat(70_000) } });
    let draft = app.draft(
        &partner.key,
        "POST",
        "/v1/partner/keys",
        Some(big),
        Some("big-1"),
    );
    let res = app.send(&draft, &partner.key).await;
    assert_eq!(res.status, 413);
    assert_eq!(res.error_code(), "payload_too_large");
}

#[tokio::test]
async fn problem_documents_follow_rfc9457() {
    let app = TestApp::spawn().await;
    let res = app.send_raw("GET", "/v1/partner", &[], Vec::new()).await;
    let problem: serde_json::Value = res.json();
    assert_eq!(problem["status"], 401);
    assert_eq!(problem["code"], "signature_missing");
    assert_eq!(problem["type"], "urn:clubgate:error:signature_missing");
    assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(problem["detail"].as_str().is_some_and(|t| !t.is_empty()));
}

#[tokio::test]
async fn a_body_that_cannot_be_decoded_is_refused_with_its_own_code() {
    let app = TestApp::spawn().await;
    let headers = [("content-encoding".to_owned(), "gzip".to_owned())];
    let res = app
        .send_raw(
            "POST",
            "/v1/partner/keys",
            &headers,
            b"this is not gzip".to_vec(),
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.error_code(), "body_unreadable");
}
