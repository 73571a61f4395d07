// @generated automatically by Diesel CLI.

diesel::table! {
    branches (id) {
        id -> Uuid,
        partner_id -> Uuid,
        code -> Text,
        name -> Text,
        city -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_records (partner_id, idempotency_key) {
        partner_id -> Uuid,
        idempotency_key -> Text,
        request_fingerprint -> Bytea,
        state -> Text,
        lease_token -> Nullable<Uuid>,
        lease_expires_at -> Nullable<Timestamptz>,
        response_status -> Nullable<Int2>,
        response_body -> Nullable<Bytea>,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    partner_keys (kid) {
        kid -> Text,
        partner_id -> Uuid,
        public_key -> Bytea,
        status -> Text,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    partners (id) {
        id -> Uuid,
        code -> Text,
        name -> Text,
        kind -> Text,
        status -> Text,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(branches -> partners (partner_id));
diesel::joinable!(idempotency_records -> partners (partner_id));
diesel::joinable!(partner_keys -> partners (partner_id));

diesel::allow_tables_to_appear_in_same_query!(
    branches,
    idempotency_records,
    partner_keys,
    partners,
);
