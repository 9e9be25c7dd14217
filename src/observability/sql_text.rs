//! SQL as logs may show it: every literal replaced by `?`.
//!
//! Statements reach the logs from sqlx (its slow-statement warning and its
//! per-statement debug lines carry the SQL) and from our own fields named
//! like SQL. A literal in them is caller data — a searched e-mail, a card
//! number, a `printf` payload — so the log keeps the statement's shape and
//! drops its values. [`redact::mask`](super::redact::mask) only knows a few
//! value shapes; this knows SQL's.
//!
//! Why a hand-written scanner rather than sqlparser: logged SQL is often cut
//! short (sqlx's `summary` ends in `…`) or in a dialect the parser refuses,
//! and a parse error must never let the literal through. The scanner cannot
//! fail; when it is unsure (an unterminated string, a `"…"` that MySQL reads
//! as a string, a `#` that MySQL reads as a comment) it removes more, never
//! less. Comments go entirely: they can carry anything.

/// Is `field` (of an event from `target`) a SQL statement to scrub?
pub fn is_sql_field(target: &str, field: &str) -> bool {
    matches!(field, "db.statement" | "sql" | "statement")
        || field.ends_with(".sql")
        || field.ends_with("_sql")
        || (field == "summary" && target.starts_with("sqlx"))
}

/// `sql` with string, number, blob and dollar-quoted literals replaced by
/// `?` and comments removed; identifiers, keywords, operators and
/// placeholders (`?`, `$1`, `:name`) are kept.
pub fn without_literals(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_is_word = i > 0 && is_word(chars[i - 1]);
        match c {
            '\'' | '"' => {
                drop_literal_prefix(&mut out);
                out.push('?');
                i = skip_quoted(&chars, i, c);
            }
            '`' => {
                // A MySQL identifier: kept.
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == '`')
                    .map_or(chars.len(), |p| i + 2 + p);
                out.extend(&chars[i..end]);
                i = end;
            }
            '-' if next == Some('-') => i = skip_line(&chars, i),
            '#' => i = skip_line(&chars, i),
            '/' if next == Some('*') => {
                out.push(' ');
                i = skip_block_comment(&chars, i);
            }
            '$' if !prev_is_word => match dollar_tag(&chars, i) {
                Some(tag) => {
                    out.push('?');
                    i = skip_dollar_quoted(&chars, i, &tag);
                }
                None => {
                    // `$1`: a placeholder, kept with its digits.
                    out.push('$');
                    i += 1;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        out.push(chars[i]);
                        i += 1;
                    }
                }
            },
            c if !prev_is_word
                && (c.is_ascii_digit()
                    || (c == '.' && next.is_some_and(|n| n.is_ascii_digit()))) =>
            {
                out.push('?');
                i = skip_number(&chars, i);
            }
            c if is_word(c) => {
                while i < chars.len() && is_word(chars[i]) {
                    out.push(chars[i]);
                    i += 1;
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// `E'…'`, `X'…'`, `B'…'`, `N'…'`, `U&'…'`: the prefix goes with the literal.
fn drop_literal_prefix(out: &mut String) {
    let (trimmed, prefixes) = match out.strip_suffix('&') {
        Some(t) => (t, "Uu"),
        None => (out.as_str(), "EeXxBbNn"),
    };
    let mut chars = trimmed.chars().rev();
    let (Some(letter), before) = (chars.next(), chars.next()) else {
        return;
    };
    if prefixes.contains(letter) && before.is_none_or(|b| !is_word(b)) {
        let keep = trimmed.len() - letter.len_utf8();
        out.truncate(keep);
    }
}

/// Past the closing `quote` (doubled quotes and backslash escapes stay
/// inside); an unterminated literal runs to the end.
fn skip_quoted(chars: &[char], start: usize, quote: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == quote => {
                if chars.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    chars.len()
}

fn skip_line(chars: &[char], start: usize) -> usize {
    chars[start..]
        .iter()
        .position(|&c| c == '\n')
        .map_or(chars.len(), |p| start + p)
}

fn skip_block_comment(chars: &[char], start: usize) -> usize {
    let mut i = start + 2;
    while i + 1 < chars.len() {
        if chars[i] == '*' && chars[i + 1] == '/' {
            return i + 2;
        }
        i += 1;
    }
    chars.len()
}

/// `$tag$` or `$$` at `start`: the tag (without dollars).
fn dollar_tag(chars: &[char], start: usize) -> Option<String> {
    let mut i = start + 1;
    let mut tag = String::new();
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
        tag.push(chars[i]);
        i += 1;
    }
    let is_tag = chars.get(i) == Some(&'$') && !tag.starts_with(|c: char| c.is_ascii_digit());
    is_tag.then_some(tag)
}

fn skip_dollar_quoted(chars: &[char], start: usize, tag: &str) -> usize {
    let delimiter: Vec<char> = format!("${tag}$").chars().collect();
    let body = start + delimiter.len();
    (body..chars.len())
        .find(|&i| chars[i..].starts_with(&delimiter))
        .map_or(chars.len(), |i| i + delimiter.len())
}

/// Digits, `.`, hex letters, `x`, `_` and an exponent's sign.
fn skip_number(chars: &[char], start: usize) -> usize {
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        let exponent_sign = (c == '+' || c == '-')
            && i > start
            && matches!(chars[i - 1], 'e' | 'E')
            && !chars[start..i].iter().any(|&d| d == 'x' || d == 'X');
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_numbers_become_placeholders() {
        assert_eq!(
            without_literals("SELECT name FROM customers WHERE email = 'ann@x.com' AND id > 42"),
            "SELECT name FROM customers WHERE email = ? AND id > ?"
        );
        assert_eq!(
            without_literals("SELECT printf('%.*c', 100000000, 'x') FROM orders LIMIT 10"),
            "SELECT printf(?, ?, ?) FROM orders LIMIT ?"
        );
        assert_eq!(
            without_literals("SELECT 1.5e-3, .5, 0x1F, -7, 'it''s', 'a\\'b'"),
            "SELECT ?, ?, ?, -?, ?, ?"
        );
    }

    #[test]
    fn identifiers_placeholders_and_keywords_stay() {
        let sql = "SELECT t1.col2, `my col` FROM t1 JOIN t2 ON t1.id = t2.id WHERE a = $1 AND b = ? AND c = :name";
        assert_eq!(without_literals(sql), sql);
    }

    #[test]
    fn prefixed_dollar_quoted_comments_and_cut_literals_go() {
        assert_eq!(
            without_literals("SELECT E'\\n', X'DEADBEEF', N'nom', U&'d\\0061t'"),
            "SELECT ?, ?, ?, ?"
        );
        assert_eq!(
            without_literals("SELECT $tag$secret$tag$, $$x$$ FROM t"),
            "SELECT ?, ? FROM t"
        );
        assert_eq!(
            without_literals("SELECT a -- 'secret'\nFROM t /* 4111 1111 */ WHERE b = 1 # 'x'"),
            "SELECT a \nFROM t   WHERE b = ? "
        );
        // sqlx cuts its `summary` short: an unterminated literal is all gone.
        assert_eq!(
            without_literals("SELECT printf('%.*c', 1000…"),
            "SELECT printf(?, ?…"
        );
        assert_eq!(
            without_literals("SELECT name FROM t WHERE email = 'ann.lee@exa…"),
            "SELECT name FROM t WHERE email = ?"
        );
        // MySQL reads "…" as a string: gone too.
        assert_eq!(without_literals("SELECT \"secret value\""), "SELECT ?");
    }

    #[test]
    fn sql_fields_are_recognised() {
        assert!(is_sql_field("sqlx::query", "db.statement"));
        assert!(is_sql_field("sqlx::query", "summary"));
        assert!(!is_sql_field("insight::api", "summary"));
        assert!(is_sql_field("insight", "corrected_sql"));
        assert!(is_sql_field("insight", "query.sql"));
        assert!(!is_sql_field("insight", "sql.rows"));
    }
}
