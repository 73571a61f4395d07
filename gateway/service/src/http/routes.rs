//! The route table: every route the gateway serves, in one place.
//!
//! Routes are mounted through utoipa-actix-web, so a route cannot exist without
//! also appearing in the OpenAPI document served at `/openapi.json`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::web::{self, Data};
use actix_web::{App, HttpRequest, HttpResponse};
use utoipa::OpenApi as _;
use utoipa_actix_web::AppExt as _;

use super::error::{ApiError, invalid_request, route_not_found};
use super::request_span::GatewayRootSpan;
use super::{
    earns, events, health, jwks, members, metrics, openapi, openapi::ApiDoc, operator, partner,
    program, quote, receipts, redemptions, reversals, statements, transactions,
};
use crate::state::AppState;

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(route_not_found(req.method().as_str(), req.path()))
}

/// The application with every route, the receipt signer and request tracing.
pub(crate) fn app(
    state: Data<AppState>,
    pages: Data<pages::Pages>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let payload_limit = web::PayloadConfig::new(state.max_body_bytes);
    // Malformed path or query parameters are problem documents like every other error.
    let path_errors =
        web::PathConfig::default().error_handler(|err, _| invalid_request(err.to_string()).into());
    let query_errors =
        web::QueryConfig::default().error_handler(|err, _| invalid_request(err.to_string()).into());
    let (app, mut api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(health::health)
        .service(health::ready)
        .service(metrics::show)
        .service(jwks::show)
        .service(partner::show)
        .service(partner::register_key)
        .service(members::enroll)
        .service(members::check)
        .service(quote::quote)
        .service(earns::create)
        .service(earns::post_pending)
        .service(earns::void_pending)
        .service(redemptions::create)
        .service(redemptions::capture)
        .service(redemptions::void)
        .service(reversals::create)
        .service(events::create)
        .service(transactions::list)
        .service(statements::list)
        .service(statements::show)
        .service(statements::lines)
        .service(statements::acknowledge)
        .service(statements::dispute)
        .service(operator::statements)
        .service(operator::statement)
        .service(operator::lines)
        .service(operator::resolve)
        .service(operator::position)
        .service(operator::reconciliation)
        .service(operator::close_periods)
        .service(operator::list_terms)
        .service(operator::set_terms)
        .service(program::list)
        .service(program::show)
        .service(program::change)
        .service(program::dry_run)
        .split_for_parts();
    openapi::complete(&mut api);
    let api = Data::new(api);
    app.app_data(state)
        .app_data(payload_limit)
        .app_data(path_errors)
        .app_data(query_errors)
        .app_data(api)
        .route(
            "/openapi.json",
            web::get().to(|api: Data<utoipa::openapi::OpenApi>| async move {
                HttpResponse::Ok().json(api.get_ref())
            }),
        )
        // After every API route: the pages' scope matches any path it does not serve.
        .configure(pages::configure(pages))
        .default_service(web::to(not_found))
        .wrap(from_fn(receipts::sign))
        .wrap(from_fn(metrics::record))
        .wrap(tracing_actix_web::TracingLogger::<GatewayRootSpan>::new())
}
