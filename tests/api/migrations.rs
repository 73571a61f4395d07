//! Every down migration really undoes its up migration.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl as _;
use test_support::TestDb;

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Object {
    #[diesel(sql_type = Text)]
    name: String,
}

async fn schema_objects(db: &TestDb) -> Vec<String> {
    let mut conn = db.connect().await;
    let mut objects: Vec<Object> = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relname NOT LIKE '__diesel%' \
         UNION ALL SELECT t.typname::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') AND t.typname NOT LIKE '__diesel%' \
         AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid) \
         UNION ALL SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = 'public' AND p.proname NOT LIKE '__diesel%'",
    )
    .load(&mut conn)
    .await
    .unwrap();
    objects.sort();
    objects.into_iter().map(|o| o.name).collect()
}

#[tokio::test]
async fn migrations_apply_revert_and_apply_again() {
    let db = TestDb::empty().await;
    let applied = storage::migrations::run_pending(db.url()).await.unwrap();
    assert!(!applied.is_empty());
    let after_up = schema_objects(&db).await;
    for object in [
        "partners",
        "transfers",
        "accounts",
        "transfers_are_immutable",
    ] {
        assert!(
            after_up.contains(&object.to_owned()),
            "{object} missing: {after_up:?}"
        );
    }

    let reverted = storage::migrations::revert_all(db.url()).await.unwrap();
    assert_eq!(reverted.len(), applied.len());
    assert_eq!(
        schema_objects(&db).await,
        Vec::<String>::new(),
        "down migrations left objects behind"
    );

    storage::migrations::run_pending(db.url()).await.unwrap();
    assert_eq!(
        schema_objects(&db).await,
        after_up,
        "up after down must rebuild the same schema"
    );
}
