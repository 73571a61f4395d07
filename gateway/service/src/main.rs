//! The `clubgate` binary: parse the command line and hand over to the library.

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    gateway::cli::main().await
}
