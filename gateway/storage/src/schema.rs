// @generated automatically by Diesel CLI.

diesel::table! {
    accounts (id) {
        id -> Uuid,
        kind -> Text,
        member_id -> Nullable<Uuid>,
        partner_id -> Nullable<Uuid>,
        debits_posted -> Int8,
        credits_posted -> Int8,
        debits_pending -> Int8,
        credits_pending -> Int8,
        created_at -> Timestamptz,
        lifetime_earned -> Int8,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        at -> Timestamptz,
        actor -> Text,
        from_where -> Text,
        action -> Text,
        subject -> Text,
        detail -> Jsonb,
    }
}

diesel::table! {
    bonus_awards (member_id, bonus, occasion) {
        member_id -> Uuid,
        bonus -> Text,
        occasion -> Text,
        transfer_id -> Uuid,
        awarded_at -> Timestamptz,
    }
}

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
    campaign_spend (code) {
        code -> Text,
        points -> Int8,
    }
}

diesel::table! {
    cards (number) {
        number -> Text,
        member_id -> Uuid,
        status -> Text,
        replaced_by -> Nullable<Text>,
        issued_at -> Timestamptz,
        status_changed_at -> Timestamptz,
    }
}

diesel::table! {
    earn_lots (id) {
        id -> Uuid,
        member_account_id -> Uuid,
        amount -> Int8,
        remaining -> Int8,
        earned_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    earn_rule_points (member_id, rule, day) {
        member_id -> Uuid,
        rule -> Text,
        day -> Date,
        points -> Int8,
    }
}

diesel::table! {
    earn_tiers (transfer_id) {
        transfer_id -> Uuid,
        base_points -> Int8,
        tier -> Text,
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
        outcome -> Nullable<Json>,
    }
}

diesel::table! {
    late_earns (transfer_id) {
        transfer_id -> Uuid,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    lot_allocations (transfer_id, lot_id) {
        transfer_id -> Uuid,
        lot_id -> Uuid,
        amount -> Int8,
    }
}

diesel::table! {
    member_activity (member_id, day) {
        member_id -> Uuid,
        day -> Date,
        points -> Int8,
        spend_minor -> Int8,
        visits -> Int8,
    }
}

diesel::table! {
    member_photos (member_id) {
        member_id -> Uuid,
        media_type -> Text,
        sealed -> Bytea,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    member_tier_changes (id) {
        id -> Int8,
        member_id -> Uuid,
        changed_at -> Timestamptz,
        tier -> Text,
        previous_tier -> Nullable<Text>,
    }
}

diesel::table! {
    members (id) {
        id -> Uuid,
        phone_lookup -> Bytea,
        personal_data -> Bytea,
        status -> Text,
        enrolled_by_partner -> Uuid,
        enrolled_at_branch -> Uuid,
        enrolled_at -> Timestamptz,
        invite_code -> Text,
        referred_by -> Nullable<Uuid>,
        birthday -> Nullable<Text>,
        city_lookup -> Nullable<Bytea>,
        messages_consent_at -> Nullable<Timestamptz>,
        close_requested_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    nonce_mirrors (instance_id) {
        instance_id -> Text,
        epoch -> Int8,
        redis_unreachable -> Bool,
        check_before -> Int8,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    operator_keys (kid) {
        kid -> Text,
        name -> Text,
        role -> Text,
        public_key -> Bytea,
        status -> Text,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
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
    partner_terms (id) {
        id -> Uuid,
        partner_id -> Uuid,
        version -> Int4,
        effective_from -> Timestamptz,
        currency -> Text,
        price_per_point -> Numeric,
        reimbursement_per_point -> Numeric,
        period -> Text,
        time_zone -> Text,
        created_at -> Timestamptz,
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
        max_purchase_minor -> Nullable<Int8>,
        max_points_per_operation -> Nullable<Int8>,
    }
}

diesel::table! {
    pending_transfers (transfer_id) {
        transfer_id -> Uuid,
        timeout_at -> Timestamptz,
        member_id -> Uuid,
    }
}

diesel::table! {
    point_rules (id) {
        id -> Uuid,
        partner_id -> Uuid,
        branch_id -> Nullable<Uuid>,
        currency -> Text,
        earn_points -> Int8,
        per_amount_minor -> Int8,
        point_value_minor -> Int8,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    program_rules (kind, code, version) {
        kind -> Text,
        code -> Text,
        version -> Int4,
        effective_from -> Timestamptz,
        definition -> Nullable<Jsonb>,
        created_by -> Text,
        created_at -> Timestamptz,
        request_key -> Nullable<Text>,
        request_fingerprint -> Nullable<Bytea>,
    }
}

diesel::table! {
    settlement_adjustments (transfer_id) {
        transfer_id -> Uuid,
        resolution_id -> Uuid,
        corrects_transfer_id -> Uuid,
        money_minor -> Int8,
    }
}

diesel::table! {
    signature_nonces (key_id, nonce) {
        key_id -> Text,
        nonce -> Text,
        expires_at -> Timestamptz,
        digest -> Int8,
    }
}

diesel::table! {
    sms_outbox (id) {
        id -> Uuid,
        member_id -> Uuid,
        purpose -> Text,
        sealed -> Bytea,
        created_at -> Timestamptz,
        not_after -> Timestamptz,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        provider -> Nullable<Text>,
        provider_message_id -> Nullable<Text>,
    }
}

diesel::table! {
    staff (id) {
        id -> Uuid,
        login -> Text,
        name -> Text,
        role -> Text,
        partner_id -> Nullable<Uuid>,
        branch_ids -> Array<Nullable<Uuid>>,
        status -> Text,
        password_hash -> Text,
        created_at -> Timestamptz,
        totp_secret -> Nullable<Bytea>,
    }
}

diesel::table! {
    statement_lines (transfer_id) {
        transfer_id -> Uuid,
        statement_id -> Uuid,
        money_minor -> Int8,
    }
}

diesel::table! {
    statement_responses (id) {
        id -> Uuid,
        statement_id -> Uuid,
        kind -> Text,
        statement_sha256 -> Bytea,
        disputed_lines -> Array<Nullable<Uuid>>,
        accepted_lines -> Array<Nullable<Uuid>>,
        reason -> Nullable<Text>,
        key_id -> Text,
        signed_request -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    statements (id) {
        id -> Uuid,
        partner_id -> Uuid,
        sequence -> Int4,
        period_start -> Timestamptz,
        period_end -> Timestamptz,
        terms_id -> Uuid,
        closed_at -> Timestamptz,
        net_minor -> Int8,
        closing_minor -> Int8,
        payload -> Bytea,
        payload_sha256 -> Bytea,
        previous_sha256 -> Nullable<Bytea>,
        lines_sha256 -> Bytea,
        jws -> Text,
    }
}

diesel::table! {
    transfers (id) {
        id -> Uuid,
        debit_account_id -> Uuid,
        credit_account_id -> Uuid,
        amount -> Int8,
        code -> Text,
        phase -> Text,
        pending_id -> Nullable<Uuid>,
        reverses_id -> Nullable<Uuid>,
        member_id -> Nullable<Uuid>,
        partner_id -> Nullable<Uuid>,
        branch_id -> Nullable<Uuid>,
        card_number -> Nullable<Text>,
        partner_reference -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        money_minor -> Nullable<Int8>,
        currency -> Nullable<Text>,
        timeout_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        staff_id -> Nullable<Uuid>,
    }
}

diesel::joinable!(accounts -> members (member_id));
diesel::joinable!(accounts -> partners (partner_id));
diesel::joinable!(bonus_awards -> members (member_id));
diesel::joinable!(bonus_awards -> transfers (transfer_id));
diesel::joinable!(branches -> partners (partner_id));
diesel::joinable!(cards -> members (member_id));
diesel::joinable!(earn_lots -> accounts (member_account_id));
diesel::joinable!(earn_lots -> transfers (id));
diesel::joinable!(earn_rule_points -> members (member_id));
diesel::joinable!(earn_tiers -> transfers (transfer_id));
diesel::joinable!(idempotency_records -> partners (partner_id));
diesel::joinable!(late_earns -> transfers (transfer_id));
diesel::joinable!(lot_allocations -> earn_lots (lot_id));
diesel::joinable!(lot_allocations -> transfers (transfer_id));
diesel::joinable!(member_activity -> members (member_id));
diesel::joinable!(member_photos -> members (member_id));
diesel::joinable!(member_tier_changes -> members (member_id));
diesel::joinable!(members -> branches (enrolled_at_branch));
diesel::joinable!(members -> partners (enrolled_by_partner));
diesel::joinable!(partner_keys -> partners (partner_id));
diesel::joinable!(partner_terms -> partners (partner_id));
diesel::joinable!(pending_transfers -> members (member_id));
diesel::joinable!(pending_transfers -> transfers (transfer_id));
diesel::joinable!(point_rules -> branches (branch_id));
diesel::joinable!(point_rules -> partners (partner_id));
diesel::joinable!(settlement_adjustments -> statement_responses (resolution_id));
diesel::joinable!(sms_outbox -> members (member_id));
diesel::joinable!(staff -> partners (partner_id));
diesel::joinable!(statement_lines -> statements (statement_id));
diesel::joinable!(statement_lines -> transfers (transfer_id));
diesel::joinable!(statement_responses -> statements (statement_id));
diesel::joinable!(statements -> partner_terms (terms_id));
diesel::joinable!(statements -> partners (partner_id));
diesel::joinable!(transfers -> staff (staff_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    audit_log,
    bonus_awards,
    branches,
    campaign_spend,
    cards,
    earn_lots,
    earn_rule_points,
    earn_tiers,
    idempotency_records,
    late_earns,
    lot_allocations,
    member_activity,
    member_photos,
    member_tier_changes,
    members,
    nonce_mirrors,
    operator_keys,
    partner_keys,
    partner_terms,
    partners,
    pending_transfers,
    point_rules,
    program_rules,
    settlement_adjustments,
    signature_nonces,
    sms_outbox,
    staff,
    statement_lines,
    statement_responses,
    statements,
    transfers,
);
