//! The `clubgate` binary: parse the command line and hand over to the library.

// Every request allocates and frees many small buffers across the worker threads: glibc's
// allocator held a tenth of the gateway's samples at saturation. Measured alone, mimalloc was
// within the run-to-run noise and keeps about 16 MB more resident (docs/BENCHMARKS.md, issue 17).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    gateway::cli::main().await
}
