-- V18: raw payloads move out of the ledger into a table partitioned by
-- receive month (issue 16, item 6), so that retention drops whole
-- partitions instead of rewriting rows of `deliveries` (which left the
-- ledger bloated with dead 20 KB tuples and their TOAST). The ledger of
-- delivery ids stays one table, so "apply once" still spans all time.
--
-- Payloads arrive compressed (lz4, by whoever published the delivery, see
-- prpulse_domain::encoding) and are stored as they are: STORAGE EXTERNAL
-- keeps them out of line without Postgres compressing them again.
CREATE TABLE delivery_payloads (
    delivery_id text        NOT NULL,
    -- The delivery's received_at (the partition key), equal to its ledger row's.
    received_at timestamptz NOT NULL,
    -- How `payload` is encoded: 'lz4' (lz4 block, 4-byte little-endian
    -- length first) or 'identity'.
    encoding    text        NOT NULL CHECK (encoding IN ('lz4', 'identity')),
    payload     bytea       NOT NULL,
    PRIMARY KEY (delivery_id, received_at)
) PARTITION BY RANGE (received_at);
ALTER TABLE delivery_payloads ALTER COLUMN payload SET STORAGE EXTERNAL;

-- Catches rows outside every month partition (a clock far off); the
-- workers and the scheduler create each month's partition ahead of time
-- (prpulse_store::payloads::ensure_partitions), so it stays empty.
CREATE TABLE delivery_payloads_default PARTITION OF delivery_payloads DEFAULT;

-- One partition per month, from the oldest payload still in the ledger to
-- two months ahead. Existing payloads stay in deliveries.payload until
-- `prpulse payloads migrate` (or the scheduler's retention job, a batch
-- per run) moves them, online, in small transactions.
DO $$
DECLARE
    month date := date_trunc('month', least(
        now(),
        coalesce((SELECT min(received_at) FROM deliveries WHERE payload IS NOT NULL), now())
    ) AT TIME ZONE 'UTC')::date;
BEGIN
    WHILE month <= (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months')::date LOOP
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF delivery_payloads
                 FOR VALUES FROM (%L) TO (%L)',
            'delivery_payloads_p' || to_char(month, 'YYYYMM'),
            (month::timestamp AT TIME ZONE 'UTC'),
            ((month + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
        month := (month + interval '1 month')::date;
    END LOOP;
END $$;
