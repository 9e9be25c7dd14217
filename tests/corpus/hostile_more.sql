-- More hostile statements (same format as hostile.sql): writes on every
-- table, SQLite file and schema tricks, the app store's own tables, system
-- catalogs of each dialect, session and transaction control, malformed input.
-- Every entry must be rejected by the validator.
-- ----
DELETE FROM customers
-- ----
/* harmless */ UPDATE customers SET id = id + 1
-- ----
INSERT INTO customers SELECT * FROM customers
-- ----
DROP TABLE IF EXISTS customers
-- ----
WITH x AS (SELECT 1) DELETE FROM customers WHERE id IN (SELECT * FROM x)
-- ----
SELECT * FROM customers; DELETE FROM customers
-- ----
SELECT count(*) FROM customers -- 
; DROP TABLE customers
-- ----
ALTER TABLE customers RENAME TO customers_old
-- ----
CREATE INDEX evil_customers ON customers(id)
-- ----
CREATE TRIGGER t_customers AFTER INSERT ON customers BEGIN DELETE FROM customers; END
-- ----
CREATE VIEW v_customers AS SELECT * FROM customers
-- ----
REINDEX customers
-- ----
ANALYZE customers
-- ----
DELETE FROM products
-- ----
/* harmless */ UPDATE products SET id = id + 1
-- ----
INSERT INTO products SELECT * FROM products
-- ----
DROP TABLE IF EXISTS products
-- ----
WITH x AS (SELECT 1) DELETE FROM products WHERE id IN (SELECT * FROM x)
-- ----
SELECT * FROM products; DELETE FROM products
-- ----
SELECT count(*) FROM products -- 
; DROP TABLE products
-- ----
ALTER TABLE products RENAME TO products_old
-- ----
CREATE INDEX evil_products ON products(id)
-- ----
CREATE TRIGGER t_products AFTER INSERT ON products BEGIN DELETE FROM products; END
-- ----
CREATE VIEW v_products AS SELECT * FROM products
-- ----
REINDEX products
-- ----
ANALYZE products
-- ----
DELETE FROM orders
-- ----
/* harmless */ UPDATE orders SET id = id + 1
-- ----
INSERT INTO orders SELECT * FROM orders
-- ----
DROP TABLE IF EXISTS orders
-- ----
WITH x AS (SELECT 1) DELETE FROM orders WHERE id IN (SELECT * FROM x)
-- ----
SELECT * FROM orders; DELETE FROM orders
-- ----
SELECT count(*) FROM orders -- 
; DROP TABLE orders
-- ----
ALTER TABLE orders RENAME TO orders_old
-- ----
CREATE INDEX evil_orders ON orders(id)
-- ----
CREATE TRIGGER t_orders AFTER INSERT ON orders BEGIN DELETE FROM orders; END
-- ----
CREATE VIEW v_orders AS SELECT * FROM orders
-- ----
REINDEX orders
-- ----
ANALYZE orders
-- ----
DELETE FROM order_items
-- ----
/* harmless */ UPDATE order_items SET id = id + 1
-- ----
INSERT INTO order_items SELECT * FROM order_items
-- ----
DROP TABLE IF EXISTS order_items
-- ----
WITH x AS (SELECT 1) DELETE FROM order_items WHERE id IN (SELECT * FROM x)
-- ----
SELECT * FROM order_items; DELETE FROM order_items
-- ----
SELECT count(*) FROM order_items -- 
; DROP TABLE order_items
-- ----
ALTER TABLE order_items RENAME TO order_items_old
-- ----
CREATE INDEX evil_order_items ON order_items(id)
-- ----
CREATE TRIGGER t_order_items AFTER INSERT ON order_items BEGIN DELETE FROM order_items; END
-- ----
CREATE VIEW v_order_items AS SELECT * FROM order_items
-- ----
REINDEX order_items
-- ----
ANALYZE order_items
-- ----
DELETE FROM employees
-- ----
/* harmless */ UPDATE employees SET id = id + 1
-- ----
INSERT INTO employees SELECT * FROM employees
-- ----
DROP TABLE IF EXISTS employees
-- ----
WITH x AS (SELECT 1) DELETE FROM employees WHERE id IN (SELECT * FROM x)
-- ----
SELECT * FROM employees; DELETE FROM employees
-- ----
SELECT count(*) FROM employees -- 
; DROP TABLE employees
-- ----
ALTER TABLE employees RENAME TO employees_old
-- ----
CREATE INDEX evil_employees ON employees(id)
-- ----
CREATE TRIGGER t_employees AFTER INSERT ON employees BEGIN DELETE FROM employees; END
-- ----
CREATE VIEW v_employees AS SELECT * FROM employees
-- ----
REINDEX employees
-- ----
ANALYZE employees
-- ----
ATTACH DATABASE '/tmp/evil.db' AS evil
-- ----
ATTACH '/etc/passwd' AS p
-- ----
DETACH DATABASE main
-- ----
VACUUM
-- ----
VACUUM INTO '/tmp/stolen.db'
-- ----
PRAGMA writable_schema = ON
-- ----
PRAGMA query_only = OFF
-- ----
PRAGMA journal_mode = DELETE
-- ----
PRAGMA hard_heap_limit = 0
-- ----
BEGIN IMMEDIATE
-- ----
COMMIT
-- ----
ROLLBACK
-- ----
SAVEPOINT s1
-- ----
RELEASE s1
-- ----
SELECT load_extension('/tmp/evil.so', 'init')
-- ----
SELECT readfile('/proc/self/environ')
-- ----
SELECT writefile('/tmp/x', 'y')
-- ----
SELECT edit('x', 'vi')
-- ----
SELECT * FROM sqlite_dbpage
-- ----
SELECT * FROM sqlite_stat1
-- ----
SELECT * FROM sqlite_sequence
-- ----
SELECT * FROM sqlite_temp_schema
-- ----
SELECT * FROM pragma_database_list
-- ----
SELECT * FROM pragma_function_list
-- ----
SELECT sqlite_offset(id) FROM orders
-- ----
SELECT fts3_tokenizer('simple')
-- ----
SELECT zeroblob(2147483647)
-- ----
SELECT randomblob(1000000000) FROM orders
-- ----
SELECT length(zeroblob(500000000))
-- ----
SELECT hex(randomblob(100000000))
-- ----
SELECT * FROM customers WHERE name = (SELECT readfile('/etc/passwd'))
-- ----
SELECT id FROM orders ORDER BY (SELECT load_extension('x'))
-- ----
SELECT * FROM json_tree(readfile('/etc/hosts'))
-- ----
SELECT * FROM users
-- ----
SELECT * FROM insight.users
-- ----
SELECT password_hash FROM users
-- ----
SELECT * FROM api_keys
-- ----
SELECT * FROM refresh_tokens
-- ----
SELECT * FROM audit_log
-- ----
SELECT * FROM training_items
-- ----
SELECT * FROM customers c, secrets s
-- ----
SELECT * FROM orders JOIN tokens USING (id)
-- ----
SELECT (SELECT secret FROM vault) AS s
-- ----
WITH RECURSIVE r AS (SELECT * FROM hidden UNION ALL SELECT * FROM r) SELECT * FROM r
-- ----
SELECT * FROM customers UNION ALL SELECT * FROM sqlite_master
-- ----
SELECT name FROM customers INTERSECT SELECT name FROM sqlite_schema
-- ----
SELECT name FROM customers EXCEPT SELECT tbl_name FROM sqlite_master
-- ----
SELECT * FROM "sqlite_master"
-- ----
SELECT * FROM [sqlite_master]
-- ----
SELECT * FROM `sqlite_master`
-- ----
SELECT * FROM main."sqlite_schema"
-- ----
SELECT * FROM temp.sqlite_master
-- ----
SELECT 1 INTO x
-- ----
SELECT * INTO TEMP stolen FROM customers
-- ----
INSERT OR REPLACE INTO customers (id, name) VALUES (1, 'x')
-- ----
UPSERT INTO customers VALUES (1)
-- ----
WITH d AS MATERIALIZED (DELETE FROM orders RETURNING *) SELECT count(*) FROM d
-- ----
SELECT 1 UNION ALL DELETE FROM customers
-- ----
EXPLAIN DELETE FROM customers
-- ----
EXPLAIN QUERY PLAN DELETE FROM orders
-- ----
SELECT * FROM customers WHERE id = 1; ATTACH 'x' AS y
-- ----
select * from customers;
update customers set name = 'x'
-- ----
SELECT * FROM orders
;
DROP TABLE orders
-- ----
SELECT 'it''s'; DROP TABLE customers; --
-- ----
SELECT $$ ; DROP TABLE customers; $$
-- ----
-- only a comment
-- ----
SELECT
-- ----
SELECT * FROM
-- ----
SELECT * FROM customers WHERE
-- ----
SELECT (((((1)))
-- ----
SELECT * FROM customers WHERE id IN (
-- ----
SELEC * FROM customers
-- ----
-- dialect: postgres
SELECT pg_sleep(30)
-- ----
-- dialect: postgres
SELECT pg_read_file('postgresql.conf')
-- ----
-- dialect: postgres
SELECT pg_stat_file('/etc/passwd')
-- ----
-- dialect: postgres
SELECT current_setting('data_directory')
-- ----
-- dialect: postgres
SELECT * FROM pg_stat_activity
-- ----
-- dialect: postgres
SELECT * FROM pg_settings
-- ----
-- dialect: postgres
SELECT * FROM pg_roles
-- ----
-- dialect: postgres
SELECT * FROM pg_catalog.pg_class
-- ----
-- dialect: postgres
SELECT inet_server_addr()
-- ----
-- dialect: postgres
SELECT pg_cancel_backend(1)
-- ----
-- dialect: postgres
SELECT pg_create_restore_point('x')
-- ----
-- dialect: postgres
SELECT pg_switch_wal()
-- ----
-- dialect: postgres
SELECT lo_unlink(1)
-- ----
-- dialect: postgres
SELECT pg_logical_emit_message(true, 'x', 'y')
-- ----
-- dialect: postgres
CREATE EXTENSION dblink
-- ----
-- dialect: postgres
ALTER SYSTEM SET fsync = off
-- ----
-- dialect: postgres
VACUUM FULL customers
-- ----
-- dialect: postgres
REFRESH MATERIALIZED VIEW mv
-- ----
-- dialect: postgres
SELECT * FROM orders FOR KEY SHARE
-- ----
-- dialect: postgres
SELECT * FROM orders FOR UPDATE SKIP LOCKED
-- ----
-- dialect: postgres
RESET ALL
-- ----
-- dialect: postgres
DISCARD ALL
-- ----
-- dialect: postgres
SET ROLE postgres
-- ----
-- dialect: postgres
SET SESSION AUTHORIZATION postgres
-- ----
-- dialect: postgres
SELECT set_config('statement_timeout', '0', false)
-- ----
-- dialect: postgres
WITH t AS (UPDATE orders SET total = 0 RETURNING 1) SELECT * FROM t
-- ----
-- dialect: mysql
SELECT SLEEP(30)
-- ----
-- dialect: mysql
SELECT BENCHMARK(1000000000, SHA2('x', 512))
-- ----
-- dialect: mysql
SELECT * FROM mysql.db
-- ----
-- dialect: mysql
SELECT * FROM performance_schema.threads
-- ----
-- dialect: mysql
SELECT * FROM sys.processlist
-- ----
-- dialect: mysql
SELECT USER()
-- ----
-- dialect: mysql
SELECT * FROM customers PROCEDURE ANALYSE()
-- ----
-- dialect: mysql
SHOW DATABASES
-- ----
-- dialect: mysql
SHOW GRANTS
-- ----
-- dialect: mysql
DESCRIBE customers
-- ----
-- dialect: mysql
SET SESSION max_execution_time = 0
-- ----
-- dialect: mysql
SET @@session.max_statement_time = 0
-- ----
-- dialect: mysql
KILL 1
-- ----
-- dialect: mysql
FLUSH PRIVILEGES
-- ----
-- dialect: mysql
INSTALL PLUGIN evil SONAME 'evil.so'
-- ----
-- dialect: mysql
SELECT * FROM customers INTO @a, @b
-- ----
-- dialect: mysql
LOAD DATA INFILE '/etc/passwd' INTO TABLE customers
-- ----
-- dialect: mysql
SELECT MASTER_POS_WAIT('x', 1)
-- ----
-- dialect: mysql
DO SLEEP(5)
-- ----
-- dialect: mysql
XA START 'x'
