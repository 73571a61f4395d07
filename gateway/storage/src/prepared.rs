//! Raw statements that PostgreSQL prepares once per connection.
//!
//! diesel never caches a `sql_query`'s prepared statement (its text could be built at run time),
//! so diesel-async prepares one anew for every execution: a Parse and a Describe, and a plan,
//! per statement per batch. The committer's statements are constant texts whose shape does not
//! depend on the batch size (arrays bound once, unnested in SQL), so they can be cached on the
//! connection like any diesel query; [`prepared`] marks one as such.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;

/// A statement whose SQL text is a constant: cached on the connection by that text.
#[derive(Debug, Clone)]
pub struct Prepared<Q>(Q);

/// Marks `query`, built from a `&'static str` with `diesel::sql_query`, for the connection's
/// statement cache. Never use it for SQL assembled at run time: each distinct text would stay
/// prepared for the connection's life.
pub fn prepared<Q>(query: Q) -> Prepared<Q> {
    Prepared(query)
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Prepared<Q> {
    // No static id: the cache keys the statement by its SQL text and bind types.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}
