DROP TABLE program_rules;
DROP FUNCTION program_rules_are_immutable();
