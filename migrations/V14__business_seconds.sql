-- Business hours in SQL, for Grafana: the same working seconds as
-- prpulse-api's `hours=business` (prpulse_domain::WorkingCalendar::
-- working_seconds), from the same calendars (working_calendars, V13).
-- tests/business_hours_sql.rs holds the two to agreement. Functions are
-- named pr_* like pr_metrics: prpulse_* names are metric names in deploy/.

-- A local time clocks skip: the first whole minute after it that exists,
-- read in the offset after the change (Rust steps minute by minute too).
CREATE FUNCTION pr_first_instant_after_gap(local timestamp, time_zone text, after_offset interval)
RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT min((local + minutes * interval '1 minute' - after_offset) AT TIME ZONE 'UTC')
    FROM generate_series(1, 24 * 60) minutes
    WHERE (((local + minutes * interval '1 minute' - after_offset) AT TIME ZONE 'UTC')
              AT TIME ZONE time_zone) = local + minutes * interval '1 minute'
$$;

-- The instant a local clock in `time_zone` shows `local`, as Rust's
-- WorkingCalendar::instant: the earlier one when clocks go back (Postgres'
-- own AT TIME ZONE takes the later), the first existing minute after it
-- when clocks go forward (Postgres would shift by the gap instead).
-- The two offsets a day either side of `local` are the candidates: one
-- change of offset within two days is assumed (true of every IANA zone
-- in this century).
CREATE FUNCTION pr_local_instant(local timestamp, time_zone text)
RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN before_offset = after_offset THEN (local - before_offset) AT TIME ZONE 'UTC'
        ELSE coalesce(
            least(
                CASE WHEN ((local - before_offset) AT TIME ZONE 'UTC') AT TIME ZONE time_zone = local
                     THEN (local - before_offset) AT TIME ZONE 'UTC' END,
                CASE WHEN ((local - after_offset) AT TIME ZONE 'UTC') AT TIME ZONE time_zone = local
                     THEN (local - after_offset) AT TIME ZONE 'UTC' END),
            pr_first_instant_after_gap(local, time_zone, after_offset))
    END
    FROM (SELECT ((local - interval '1 day') AT TIME ZONE 'UTC') AT TIME ZONE time_zone
                     - (local - interval '1 day') AS before_offset,
                 ((local + interval '1 day') AT TIME ZONE 'UTC') AT TIME ZONE time_zone
                     - (local + interval '1 day') AS after_offset) offsets
$$;

-- Working seconds in [start, finish) on a calendar given by its fields:
-- each working local day's window, from day_start to day_end turned into
-- instants, clipped to the span, whole seconds per day (Rust truncates
-- each day's duration too), one day of margin each side of the span's
-- local dates. 0 when finish is not after start; NULL when either is NULL.
-- A day whose offset is the same a day before and two days after has no
-- change of clocks near it: its window is plain arithmetic, and only the
-- days around a change pay for pr_local_instant.
CREATE FUNCTION pr_business_seconds(
    start timestamptz, finish timestamptz, time_zone text, working_days smallint[],
    day_start time, day_end time, holidays date[])
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN start IS NULL OR finish IS NULL THEN NULL
                WHEN finish <= start THEN 0::bigint
                ELSE (SELECT coalesce(sum(greatest(0, trunc(extract(epoch FROM
                                 least(window_close, finish) - greatest(window_open, start))))), 0)::bigint
                      FROM (SELECT CASE WHEN before_offset = after_offset
                                        THEN (day + day_start - before_offset) AT TIME ZONE 'UTC'
                                        ELSE pr_local_instant(day + day_start, time_zone) END AS window_open,
                                   CASE WHEN before_offset = after_offset
                                        THEN (day + day_end - before_offset) AT TIME ZONE 'UTC'
                                        ELSE pr_local_instant(day + day_end, time_zone) END AS window_close
                            FROM (SELECT day,
                                         ((day - 1)::timestamp AT TIME ZONE 'UTC') AT TIME ZONE time_zone
                                             - (day - 1)::timestamp AS before_offset,
                                         ((day + 2)::timestamp AT TIME ZONE 'UTC') AT TIME ZONE time_zone
                                             - (day + 2)::timestamp AS after_offset
                                  FROM (SELECT (start AT TIME ZONE time_zone)::date - 1 + n AS day
                                        FROM generate_series(0, (finish AT TIME ZONE time_zone)::date
                                                                - (start AT TIME ZONE time_zone)::date + 2) n) dates
                                  WHERE extract(isodow FROM day)::smallint = ANY (working_days)
                                    AND NOT day = ANY (holidays)) days) windows)
           END
$$;

-- Working seconds on the calendar of `team_slug` (NULL: the default), as
-- prpulse_store::calendars::Calendars::of_team: that team's row, else the
-- default row, else UTC Monday to Friday 09:00-17:00. PL/pgSQL, so the
-- calendar reaches pr_business_seconds as values: as one SQL query
-- joining the calendar it measured 6x slower (20,000 ten-day spans:
-- 12.9 s against 2.0 s).
CREATE FUNCTION pr_business_seconds(start timestamptz, finish timestamptz, team_slug text)
RETURNS bigint LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    calendar record;
BEGIN
    SELECT c.time_zone, c.working_days, c.day_start, c.day_end, c.holidays INTO calendar
    FROM working_calendars c
    WHERE c.team_slug = pr_business_seconds.team_slug;
    IF NOT FOUND THEN
        SELECT c.time_zone, c.working_days, c.day_start, c.day_end, c.holidays INTO calendar
        FROM working_calendars c
        WHERE c.team_slug IS NULL;
    END IF;
    IF NOT FOUND THEN
        RETURN pr_business_seconds(start, finish, 'UTC', '{1,2,3,4,5}', '09:00', '17:00', '{}');
    END IF;
    RETURN pr_business_seconds(start, finish, calendar.time_zone, calendar.working_days,
                               calendar.day_start, calendar.day_end, calendar.holidays);
END
$$;

-- The team whose calendar measures an author's spans outside a grouping
-- by team, as prpulse-api's summary: the first (by slug) of the author's
-- current teams that has a calendar; NULL (the default) when none has.
CREATE FUNCTION pr_calendar_team(author_id bigint)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT t.slug
    FROM github_team_members tm
    JOIN github_teams t ON t.github_id = tm.team_id
    JOIN working_calendars c ON c.team_slug = t.slug
    WHERE tm.member_id = $1 AND NOT t.deleted
    ORDER BY t.slug
    LIMIT 1
$$;

-- pr_metrics gains the author's GitHub id (extended, nothing renamed):
-- the business-hours functions below find the author's teams by it, so
-- they read pr_metrics alone and not pull_requests, which Grafana's role
-- may not read.
CREATE OR REPLACE VIEW pr_metrics AS
SELECT
    r.full_name                          AS repository,
    pr.number,
    pr.title,
    author.login                         AS author,
    coalesce(author.is_bot, false)       AS author_is_bot,
    CASE WHEN pr.merged_at IS NOT NULL THEN 'merged' ELSE pr.state END AS state,
    pr.draft,
    pr.created_at,
    pr.ready_at,
    pr.first_review_at,
    pr.first_approval_at,
    pr.merged_at,
    pr.closed_at,
    pr.cycle_time_seconds,
    pr.review_time_seconds,
    pr.pickup_time_seconds,
    pr.time_to_first_approval_seconds,
    pr.merge_after_approval_seconds,
    pr.review_rounds,
    pr.additions,
    pr.deletions,
    pr.changed_files,
    pr.head_ref,
    pr.base_ref,
    pr.github_id                         AS pull_request_id,
    r.github_id                          AS repository_id,
    pr.author_id                         AS author_id
FROM pull_requests pr
JOIN repositories r ON r.github_id = pr.repository_id
LEFT JOIN members author ON author.github_id = pr.author_id;

-- pr_metrics with the author's teams, and its spans in `hours`: 'wall' as
-- stored, 'business' in working seconds of the author's calendar
-- (pr_calendar_team), each span between the instants prpulse-api measures
-- it between: pickup and time to first approval from ready_at (a review
-- while still a draft is no pickup), the others back from the time they
-- ended. The Grafana pull-request dashboard reads this. A plain SQL
-- function, so Postgres inlines it: filters reach pr_metrics' indexes and
-- only the spans a query selects are measured.
CREATE FUNCTION pr_metrics_in_hours(hours text)
RETURNS TABLE (
    repository text, number integer, title text, author text, author_is_bot boolean,
    teams text[], state text, draft boolean, created_at timestamptz, ready_at timestamptz,
    first_review_at timestamptz, first_approval_at timestamptz, merged_at timestamptz,
    closed_at timestamptz, cycle_time_seconds bigint, review_time_seconds bigint,
    pickup_time_seconds bigint, time_to_first_approval_seconds bigint,
    merge_after_approval_seconds bigint, review_rounds integer, additions integer,
    deletions integer, changed_files integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT m.repository, m.number, m.title, m.author, m.author_is_bot,
           ARRAY(SELECT DISTINCT t.slug FROM github_team_members tm
                 JOIN github_teams t ON t.github_id = tm.team_id
                 WHERE tm.member_id = m.author_id AND NOT t.deleted AND t.slug IS NOT NULL
                 ORDER BY t.slug),
           m.state, m.draft, m.created_at, m.ready_at, m.first_review_at, m.first_approval_at,
           m.merged_at, m.closed_at,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(m.merged_at - m.cycle_time_seconds * interval '1 second',
                                         m.merged_at, pr_calendar_team(m.author_id))
                ELSE m.cycle_time_seconds END,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(m.first_review_at - m.review_time_seconds * interval '1 second',
                                         m.first_review_at, pr_calendar_team(m.author_id))
                ELSE m.review_time_seconds END,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(m.ready_at,
                                         m.ready_at + m.pickup_time_seconds * interval '1 second',
                                         pr_calendar_team(m.author_id))
                ELSE m.pickup_time_seconds END,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(m.ready_at,
                                         m.ready_at + m.time_to_first_approval_seconds * interval '1 second',
                                         pr_calendar_team(m.author_id))
                ELSE m.time_to_first_approval_seconds END,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(m.merged_at - m.merge_after_approval_seconds * interval '1 second',
                                         m.merged_at, pr_calendar_team(m.author_id))
                ELSE m.merge_after_approval_seconds END,
           m.review_rounds, m.additions, m.deletions, m.changed_files
    FROM pr_metrics m
$$;

-- One row per pull request and team of its author (a pull request counts
-- for every team, as prpulse-api's group_by=team), its spans in `hours`;
-- business hours in that team's calendar (else the default), as the API
-- measures each team's row, so a person in two teams counts in each
-- team's own hours. The dashboard's by-team table reads this.
CREATE FUNCTION pr_metrics_by_team(hours text)
RETURNS TABLE (
    team text, repository text, number integer, author text, author_is_bot boolean,
    teams text[], state text, created_at timestamptz, ready_at timestamptz,
    first_review_at timestamptz, first_approval_at timestamptz, merged_at timestamptz,
    cycle_time_seconds bigint, review_time_seconds bigint, pickup_time_seconds bigint,
    time_to_first_approval_seconds bigint, merge_after_approval_seconds bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT team, w.repository, w.number, w.author, w.author_is_bot, w.teams, w.state,
           w.created_at, w.ready_at, w.first_review_at, w.first_approval_at, w.merged_at,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(w.merged_at - w.cycle_time_seconds * interval '1 second',
                                         w.merged_at, team)
                ELSE w.cycle_time_seconds END,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(w.first_review_at - w.review_time_seconds * interval '1 second',
                                         w.first_review_at, team)
                ELSE w.review_time_seconds END,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(w.ready_at,
                                         w.ready_at + w.pickup_time_seconds * interval '1 second', team)
                ELSE w.pickup_time_seconds END,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(w.ready_at,
                                         w.ready_at + w.time_to_first_approval_seconds * interval '1 second',
                                         team)
                ELSE w.time_to_first_approval_seconds END,
           CASE WHEN $1 = 'business'
                THEN pr_business_seconds(w.merged_at - w.merge_after_approval_seconds * interval '1 second',
                                         w.merged_at, team)
                ELSE w.merge_after_approval_seconds END
    FROM pr_metrics_in_hours('wall') w, unnest(w.teams) AS team
$$;

-- Grafana reads as prpulse_reporting (V11). These functions run with the
-- caller's rights and read the teams, their members and the calendars, so
-- the role may read those three as well: team names and working hours,
-- nothing secret (secrets, tokens and raw payloads stay closed to it).
-- The functions stay SECURITY INVOKER so Postgres can inline them and
-- push a dashboard's time filter into them.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'prpulse_reporting') THEN
        GRANT SELECT ON github_teams, github_team_members, working_calendars TO prpulse_reporting;
    END IF;
END $$;
