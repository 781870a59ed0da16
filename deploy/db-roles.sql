-- Least privilege in the database (issue 14, item 11): the programs (the
-- FastCGI programs, the worker, the CLI's day-to-day commands) connect as
-- an application role that reads and writes the kb_ tables and the
-- secrets, reads tenants and admins, owns nothing and cannot run DDL.
-- Migrations (`restsync migrate`) run as the owner role, which owns every
-- object.
--
-- Run it AS THE OWNER ROLE (the role migrations run as), after the first
-- migration and after every migration that adds a table by hand, with
-- the owner's URL in the environment (never on a command line: `ps`
-- shows arguments to every local user):
--   set -a; . /etc/restsync/migrate.env; set +a
--   /usr/lib/restsync/deploy/restsync-psql.sh -f /usr/share/restsync/db-roles.sql
-- (restsync-psql.sh hands psql the password through PGPASSWORD.)
-- psql variables, all optional: app (restsync_app), the application
-- role; db (the current database); owner (the database's owner), the
-- role whose future tables the default privileges below are for.  A
-- superuser may run it too: the default privileges are set FOR ROLE the
-- owner, so tables later migrations create (as the owner) are granted
-- whoever runs this.
-- Idempotent.  scripts/stack.sh does it for the development stack.  In
-- production an administrator creates the role first (the owner may not
-- create roles):
--   CREATE ROLE restsync_app LOGIN PASSWORD '...' NOSUPERUSER NOCREATEDB
--       NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS;
-- and this file then only grants.
\set ON_ERROR_STOP 1
\if :{?app}
\else
\set app restsync_app
\endif
\if :{?db}
\else
SELECT current_database() AS db \gset
\endif
\if :{?owner}
\else
SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = :'db' \gset
\endif
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS', :'app')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec
-- Nothing more than a login: no superuser, no DDL anywhere.  Only when it
-- has more (altering a role takes an administrator; the owner running
-- this file on a role made as above never needs to).
SELECT format('ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', :'app')
FROM pg_roles WHERE rolname = :'app'
  AND (rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls) \gexec
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
-- FOR ROLE the owner: default privileges belong to the role that creates
-- the objects, not to whoever runs this file.
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', :'owner', :'app') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %I', :'owner', :'app') \gexec
