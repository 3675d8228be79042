/* ecsync 0.6 -> 0.7: change capture keeps MySQL's executed GTID set.
 *
 * - ecsync.cdc_servers.gtid_executed: the GTID set of every MySQL
 *   transaction applied (or already in the snapshot the stream started
 *   from), written in the transaction that applies the rows, as the
 *   position is.  A worker whose server was switched (a fail-over to a
 *   replica: another server_uuid) or whose binary log file is gone resumes
 *   by it, as a MySQL replica with SOURCE_AUTO_POSITION does, and skips a
 *   transaction it already has;
 * - ecsync.cdc_servers.server_uuid: the MySQL server the position belongs to;
 * - ecsync.cdc_status shows both;
 * - ecsync.cdc_table_status.cascades: the foreign-key cascades into a table
 *   (ON DELETE / ON UPDATE CASCADE, SET NULL), which MariaDB and InnoDB do
 *   not log and the worker applies, or what it cannot apply.
 */
\echo Use "ALTER EXTENSION ecsync UPDATE TO '0.7'" to load this file. \quit

ALTER TABLE ecsync.cdc_servers
    ADD COLUMN gtid_executed text,  -- MySQL: the GTID set applied (with the snapshot's)
    ADD COLUMN server_uuid   text;  -- MySQL: @@server_uuid of the server binlog_file/binlog_pos belong to

CREATE OR REPLACE VIEW ecsync.cdc_status WITH (security_invoker = true) AS
SELECT s.server_name,
       pg_catalog.pg_get_userbyid(s.owner) AS owner,
       s.state,
       s.worker_pid IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                                             WHERE a.pid = s.worker_pid
                                               AND a.backend_type = 'ecsync cdc') AS worker_running,
       s.binlog_file || ':' || s.binlog_pos AS applied_position,
       s.gtid,
       s.server_file || ':' || s.server_pos AS server_position,
       s.lag_bytes,
       CASE WHEN s.lag_bytes = 0 THEN 0::double precision
            ELSE extract(epoch FROM pg_catalog.now() - coalesce(s.source_time, s.started_at))::double precision
       END AS lag_seconds,
       s.rows_per_second,
       s.transactions,
       s.rows_applied,
       s.source_time AS last_source_commit,
       s.applied_at AS last_applied_at,
       (SELECT pg_catalog.count(*) FROM ecsync.cdc_tables c JOIN ecsync.sync_tables t ON t.id = c.sync_table_id
         WHERE t.server_name = s.server_name AND c.state = 'streaming') AS tables_streaming,
       (SELECT pg_catalog.count(*) FROM ecsync.cdc_tables c JOIN ecsync.sync_tables t ON t.id = c.sync_table_id
         WHERE t.server_name = s.server_name AND c.state = 'snapshot') AS tables_to_snapshot,
       (SELECT pg_catalog.count(*) FROM ecsync.cdc_tables c JOIN ecsync.sync_tables t ON t.id = c.sync_table_id
         WHERE t.server_name = s.server_name AND c.state = 'paused') AS tables_paused,
       s.last_error,
       s.last_error_at,
       s.gtid_executed,
       s.server_uuid
  FROM ecsync.cdc_servers s;
COMMENT ON VIEW ecsync.cdc_status IS
  'per MySQL server: the binary log position applied, the server''s own, the lag in bytes and seconds, '
  'the rate, the tables by state, the last error, and on MySQL the GTID set applied and the server it was read from';

-- what change capture does with the table's foreign-key cascades, which
-- MariaDB and InnoDB's own keys do not log: applied by the worker, logged by
-- MySQL, or what cannot be (set at the worker's start, before any change)
ALTER TABLE ecsync.cdc_tables ADD COLUMN cascades text;

CREATE OR REPLACE VIEW ecsync.cdc_table_status WITH (security_invoker = true) AS
SELECT t.id, t.target_schema || '.' || t.target_table AS table_name,
       t.server_name, coalesce(t.source_database || '.', '') || t.source_table AS source,
       c.state, c.snapshot_file || ':' || c.snapshot_pos AS snapshot_position, c.snapshot_at,
       c.inserts, c.updates, c.deletes, c.last_change_at, c.error, c.error_at,
       c.schema_change, c.schema_change_at, c.cascades
  FROM ecsync.sync_tables t JOIN ecsync.cdc_tables c ON c.sync_table_id = t.id;
COMMENT ON VIEW ecsync.cdc_table_status IS
  'each change-capture table: snapshot (waiting to be copied), streaming, or paused with the reason and what to do; '
  'schema_change: the last MySQL schema change it followed by being copied anew; '
  'cascades: the foreign-key cascades MySQL runs into it, and whether ecsync applies them';
