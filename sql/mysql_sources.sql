--
-- MySQL sources: the ecsync_mysql wrapper's validator and who may do what
--
CREATE EXTENSION ecsync;

-- a valid server and user mapping
CREATE SERVER shop_src FOREIGN DATA WRAPPER ecsync_mysql
  OPTIONS (host '127.0.0.1', port '3306', database 'shop', ssl_mode 'preferred',
           connect_timeout '5', read_timeout '600');
CREATE USER MAPPING FOR CURRENT_USER SERVER shop_src
  OPTIONS (user 'ecsync', password 'secret-pw');

-- secrets only in user mappings
CREATE SERVER bad1 FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (password 'x');
CREATE SERVER bad2 FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (user 'x');
ALTER SERVER shop_src OPTIONS (ADD password 'x');

-- unknown options are rejected with the valid ones as a hint
CREATE SERVER bad3 FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (hostname 'x');
CREATE USER MAPPING FOR PUBLIC SERVER shop_src OPTIONS (host 'x');
CREATE FOREIGN DATA WRAPPER bad_fdw VALIDATOR ecsync_mysql_validator OPTIONS (host 'x');

-- values are checked
CREATE SERVER bad4 FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (port '0');
CREATE SERVER bad5 FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (port '3306x');
CREATE SERVER bad6 FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (ssl_mode 'sometimes');
CREATE SERVER bad7 FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (read_timeout '-1');

-- registration
SELECT ecsync_register_table('no_such_server', 'users');
SELECT ecsync_register_table('shop_src', 'users', mode => 'sometimes');
SELECT ecsync_register_table('shop_src', 'users', target_schema => 'shop', mode => 'incremental') AS users_id;
SELECT target_schema, target_table, mode, cursor_column, lookback, key_columns
  FROM ecsync.sync_tables ORDER BY id;
-- registering again changes the entry instead of adding one
SELECT ecsync_register_table('shop_src', 'users', target_schema => 'shop', mode => 'full') AS same_id;
SELECT count(*), min(mode) FROM ecsync.sync_tables;
SELECT target_table, mode FROM ecsync_register_shop('shop_src') ORDER BY id;
SELECT ecsync_unregister_table('users', 'shop');
SELECT ecsync_unregister_table('users', 'shop');
SELECT count(*) FROM ecsync.sync_tables;
SELECT * FROM ecsync_run_batch('nonexistent');

-- a role without privileges sees no password and can do nothing
CREATE ROLE ecsync_regress_reader LOGIN;
SET ROLE ecsync_regress_reader;
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 'shop_src';
SELECT * FROM ecsync.sync_tables;
SELECT * FROM ecsync_run_batch();
SELECT ecsync_register_table('shop_src', 'users');
CREATE SERVER mine FOREIGN DATA WRAPPER ecsync_mysql;
RESET ROLE;
DROP ROLE ecsync_regress_reader;

-- a transaction that cannot see the worker's commit is refused
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM ecsync_run_batch();
ROLLBACK;

DROP EXTENSION ecsync CASCADE;
