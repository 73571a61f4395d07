//! The `VerifiedPartner` extractor: a handler that takes one only runs for a
//! request whose RFC 9421 signature the gateway accepted.
//!
//! The extractor reads the body itself (the digest must be checked against the
//! exact bytes), so handlers parse JSON from it with [`VerifiedPartner::json`].

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::web::{Bytes, Data};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use futures_util::future::LocalBoxFuture;
use partners::signatures::{self, MessageParts};
use serde::de::DeserializeOwned;

use super::error::{ApiError, body_unreadable, malformed_json, payload_too_large};
use crate::app::AppState;
use crate::domain::authentication::{AuthenticatedPartner, IncomingRequest};
use crate::domain::idempotency::IdempotentRequest;

/// The `nonce` of the request's signature, for the receipt to echo.
#[derive(Debug, Clone)]
pub struct RequestNonce(pub String);

/// A request whose signature verified, with its body.
#[derive(Debug)]
pub struct VerifiedPartner {
    caller: AuthenticatedPartner,
    body: Bytes,
    method: String,
    path: String,
    query: Option<String>,
}

impl VerifiedPartner {
    /// Who signed the request.
    pub fn caller(&self) -> &AuthenticatedPartner {
        &self.caller
    }

    /// The body as JSON of type `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.is_empty() {
            return Err(malformed_json(
                "the request has no body; a JSON object is expected",
            ));
        }
        serde_json::from_slice(&self.body).map_err(malformed_json)
    }

    /// What makes this request "the same request" for its idempotency key.
    ///
    /// Only POSTs are idempotent writes, and authentication already required
    /// their key, so a missing key here means a GET route was built wrongly.
    pub fn idempotent_request(&self) -> Result<IdempotentRequest, ApiError> {
        let key = self.caller.idempotency_key.clone().ok_or_else(|| {
            ApiError::internal("idempotent_request() called for a request without Idempotency-Key")
        })?;
        Ok(IdempotentRequest::new(
            self.caller.partner_id,
            key,
            &self.method,
            &self.path,
            self.query.as_deref(),
            &self.body,
        ))
    }
}

/// The RFC 9421 view of an actix request.
fn message_parts(req: &HttpRequest) -> MessageParts {
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            req.headers()
                .get(actix_web::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let scheme = req.connection_info().scheme().to_owned();
    let mut message = MessageParts::request(
        req.method().as_str(),
        &scheme,
        &authority,
        req.uri().path(),
        req.uri().query(),
    );
    for (name, value) in req.headers() {
        message.add_header(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
    }
    message
}

fn signature_nonce(message: &MessageParts) -> Option<String> {
    let input = message.header("signature-input")?;
    let signature = message.header("signature")?;
    let parsed = signatures::parse(&input, &signature).ok()?;
    parsed.first()?.params.nonce.clone()
}

impl FromRequest for VerifiedPartner {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let state = req
                .app_data::<Data<AppState>>()
                .cloned()
                .ok_or_else(|| ApiError::internal("AppState missing from the app"))?;
            let limit = state.max_body_bytes;
            let body = Bytes::from_request(&req, &mut payload)
                .await
                .map_err(|err| match err.as_error::<PayloadError>() {
                    Some(PayloadError::Overflow) => payload_too_large(limit),
                    _ => body_unreadable(err),
                })?;
            let message = message_parts(&req);
            if let Some(nonce) = signature_nonce(&message) {
                req.extensions_mut().insert(RequestNonce(nonce));
            }
            let caller = state
                .authenticator
                .authenticate(
                    &IncomingRequest {
                        message: &message,
                        body: &body,
                    },
                    chrono::Utc::now().timestamp(),
                )
                .await?;
            let span = tracing::Span::current();
            span.record("partner.id", tracing::field::display(caller.partner_id));
            span.record("key.id", caller.key_id.as_str());
            Ok(Self {
                caller,
                body,
                method: req.method().as_str().to_owned(),
                path: req.uri().path().to_owned(),
                query: req.uri().query().map(str::to_owned),
            })
        })
    }
}
