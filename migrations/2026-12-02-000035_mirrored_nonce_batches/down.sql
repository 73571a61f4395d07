DROP TABLE mirrored_nonces;

CREATE TABLE mirrored_nonces (
    digest bigint NOT NULL,
    mirrored_at timestamptz NOT NULL
) PARTITION BY RANGE (mirrored_at);
CREATE INDEX mirrored_nonces_digest_idx ON mirrored_nonces (digest);
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
