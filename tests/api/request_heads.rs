//! Requests the HTTP/1 parser refuses before any handler runs: a head that does not parse, one
//! too large, one too slow. Each is still a problem document with its own code, over real TLS.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use test_support::{TestApp, TestConfig};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A TLS connection to the test gateway, trusting its development CA.
async fn connect(app: &TestApp) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&app.ca_pem) {
        roots.add(certificate.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    TlsConnector::from(Arc::new(tls))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// The answer to `head` (written whole, or as far as the gateway reads it): status, headers and
/// body, read until the gateway closes the connection.
async fn answer_to(app: &TestApp, head: &[u8]) -> (u16, String, serde_json::Value) {
    let (mut reader, mut writer) = tokio::io::split(connect(app).await);
    let head = head.to_vec();
    // The gateway may answer and close before reading everything: a failed write is expected.
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&head).await;
        writer
    });
    let mut answer = Vec::new();
    let _ = reader.read_to_end(&mut answer).await;
    drop(writing.await);
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{answer:?}"));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}")),
    )
}

fn assert_problem(answer: &(u16, String, serde_json::Value), status: u16, code: &str) {
    let (got, head, problem) = answer;
    assert_eq!(*got, status, "{head}");
    assert!(
        head.contains("content-type: application/problem+json"),
        "{head}"
    );
    assert_eq!(problem["code"], code);
    assert_eq!(problem["status"], status);
    assert_eq!(problem["type"], format!("urn:clubgate:error:{code}"));
}

#[tokio::test]
async fn a_head_that_does_not_parse_is_a_problem_document() {
    let app = TestApp::spawn().await;
    for head in [
        &b"POST /v1/earns HTTP/1.1\r\nHost: localhost\r\nIdempotency-Key: a\x01b\r\n\r\n"[..],
        b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Note: a\x00b\r\n\r\n",
        b"GET /health\x07 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ] {
        assert_problem(&answer_to(&app, head).await, 400, "request_head_malformed");
    }
}

#[tokio::test]
async fn a_head_too_large_is_a_problem_document() {
    let app = TestApp::spawn().await;
    let many_fields: String = (0..120).map(|i| format!("X-Field-{i}: v\r\n")).collect();
    let long_field = format!("X-Long: {}\r\n", "a".repeat(200 * 1024));
    for fields in [many_fields, long_field] {
        let head = format!("GET /health HTTP/1.1\r\nHost: localhost\r\n{fields}\r\n");
        assert_problem(
            &answer_to(&app, head.as_bytes()).await,
            431,
            "request_head_too_large",
        );
    }
}

#[tokio::test]
async fn a_head_that_never_ends_times_out_with_a_problem_document() {
    let app = TestApp::spawn_with(TestConfig {
        request_head_timeout: Duration::from_millis(200),
        ..TestConfig::default()
    })
    .await;
    let unfinished = b"GET /health HTTP/1.1\r\nHost: localhost\r\n";
    assert_problem(
        &answer_to(&app, unfinished).await,
        408,
        "request_head_timeout",
    );
}
