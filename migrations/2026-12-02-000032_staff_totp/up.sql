-- A staff account's TOTP secret (RFC 6238), when it signs in with a code from an authenticator
-- app as well as its password; sealed under the member-data key, bound to the account.
ALTER TABLE staff ADD COLUMN totp_secret bytea;
