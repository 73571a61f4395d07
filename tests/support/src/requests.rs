//! Hand-made signed requests, so tests can break one rule at a time.
//!
//! A [`Draft`] starts out exactly as the partner client would send it; a test
//! changes one field (drop a covered component, age `created`, tamper the body
//! after signing) and sends it with [`TestApp::send`].

use partners::client::{ExpectedReceipt, ReceiptError, verify_receipt};
use partners::jwk::{JwkSet, PrivateKey};
use partners::protocol;
use partners::signatures::{self, Component, MessageParts, SignatureParams};
use serde::de::DeserializeOwned;

use crate::app::TestApp;

/// A request to sign and send.
#[derive(Debug, Clone)]
pub struct Draft {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The body the signature's digest vouches for.
    pub body: Vec<u8>,
    /// Header fields sent (and available to the signature).
    pub headers: Vec<(String, String)>,
    pub components: Vec<Component>,
    pub params: SignatureParams,
    pub label: String,
    /// Send this body instead of the signed one (tampering in transit).
    pub sent_body: Option<Vec<u8>>,
    /// Header fields removed after signing.
    pub removed_after_signing: Vec<String>,
    /// Replace the `Signature-Input` / `Signature` values after signing.
    pub signature_headers_override: Option<(Option<String>, Option<String>)>,
}

impl Draft {
    /// Sets (or replaces) a header field.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
    }

    /// Removes a header field before signing.
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Stops covering `name` (a component name such as `"@path"` or `"content-digest"`).
    pub fn uncover(&mut self, name: &str) {
        self.components.retain(|c| c.name() != name);
    }
}

/// A response as received, with what is needed to check its receipt.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    request_nonce: Option<String>,
    request_idempotency_key: Option<String>,
}

impl TestResponse {
    /// A header value (fields of the same name combined).
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not the expected JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `code` of a problem+json body.
    pub fn error_code(&self) -> String {
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "not a problem document: {} {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self.json::<protocol::Problem>().code
    }

    /// For requests whose signature headers the gateway could not parse: their receipt
    /// cannot echo a nonce.
    pub fn without_request_nonce(mut self) -> Self {
        self.request_nonce = None;
        self
    }

    /// Verifies the gateway's receipt signature, tied to the request it answers.
    pub fn verify_receipt(&self, gateway_keys: &JwkSet) -> Result<String, ReceiptError> {
        let mut parts = MessageParts::response(self.status);
        for (name, value) in &self.headers {
            parts.add_header(name, value);
        }
        verify_receipt(
            &parts,
            &self.body,
            gateway_keys,
            &ExpectedReceipt {
                idempotency_key: self.request_idempotency_key.as_deref(),
                request_nonce: self.request_nonce.as_deref(),
            },
        )
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The body of `POST /v1/partner/keys` for a fresh public key with this key id.
pub fn key_registration_body(kid: &str) -> serde_json::Value {
    let key = PrivateKey::generate(kid).unwrap_or_else(|e| panic!("{e}"));
    serde_json::json!({ "jwk": key.public_key().to_jwk() })
}

impl TestApp {
    /// A well-formed `POST /v1/partner/keys` draft registering a fresh key.
    pub fn key_registration_draft(&self, key: &PrivateKey, idempotency_key: &str) -> Draft {
        self.draft(
            key,
            "POST",
            "/v1/partner/keys",
            Some(key_registration_body("next-key")),
            Some(idempotency_key),
        )
    }

    /// A well-formed draft, signed as the v1 profile requires.
    pub fn draft(
        &self,
        key: &PrivateKey,
        method: &str,
        path_and_query: &str,
        body: Option<serde_json::Value>,
        idempotency_key: Option<&str>,
    ) -> Draft {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (path_and_query.to_owned(), None),
        };
        let body = body
            .map(|b| serde_json::to_vec(&b).unwrap_or_default())
            .unwrap_or_default();
        let mut headers = Vec::new();
        if !body.is_empty() {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
            headers.push((
                "content-digest".to_owned(),
                partners::digest::content_digest(&body),
            ));
        }
        if let Some(k) = idempotency_key {
            headers.push((protocol::IDEMPOTENCY_KEY.to_owned(), k.to_owned()));
        }
        Draft {
            components: protocol::required_request_components(
                method,
                query.is_some(),
                !body.is_empty(),
            ),
            method: method.to_owned(),
            path,
            query,
            body,
            headers,
            params: SignatureParams {
                created: Some(unix_now()),
                nonce: Some(signatures::new_nonce()),
                alg: Some(protocol::ALGORITHM.into()),
                keyid: Some(key.kid.clone()),
                ..SignatureParams::default()
            },
            label: "sig1".to_owned(),
            sent_body: None,
            removed_after_signing: Vec::new(),
            signature_headers_override: None,
        }
    }

    /// Signs `draft` with `key` and sends it.
    pub async fn send(&self, draft: &Draft, key: &PrivateKey) -> TestResponse {
        self.send_to(&self.address, draft, key).await
    }

    /// Signs `draft` with `key` for this gateway's authority, as a load balancer's clients
    /// would, and sends it to the instance at `address` (byte-identical to [`Self::send`]'s).
    pub async fn send_to(&self, address: &str, draft: &Draft, key: &PrivateKey) -> TestResponse {
        let authority = format!("127.0.0.1:{}", self.port);
        let scheme = self.address.split("://").next().unwrap_or("https");
        let mut message = MessageParts::request(
            &draft.method,
            scheme,
            &authority,
            &draft.path,
            draft.query.as_deref(),
        );
        for (name, value) in &draft.headers {
            message.add_header(name, value);
        }
        let signed = signatures::sign(
            &message,
            &draft.label,
            &draft.components,
            &draft.params,
            &key.key,
        )
        .unwrap_or_else(|e| panic!("signing the draft: {e}"));
        let (input, signature) = match &draft.signature_headers_override {
            Some((input, signature)) => (input.clone(), signature.clone()),
            None => (Some(signed.signature_input), Some(signed.signature)),
        };
        let mut headers: Vec<(String, String)> = draft
            .headers
            .iter()
            .filter(|(n, _)| !draft.removed_after_signing.contains(n))
            .cloned()
            .collect();
        headers.extend(input.map(|v| ("signature-input".to_owned(), v)));
        headers.extend(signature.map(|v| ("signature".to_owned(), v)));
        let body = draft
            .sent_body
            .clone()
            .unwrap_or_else(|| draft.body.clone());
        let path = match &draft.query {
            Some(q) => format!("{}?{q}", draft.path),
            None => draft.path.clone(),
        };
        if address != self.address {
            headers.push(("host".to_owned(), authority));
        }
        let mut response = self
            .send_raw_to(address, &draft.method, &path, &headers, body)
            .await;
        response.request_nonce = draft.params.nonce.clone();
        response.request_idempotency_key = draft
            .headers
            .iter()
            .find(|(n, _)| n == protocol::IDEMPOTENCY_KEY)
            .map(|(_, v)| v.clone());
        response
    }

    /// Sends a request exactly as given (no signature added).
    pub async fn send_raw(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> TestResponse {
        self.send_raw_to(&self.address, method, path_and_query, headers, body)
            .await
    }

    async fn send_raw_to(
        &self,
        address: &str,
        method: &str,
        path_and_query: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> TestResponse {
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let mut request = self
            .http
            .request(method, format!("{address}{path_and_query}"));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if !body.is_empty() {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("request failed: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
            request_nonce: None,
            request_idempotency_key: None,
        }
    }
}
