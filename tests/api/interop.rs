//! An independent RFC 9421 implementation (Python's http-message-signatures) signs
//! requests the gateway accepts, and verifies the gateway's receipts.

use std::process::Command;

use partners::jwk::PrivateKey;
use test_support::TestApp;

#[tokio::test]
async fn an_independent_rfc9421_implementation_interoperates() {
    let app = TestApp::spawn().await;
    let partner = app.partner().await;
    let key_file = app.dir.join("partner.jwk");
    std::fs::write(
        &key_file,
        serde_json::to_vec(&partner.key.to_jwk()).unwrap(),
    )
    .unwrap();
    let next = PrivateKey::generate("python-registered").unwrap();
    let next_file = app.dir.join("next.pub.jwk");
    std::fs::write(
        &next_file,
        serde_json::to_vec(&next.public_key().to_jwk()).unwrap(),
    )
    .unwrap();
    let ca_file = app.dir.join("ca.pem");
    std::fs::write(&ca_file, &app.ca_pem).unwrap();

    let python = std::env::var("INTEROP_PYTHON")
        .expect("INTEROP_PYTHON must name a Python with tests/interop/requirements.txt installed (make test does this)");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/rfc9421_client.py");
    let output = tokio::task::spawn_blocking({
        let address = app.address.clone();
        move || {
            Command::new(python)
                .arg(script)
                .args(["--base-url", &address])
                .arg("--key")
                .arg(&key_file)
                .arg("--ca")
                .arg(&ca_file)
                .arg("--new-key")
                .arg(&next_file)
                .output()
                .expect("cannot run the interop client")
        }
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "interop client failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["whoami_status"], 200);
    assert_eq!(report["whoami"]["id"], partner.partner.id.0.to_string());
    assert_eq!(report["register_status"], 201);
    assert_eq!(report["registered"]["key_id"], "python-registered");
    assert_eq!(report["receipts_verified"], 2);
    // The key registered by the Python partner now signs for it through our own client.
    assert_eq!(
        app.client(&next).await.whoami().await.unwrap().body.key_id,
        "python-registered"
    );
}
