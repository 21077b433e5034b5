-- prpulse_reporting: what Grafana (or any reporting tool) may read, and
-- nothing else: SELECT on the pr_metrics view. The view runs with its
-- owner's rights, so the tables behind it stay closed; raw payloads,
-- sealed secrets and tokens are never readable through this role.
--
-- Roles belong to the cluster, not the database: the role is created only
-- if it is missing and the migrating user may create roles; otherwise an
-- operator creates it (deploy/README.md) and the grant waits for it. Log in
-- as a role of your own that is a member: `CREATE ROLE grafana LOGIN
-- PASSWORD '…' IN ROLE prpulse_reporting`. A later migration that drops
-- and recreates pr_metrics must grant it again (tests/observability.rs
-- runs the dashboard's queries as this role).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'prpulse_reporting') THEN
        IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
            BEGIN
                CREATE ROLE prpulse_reporting NOLOGIN;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                -- Another database of the same cluster migrated at the same time.
                NULL;
            END;
        ELSE
            RAISE NOTICE 'role prpulse_reporting does not exist and % may not create it: '
                'create it and grant it SELECT on pr_metrics (deploy/README.md)', current_user;
            RETURN;
        END IF;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO prpulse_reporting', current_schema());
    GRANT SELECT ON pr_metrics TO prpulse_reporting;
END $$;
