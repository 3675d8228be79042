--
-- MySQL sources: the ecsync_mysql wrapper's validator and who may do what
--
CREATE EXTENSION ecsync;
\set SHOW_CONTEXT never

-- a valid server and user mapping
CREATE SERVER shop_src FOREIGN DATA WRAPPER ecsync_mysql
  OPTIONS (host '127.0.0.1', port '1', database 'shop', ssl_mode 'preferred',
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

-- a role without privileges sees no password, no other role's rows, and
-- can use no server it was not granted
CREATE ROLE ecsync_regress_reader LOGIN;
SET ROLE ecsync_regress_reader;
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 'shop_src';
SELECT count(*) FROM ecsync.sync_tables;
SELECT * FROM ecsync_run_batch();
SELECT * FROM ecsync_run_batch('shop.products');
SELECT ecsync_register_table('shop_src', 'users');
SELECT ecsync_unregister_table('products', 'shop');
CREATE SERVER mine FOREIGN DATA WRAPPER ecsync_mysql;
-- nobody but the catalog's owner writes the catalog
INSERT INTO ecsync.sync_tables (server_name, source_table, target_schema, target_table, mode, owner)
  VALUES ('shop_src', 'x', 'public', 'x', 'full', 10);
UPDATE ecsync.sync_tables SET owner = 10;
SELECT ecsync.catalog_register_table(10, '{}');
SELECT ecsync_catalog_call('drop_everything', '{}');
RESET ROLE;
-- options that name server files are a superuser's
GRANT USAGE ON FOREIGN DATA WRAPPER ecsync_mysql TO ecsync_regress_reader;
SET ROLE ecsync_regress_reader;
CREATE SERVER mine FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (host 'db', ssl_mode 'required');
CREATE SERVER mine2 FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (socket '/run/mysqld/mysqld.sock');
CREATE SERVER mine2 FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (ssl_ca '/etc/ssl/private/key.pem');
CREATE SERVER mine2 FOREIGN DATA WRAPPER ecsync_mysql OPTIONS (ssl_key '/var/lib/postgresql/.ssh/id_rsa');
ALTER SERVER mine OPTIONS (ADD ssl_cert '/etc/passwd');
DROP SERVER mine;
RESET ROLE;
REVOKE USAGE ON FOREIGN DATA WRAPPER ecsync_mysql FROM ecsync_regress_reader;
DROP ROLE ecsync_regress_reader;

-- a transaction that cannot see the worker's commit is refused
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM ecsync_run_batch();
ROLLBACK;

DROP EXTENSION ecsync CASCADE;
