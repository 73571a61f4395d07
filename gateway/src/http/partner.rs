//! `/v1/partner`: the calling partner's own profile and keys.

use ::partners::protocol::{self, Problem, RegisterKeyRequest};
use actix_web::web::Data;
use actix_web::{HttpResponse, get, post};

use super::answers::{answer_response, json_answer};
use super::error::{ApiError, codes};
use super::verified::VerifiedPartner;
use crate::app::AppState;
use crate::domain::idempotency::{self, FinalOutcome};
use crate::domain::partner_keys::{self, KeyError, PartnerKey};
use crate::domain::partners::{self, PartnerProfile};

fn profile_body(profile: PartnerProfile, key_id: &str) -> protocol::PartnerProfile {
    protocol::PartnerProfile {
        id: profile.partner.id.0,
        code: profile.partner.code.to_string(),
        name: profile.partner.name,
        kind: profile.partner.kind,
        status: profile.partner.status.as_str().to_owned(),
        branches: profile
            .branches
            .into_iter()
            .map(|b| protocol::Branch {
                id: b.id.0,
                code: b.code.to_string(),
                name: b.name,
                city: b.city,
                status: b.status,
            })
            .collect(),
        key_id: key_id.to_owned(),
    }
}

fn key_body(key: &PartnerKey) -> protocol::PartnerKey {
    protocol::PartnerKey {
        key_id: key.kid.clone(),
        status: key.status.as_str().to_owned(),
        created_at: key.created_at,
        revoked_at: key.revoked_at,
    }
}

impl FinalOutcome for KeyError {
    fn is_final(&self) -> bool {
        !matches!(self, KeyError::Storage(_))
    }
}

/// The calling partner: id, name, kind, branches and the key that signed the request.
#[utoipa::path(tag = "partner", responses(
    (status = 200, description = "The caller's profile", body = protocol::PartnerProfile),
    (status = 401, description = "Signature refused", body = Problem, content_type = "application/problem+json"),
))]
#[get("/v1/partner")]
pub async fn show(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let caller = request.caller();
    let profile = partners::profile(&state.storage, caller.partner_id).await?;
    Ok(HttpResponse::Ok().json(profile_body(profile, &caller.key_id)))
}

/// Registers the partner's next public key, signed with a current one (key rotation).
#[utoipa::path(tag = "partner", request_body = RegisterKeyRequest, responses(
    (status = 201, description = "The key is registered and active", body = protocol::PartnerKey),
    (status = 409, description = "Key id or public key already registered, or the same Idempotency-Key is in flight", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Not a public Ed25519 JWK, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/partner/keys")]
pub async fn register_key(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let body: RegisterKeyRequest = request.json()?;
    let invalid_key =
        |detail: String| ApiError::unprocessable(codes::INVALID_KEY, "Invalid key", detail);
    if body.jwk.is_private() {
        return Err(invalid_key(
            "the JWK contains the private key \"d\": send only the public key, and consider this private key exposed".into(),
        ));
    }
    let public = body
        .jwk
        .public_key()
        .map_err(|e| invalid_key(e.to_string()))?;
    let kid = public.kid.clone();
    let partner_id = request.caller().partner_id;
    let answer = idempotency::execute(
        &state.storage,
        state.idempotency,
        &request.idempotent_request()?,
        move |conn| {
            Box::pin(async move { partner_keys::register(conn, partner_id, &public).await })
        },
        |key| json_answer(201, &key_body(key)),
        |err| ApiError::from(err).recorded(),
    )
    .await?;
    state.authenticator.forget_key(&kid).await;
    Ok(answer_response(answer))
}
