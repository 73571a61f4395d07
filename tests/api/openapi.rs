//! The OpenAPI document covers every route, and every documented route is served.

use test_support::TestApp;

#[tokio::test]
async fn every_documented_route_is_served_and_every_route_is_documented() {
    let app = TestApp::spawn().await;
    let res = app.send_raw("GET", "/openapi.json", &[], Vec::new()).await;
    assert_eq!(res.status, 200);
    let doc: serde_json::Value = res.json();
    let paths = doc["paths"].as_object().expect("paths");
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let expected = [
        ("GET", "/.well-known/jwks.json"),
        ("GET", "/health"),
        ("GET", "/metrics"),
        ("GET", "/ready"),
        ("GET", "/v1/cards/{number}"),
        ("GET", "/v1/operator/partners/{code}/terms"),
        ("GET", "/v1/operator/position"),
        ("GET", "/v1/operator/program/campaigns/{code}/dry-run"),
        ("GET", "/v1/operator/program/rules"),
        ("GET", "/v1/operator/program/rules/{kind}/{code}"),
        ("GET", "/v1/operator/statements"),
        ("GET", "/v1/operator/statements/{id}"),
        ("GET", "/v1/operator/statements/{id}/lines"),
        ("GET", "/v1/partner"),
        ("GET", "/v1/quote"),
        ("GET", "/v1/statements"),
        ("GET", "/v1/statements/{id}"),
        ("GET", "/v1/statements/{id}/lines"),
        ("GET", "/v1/transactions"),
        ("POST", "/v1/earns"),
        ("POST", "/v1/earns/{id}/post"),
        ("POST", "/v1/earns/{id}/void"),
        ("POST", "/v1/events"),
        ("POST", "/v1/members"),
        ("POST", "/v1/operator/partners/{code}/terms"),
        ("POST", "/v1/operator/program/rules/{kind}/{code}"),
        ("POST", "/v1/operator/reconciliations"),
        ("POST", "/v1/operator/settlement/close"),
        ("POST", "/v1/operator/statements/{id}/resolution"),
        ("POST", "/v1/partner/keys"),
        ("POST", "/v1/redemptions"),
        ("POST", "/v1/redemptions/{id}/capture"),
        ("POST", "/v1/redemptions/{id}/void"),
        ("POST", "/v1/reversals"),
        ("POST", "/v1/statements/{id}/acknowledgement"),
        ("POST", "/v1/statements/{id}/dispute"),
    ];
    assert_eq!(
        documented,
        expected
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect::<Vec<_>>(),
        "a route was added or removed: update this list and docs/"
    );
    for (method, path) in &documented {
        let path = path
            .replace("{number}", "6037000000000000")
            .replace("{code}", "azadi-hotel")
            .replace("{id}", "0196c3f0-0000-7000-8000-000000000000");
        let res = app.send_raw(method, &path, &[], Vec::new()).await;
        assert_ne!(
            res.status, 404,
            "{method} {path} is documented but not served"
        );
        res.verify_receipt(&app.gateway_keys()).unwrap();
    }
    let unknown = app.send_raw("GET", "/v1/nowhere", &[], Vec::new()).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.error_code(), "route_not_found");
    // Malformed path and query parameters get problem documents too, never a bare 404 or 400.
    let partner = app.partner().await;
    let draft = app.draft(
        &partner.key,
        "POST",
        "/v1/earns/not-a-uuid/post",
        None,
        Some("bad-id"),
    );
    let bad_id = app.send(&draft, &partner.key).await;
    assert_eq!(
        (bad_id.status, bad_id.error_code().as_str()),
        (422, "invalid_request")
    );
    let draft = app.draft(
        &partner.key,
        "GET",
        "/v1/transactions?limit=many",
        None,
        None,
    );
    let bad_query = app.send(&draft, &partner.key).await;
    assert_eq!(
        (bad_query.status, bad_query.error_code().as_str()),
        (422, "invalid_request")
    );
}
