//! A typed async client for the partner API.
//!
//! Every request is signed under the v1 profile (RFC 9421, `ed25519`, with
//! `created` and a fresh `nonce`); every answer, success or problem, is
//! accepted only after its receipt signature verifies against the gateway's
//! published keys and is tied to this request (echoed nonce and idempotency key).

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::digest;
use crate::jwk::{DecodedKeys, JwkSet, PrivateKey};
use crate::protocol::{
    self, CaptureRequest, CardCheck, EarnRequest, EnrollRequest, Enrollment, Movement, PartnerKey,
    PartnerProfile, Problem, Quote, RedeemRequest, RegisterKeyRequest, ReverseRequest,
    TransactionPage,
};
use crate::settlement::{
    self, AcknowledgeRequest, DisputeRequest, ResponseView, StatementList, StatementView,
    VerifiedStatement,
};
use crate::signatures::{self, MessageParts, SignatureParams};
use uuid::Uuid;

// The receipt check needs no HTTP client; it lives in `receipts` so crates built without the
// `client` feature can use it too. Re-exported here so `client::verify_receipt` keeps working.
pub use crate::receipts::{ExpectedReceipt, ReceiptError, verify_receipt};

/// What went wrong talking to the gateway.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the gateway: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("the gateway refused the request: {} ({}): {}", .problem.title, .problem.code, .problem.detail)]
    Problem { problem: Problem },
    #[error("the answer's receipt does not verify: {0}")]
    Receipt(#[from] ReceiptError),
    #[error("the answer is not the expected JSON: {0}")]
    Decode(String),
    #[error("invalid gateway address: {0}")]
    Url(#[from] url::ParseError),
    #[error("cannot sign the request: {0}")]
    Signing(#[from] signatures::SignatureError),
}

/// Why a statement could not be verified.
#[derive(Debug, thiserror::Error)]
pub enum StatementCheckError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Verify(#[from] settlement::VerifyError),
}

/// A request body and its media type.
#[derive(Debug, Clone)]
pub struct Body {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl Body {
    pub fn json(bytes: Vec<u8>) -> Self {
        Self {
            content_type: "application/json",
            bytes,
        }
    }

    /// A CSV file (a reconciliation's partner file).
    pub fn csv(bytes: Vec<u8>) -> Self {
        Self {
            content_type: "text/csv",
            bytes,
        }
    }
}

/// A request signed by [`Client::sign`], ready to send (and send again, unchanged).
#[derive(Debug, Clone)]
pub struct SignedRequest {
    method: Method,
    url: Url,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    nonce: String,
    idempotency_key: Option<String>,
}

/// A verified answer from the gateway.
#[derive(Debug, Clone)]
pub struct Receipt<T> {
    pub status: u16,
    pub body: T,
    /// The exact body bytes the receipt signature vouches for.
    pub raw_body: Vec<u8>,
    /// The gateway key that signed the receipt.
    pub gateway_key_id: String,
    /// The gateway replayed the first answer to this idempotency key.
    pub is_replay: bool,
    /// The complete `Signature-Input` and `Signature` of the receipt, kept as proof.
    pub signature_input: String,
    pub signature: String,
}

impl Receipt<()> {
    fn with_body<T>(self, body: T) -> Receipt<T> {
        Receipt {
            status: self.status,
            body,
            raw_body: self.raw_body,
            gateway_key_id: self.gateway_key_id,
            is_replay: self.is_replay,
            signature_input: self.signature_input,
            signature: self.signature,
        }
    }
}

/// How to reach and trust the gateway.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub gateway_url: Url,
    pub key: PrivateKey,
    /// An extra CA certificate (PEM) to trust, e.g. the development CA of `make run`.
    pub ca_certificate_pem: Option<Vec<u8>>,
    /// Pinned gateway keys; fetched from `/.well-known/jwks.json` when absent.
    pub gateway_keys: Option<JwkSet>,
}

/// A signing, receipt-verifying client for one partner key.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    key: PrivateKey,
    gateway_keys: JwkSet,
    /// The same keys, decoded once for every receipt.
    decoded_keys: DecodedKeys,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Client {
    /// Builds the client and, unless keys were pinned, fetches the gateway's JWKS.
    pub async fn connect(options: ClientOptions) -> Result<Self, ClientError> {
        let mut builder = reqwest::Client::builder().use_rustls_tls();
        if let Some(pem) = &options.ca_certificate_pem {
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem)?);
        }
        let http = builder.build()?;
        let gateway_keys = match options.gateway_keys {
            Some(keys) => keys,
            None => {
                let response = http
                    .get(options.gateway_url.join("/.well-known/jwks.json")?)
                    .send()
                    .await?
                    .error_for_status()?;
                response
                    .json::<JwkSet>()
                    .await
                    .map_err(|e| ClientError::Decode(format!("JWKS: {e}")))?
            }
        };
        Ok(Self {
            http,
            base: options.gateway_url,
            key: options.key,
            decoded_keys: DecodedKeys::from(&gateway_keys),
            gateway_keys,
        })
    }

    /// A client for another of the caller's keys, sharing this one's connections and gateway
    /// keys (one HTTP client per process, as a till system with several partners would run).
    pub fn for_key(&self, key: PrivateKey) -> Self {
        Self {
            key,
            ..self.clone()
        }
    }

    /// The key id this client signs with.
    pub fn key_id(&self) -> &str {
        &self.key.kid
    }

    /// The gateway keys receipts are checked against.
    pub fn gateway_keys(&self) -> &JwkSet {
        &self.gateway_keys
    }

    /// Sends a signed request and verifies the receipt; problems come back as `Ok` with status >= 400.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Body>,
        idempotency_key: Option<&str>,
    ) -> Result<Receipt<Vec<u8>>, ClientError> {
        let receipt = self
            .exchange(method, path_and_query, body, idempotency_key)
            .await?;
        let body = receipt.raw_body.clone();
        Ok(receipt.with_body(body))
    }

    /// Signs a request without sending it: [`Client::send_signed`] sends it, as often as asked,
    /// byte for byte (a retry on a lost connection, or a test of the gateway's replay refusal).
    pub fn sign(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Body>,
        idempotency_key: Option<&str>,
    ) -> Result<SignedRequest, ClientError> {
        let url = self.base.join(path_and_query)?;
        let authority = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let mut message = MessageParts::request(
            method.as_str(),
            url.scheme(),
            &authority,
            url.path(),
            url.query(),
        );
        let mut headers = Vec::new();
        let has_body = body.is_some();
        if let Some(body) = &body {
            let content_digest = digest::content_digest(&body.bytes);
            message.add_header("content-digest", &content_digest);
            headers.push(("content-type", body.content_type.to_owned()));
            headers.push(("content-digest", content_digest));
        }
        if let Some(key) = idempotency_key {
            message.add_header(protocol::IDEMPOTENCY_KEY, key);
            headers.push((protocol::IDEMPOTENCY_KEY, key.to_owned()));
        }
        let nonce = signatures::new_nonce();
        let params = SignatureParams {
            created: Some(unix_now()),
            nonce: Some(nonce.clone()),
            alg: Some(protocol::ALGORITHM.into()),
            keyid: Some(self.key.kid.clone()),
            ..SignatureParams::default()
        };
        let components =
            protocol::required_request_components(method.as_str(), url.query().is_some(), has_body);
        let signed = signatures::sign(
            &message,
            protocol::REQUEST_LABEL,
            &components,
            &params,
            &self.key.key,
        )?;
        headers.push(("signature-input", signed.signature_input));
        headers.push(("signature", signed.signature));
        Ok(SignedRequest {
            method,
            url,
            headers,
            body: body.map(|b| b.bytes),
            nonce,
            idempotency_key: idempotency_key.map(str::to_owned),
        })
    }

    /// Sends a signed request and verifies the receipt; problems come back as `Ok` with status
    /// >= 400.
    pub async fn send_signed(&self, request: &SignedRequest) -> Result<Receipt<()>, ClientError> {
        let mut builder = self
            .http
            .request(request.method.clone(), request.url.clone());
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let mut parts = MessageParts::response(status);
        for (name, value) in response.headers() {
            parts.add_header(name.as_str(), value.to_str().unwrap_or_default());
        }
        let raw_body = response.bytes().await?.to_vec();
        let gateway_key_id = verify_receipt(
            &parts,
            &raw_body,
            &self.decoded_keys,
            &ExpectedReceipt {
                idempotency_key: request.idempotency_key.as_deref(),
                request_nonce: Some(&request.nonce),
            },
        )?;
        Ok(Receipt {
            status,
            body: (),
            raw_body,
            gateway_key_id,
            is_replay: parts.header(protocol::IDEMPOTENT_REPLAYED).as_deref() == Some("true"),
            signature_input: parts.header("signature-input").unwrap_or_default(),
            signature: parts.header("signature").unwrap_or_default(),
        })
    }

    /// [`Client::send`] without a copy of the body.
    async fn exchange(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Body>,
        idempotency_key: Option<&str>,
    ) -> Result<Receipt<()>, ClientError> {
        let request = self.sign(method, path_and_query, body, idempotency_key)?;
        self.send_signed(&request).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Body>,
        idempotency_key: Option<&str>,
    ) -> Result<Receipt<T>, ClientError> {
        let receipt = self.exchange(method, path, body, idempotency_key).await?;
        if receipt.status >= 400 {
            let problem = serde_json::from_slice::<Problem>(&receipt.raw_body)
                .map_err(|e| ClientError::Decode(format!("problem document: {e}")))?;
            return Err(ClientError::Problem { problem });
        }
        let body = serde_json::from_slice::<T>(&receipt.raw_body)
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        Ok(receipt.with_body(body))
    }

    /// A signed GET, decoded as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Receipt<T>, ClientError> {
        self.call(Method::GET, path, None, None).await
    }

    /// A signed, idempotent POST of a JSON body, decoded as `T`.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        idempotency_key: &str,
        body: &B,
    ) -> Result<Receipt<T>, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(
            Method::POST,
            path,
            Some(Body::json(bytes)),
            Some(idempotency_key),
        )
        .await
    }

    /// A signed, idempotent POST of a CSV file, decoded as `T`.
    pub async fn post_csv<T: DeserializeOwned>(
        &self,
        path: &str,
        idempotency_key: &str,
        csv: Vec<u8>,
    ) -> Result<Receipt<T>, ClientError> {
        self.call(
            Method::POST,
            path,
            Some(Body::csv(csv)),
            Some(idempotency_key),
        )
        .await
    }

    /// `GET /v1/statements`: this partner's settlement statements.
    pub async fn statements(&self) -> Result<Receipt<StatementList>, ClientError> {
        self.get("/v1/statements").await
    }

    /// `GET /v1/statements/{id}`: one statement with its JWS and the answers so far.
    pub async fn statement(&self, id: Uuid) -> Result<Receipt<StatementView>, ClientError> {
        self.get(&format!("/v1/statements/{id}")).await
    }

    /// `GET /v1/statements/{id}/lines`: the lines file, exactly as served.
    pub async fn statement_lines(&self, id: Uuid) -> Result<Vec<u8>, ClientError> {
        let receipt = self
            .send(
                Method::GET,
                &format!("/v1/statements/{id}/lines"),
                None,
                None,
            )
            .await?;
        if receipt.status >= 400 {
            let problem = serde_json::from_slice::<Problem>(&receipt.raw_body)
                .map_err(|e| ClientError::Decode(format!("problem document: {e}")))?;
            return Err(ClientError::Problem { problem });
        }
        Ok(receipt.raw_body)
    }

    /// Fetches a statement and its lines and checks both against the gateway's keys, and
    /// against the previous statement when there is one (the chain).
    pub async fn verify_statement(
        &self,
        id: Uuid,
    ) -> Result<VerifiedStatement, StatementCheckError> {
        let view = self.statement(id).await?.body;
        let previous = match view.sequence {
            1 => None,
            n => {
                let list = self.statements().await?.body;
                let before = list
                    .statements
                    .iter()
                    .find(|s| s.sequence == n - 1)
                    .ok_or_else(|| {
                        StatementCheckError::Verify(settlement::VerifyError::Chain(format!(
                            "statement {} is not listed",
                            n - 1
                        )))
                    })?;
                Some(self.fetch_verified(before.id, None).await?)
            }
        };
        self.fetch_verified(id, previous.as_ref()).await
    }

    async fn fetch_verified(
        &self,
        id: Uuid,
        previous: Option<&VerifiedStatement>,
    ) -> Result<VerifiedStatement, StatementCheckError> {
        let view = self.statement(id).await?.body;
        let jws = view.jws.unwrap_or_default();
        let lines = self.statement_lines(id).await?;
        Ok(settlement::verify(
            &jws,
            &self.gateway_keys,
            &lines,
            previous,
        )?)
    }

    /// `POST /v1/statements/{id}/acknowledgement` for the hash the caller verified.
    pub async fn acknowledge_statement(
        &self,
        id: Uuid,
        idempotency_key: &str,
        statement_sha256: &str,
    ) -> Result<Receipt<ResponseView>, ClientError> {
        let body = AcknowledgeRequest {
            statement_sha256: statement_sha256.to_owned(),
        };
        self.post(
            &format!("/v1/statements/{id}/acknowledgement"),
            idempotency_key,
            &body,
        )
        .await
    }

    /// `POST /v1/statements/{id}/dispute`: disputes named lines with a reason.
    pub async fn dispute_statement(
        &self,
        id: Uuid,
        idempotency_key: &str,
        request: &DisputeRequest,
    ) -> Result<Receipt<ResponseView>, ClientError> {
        self.post(
            &format!("/v1/statements/{id}/dispute"),
            idempotency_key,
            request,
        )
        .await
    }

    /// `GET /v1/partner`: the calling partner's profile.
    pub async fn whoami(&self) -> Result<Receipt<PartnerProfile>, ClientError> {
        self.get("/v1/partner").await
    }

    /// `POST /v1/partner/keys`: registers the partner's next public key.
    pub async fn register_key(
        &self,
        request: &RegisterKeyRequest,
        idempotency_key: &str,
    ) -> Result<Receipt<PartnerKey>, ClientError> {
        self.post("/v1/partner/keys", idempotency_key, request)
            .await
    }

    /// `POST /v1/members`: enrols a member and issues a card.
    pub async fn enroll(
        &self,
        request: &EnrollRequest,
        idempotency_key: &str,
    ) -> Result<Receipt<Enrollment>, ClientError> {
        self.post("/v1/members", idempotency_key, request).await
    }

    /// `GET /v1/cards/{number}`: checks a card (valued at `branch` when given).
    pub async fn check_card(
        &self,
        number: &str,
        branch: Option<&str>,
    ) -> Result<Receipt<CardCheck>, ClientError> {
        let mut path = format!("/v1/cards/{}", encode(number));
        if let Some(branch) = branch {
            path.push_str(&format!("?branch={}", encode(branch)));
        }
        self.get(&path).await
    }

    /// `GET /v1/quote`: prices an amount and/or points at a branch.
    pub async fn quote(
        &self,
        branch: &str,
        amount: Option<&protocol::Money>,
        points: Option<i64>,
    ) -> Result<Receipt<Quote>, ClientError> {
        // The serializer is not Send: build the path in a block that ends before awaiting.
        let path = {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("branch", branch);
            if let Some(amount) = amount {
                query.append_pair("amount_minor", &amount.amount_minor.to_string());
                query.append_pair("currency", &amount.currency);
            }
            if let Some(points) = points {
                query.append_pair("points", &points.to_string());
            }
            format!("/v1/quote?{}", query.finish())
        };
        self.get(&path).await
    }

    /// `POST /v1/earns`.
    pub async fn earn(
        &self,
        request: &EarnRequest,
        idempotency_key: &str,
    ) -> Result<Receipt<Movement>, ClientError> {
        self.post("/v1/earns", idempotency_key, request).await
    }

    /// `POST /v1/earns/{id}/post`: releases a pending earn now.
    pub async fn post_earn(
        &self,
        id: uuid::Uuid,
        idempotency_key: &str,
    ) -> Result<Receipt<Movement>, ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/earns/{id}/post"),
            None,
            Some(idempotency_key),
        )
        .await
    }

    /// `POST /v1/earns/{id}/void`: cancels a pending earn.
    pub async fn void_earn(
        &self,
        id: uuid::Uuid,
        idempotency_key: &str,
    ) -> Result<Receipt<Movement>, ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/earns/{id}/void"),
            None,
            Some(idempotency_key),
        )
        .await
    }

    /// `POST /v1/redemptions`: redeems, or holds with `hold: true`.
    pub async fn redeem(
        &self,
        request: &RedeemRequest,
        idempotency_key: &str,
    ) -> Result<Receipt<Movement>, ClientError> {
        self.post("/v1/redemptions", idempotency_key, request).await
    }

    /// `POST /v1/redemptions/{id}/capture`.
    pub async fn capture(
        &self,
        id: uuid::Uuid,
        request: &CaptureRequest,
        idempotency_key: &str,
    ) -> Result<Receipt<Movement>, ClientError> {
        self.post(
            &format!("/v1/redemptions/{id}/capture"),
            idempotency_key,
            request,
        )
        .await
    }

    /// `POST /v1/redemptions/{id}/void`.
    pub async fn void_hold(
        &self,
        id: uuid::Uuid,
        idempotency_key: &str,
    ) -> Result<Receipt<Movement>, ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/redemptions/{id}/void"),
            None,
            Some(idempotency_key),
        )
        .await
    }

    /// `POST /v1/reversals`.
    pub async fn reverse(
        &self,
        request: &ReverseRequest,
        idempotency_key: &str,
    ) -> Result<Receipt<Movement>, ClientError> {
        self.post("/v1/reversals", idempotency_key, request).await
    }

    /// `GET /v1/transactions` with a query string such as `type=earn&limit=20`.
    pub async fn transactions(&self, query: &str) -> Result<Receipt<TransactionPage>, ClientError> {
        if query.is_empty() {
            self.get("/v1/transactions").await
        } else {
            self.get(&format!("/v1/transactions?{query}")).await
        }
    }
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
