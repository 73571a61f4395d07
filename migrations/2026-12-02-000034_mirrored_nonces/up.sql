-- Nonces accepted in Redis, mirrored here by 64-bit digest (docs/architecture.md, "Replay
-- protection"). A digest in a small per-minute partition costs PostgreSQL a fraction of a text key
-- in the one large primary key of signature_nonces (random descents into every nonce of the
-- signature window), and a minute past the window leaves with a DROP instead of a DELETE and
-- its vacuum. signature_nonces keeps the nonces accepted in PostgreSQL (while Redis cannot tell),
-- where two instances must not both accept one.

-- The first 8 bytes of SHA-256(key_id, 0x00, nonce) as a signed big-endian integer, as the
-- gateway computes it (storage::nonces::digest). textsend is the text's bytes in the database's
-- encoding (UTF-8, fixed at creation), hence IMMUTABLE.
CREATE FUNCTION nonce_digest(key_id text, nonce text) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN ('x' || encode(substring(sha256(textsend(key_id) || '\x00'::bytea || textsend(nonce))
                                    FROM 1 FOR 8), 'hex'))::bit(64)::bigint;

CREATE TABLE mirrored_nonces (
    digest bigint NOT NULL,
    mirrored_at timestamptz NOT NULL
) PARTITION BY RANGE (mirrored_at);
CREATE INDEX mirrored_nonces_digest_idx ON mirrored_nonces (digest);

-- Creates the partitions of this minute and the next two (named by their minute since the UNIX
-- epoch) and drops those wholly older than `lifetime`. A partition is only ever inserted into,
-- then dropped within minutes: vacuum and analyze would be work for nothing (each ran twice per
-- partition), so autovacuum leaves them alone. Each gateway instance calls it before its first
-- mirror write and then once a minute; two at once are harmless. It gives up after a second
-- of waiting for a lock rather than hold up the inserts queued behind it: the next two minutes
-- already exist.
CREATE FUNCTION keep_mirrored_nonce_partitions(lifetime interval) RETURNS void
    LANGUAGE plpgsql SET lock_timeout = '1s' AS $$
DECLARE
    this_minute bigint := floor(extract(epoch FROM now()) / 60);
    oldest_kept bigint := floor(extract(epoch FROM now() - lifetime) / 60);
    minute bigint;
    partition text;
BEGIN
    FOR minute IN this_minute .. this_minute + 2 LOOP
        partition := 'mirrored_nonces_' || minute;
        IF to_regclass(partition) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF mirrored_nonces '
                               'FOR VALUES FROM (%L) TO (%L) WITH (autovacuum_enabled = false)',
                               partition, to_timestamp(minute * 60), to_timestamp((minute + 1) * 60));
            EXCEPTION WHEN duplicate_table OR unique_violation THEN
                NULL; -- another instance made it first
            END;
        END IF;
    END LOOP;
    FOR partition IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'mirrored_nonces'::regclass
            AND substring(c.relname FROM '^mirrored_nonces_(\d+)$')::bigint < oldest_kept
    LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I', partition);
    END LOOP;
END
$$;

-- The mirror tells a nonce accepted in Redis that was accepted in PostgreSQL before (a replay) by
-- its digest.
ALTER TABLE signature_nonces
    ADD COLUMN digest bigint NOT NULL GENERATED ALWAYS AS (nonce_digest(key_id, nonce)) STORED;
CREATE INDEX signature_nonces_digest_idx ON signature_nonces (digest);
