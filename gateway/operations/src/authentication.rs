//! Who is calling: the v1 request-signature policy (see `docs/protocol.md`).
//!
//! The mechanics of RFC 9421 live in the `partners` crate; this module decides
//! what a valid signed request is: one `ed25519` signature by a registered,
//! active key, covering the required components, fresh, never seen before,
//! over a body that matches its `Content-Digest`. Each way to fail has its own
//! error so that partners can tell what to fix. The key names the principal:
//! a partner, or an operator with a role (`domain::keys`).

use std::time::Duration;

use moka::future::Cache;
use partners::protocol;
use partners::signatures::{self, MessageParts, ParsedSignature, SignatureError};

use domain::keys::{KeyOwner, KeyStatus, OperatorKey, OperatorRole};
use domain::partners::{Code, PartnerId, PartnerStatus};
use storage::{Storage, StorageError};

use crate::idempotency::{IdempotencyKey, InvalidIdempotencyKey};
use crate::replays::ReplayGuard;

/// Time limits of the signature policy.
#[derive(Debug, Clone, Copy)]
pub struct AuthSettings {
    /// How old a signature's `created` may be.
    pub window: Duration,
    /// How far in the future `created` may be (clock skew between partner and gateway).
    pub clock_skew: Duration,
    /// How long a key lookup is cached; a revocation takes effect within this time.
    pub key_cache_ttl: Duration,
}

/// The verified caller of a partner request.
#[derive(Debug, Clone)]
pub struct AuthenticatedPartner {
    /// The partner.
    pub partner_id: PartnerId,
    /// Its code.
    pub partner_code: Code,
    /// The key that signed.
    pub key_id: String,
    /// The request's idempotency key (every POST has one).
    pub idempotency_key: Option<IdempotencyKey>,
}

/// The verified caller of an operator request.
#[derive(Debug, Clone)]
pub struct AuthenticatedOperator {
    /// Who holds the key.
    pub name: String,
    /// What the key may do.
    pub role: OperatorRole,
    /// The key that signed.
    pub key_id: String,
    /// The request's idempotency key (every POST has one).
    pub idempotency_key: Option<IdempotencyKey>,
}

/// Who signed a request: a partner or an operator, never both.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A partner's key signed.
    Partner(AuthenticatedPartner),
    /// An operator's key signed.
    Operator(AuthenticatedOperator),
}

/// The holder of a key, as looked up (and cached) by key id.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Signer {
    Partner(KeyOwner),
    Operator(OperatorKey),
}

/// A request as received, before anything about it is trusted.
#[derive(Debug)]
pub struct IncomingRequest<'a> {
    /// The RFC 9421 view of the request.
    pub message: &'a MessageParts,
    /// Its signature headers, parsed.
    pub signatures: SignatureHeaders,
    /// Its body, as far as it has arrived.
    pub body: RequestBody<'a>,
}

/// A request's `Signature-Input` and `Signature`, parsed once: the door reads the nonce from
/// them to echo in the receipt, refused or not, and authentication goes on from the same parse.
#[derive(Debug)]
pub struct SignatureHeaders(Result<Vec<ParsedSignature>, AuthError>);

impl SignatureHeaders {
    /// Parses the message's signature headers.
    pub fn read(message: &MessageParts) -> Self {
        Self(
            match (
                message.header("signature-input"),
                message.header("signature"),
            ) {
                (None, None) => Err(AuthError::SignatureMissing),
                (Some(input), Some(signature)) => {
                    signatures::parse(&input, &signature).map_err(malformed)
                }
                _ => Err(AuthError::SignatureMalformed(
                    "Signature-Input and Signature must be sent together".into(),
                )),
            },
        )
    }

    /// The first signature's nonce, if the headers parse.
    pub fn nonce(&self) -> Option<&str> {
        self.0.as_ref().ok()?.first()?.params.nonce.as_deref()
    }
}

/// The body of an incoming request, as far as it has arrived.
#[derive(Debug, Clone, Copy)]
pub enum RequestBody<'a> {
    /// Read whole before authentication: its `Content-Digest` is checked here.
    Whole(&'a [u8]),
    /// An upload still arriving: the `Content-Digest` must be present and signed, and
    /// the caller checks the body against it as it streams.
    Streaming,
}

/// Why a request was not accepted as coming from a partner or an operator.
#[derive(Debug, thiserror::Error, strum::EnumIter)]
pub enum AuthError {
    #[error("the request carries no Signature-Input and Signature headers")]
    SignatureMissing,
    #[error("{0}")]
    SignatureMalformed(String),
    #[error("signature algorithm {0:?} is not supported; use \"ed25519\"")]
    AlgorithmUnsupported(String),
    #[error("the signature has no {0:?} parameter")]
    ParameterMissing(&'static str),
    #[error("the signature must cover {0}")]
    ComponentNotCovered(String),
    #[error("the signature was created {age_secs} s ago; the window is {window_secs} s")]
    TooOld { age_secs: i64, window_secs: u64 },
    #[error("the signature was created {ahead_secs} s in the future")]
    FromFuture { ahead_secs: i64 },
    #[error("the signature expired {0} s ago")]
    Expired(i64),
    #[error("this nonce was already used by this key")]
    Replayed,
    #[error("key {0:?} is not registered")]
    KeyUnknown(String),
    #[error("key {0:?} has been revoked")]
    KeyRevoked(String),
    #[error("partner {0} is suspended")]
    PartnerInactive(String),
    #[error("a request with a body must carry a Content-Digest header")]
    DigestMissing,
    #[error("{0}")]
    DigestMalformed(String),
    #[error("the Content-Digest does not match the body")]
    DigestMismatch,
    #[error("the signature does not verify")]
    SignatureInvalid,
    #[error("a POST must carry an Idempotency-Key header")]
    IdempotencyKeyMissing,
    #[error(transparent)]
    IdempotencyKeyInvalid(#[from] InvalidIdempotencyKey),
    #[strum(disabled)]
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl AuthError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SignatureMissing => "signature_missing",
            Self::SignatureMalformed(_) => "signature_malformed",
            Self::AlgorithmUnsupported(_) => "signature_algorithm_unsupported",
            Self::ParameterMissing(_) => "signature_parameter_missing",
            Self::ComponentNotCovered(_) => "signature_component_not_covered",
            Self::TooOld { .. } => "signature_too_old",
            Self::FromFuture { .. } => "signature_from_future",
            Self::Expired(_) => "signature_expired",
            Self::Replayed => "signature_replayed",
            Self::KeyUnknown(_) => "key_unknown",
            Self::KeyRevoked(_) => "key_revoked",
            Self::PartnerInactive(_) => "partner_suspended",
            Self::DigestMissing => "content_digest_missing",
            Self::DigestMalformed(_) => "content_digest_malformed",
            Self::DigestMismatch => "content_digest_mismatch",
            Self::SignatureInvalid => "signature_invalid",
            Self::IdempotencyKeyMissing => "idempotency_key_missing",
            Self::IdempotencyKeyInvalid(_) => "idempotency_key_invalid",
            Self::Storage(err) => crate::error::storage_code(err),
        }
    }
}

/// Checks partner request signatures; one per application, shared by all workers.
#[derive(Clone)]
pub struct Authenticator {
    storage: Storage,
    settings: AuthSettings,
    keys: Cache<String, Option<Signer>>,
    replays: ReplayGuard,
}

impl From<partners::digest::DigestError> for AuthError {
    fn from(err: partners::digest::DigestError) -> Self {
        match err {
            partners::digest::DigestError::Mismatch => Self::DigestMismatch,
            other => Self::DigestMalformed(other.to_string()),
        }
    }
}

fn malformed(err: SignatureError) -> AuthError {
    AuthError::SignatureMalformed(err.to_string())
}

impl Authenticator {
    /// An authenticator reading keys from `storage` and recording nonces there (starts the
    /// replay guard's mirror, so it must run inside a Tokio runtime).
    pub fn new(storage: Storage, settings: AuthSettings) -> Self {
        let keys = Cache::builder()
            .max_capacity(100_000)
            .time_to_live(settings.key_cache_ttl)
            .build();
        // A nonce must outlive every moment its signature could still be accepted.
        let nonce_ttl = settings.window + settings.clock_skew * 2;
        Self {
            replays: ReplayGuard::start(storage.clone(), nonce_ttl, settings.clock_skew),
            storage,
            settings,
            keys,
        }
    }

    /// Drops a cached key so the next request reads it afresh (after register or revoke).
    pub async fn forget_key(&self, kid: &str) {
        self.keys.invalidate(kid).await;
    }

    async fn signer(&self, kid: &str) -> Result<Option<Signer>, StorageError> {
        if let Some(cached) = self.keys.get(kid).await {
            storage::count_cache_lookup("partner_keys", "hit");
            return Ok(cached);
        }
        storage::count_cache_lookup("partner_keys", "miss");
        let mut conn = self.storage.db().await?;
        let signer = match storage::partner_keys::find_owner(&mut conn, kid).await? {
            Some(owner) => Some(Signer::Partner(owner)),
            None => storage::operator_keys::find(&mut conn, kid)
                .await?
                .map(Signer::Operator),
        };
        self.keys.insert(kid.to_owned(), signer.clone()).await;
        Ok(signer)
    }

    /// Who signed `request`, if the signature is acceptable at `now` (UNIX seconds).
    ///
    /// Checks run cheapest first; the nonce is recorded only after the signature
    /// verifies, so nobody can burn a partner's nonces with forged requests.
    #[tracing::instrument(skip_all, fields(key.id))]
    pub async fn authenticate(
        &self,
        request: IncomingRequest<'_>,
        now: i64,
    ) -> Result<Principal, AuthError> {
        let message = request.message;
        let mut parsed = request.signatures.0?;
        if parsed.len() != 1 {
            return Err(AuthError::SignatureMalformed(format!(
                "expected exactly one signature, found {}",
                parsed.len()
            )));
        }
        let parsed = parsed.remove(0);
        let params = &parsed.params;
        if let Some(alg) = &params.alg
            && alg != protocol::ALGORITHM
        {
            return Err(AuthError::AlgorithmUnsupported(alg.clone()));
        }
        let kid = params
            .keyid
            .clone()
            .ok_or(AuthError::ParameterMissing("keyid"))?;
        tracing::Span::current().record("key.id", kid.as_str());
        let created = params
            .created
            .ok_or(AuthError::ParameterMissing("created"))?;
        let nonce = params
            .nonce
            .clone()
            .ok_or(AuthError::ParameterMissing("nonce"))?;
        if nonce.is_empty() || nonce.len() > 128 {
            return Err(AuthError::SignatureMalformed(
                "the nonce must be 1 to 128 characters".into(),
            ));
        }

        let method = message.method.as_deref().unwrap_or_default();
        let is_post = method.eq_ignore_ascii_case("POST");
        let idempotency_key = match message.header(protocol::IDEMPOTENCY_KEY) {
            Some(value) => Some(IdempotencyKey::parse(&value)?),
            None if is_post => return Err(AuthError::IdempotencyKeyMissing),
            None => None,
        };
        let has_body = match request.body {
            RequestBody::Whole(body) => !body.is_empty(),
            RequestBody::Streaming => true,
        };
        if has_body && message.header("content-digest").is_none() {
            return Err(AuthError::DigestMissing);
        }
        for component in
            protocol::required_request_components(method, message.query.is_some(), has_body)
        {
            if !parsed.covers(&component) {
                return Err(AuthError::ComponentNotCovered(component.name().to_owned()));
            }
        }

        let skew = i64::try_from(self.settings.clock_skew.as_secs()).unwrap_or(i64::MAX);
        let window = i64::try_from(self.settings.window.as_secs()).unwrap_or(i64::MAX);
        if created > now.saturating_add(skew) {
            return Err(AuthError::FromFuture {
                ahead_secs: created - now,
            });
        }
        if created < now.saturating_sub(window) {
            return Err(AuthError::TooOld {
                age_secs: now - created,
                window_secs: self.settings.window.as_secs(),
            });
        }
        if let Some(expires) = params.expires
            && expires <= now
        {
            return Err(AuthError::Expired(now - expires));
        }

        let signer = self
            .signer(&kid)
            .await?
            .ok_or_else(|| AuthError::KeyUnknown(kid.clone()))?;
        let (status, public_key) = match &signer {
            Signer::Partner(owner) => (owner.key.status, owner.key.public_key),
            Signer::Operator(key) => (key.status, key.public_key),
        };
        if status == KeyStatus::Revoked {
            return Err(AuthError::KeyRevoked(kid));
        }
        if let Signer::Partner(owner) = &signer
            && owner.partner_status != PartnerStatus::Active
        {
            return Err(AuthError::PartnerInactive(owner.partner_code.to_string()));
        }

        if let (Some(content_digest), RequestBody::Whole(body)) =
            (message.header("content-digest"), request.body)
        {
            partners::digest::verify(&content_digest, body).map_err(AuthError::from)?;
        }
        parsed.verify(message, &public_key).map_err(|e| match e {
            SignatureError::Invalid => AuthError::SignatureInvalid,
            other => malformed(other),
        })?;

        if !self.replays.accept(&kid, &nonce, created, now).await? {
            return Err(AuthError::Replayed);
        }
        Ok(match signer {
            Signer::Partner(owner) => Principal::Partner(AuthenticatedPartner {
                partner_id: owner.key.partner_id,
                partner_code: owner.partner_code,
                key_id: kid,
                idempotency_key,
            }),
            Signer::Operator(key) => Principal::Operator(AuthenticatedOperator {
                name: key.name,
                role: key.role,
                key_id: kid,
                idempotency_key,
            }),
        })
    }
}
