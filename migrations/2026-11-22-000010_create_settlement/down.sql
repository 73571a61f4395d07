DROP TABLE settlement_adjustments, statement_responses, statement_lines, statements, operator_keys, partner_terms;
DROP FUNCTION settlement_is_append_only();
