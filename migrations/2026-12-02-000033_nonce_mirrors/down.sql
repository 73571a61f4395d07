DROP TABLE nonce_mirrors;
DROP SEQUENCE nonce_epochs;
