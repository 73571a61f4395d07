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
        ("GET", "/ready"),
        ("GET", "/v1/partner"),
        ("POST", "/v1/partner/keys"),
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
        let res = app.send_raw(method, path, &[], Vec::new()).await;
        assert_ne!(
            res.status, 404,
            "{method} {path} is documented but not served"
        );
        res.verify_receipt(&app.gateway_keys()).unwrap();
    }
    let unknown = app.send_raw("GET", "/v1/nowhere", &[], Vec::new()).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.error_code(), "route_not_found");
}
