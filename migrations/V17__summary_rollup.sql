-- A maintained rollup behind GET /api/v1/summary (issue 14): for each
-- period, group and kind of hours, the sorted values of every span, so a
-- summary over a year reads a few hundred rows instead of every pull
-- request. A period is a week (Monday 00:00 UTC) cut at month ends, so
-- both weeks and months are unions of whole periods.
--
-- An internal cache of prpulse-api, not a reporting surface (pr_metrics
-- stays that): prpulse-api's refresher writes it, and a summary serves a
-- period from it only when the period is built and not marked dirty in
-- the summary's own snapshot; every other period is read from the raw
-- rows. So answers are exact whatever the rollup's state.

CREATE FUNCTION summary_period(at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT greatest(date_trunc('week', at AT TIME ZONE 'UTC'),
                      date_trunc('month', at AT TIME ZONE 'UTC'))::date $$;

-- The periods the refresher has built (a period may be built and empty).
CREATE TABLE summary_rollup_periods (
    period_start date PRIMARY KEY,
    built_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per period, group and hours, apart for human and bot authors
-- (bots=include reads both). group_kind is the API's group_by; group_key
-- is NULL for group_by=none and for an author unknown to prpulse.
CREATE TABLE summary_rollup (
    period_start  date    NOT NULL,
    group_kind    text    NOT NULL,
    group_key     text,
    hours         text    NOT NULL,
    author_is_bot boolean NOT NULL,
    merged        bigint  NOT NULL,
    -- The five spans and the review rounds, in the API's order: each a
    -- little-endian u32 count then that many little-endian f64s, sorted.
    -- Plain bytes decode with a copy; a float8[] cost a call per value.
    sorted_values bytea   NOT NULL
);
-- Read whole on every summary: not compressed, so never decompressed.
ALTER TABLE summary_rollup ALTER COLUMN sorted_values SET STORAGE EXTERNAL;
CREATE UNIQUE INDEX summary_rollup_key_idx
    ON summary_rollup (group_kind, hours, period_start, author_is_bot, group_key) NULLS NOT DISTINCT;
CREATE INDEX summary_rollup_period_idx ON summary_rollup (period_start);

-- Periods whose rows changed since they were built. One mark per writing
-- transaction and period: a refresher removes only the marks its snapshot
-- sees, so a write committed after that snapshot keeps its own mark (one
-- mark per period alone would be taken as already there, and lost).
CREATE TABLE summary_rollup_dirty (
    period_start date NOT NULL,
    xact         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (period_start, xact)
);

-- Every period is stale: a change to who is in which team, a calendar, a
-- login, a bot flag or a repository's name (rare; each changes values
-- across all periods). One mark per transaction, as above.
CREATE TABLE summary_rollup_dirty_all (
    xact xid8 PRIMARY KEY DEFAULT pg_current_xact_id()
);

-- Marks the periods a pull request's spans ended in, before and after.
CREATE FUNCTION summary_rollup_mark_pull_request() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ends timestamptz[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        ends := ARRAY[NEW.merged_at, NEW.first_review_at, NEW.first_approval_at];
    ELSIF TG_OP = 'DELETE' THEN
        ends := ARRAY[OLD.merged_at, OLD.first_review_at, OLD.first_approval_at];
    ELSE
        ends := ARRAY[OLD.merged_at, OLD.first_review_at, OLD.first_approval_at,
                      NEW.merged_at, NEW.first_review_at, NEW.first_approval_at];
    END IF;
    INSERT INTO summary_rollup_dirty (period_start)
    SELECT DISTINCT summary_period(at) FROM unnest(ends) at WHERE at IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE FUNCTION summary_rollup_mark_all() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO summary_rollup_dirty_all DEFAULT VALUES ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER summary_rollup_mark AFTER INSERT OR DELETE ON pull_requests
    FOR EACH ROW EXECUTE FUNCTION summary_rollup_mark_pull_request();
-- Only the columns a summary reads: the worker rewrites rows for titles,
-- versions and states far more often, and those cost one comparison here.
CREATE TRIGGER summary_rollup_mark_update AFTER UPDATE ON pull_requests
    FOR EACH ROW
    WHEN ((OLD.repository_id, OLD.author_id, OLD.merged_at, OLD.first_review_at,
           OLD.first_approval_at, OLD.ready_at, OLD.cycle_time_seconds,
           OLD.review_time_seconds, OLD.pickup_time_seconds,
           OLD.time_to_first_approval_seconds, OLD.merge_after_approval_seconds,
           OLD.review_rounds)
          IS DISTINCT FROM
          (NEW.repository_id, NEW.author_id, NEW.merged_at, NEW.first_review_at,
           NEW.first_approval_at, NEW.ready_at, NEW.cycle_time_seconds,
           NEW.review_time_seconds, NEW.pickup_time_seconds,
           NEW.time_to_first_approval_seconds, NEW.merge_after_approval_seconds,
           NEW.review_rounds))
    EXECUTE FUNCTION summary_rollup_mark_pull_request();

CREATE TRIGGER summary_rollup_mark_all AFTER INSERT OR UPDATE OR DELETE ON github_team_members
    FOR EACH ROW EXECUTE FUNCTION summary_rollup_mark_all();
CREATE TRIGGER summary_rollup_mark_all AFTER INSERT OR DELETE ON github_teams
    FOR EACH ROW EXECUTE FUNCTION summary_rollup_mark_all();
CREATE TRIGGER summary_rollup_mark_all_update AFTER UPDATE ON github_teams
    FOR EACH ROW WHEN ((OLD.slug, OLD.deleted) IS DISTINCT FROM (NEW.slug, NEW.deleted))
    EXECUTE FUNCTION summary_rollup_mark_all();
CREATE TRIGGER summary_rollup_mark_all AFTER INSERT OR UPDATE OR DELETE ON working_calendars
    FOR EACH ROW EXECUTE FUNCTION summary_rollup_mark_all();
-- A new member or repository has no pull requests yet (foreign keys).
CREATE TRIGGER summary_rollup_mark_all AFTER DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION summary_rollup_mark_all();
CREATE TRIGGER summary_rollup_mark_all_update AFTER UPDATE ON members
    FOR EACH ROW WHEN ((OLD.login, OLD.is_bot) IS DISTINCT FROM (NEW.login, NEW.is_bot))
    EXECUTE FUNCTION summary_rollup_mark_all();
CREATE TRIGGER summary_rollup_mark_all AFTER DELETE ON repositories
    FOR EACH ROW EXECUTE FUNCTION summary_rollup_mark_all();
CREATE TRIGGER summary_rollup_mark_all_update AFTER UPDATE ON repositories
    FOR EACH ROW WHEN (OLD.full_name IS DISTINCT FROM NEW.full_name)
    EXECUTE FUNCTION summary_rollup_mark_all();
-- TRUNCATE fires no row triggers.
CREATE TRIGGER summary_rollup_mark_all_truncate
    AFTER TRUNCATE ON pull_requests FOR EACH STATEMENT EXECUTE FUNCTION summary_rollup_mark_all();
CREATE TRIGGER summary_rollup_mark_all_truncate
    AFTER TRUNCATE ON github_team_members FOR EACH STATEMENT EXECUTE FUNCTION summary_rollup_mark_all();
CREATE TRIGGER summary_rollup_mark_all_truncate
    AFTER TRUNCATE ON github_teams FOR EACH STATEMENT EXECUTE FUNCTION summary_rollup_mark_all();
CREATE TRIGGER summary_rollup_mark_all_truncate
    AFTER TRUNCATE ON working_calendars FOR EACH STATEMENT EXECUTE FUNCTION summary_rollup_mark_all();

-- What is there already gets built by the first refresh.
INSERT INTO summary_rollup_dirty (period_start)
SELECT DISTINCT summary_period(at)
FROM pull_requests, unnest(ARRAY[merged_at, first_review_at, first_approval_at]) at
WHERE at IS NOT NULL;
