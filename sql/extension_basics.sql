--
-- CREATE EXTENSION ecsync, its diagnostics and its GUCs
--
CREATE EXTENSION ecsync;

-- the SQL script and the loaded library agree on the version
SELECT ecsync_version() = extversion AS versions_agree
  FROM pg_extension WHERE extname = 'ecsync';

-- the three client libraries are linked and report a version
SELECT library, version ~ '^[0-9]+\.[0-9]+' AS has_version
  FROM ecsync_library_versions() ORDER BY library;

-- GUCs: ecsync.database is fixed at start, the naptime reloads
SELECT name, context, vartype FROM pg_settings
 WHERE name LIKE 'ecsync.%' ORDER BY name;

-- the ecsync prefix is reserved: a typo is an error, not a silent new GUC
SET ecsync.databse = 'x';

-- ecsync.database cannot change in a session
SET ecsync.database = 'other';

-- the COPY format is a superuser's choice, from a fixed list
SET ecsync.batch_copy_format = 'csv';
CREATE ROLE ecsync_regress_user;
SET ROLE ecsync_regress_user;
SET ecsync.batch_copy_format = 'text';
RESET ROLE;
DROP ROLE ecsync_regress_user;
SET ecsync.batch_copy_format = 'text';
SHOW ecsync.batch_copy_format;
RESET ecsync.batch_copy_format;

-- the library is already loaded by the postmaster: LOAD is a no-op
LOAD 'ecsync';

-- drop and re-create cleanly
DROP EXTENSION ecsync;
SELECT count(*) FROM pg_proc WHERE proname LIKE 'ecsync%';
CREATE EXTENSION ecsync;
SELECT proname FROM pg_proc WHERE proname LIKE 'ecsync%' ORDER BY 1;
SELECT relname, relkind FROM pg_class
 WHERE relnamespace = 'ecsync'::regnamespace AND relkind IN ('r', 'v') ORDER BY 1;
DROP EXTENSION ecsync;
SELECT count(*) FROM pg_namespace WHERE nspname = 'ecsync';
