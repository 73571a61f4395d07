//! The `VerifiedPartner` and `VerifiedOperator` extractors: a handler that takes
//! one only runs for a request whose RFC 9421 signature the gateway accepted,
//! made with a key of that kind of principal.
//!
//! The extractors read the body themselves (the digest must be checked against
//! the exact bytes), so handlers parse JSON from it with `json()`; an upload
//! (`StreamingOperator`) is checked as it streams instead.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::web::{Bytes, Data};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use futures_util::future::LocalBoxFuture;
use partners::digest::DigestVerifier;
use partners::signatures::MessageParts;
use serde::de::DeserializeOwned;

use super::error::{
    ApiError, body_unreadable, content_encoding_unsupported, content_type_unsupported,
    malformed_json, operator_key_required, partner_key_required, payload_too_large,
    role_not_granted,
};
use domain::keys::OperatorRole;
use operations::authentication::{
    AuthError, AuthenticatedOperator, AuthenticatedPartner, IncomingRequest, Principal,
    RequestBody, SignatureHeaders,
};
use operations::idempotency::{self, IdempotencyKey, Scope};

use super::upload::Upload;
use crate::state::AppState;

/// The `nonce` of the request's signature, for the receipt to echo.
#[derive(Debug, Clone)]
pub(crate) struct RequestNonce(pub String);

/// A request whose signature verified, with its body and what a third party needs to
/// check the signature again later.
#[derive(Debug)]
struct Signed {
    body: Bytes,
    message: MessageParts,
}

fn parse_json<T: DeserializeOwned>(signed: &Signed) -> Result<T, ApiError> {
    if signed.body.is_empty() {
        return Err(malformed_json(
            "the request has no body; a JSON object is expected",
        ));
    }
    let content_type = signed.message.header("content-type").unwrap_or_default();
    if !is_json(&content_type) {
        return Err(content_type_unsupported(&content_type));
    }
    serde_json::from_slice(&signed.body).map_err(malformed_json)
}

/// Whether a `Content-Type` is `application/json`, parameters (a charset) aside.
fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Refuses a body sent with a content coding before anything decodes it.
fn refuse_encoded(req: &HttpRequest) -> Result<(), ApiError> {
    match req.headers().get(actix_web::http::header::CONTENT_ENCODING) {
        None => Ok(()),
        Some(value) => {
            let sent = String::from_utf8_lossy(value.as_bytes());
            if sent.trim().eq_ignore_ascii_case("identity") {
                Ok(())
            } else {
                Err(content_encoding_unsupported(&sent))
            }
        }
    }
}

/// A request signed with a partner key.
#[derive(Debug)]
pub(crate) struct VerifiedPartner {
    caller: AuthenticatedPartner,
    signed: Signed,
}

impl VerifiedPartner {
    /// Who signed the request.
    pub(crate) fn caller(&self) -> &AuthenticatedPartner {
        &self.caller
    }

    /// The body as JSON of type `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(&self.signed)
    }

    /// What makes this request "the same request" for its idempotency key.
    ///
    /// Only POSTs are idempotent writes, and authentication already required
    /// their key, so a missing key here means a GET route was built wrongly.
    pub(crate) fn scope(&self) -> Result<Scope, ApiError> {
        let (key, fingerprint) =
            idempotent_request(self.caller.idempotency_key.as_ref(), &self.signed)?;
        Ok(Scope {
            partner_id: self.caller.partner_id,
            key: key.clone(),
            fingerprint,
            staff_id: None,
        })
    }

    /// The request as signed: method, target, the headers the signature covers, the
    /// signature itself and the body. With the partner's public key, anyone can verify it.
    pub(crate) fn signed_record(&self) -> serde_json::Value {
        signed_record(&self.signed)
    }
}

/// A POST's idempotency key and the fingerprint of everything the request says.
///
/// Only POSTs are idempotent writes, and authentication already required their key, so a
/// missing key here means a GET route was built wrongly.
fn idempotent_request<'a>(
    key: Option<&'a IdempotencyKey>,
    signed: &Signed,
) -> Result<(&'a IdempotencyKey, [u8; 32]), ApiError> {
    let key = key.ok_or_else(|| {
        ApiError::internal("an idempotent write called for a request without Idempotency-Key")
    })?;
    let message = &signed.message;
    let fingerprint = idempotency::fingerprint(
        message.method.as_deref().unwrap_or_default(),
        message.path.as_deref().unwrap_or_default(),
        message.query.as_deref(),
        &signed.body,
    );
    Ok((key, fingerprint))
}

fn signed_record(signed: &Signed) -> serde_json::Value {
    let message = &signed.message;
    let headers: serde_json::Map<String, serde_json::Value> = [
        "content-type",
        "content-digest",
        "idempotency-key",
        "signature-input",
        "signature",
    ]
    .into_iter()
    .filter_map(|name| Some((name.to_owned(), message.header(name)?.into())))
    .collect();
    serde_json::json!({
        "method": message.method,
        "scheme": message.scheme,
        "authority": message.authority,
        "path": message.path,
        "query": message.query,
        "headers": headers,
        "body": String::from_utf8_lossy(&signed.body),
    })
}

/// A request signed with an operator key.
#[derive(Debug)]
pub(crate) struct VerifiedOperator {
    caller: AuthenticatedOperator,
    signed: Signed,
}

impl VerifiedOperator {
    /// The caller, if its key holds `role`.
    pub(crate) fn require(&self, role: OperatorRole) -> Result<&AuthenticatedOperator, ApiError> {
        require(&self.caller, role)
    }

    /// The body as JSON of type `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(&self.signed)
    }

    /// The request as signed (see [`VerifiedPartner::signed_record`]).
    pub(crate) fn signed_record(&self) -> serde_json::Value {
        signed_record(&self.signed)
    }

    /// The request's idempotency key and fingerprint (see [`VerifiedPartner::scope`]).
    pub(crate) fn idempotent_request(&self) -> Result<(&IdempotencyKey, [u8; 32]), ApiError> {
        idempotent_request(self.caller.idempotency_key.as_ref(), &self.signed)
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

fn app_state(req: &HttpRequest) -> Result<Data<AppState>, ApiError> {
    req.app_data::<Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("AppState missing from the app"))
}

/// Who signed `message`, with the request span and the receipt's nonce filled in.
async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    message: &MessageParts,
    body: RequestBody<'_>,
) -> Result<Principal, ApiError> {
    let signatures = SignatureHeaders::read(message);
    if let Some(nonce) = signatures.nonce() {
        req.extensions_mut().insert(RequestNonce(nonce.to_owned()));
    }
    let principal = state
        .authenticator
        .authenticate(
            IncomingRequest {
                message,
                signatures,
                body,
            },
            chrono::Utc::now().timestamp(),
        )
        .await?;
    let span = tracing::Span::current();
    match &principal {
        Principal::Partner(partner) => {
            span.record("partner.id", tracing::field::display(partner.partner_id));
            span.record("key.id", partner.key_id.as_str());
        }
        Principal::Operator(operator) => {
            span.record("key.id", operator.key_id.as_str());
        }
    }
    Ok(principal)
}

/// Reads the whole body (within `server.max_body_bytes`), then authenticates.
async fn verify(req: HttpRequest, mut payload: Payload) -> Result<(Principal, Signed), ApiError> {
    let state = app_state(&req)?;
    refuse_encoded(&req)?;
    let limit = state.max_body_bytes;
    let body = Bytes::from_request(&req, &mut payload)
        .await
        .map_err(|err| match err.as_error::<PayloadError>() {
            Some(PayloadError::Overflow) => payload_too_large(limit),
            _ => body_unreadable(err),
        })?;
    let message = message_parts(&req);
    let principal = authenticate(&req, &state, &message, RequestBody::Whole(&body)).await?;
    Ok((principal, Signed { body, message }))
}

fn operator_only(principal: Principal) -> Result<AuthenticatedOperator, ApiError> {
    match principal {
        Principal::Operator(caller) => Ok(caller),
        Principal::Partner(partner) => Err(operator_key_required(format!(
            "key {} belongs to partner {}; operator endpoints take operator keys",
            partner.key_id, partner.partner_code
        ))),
    }
}

fn require(
    caller: &AuthenticatedOperator,
    role: OperatorRole,
) -> Result<&AuthenticatedOperator, ApiError> {
    if caller.role == role {
        Ok(caller)
    } else {
        Err(role_not_granted(format!(
            "this endpoint needs the {} role; key {} holds {}",
            role.as_str(),
            caller.key_id,
            caller.role.as_str()
        )))
    }
}

/// An upload signed with an operator key: the signature over the headers is checked
/// before the body is read, and the body against their `Content-Digest` as it streams
/// (within `server.max_upload_bytes`).
pub(crate) struct StreamingOperator {
    caller: AuthenticatedOperator,
    upload: Upload,
}

impl StreamingOperator {
    /// The caller, if its key holds `role`.
    pub(crate) fn require(&self, role: OperatorRole) -> Result<&AuthenticatedOperator, ApiError> {
        require(&self.caller, role)
    }

    /// The body, to be fed to the work that reads it.
    pub(crate) fn upload(self) -> Upload {
        self.upload
    }
}

impl FromRequest for StreamingOperator {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let state = app_state(&req)?;
            refuse_encoded(&req)?;
            let message = message_parts(&req);
            let principal = authenticate(&req, &state, &message, RequestBody::Streaming).await?;
            let caller = operator_only(principal)?;
            // The authenticator made sure the header is there and signed.
            let digest = DigestVerifier::new(&message.header("content-digest").unwrap_or_default())
                .map_err(AuthError::from)?;
            Ok(Self {
                caller,
                upload: Upload {
                    payload,
                    digest,
                    limit: state.max_upload_bytes,
                },
            })
        })
    }
}

impl FromRequest for VerifiedPartner {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let (principal, signed) = verify(req, payload).await?;
            match principal {
                Principal::Partner(caller) => Ok(Self { caller, signed }),
                Principal::Operator(operator) => Err(partner_key_required(format!(
                    "key {} belongs to an operator; partner endpoints take partner keys",
                    operator.key_id
                ))),
            }
        })
    }
}

impl FromRequest for VerifiedOperator {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let (principal, signed) = verify(req, payload).await?;
            let caller = operator_only(principal)?;
            Ok(Self { caller, signed })
        })
    }
}
