//! The v1 wire protocol: header names, the signature profile and the JSON bodies.
//!
//! Both the gateway and partners compile against these definitions, so a field
//! renamed here is renamed on both sides at once. With the `openapi` feature the
//! types also describe themselves for the gateway's OpenAPI document.

use serde::{Deserialize, Serialize};

use crate::signatures::Component;

/// Header carrying the partner's idempotency key on every POST (echoed on the receipt).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Receipt header echoing the `nonce` of the request signature it answers.
pub const REQUEST_NONCE: &str = "request-nonce";
/// Receipt header set to `true` when the answer is a replay of the first one.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
/// The only signature algorithm of this profile (RFC 9421 Section 3.3.6).
pub const ALGORITHM: &str = "ed25519";
/// Label the partner client uses for its request signature (the gateway accepts any).
pub const REQUEST_LABEL: &str = "sig1";
/// Label the gateway uses for its receipt signature.
pub const RECEIPT_LABEL: &str = "receipt";
/// The longest idempotency key accepted.
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;

/// The components a request signature must cover for this request.
pub fn required_request_components(
    method: &str,
    has_query: bool,
    has_body: bool,
) -> Vec<Component> {
    let mut components = vec![Component::Method, Component::Authority, Component::Path];
    if has_query {
        components.push(Component::Query);
    }
    if has_body {
        components.push(Component::header("content-digest"));
    }
    if method.eq_ignore_ascii_case("POST") {
        components.push(Component::header(IDEMPOTENCY_KEY));
    }
    components
}

/// The components the gateway covers in a receipt for a request with these properties.
pub fn receipt_components(has_idempotency_key: bool, has_request_nonce: bool) -> Vec<Component> {
    let mut components = vec![Component::Status, Component::header("content-digest")];
    if has_idempotency_key {
        components.push(Component::header(IDEMPOTENCY_KEY));
    }
    if has_request_nonce {
        components.push(Component::header(REQUEST_NONCE));
    }
    components
}

/// The kind of business a partner runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartnerKind {
    Hotel,
    TourAgency,
    Restaurant,
    Retail,
    Other,
}

impl PartnerKind {
    /// All kinds, in display order.
    pub const ALL: [Self; 5] = [
        Self::Hotel,
        Self::TourAgency,
        Self::Restaurant,
        Self::Retail,
        Self::Other,
    ];

    /// The stable snake_case name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hotel => "hotel",
            Self::TourAgency => "tour_agency",
            Self::Restaurant => "restaurant",
            Self::Retail => "retail",
            Self::Other => "other",
        }
    }
}

impl std::str::FromStr for PartnerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown partner kind {s:?}: expected hotel, tour_agency, restaurant, retail or other")
            })
    }
}

/// A branch as partners see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Branch {
    pub id: uuid::Uuid,
    pub code: String,
    pub name: String,
    pub city: Option<String>,
    pub status: String,
}

/// `GET /v1/partner`: who the gateway thinks the caller is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartnerProfile {
    pub id: uuid::Uuid,
    pub code: String,
    pub name: String,
    pub kind: PartnerKind,
    pub status: String,
    pub branches: Vec<Branch>,
    /// The key id that signed this request.
    pub key_id: String,
}

/// `POST /v1/partner/keys`: register the partner's next public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterKeyRequest {
    /// The public key as an RFC 8037 JWK (`kty` `OKP`, `crv` `Ed25519`, with `kid`); never `d`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub jwk: crate::jwk::Jwk,
}

/// A registered partner key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartnerKey {
    pub key_id: String,
    pub status: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// An RFC 9457 problem document, as every error is answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable error code; see `docs/errors.md`.
    pub code: String,
}
