//! The `clubgate` binary: parse the command line and hand over to the library.

// Every request allocates and frees many small buffers across the worker threads; glibc's
// allocator spent a tenth of the gateway's CPU on them at saturation (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    gateway::cli::main().await
}
