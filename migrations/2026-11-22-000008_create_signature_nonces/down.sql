DROP TABLE signature_nonces;
