//! Receipts: every response is signed by the gateway (RFC 9421, `ed25519`).
//!
//! The signature covers `@status`, `content-digest` (added here over the exact
//! body) and, echoed from the request, `idempotency-key` and `request-nonce`,
//! so a partner can prove which answer the gateway gave to which request, with
//! any RFC 9421 library and the keys at `/.well-known/jwks.json`.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, HttpMessage as _};
use partners::protocol;
use partners::signatures::{self, MessageParts, SignatureParams};
use tracing_actix_web::RequestId;

use super::error::ApiError;
use super::verified::RequestNonce;
use crate::state::AppState;
use operations::idempotency::IdempotencyKey;

fn header_value(value: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(value).map_err(ApiError::internal)
}

/// Middleware: buffers the response body, adds `Content-Digest` and the receipt signature.
pub(crate) async fn sign(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let state = req.app_data::<Data<AppState>>().cloned();
    // Echo only a well-formed key: it is copied into a response header.
    let idempotency_key = req
        .headers()
        .get(protocol::IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| IdempotencyKey::parse(v).ok());
    let response = next.call(req).await?;
    let nonce = response
        .request()
        .extensions()
        .get::<RequestNonce>()
        .cloned();
    let request_id = response.request().extensions().get::<RequestId>().copied();
    // Pages answer browsers, not partners' systems: nothing to sign.
    let is_page = response
        .request()
        .extensions()
        .get::<pages::PageRequest>()
        .is_some();
    let (Some(state), false) = (state, is_page) else {
        return Ok(response.map_into_boxed_body());
    };
    let (request, response) = response.into_parts();
    let (mut head, body) = response.into_parts();
    let body = actix_web::body::to_bytes(body)
        .await
        .map_err(|_| ApiError::internal("response body could not be buffered"))?;

    let status = head.status().as_u16();
    let headers = head.headers_mut();
    headers.insert(
        HeaderName::from_static("content-digest"),
        header_value(&partners::digest::content_digest(&body))?,
    );
    if let Some(key) = &idempotency_key {
        headers.insert(
            HeaderName::from_static(protocol::IDEMPOTENCY_KEY),
            header_value(key.as_str())?,
        );
    }
    if let Some(RequestNonce(nonce)) = &nonce {
        headers.insert(
            HeaderName::from_static(protocol::REQUEST_NONCE),
            header_value(nonce)?,
        );
    }
    if let Some(id) = request_id {
        headers.insert(
            HeaderName::from_static("request-id"),
            header_value(&id.to_string())?,
        );
    }
    let mut message = MessageParts::response(status);
    for (name, value) in headers.iter() {
        message.add_header(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
    }
    let key = &state.gateway_keys.current;
    let params = SignatureParams {
        created: Some(chrono::Utc::now().timestamp()),
        nonce: Some(signatures::new_nonce()),
        alg: Some(protocol::ALGORITHM.into()),
        keyid: Some(key.kid.clone()),
        ..SignatureParams::default()
    };
    let components = protocol::receipt_components(idempotency_key.is_some(), nonce.is_some());
    let signed = signatures::sign(
        &message,
        protocol::RECEIPT_LABEL,
        &components,
        &params,
        &key.key,
    )
    .map_err(ApiError::internal)?;
    headers.insert(
        HeaderName::from_static("signature-input"),
        header_value(&signed.signature_input)?,
    );
    headers.insert(
        HeaderName::from_static("signature"),
        header_value(&signed.signature)?,
    );
    let response = head.set_body(body).map_into_boxed_body();
    Ok(ServiceResponse::new(request, response))
}
