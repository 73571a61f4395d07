//! The load generator's parts, shared by `loadtest` (signed HTTP against a running gateway)
//! and `ledger-bench` (the ledger committer driven directly).

pub mod cpu;
pub mod report;
pub mod workload;
