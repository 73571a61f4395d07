//! `clubgate check` and `maintain`: proving the ledger exact, running maintenance now.

use domain::program::ProgramSettings;
use operations::ledger::{self, maintenance};
use partners::amounts::format_points;
use storage::Storage;

/// `clubgate check`.
pub(super) async fn check(storage: &Storage, program: &ProgramSettings) -> anyhow::Result<()> {
    let report = ledger::check(storage, program.time_zone).await?;
    println!(
        "checked {} accounts and {} transfers",
        partners::amounts::group(report.accounts),
        partners::amounts::group(report.transfers)
    );
    if !report.is_exact() {
        for violation in &report.violations {
            println!("VIOLATION: {violation}");
        }
        anyhow::bail!(
            "the ledger is not exact: {} violations",
            report.violations.len()
        );
    }
    println!("the ledger is exact: every balance matches its transfers, all balances sum to zero");
    Ok(())
}

/// `clubgate maintain`.
pub(super) async fn maintain(storage: &Storage, program: &ProgramSettings) -> anyhow::Result<()> {
    let report = maintenance::run(storage, program, chrono::Utc::now()).await?;
    println!(
        "{} holds expired, {} pending earns released, {} expired",
        report.holds_expired,
        report.earns_released,
        format_points(report.points_expired.get())
    );
    Ok(())
}
