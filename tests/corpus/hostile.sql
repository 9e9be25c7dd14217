-- Hostile statements: every entry must be rejected by the validator.
-- Entries are separated by a line `-- ----`. Optional header lines:
-- `-- dialect: sqlite|postgres|mysql` (default sqlite) and `-- expect: <code>`.
-- ----
-- expect: data_modifying
DELETE FROM customers
-- ----
-- expect: data_modifying
dElEtE fRoM customers WHERE 1=1
-- ----
-- expect: data_modifying
UPDATE products SET price = 0
-- ----
-- expect: data_modifying
INSERT INTO customers (name) VALUES ('x')
-- ----
-- expect: data_modifying
DROP TABLE orders
-- ----
-- expect: data_modifying
CREATE TABLE t AS SELECT * FROM customers
-- ----
-- expect: data_modifying
ALTER TABLE customers ADD COLUMN pwned TEXT
-- ----
-- expect: multiple_statements
SELECT 1; DROP TABLE customers
-- ----
-- expect: multiple_statements
SELECT * FROM customers; DELETE FROM customers;
-- ----
-- expect: multiple_statements
SELECT 1 -- harmless
; UPDATE products SET price = 0
-- ----
-- expect: multiple_statements
SELECT 1 /* comment */; /* hidden */ DROP TABLE orders
-- ----
-- expect: multiple_statements
SELECT name FROM customers WHERE name = 'a'; SELECT sqlite_version()
-- ----
-- expect: parse_error
SEL/**/ECT * FROM customers
-- ----
-- expect: unknown_table
SELECT * FROM customers WHERE name = '' UNION SELECT sql, 1, 1, 1, 1, 1, 1 FROM sqlite_master --'
-- ----
-- expect: not_a_query
PRAGMA table_info(customers)
-- ----
-- expect: not_a_query
PRAGMA writable_schema = ON
-- ----
-- expect: not_a_query
ATTACH DATABASE '/tmp/evil.db' AS evil
-- ----
-- expect: not_a_query
DETACH DATABASE main
-- ----
-- expect: not_a_query
VACUUM
-- ----
-- expect: not_a_query
BEGIN TRANSACTION
-- ----
-- expect: forbidden_function
SELECT load_extension('/tmp/evil.so')
-- ----
-- expect: forbidden_function
SELECT LOAD_EXTENSION('libevil')
-- ----
-- expect: forbidden_function
SELECT readfile('/etc/passwd')
-- ----
-- expect: forbidden_function
SELECT writefile('/tmp/x', 'data')
-- ----
-- expect: forbidden_function
SELECT name FROM customers WHERE id IN (SELECT id FROM orders WHERE total > (SELECT length(readfile('/etc/shadow'))))
-- ----
-- expect: forbidden_function
SELECT CASE WHEN 1 = 1 THEN load_extension('x') ELSE 0 END
-- ----
-- expect: forbidden_function
SELECT * FROM customers ORDER BY load_extension('x')
-- ----
-- expect: forbidden_function
SELECT zeroblob(1000000000)
-- ----
-- expect: forbidden_function
SELECT randomblob(2000000000)
-- ----
-- expect: forbidden_function
SELECT sqlite_compileoption_get(0)
-- ----
-- expect: forbidden_function
SELECT * FROM pragma_table_info('customers')
-- ----
-- expect: unknown_table
SELECT * FROM sqlite_master
-- ----
-- expect: unknown_table
SELECT sql FROM sqlite_schema
-- ----
-- expect: unknown_table
SELECT * FROM main.sqlite_master
-- ----
-- expect: unknown_table
SELECT * FROM evil.customers
-- ----
-- expect: unknown_table
SELECT * FROM secrets
-- ----
-- expect: unknown_table
SELECT * FROM customers WHERE id IN (SELECT user_id FROM passwords)
-- ----
-- expect: unknown_table
SELECT * FROM customers c JOIN credit_cards cc ON cc.customer_id = c.id
-- ----
-- expect: unknown_table
SELECT name FROM customers UNION SELECT password FROM users
-- ----
-- expect: unknown_table
SELECT * FROM (SELECT * FROM (SELECT * FROM hidden_table) a) b
-- ----
-- expect: unknown_table
SELECT EXISTS (SELECT 1 FROM admin_tokens)
-- ----
-- expect: unknown_table
WITH x AS (SELECT * FROM api_keys) SELECT * FROM x
-- ----
-- expect: unknown_table
SELECT * FROM cuѕtomers
-- ----
-- expect: forbidden_construct
WITH customers AS (SELECT 1 AS id) SELECT * FROM customers
-- ----
-- expect: unknown_table
SELECT * FROM "customers; DROP TABLE orders"
-- ----
-- expect: empty
-- just a comment
-- ----
-- expect: empty
/* nothing here */
-- ----
-- expect: empty
;;;
-- ----
-- expect: parse_error
SELECT * FROM customers WHERE name = 'unterminated
-- ----
-- expect: parse_error
SELECT ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))
-- ----
-- dialect: postgres
-- expect: data_modifying
WITH gone AS (DELETE FROM customers RETURNING *) SELECT * FROM gone
-- ----
-- dialect: postgres
-- expect: data_modifying
WITH x AS (UPDATE products SET price = 0 RETURNING id) SELECT count(*) FROM x
-- ----
-- dialect: postgres
-- expect: data_modifying
WITH x AS (INSERT INTO customers (name) VALUES ('x') RETURNING id) SELECT * FROM x
-- ----
-- dialect: postgres
-- expect: select_into
SELECT * INTO stolen FROM customers
-- ----
-- dialect: postgres
-- expect: locking_clause
SELECT * FROM orders FOR UPDATE
-- ----
-- dialect: postgres
-- expect: locking_clause
SELECT * FROM orders FOR SHARE
-- ----
-- dialect: postgres
-- expect: locking_clause
SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id FOR UPDATE OF o NOWAIT
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT pg_sleep(10)
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT pg_catalog.pg_sleep(10)
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT PG_SLEEP_FOR('5 minutes')
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT pg_read_file('/etc/passwd')
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT pg_ls_dir('/')
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT lo_import('/etc/passwd')
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT * FROM dblink('host=evil', 'select 1') AS t(a int)
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT dblink_exec('host=evil', 'DROP TABLE customers')
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT pg_terminate_backend(pid) FROM orders
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT set_config('default_transaction_read_only', 'off', false)
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT nextval('orders_id_seq')
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT setval('orders_id_seq', 1)
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT pg_advisory_lock(1)
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT query_to_xml('select * from pg_shadow', true, true, '')
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT pg_reload_conf()
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT id FROM customers WHERE EXISTS (SELECT 1 FROM orders WHERE pg_sleep(1) IS NULL)
-- ----
-- dialect: postgres
-- expect: unknown_table
SELECT * FROM pg_catalog.pg_user
-- ----
-- dialect: postgres
-- expect: unknown_table
SELECT * FROM information_schema.tables
-- ----
-- dialect: postgres
-- expect: unknown_table
SELECT usename, passwd FROM pg_shadow
-- ----
-- dialect: postgres
-- expect: data_modifying
COPY customers TO '/tmp/out.csv'
-- ----
-- dialect: postgres
-- expect: not_a_query
SET default_transaction_read_only = off
-- ----
-- dialect: postgres
-- expect: not_a_query
CALL do_evil()
-- ----
-- dialect: postgres
-- expect: data_modifying
TRUNCATE customers
-- ----
-- dialect: postgres
-- expect: not_a_query
GRANT ALL ON customers TO public
-- ----
-- dialect: postgres
-- expect: not_a_query
EXPLAIN ANALYZE DELETE FROM customers
-- ----
-- dialect: postgres
-- expect: not_a_query
LISTEN evil
-- ----
-- dialect: mysql
-- expect: forbidden_function
SELECT SLEEP(10)
-- ----
-- dialect: mysql
-- expect: forbidden_function
SELECT BENCHMARK(100000000, MD5('x'))
-- ----
-- dialect: mysql
-- expect: forbidden_function
SELECT LOAD_FILE('/etc/passwd')
-- ----
-- dialect: mysql
-- expect: forbidden_function
SELECT GET_LOCK('x', 10)
-- ----
-- dialect: mysql
-- expect: forbidden_function
SELECT name FROM customers WHERE id = 1 AND SLEEP(5)
-- ----
-- dialect: mysql
-- expect: forbidden_function
SELECT * FROM customers WHERE id = 1 UNION SELECT sys_exec('id'), 2, 3, 4, 5, 6, 7
-- ----
-- dialect: mysql
-- expect: forbidden_construct
SELECT * FROM customers INTO OUTFILE '/tmp/out.txt'
-- ----
-- dialect: mysql
-- expect: forbidden_construct
SELECT * INTO DUMPFILE '/tmp/x' FROM customers
-- ----
-- dialect: mysql
-- expect: forbidden_construct
SELECT @@version
-- ----
-- dialect: mysql
-- expect: forbidden_construct
SELECT @x := @x + 1 FROM customers
-- ----
-- dialect: mysql
-- expect: unknown_table
SELECT * FROM mysql.user
-- ----
-- dialect: mysql
-- expect: unknown_table
SELECT * FROM other_db.customers
-- ----
-- dialect: mysql
-- expect: locking_clause
SELECT * FROM orders FOR UPDATE
-- ----
-- dialect: mysql
-- expect: not_a_query
LOCK TABLES customers READ
-- ----
-- dialect: mysql
-- expect: not_a_query
SET GLOBAL read_only = 0
-- ----
-- dialect: mysql
-- expect: data_modifying
REPLACE INTO customers (id, name) VALUES (1, 'x')
-- ----
-- dialect: mysql
-- expect: multiple_statements
SELECT 1; SHUTDOWN
-- ----
-- dialect: mysql
-- expect: not_a_query
HANDLER customers READ FIRST
-- ----
-- expect: not_a_query
pragma TABLE_INFO(customers)
-- ----
-- expect: multiple_statements
SELECT 1;;DELETE FROM customers
-- ----
-- expect: data_modifying
RePlAcE INTO customers (id) VALUES (1)
-- ----
-- expect: unknown_table
WITH sqlite_master AS (SELECT * FROM sqlite_master) SELECT * FROM sqlite_master
-- ----
-- dialect: postgres
-- expect: unknown_table
WITH pg_user AS (SELECT * FROM pg_user) SELECT * FROM pg_user
-- ----
-- dialect: postgres
-- expect: unknown_table
WITH a AS (SELECT * FROM pg_shadow), pg_shadow AS (SELECT 1) SELECT * FROM a
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT ts_stat('SELECT passwd FROM pg_shadow')
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT * FROM pg_catalog.generate_series(1, pg_sleep(5)::int)
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT name FROM customers ORDER BY CASE WHEN (SELECT count(*) FROM orders WHERE pg_sleep(0.1) IS NOT NULL) > 0 THEN 1 ELSE 2 END
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT coalesce(NULL, (SELECT max(x) FROM (SELECT pg_read_binary_file('/etc/passwd') AS x) t))
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT txid_current()
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT pg_notify('ch', 'x')
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT lo_export(1234, '/tmp/x')
-- ----
-- dialect: postgres
-- expect: forbidden_function
SELECT "PG_SLEEP"(1)
-- ----
-- dialect: postgres
-- expect: locking_clause
SELECT * FROM customers WHERE id IN (SELECT customer_id FROM orders FOR UPDATE)
-- ----
-- dialect: postgres
-- expect: locking_clause
SELECT * FROM orders FOR NO KEY UPDATE
-- ----
-- dialect: postgres
-- expect: data_modifying
WITH a AS (SELECT 1), b AS (DELETE FROM orders RETURNING id) SELECT * FROM a
-- ----
-- dialect: postgres
-- expect: not_a_query
DO $$ BEGIN PERFORM pg_sleep(10); END $$
-- ----
-- dialect: postgres
-- expect: not_a_query
PREPARE p AS DELETE FROM customers
-- ----
-- dialect: postgres
-- expect: multiple_statements
SELECT 'a;b'; SELECT 1
-- ----
-- dialect: postgres
-- expect: unknown_table
SELECT * FROM pg_catalog.pg_authid
-- ----
-- dialect: postgres
-- expect: unknown_table
SELECT * FROM public.secrets
-- ----
-- dialect: mysql
-- expect: forbidden_construct
SELECT * FROM customers INTO OUTFILE '/var/lib/mysql-files/x.csv'
-- ----
-- dialect: mysql
-- expect: forbidden_construct
SELECT * INTO DUMPFILE '/tmp/x' FROM customers
-- ----
-- dialect: mysql
-- expect: forbidden_construct
SELECT @x := 1
-- ----
-- dialect: mysql
-- expect: forbidden_construct
SELECT @@GLOBAL.secure_file_priv
-- ----
-- dialect: mysql
-- expect: locking_clause
SELECT * FROM orders LOCK IN SHARE MODE
-- ----
-- dialect: mysql
-- expect: select_into
SELECT id INTO @v FROM customers LIMIT 1
-- ----
-- dialect: mysql
-- expect: not_a_query
LOCK TABLES customers WRITE
-- ----
-- dialect: mysql
-- expect: multiple_statements
SELECT 1; SHUTDOWN
-- ----
-- dialect: mysql
-- expect: not_a_query
HANDLER customers OPEN
-- ----
-- dialect: mysql
-- expect: multiple_statements
SELECT 1 /*!; DROP TABLE customers */
-- ----
-- dialect: mysql
-- expect: forbidden_function
SELECT * FROM customers WHERE name = 'x' OR IF(SUBSTRING(USER(), 1, 1) = 'r', SLEEP(5), 0)
-- ----
-- dialect: mysql
-- expect: unknown_table
SELECT * FROM information_schema.tables
-- ----
-- dialect: mysql
-- expect: parse_error
TABLE mysql.user
-- ----
-- expect: forbidden_function
SELECT * FROM customers WHERE id = (SELECT CASE WHEN 1 THEN abs(randomblob(1000000000)) END)
-- ----
-- expect: forbidden_function
SELECT * FROM fsdir('/etc')
-- ----
-- expect: forbidden_function
SELECT * FROM evil.json_each('[1]')
-- ----
-- expect: forbidden_function
SELECT eval('DELETE FROM customers')
-- ----
-- expect: unknown_table
SELECT * FROM temp.customers
-- ----
-- expect: unknown_table
SELECT * FROM customers WHERE id IN (SELECT id FROM (SELECT rowid AS id FROM sqlite_temp_master))
-- ----
-- expect: unknown_table
SELECT * FROM ｃustomers
-- ----
-- expect: parse_error
SELECT * FROM customers；DROP TABLE orders
-- ----
-- expect: parse_error
SELECT 1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1 FROM
