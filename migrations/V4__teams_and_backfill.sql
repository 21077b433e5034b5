-- GitHub teams and their members, from team/membership events and the
-- scheduler's periodic listing (which corrects whatever events missed).
CREATE TABLE github_teams (
    github_id    bigint PRIMARY KEY,
    organization text        NOT NULL,
    slug         text,
    name         text        NOT NULL,
    deleted      boolean     NOT NULL DEFAULT false,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE github_team_members (
    team_id    bigint      NOT NULL REFERENCES github_teams (github_id) ON DELETE CASCADE,
    member_id  bigint      NOT NULL REFERENCES members (github_id),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, member_id)
);

-- When the scheduler last backfilled a tracked repository.
ALTER TABLE tracked_repositories ADD COLUMN backfilled_at timestamptz;
