DROP TABLE member_photos;
ALTER TABLE members DROP COLUMN messages_consent_at;
