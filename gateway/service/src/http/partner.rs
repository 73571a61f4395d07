//! `/v1/partner`: the calling partner's own profile and keys.

use ::partners::protocol::{self, Problem, RegisterKeyRequest};
use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpResponse, get, post};
use domain::keys::PartnerKey;
use domain::partners::PartnerProfile;
use operations::{keys, partners};

use super::answers::respond;
use super::error::{ApiError, invalid_key};
use super::verified::VerifiedPartner;
use crate::state::AppState;

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
                status: b.status.as_str().to_owned(),
            })
            .collect(),
        key_id: key_id.to_owned(),
    }
}

fn key_body(key: PartnerKey) -> protocol::PartnerKey {
    protocol::PartnerKey {
        key_id: key.kid,
        status: key.status.as_str().to_owned(),
        created_at: key.created_at,
        revoked_at: key.revoked_at,
    }
}

/// The calling partner: id, name, kind, branches and the key that signed the request.
#[utoipa::path(tag = "partner", operation_id = "getPartner", responses(
    (status = 200, description = "The caller's profile", body = protocol::PartnerProfile),
))]
#[get("/v1/partner")]
pub(crate) async fn show(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let caller = request.caller();
    let profile = partners::profile(&state.club, caller.partner_id).await?;
    Ok(HttpResponse::Ok().json(profile_body(profile, &caller.key_id)))
}

/// Registers the partner's next public key, signed with a current one (key rotation).
#[utoipa::path(tag = "partner", operation_id = "registerPartnerKey", request_body = RegisterKeyRequest, responses(
    (status = 201, description = "The key is registered and active", body = protocol::PartnerKey),
    (status = 409, description = "Key id or public key already registered, or the same Idempotency-Key is in flight", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Not a public Ed25519 JWK, or the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/partner/keys")]
pub(crate) async fn register_key(
    state: Data<AppState>,
    request: VerifiedPartner,
) -> Result<HttpResponse, ApiError> {
    let body: RegisterKeyRequest = request.json()?;
    if body.jwk.is_private() {
        return Err(invalid_key(
            "the JWK contains the private key \"d\": send only the public key, and consider this private key exposed",
        ));
    }
    let public = body
        .jwk
        .public_key()
        .map_err(|e| invalid_key(e.to_string()))?;
    let kid = public.kid.clone();
    let answered = keys::register_own(&state.club, &request.scope()?, public).await?;
    state.authenticator.forget_key(&kid).await;
    Ok(respond(answered, StatusCode::CREATED, key_body))
}
