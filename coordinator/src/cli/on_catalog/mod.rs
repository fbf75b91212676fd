//! Commands that open the catalog directly (see `cli/mod.rs` for why): they
//! read tables, or change them through the commit protocol only.

pub(super) mod history;
pub(super) mod maintenance;
pub(super) mod sql;
pub(super) mod table_summary;
pub(super) mod trace;
