-- Least privilege in the database (issue 14, item 11): the programs (the
-- FastCGI programs, the worker, the CLI's day-to-day commands) connect as
-- an application role that reads and writes the kb_ tables and the
-- secrets, reads tenants and admins, owns nothing and cannot run DDL.
-- Migrations (`restsync migrate`) run as the owner role, which owns every
-- object.  Run as the owner role (or a superuser) after the first
-- migration, with psql variables:
--   psql -v app=restsync_app -v db=restsync -f deploy/db-roles.sql "$OWNER_URL"
-- Idempotent.  scripts/stack.sh does it for the development stack.  In
-- production create the role with a password first (CREATE ROLE ...
-- LOGIN PASSWORD ...) — this file then only grants.
\set ON_ERROR_STOP 1
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS', :'app')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec
-- Nothing more than a login: no superuser, no DDL anywhere.
SELECT format('ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS', :'app') \gexec
SELECT format('REVOKE CREATE, TEMPORARY ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', :'db', :'app') \gexec
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT format('GRANT USAGE ON SCHEMA public TO %I', :'app') \gexec
-- The kb_ tables and the secrets: read and write.  Everything else
-- (tenants, platform_admins, schema_migrations, schema_info): read only.
SELECT format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO %I', c.relname, :'app')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
  AND (c.relname LIKE 'kb\_%' OR c.relname = 'integration_secrets') \gexec
SELECT format('GRANT SELECT ON %I TO %I', c.relname, :'app')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v')
  AND NOT (c.relname LIKE 'kb\_%' OR c.relname = 'integration_secrets') \gexec
SELECT format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', :'app') \gexec
-- Tables later migrations create (as the owner): read and write, like the
-- kb_ tables; narrow them in the migration that creates them if needed.
SELECT format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', :'app') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %I', :'app') \gexec
