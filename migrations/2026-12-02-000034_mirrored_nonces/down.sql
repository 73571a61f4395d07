ALTER TABLE signature_nonces DROP COLUMN digest;
DROP FUNCTION keep_mirrored_nonce_partitions(interval);
DROP TABLE mirrored_nonces;
DROP FUNCTION nonce_digest(text, text);
