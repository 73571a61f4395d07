//! Settlement between the operator and its partners (see `docs/settlement.md`):
//! terms, the period close that issues signed statements, the statements
//! themselves and the operator's position, the partners' acknowledgements and
//! disputes, the resolutions that adjust the next statement, and reconciliation
//! against a partner's own records.

pub mod answers;
pub mod close;
pub mod reconcile;
pub mod statements;
pub mod terms;
