-- Integrations that act as a GitHub App installation (tokens minted from
-- the app's private key) instead of with a stored token, and the
-- organisation webhook prpulse keeps for team/membership events.

ALTER TABLE integrations
    ALTER COLUMN token DROP NOT NULL,
    ADD COLUMN auth text NOT NULL DEFAULT 'token' CHECK (auth IN ('token', 'app')),
    ADD COLUMN app_id bigint,
    ADD COLUMN installation_id bigint,
    -- The app's private key (PEM), AES-256-GCM under PRPULSE_SECRET_KEY.
    ADD COLUMN private_key bytea,
    ADD CONSTRAINT integrations_credentials CHECK (
        (auth = 'token' AND token IS NOT NULL)
        OR (auth = 'app' AND app_id IS NOT NULL AND installation_id IS NOT NULL
            AND private_key IS NOT NULL)
    ),
    -- Organisations only; NULL until installed (or when GitHub refuses it).
    ADD COLUMN org_hook_id bigint,
    ADD COLUMN org_hook_secret_pending boolean NOT NULL DEFAULT false,
    -- Why there is no organisation hook, e.g. the token lacks admin:org_hook.
    ADD COLUMN org_hook_error text,
    ADD COLUMN org_hook_reconciled_at timestamptz;
