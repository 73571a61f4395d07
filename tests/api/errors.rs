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
async fn a_body_with_a_content_encoding_is_refused_before_anything_decodes_it() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    // Unsigned, and not even gzip: refused for the encoding, nothing is read.
    let headers = [("content-encoding".to_owned(), "gzip".to_owned())];
    let res = app
        .send_raw(
            "POST",
            "/v1/partner/keys",
            &headers,
            b"this is not gzip".to_vec(),
        )
        .await;
    assert_eq!(res.status, 415);
    assert_eq!(res.error_code(), "content_encoding_unsupported");
    // Signed, with the digest of the bytes as sent: still refused, whatever the coding.
    let mut draft = app.key_registration_draft(&partner.key, "gzip-1");
    draft.set_header("content-encoding", "deflate");
    let res = app.send(&draft, &partner.key).await;
    assert_eq!(res.status, 415);
    assert_eq!(res.error_code(), "content_encoding_unsupported");
    let mut draft = app.key_registration_draft(&partner.key, "identity-1");
    draft.set_header("content-encoding", "identity");
    assert_eq!(app.send(&draft, &partner.key).await.status, 201);
}

#[tokio::test]
async fn a_json_body_must_say_it_is_json() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut draft = app.key_registration_draft(&partner.key, &format!("ct-{content_type:?}"));
        match content_type {
            Some(value) => draft.set_header("content-type", value),
            None => draft.remove_header("content-type"),
        }
        let res = app.send(&draft, &partner.key).await;
        assert_eq!(res.status, 415, "{content_type:?}");
        assert_eq!(res.error_code(), "content_type_unsupported");
    }
    let mut draft = app.key_registration_draft(&partner.key, "ct-charset");
    draft.set_header("content-type", "Application/JSON; charset=utf-8");
    assert_eq!(app.send(&draft, &partner.key).await.status, 201);
}
