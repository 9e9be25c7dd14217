-- Legitimate analytic queries: every entry must validate, carry a LIMIT no
-- larger than the maximum, and re-parse. Same format as hostile.sql.
-- ----
SELECT * FROM customers
-- ----
SELECT name, country FROM customers WHERE country = 'Germany' ORDER BY name
-- ----
SELECT country, COUNT(*) AS n FROM customers GROUP BY country HAVING COUNT(*) > 10 ORDER BY n DESC
-- ----
SELECT c.name, SUM(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name ORDER BY spent DESC LIMIT 10
-- ----
SELECT p.category, SUM(oi.quantity * oi.unit_price) AS revenue FROM order_items oi JOIN products p ON p.id = oi.product_id GROUP BY p.category
-- ----
SELECT strftime('%Y', order_date) AS year, COUNT(*) FROM orders GROUP BY 1 ORDER BY 1
-- ----
SELECT strftime('%Y-%m', order_date) AS month, SUM(total) FROM orders WHERE order_date >= '2024-01-01' GROUP BY month
-- ----
SELECT name, price, RANK() OVER (PARTITION BY category ORDER BY price DESC) AS rnk FROM products
-- ----
SELECT order_date, total, SUM(total) OVER (ORDER BY order_date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running FROM orders
-- ----
WITH spend AS (SELECT customer_id, SUM(total) AS s FROM orders GROUP BY customer_id) SELECT c.name, spend.s FROM spend JOIN customers c ON c.id = spend.customer_id WHERE spend.s > 1000
-- ----
WITH a AS (SELECT id FROM customers), b AS (SELECT customer_id FROM orders) SELECT COUNT(*) FROM a WHERE id NOT IN (SELECT customer_id FROM b)
-- ----
WITH RECURSIVE chain(id, manager_id, depth) AS (SELECT id, manager_id, 0 FROM employees WHERE manager_id IS NULL UNION ALL SELECT e.id, e.manager_id, chain.depth + 1 FROM employees e JOIN chain ON e.manager_id = chain.id) SELECT * FROM chain
-- ----
SELECT name, CASE WHEN price > 100 THEN 'premium' WHEN price > 20 THEN 'standard' ELSE 'budget' END AS tier FROM products
-- ----
SELECT * FROM products WHERE price > (SELECT AVG(price) FROM products)
-- ----
SELECT * FROM customers WHERE EXISTS (SELECT 1 FROM orders WHERE orders.customer_id = customers.id AND status = 'cancelled')
-- ----
SELECT country FROM customers UNION SELECT region FROM employees
-- ----
SELECT id FROM customers EXCEPT SELECT customer_id FROM orders
-- ----
SELECT customer_id FROM orders INTERSECT SELECT id FROM customers
-- ----
SELECT name FROM products WHERE name LIKE '%Pro%' ORDER BY price LIMIT 5 OFFSET 5
-- ----
SELECT COALESCE(manager_id, 0), COUNT(*) FROM employees GROUP BY 1
-- ----
SELECT DISTINCT category FROM products
-- ----
SELECT e.first_name || ' ' || e.last_name AS employee, COUNT(o.id) AS orders FROM employees e LEFT JOIN orders o ON o.employee_id = e.id GROUP BY e.id
-- ----
SELECT m.first_name AS manager, e.first_name AS report FROM employees e JOIN employees m ON e.manager_id = m.id
-- ----
SELECT AVG(total), MIN(total), MAX(total), SUM(total), COUNT(DISTINCT customer_id) FROM orders
-- ----
SELECT status, ROUND(AVG(total), 2) FROM orders GROUP BY status
-- ----
SELECT * FROM orders WHERE order_date BETWEEN '2024-01-01' AND '2024-12-31' AND status IN ('shipped', 'delivered')
-- ----
SELECT c.segment, p.category, SUM(oi.quantity) FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id GROUP BY c.segment, p.category
-- ----
SELECT * FROM (SELECT category, COUNT(*) AS n FROM products GROUP BY category) t WHERE t.n > 3
-- ----
SELECT name, (SELECT COUNT(*) FROM orders o WHERE o.customer_id = c.id) AS orders FROM customers c
-- ----
SELECT CAST(total AS INTEGER) FROM orders
-- ----
SELECT upper(name), lower(email), length(name), substr(name, 1, 3), trim(city), replace(email, '@', ' at ') FROM customers
-- ----
SELECT date(order_date, '+30 days'), julianday('now') - julianday(order_date) FROM orders
-- ----
SELECT * FROM customers LIMIT 100000
-- ----
SELECT * FROM main.customers
-- ----
SELECT name FROM customers WHERE name = 'O''Brien; DROP TABLE x'
-- ----
SELECT 'DELETE FROM customers' AS harmless_text
-- ----
SELECT json_extract('{"a": 1}', '$.a')
-- ----
SELECT value FROM json_each('[1,2,3]')
-- ----
VALUES (1, 'a'), (2, 'b')
-- ----
SELECT printf('%.2f', total) FROM orders
-- ----
SELECT COUNT(*) FILTER (WHERE status = 'cancelled') FROM orders
-- ----
SELECT NTILE(4) OVER (ORDER BY total) AS quartile, total FROM orders
-- ----
SELECT lag(total) OVER (ORDER BY order_date), lead(total) OVER (ORDER BY order_date) FROM orders
-- ----
-- dialect: postgres
SELECT date_trunc('month', order_date) AS m, SUM(total) FROM orders GROUP BY 1 ORDER BY 1
-- ----
-- dialect: postgres
SELECT name FROM customers WHERE name ILIKE '%son%'
-- ----
-- dialect: postgres
SELECT * FROM public.customers
-- ----
-- dialect: postgres
SELECT category, percentile_cont(0.5) WITHIN GROUP (ORDER BY price) FROM products GROUP BY category
-- ----
-- dialect: postgres
SELECT g FROM generate_series(1, 10) AS g
-- ----
-- dialect: postgres
SELECT EXTRACT(YEAR FROM order_date) AS y, COUNT(*) FROM orders GROUP BY y
-- ----
-- dialect: postgres
SELECT * FROM orders ORDER BY total DESC FETCH FIRST 5 ROWS ONLY
-- ----
-- dialect: postgres
SELECT DISTINCT ON (customer_id) customer_id, order_date FROM orders ORDER BY customer_id, order_date DESC
-- ----
-- dialect: mysql
SELECT `name`, `country` FROM `customers` WHERE `country` = 'Spain'
-- ----
-- dialect: mysql
SELECT DATE_FORMAT(order_date, '%Y-%m') AS m, SUM(total) FROM orders GROUP BY m
-- ----
-- dialect: mysql
SELECT * FROM orders LIMIT 10, 20
-- ----
-- dialect: mysql
SELECT YEAR(order_date), COUNT(*) FROM orders GROUP BY YEAR(order_date)
-- ----
-- dialect: mysql
SELECT GROUP_CONCAT(name) FROM products GROUP BY category
-- ----
-- dialect: postgres
WITH RECURSIVE org AS (SELECT id, manager_id, first_name, 1 AS lvl FROM employees WHERE manager_id IS NULL UNION ALL SELECT e.id, e.manager_id, e.first_name, org.lvl + 1 FROM employees e JOIN org ON e.manager_id = org.id) SELECT lvl, COUNT(*) FROM org GROUP BY lvl ORDER BY lvl
-- ----
-- dialect: postgres
WITH monthly AS (SELECT date_trunc('month', order_date) AS m, SUM(total) AS revenue FROM orders GROUP BY 1), ranked AS (SELECT m, revenue, LAG(revenue) OVER (ORDER BY m) AS prev FROM monthly) SELECT m, revenue, revenue - prev AS growth FROM ranked ORDER BY m
-- ----
-- dialect: postgres
SELECT c.country, COUNT(DISTINCT o.customer_id) AS buyers, ROUND(AVG(o.total)::numeric, 2) AS avg_order FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.order_date >= CURRENT_DATE - INTERVAL '90 days' GROUP BY c.country HAVING COUNT(*) > 5 ORDER BY buyers DESC
-- ----
-- dialect: postgres
SELECT * FROM orders ORDER BY order_date DESC OFFSET 20 ROWS FETCH NEXT 10 ROWS ONLY
-- ----
-- dialect: postgres
SELECT p.name, p.price - p.cost AS margin FROM products p WHERE p.category = ANY (ARRAY['Books', 'Games']) AND NOT EXISTS (SELECT 1 FROM order_items oi WHERE oi.product_id = p.id)
-- ----
-- dialect: mysql
SELECT e.region, e.last_name, SUM(o.total) AS sales, RANK() OVER (PARTITION BY e.region ORDER BY SUM(o.total) DESC) AS pos FROM employees e JOIN orders o ON o.employee_id = e.id GROUP BY e.region, e.last_name
-- ----
-- dialect: mysql
SELECT c.segment, COUNT(*) AS n, IFNULL(SUM(o.total), 0) AS revenue FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND o.status <> 'cancelled' GROUP BY c.segment ORDER BY revenue DESC LIMIT 5 OFFSET 0
-- ----
-- dialect: mysql
SELECT DATEDIFF(MAX(order_date), MIN(order_date)) AS span_days FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE city LIKE 'San%')
-- ----
-- dialect: mysql
SELECT 1 + 1 AS two FROM DUAL
-- ----
WITH firsts AS (SELECT customer_id, MIN(order_date) AS first_order FROM orders GROUP BY customer_id), cohort AS (SELECT strftime('%Y-%m', first_order) AS cohort, customer_id FROM firsts) SELECT cohort, COUNT(*) FROM cohort GROUP BY cohort ORDER BY cohort
-- ----
SELECT o.id, o.total, (SELECT SUM(oi.quantity * oi.unit_price) FROM order_items oi WHERE oi.order_id = o.id) AS items_total FROM orders o WHERE o.status = 'shipped' ORDER BY o.total DESC LIMIT 20 OFFSET 40
