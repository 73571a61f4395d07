DROP TABLE member_tier_changes;
DROP FUNCTION member_tier_changes_are_history();
DROP TABLE member_activity;
