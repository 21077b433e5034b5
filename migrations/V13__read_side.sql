-- The read side (prpulse-api, `prpulse report`): API tokens, working
-- calendars for business hours, and the indexes its queries select by.

-- Bearer tokens for prpulse-api. Only a SHA-256 of each token is kept: a
-- token is 32 random bytes, so a plain hash cannot be guessed back, and a
-- leaked table grants nothing.
CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    name         text        NOT NULL,
    token_sha256 bytea       NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
-- A name is reused only once the token it named is revoked.
CREATE UNIQUE INDEX api_tokens_active_name_idx ON api_tokens (name) WHERE revoked_at IS NULL;

-- Working calendars: one per GitHub team slug, and the default one
-- (team_slug NULL) for authors in no team with a calendar. Without a
-- default row the default is UTC, Monday to Friday, 09:00-17:00.
CREATE TABLE working_calendars (
    id           bigserial PRIMARY KEY,
    team_slug    text UNIQUE,
    -- IANA name, checked by prpulse (chrono-tz) before it is stored.
    time_zone    text        NOT NULL,
    -- ISO weekday numbers, Monday = 1.
    working_days smallint[]  NOT NULL,
    day_start    time        NOT NULL,
    day_end      time        NOT NULL CHECK (day_end > day_start),
    holidays     date[]      NOT NULL DEFAULT '{}',
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX working_calendars_one_default_idx
    ON working_calendars ((team_slug IS NULL)) WHERE team_slug IS NULL;

-- The summary selects pull requests by the time each span ended.
CREATE INDEX pull_requests_merged_at_idx ON pull_requests (merged_at) WHERE merged_at IS NOT NULL;
CREATE INDEX pull_requests_first_review_at_idx ON pull_requests (first_review_at)
    WHERE first_review_at IS NOT NULL;
CREATE INDEX pull_requests_first_approval_at_idx ON pull_requests (first_approval_at)
    WHERE first_approval_at IS NOT NULL;
-- Teams of an author.
CREATE INDEX github_team_members_member_idx ON github_team_members (member_id);
