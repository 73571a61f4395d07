//! The gateway's public keys as a JSON Web Key Set.

use actix_web::web::Data;
use actix_web::{HttpResponse, get};

use crate::state::AppState;

/// The keys that verify the gateway's receipts (and, later, statements).
#[utoipa::path(tag = "keys", operation_id = "getGatewayKeys", responses(
    (status = 200, description = "RFC 7517 JWK Set of Ed25519 (RFC 8037) public keys", content_type = "application/jwk-set+json"),
))]
#[get("/.well-known/jwks.json")]
pub(crate) async fn show(state: Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .insert_header(("cache-control", "public, max-age=300"))
        .json(&state.gateway_keys.published)
}
