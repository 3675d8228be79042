/* ecsync--0.1.sql */

\echo Use "CREATE EXTENSION ecsync" to load this file. \quit

CREATE FUNCTION ecsync_version()
RETURNS text
LANGUAGE C STRICT IMMUTABLE
AS 'MODULE_PATHNAME', 'ecsync_version';
COMMENT ON FUNCTION ecsync_version() IS 'version of the loaded ecsync library';

CREATE FUNCTION ecsync_library_versions(OUT library text, OUT version text)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'ecsync_library_versions';
COMMENT ON FUNCTION ecsync_library_versions() IS
  'client libraries (libmysqlclient, librdkafka, jansson) ecsync runs with';
