ALTER TABLE staff DROP COLUMN totp_secret;
