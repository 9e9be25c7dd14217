//! From text to exactly one parsed statement, in the connection's dialect.
//!
//! Before the parser runs, the text is size-checked and tokenized once so we
//! can (a) tell "empty" from "unparsable", (b) bound the size of the tree the
//! parser may build and (c) name the MySQL clauses sqlparser cannot parse
//! (`INTO OUTFILE`, `LOCK IN SHARE MODE`) instead of calling them parse errors.
//!
//! Why bound the tree: sqlparser limits *nesting* (parentheses, subqueries)
//! with its recursion limit, but builds operator chains such as
//! `1+1+1+…` or `a UNION b UNION …` in a loop, producing a left-deep tree
//! whose later recursive walks (visitor, `Display`, `Drop`) overflow the
//! stack. Every tree level costs at least one keyword or operator token, so
//! capping those tokens caps the depth.

use sqlparser::ast::Statement;
use sqlparser::dialect::{Dialect as SqlDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

use super::{RejectCode, ValidationError};
use crate::domain::Dialect;

/// Longest SQL text we look at.
pub(super) const MAX_SQL_BYTES: usize = 100_000;
/// Nesting depth at which the parser gives up (deeper input is an attack or a bug).
const RECURSION_LIMIT: usize = 48;
/// Most keyword and operator tokens in one statement; bounds the depth of
/// operator chains (see the module docs). Far above any real query.
pub(super) const MAX_STRUCTURAL_TOKENS: usize = 4_000;

pub(super) fn parser_dialect(d: Dialect) -> Box<dyn SqlDialect> {
    match d {
        Dialect::Sqlite => Box::new(SQLiteDialect {}),
        Dialect::Postgres => Box::new(PostgreSqlDialect {}),
        Dialect::Mysql => Box::new(MySqlDialect {}),
    }
}

/// Parse `sql` into its single statement, or say why not.
pub(super) fn parse_one(sql: &str, dialect: Dialect) -> Result<Statement, ValidationError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(ValidationError::new(
            RejectCode::TooLong,
            format!(
                "The SQL is {} bytes long; at most {MAX_SQL_BYTES} bytes are accepted.",
                sql.len()
            ),
        ));
    }
    let d = parser_dialect(dialect);
    let tokens = Tokenizer::new(d.as_ref(), sql)
        .tokenize()
        .map_err(|e| parse_error(&e.to_string()))?;
    check_tokens(&tokens)?;
    let mut statements = match parse_all(d.as_ref(), sql) {
        Ok(s) => s,
        Err(e) => return Err(diagnose(&tokens).unwrap_or_else(|| readable(e))),
    };
    match statements.len() {
        0 => Err(empty()),
        1 => Ok(statements.remove(0)),
        n => Err(ValidationError::new(
            RejectCode::MultipleStatements,
            format!("Exactly one statement is allowed; found {n}."),
        )),
    }
}

/// Parse with the same settings as [`parse_one`], for re-checking our own output.
pub(super) fn parse_all(d: &dyn SqlDialect, sql: &str) -> Result<Vec<Statement>, ParserError> {
    Parser::new(d)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)?
        .parse_statements()
}

fn empty() -> ValidationError {
    ValidationError::new(RejectCode::Empty, "There is no SQL statement to check.")
}

/// Token-level checks: emptiness, tree size, and clauses the parser lacks.
fn check_tokens(tokens: &[Token]) -> Result<(), ValidationError> {
    let words: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        .collect();
    if words.iter().all(|t| matches!(t, Token::SemiColon)) {
        return Err(empty());
    }
    let structural = words.iter().filter(|t| is_structural(t)).count();
    if structural > MAX_STRUCTURAL_TOKENS {
        return Err(ValidationError::new(
            RejectCode::ParseError,
            format!(
                "The query is too complex to be checked: it has more than {MAX_STRUCTURAL_TOKENS} keywords and operators."
            ),
        ));
    }
    let is = |t: &Token, w: &str| matches!(t, Token::Word(word) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w));
    for (i, t) in words.iter().enumerate() {
        let next = |k: usize, w: &str| words.get(i + k).is_some_and(|t| is(t, w));
        if is(t, "into") && (next(1, "outfile") || next(1, "dumpfile")) {
            return Err(ValidationError::new(
                RejectCode::ForbiddenConstruct,
                "SELECT … INTO OUTFILE/DUMPFILE writes a file on the server and is not allowed.",
            ));
        }
        if is(t, "lock") && next(1, "in") && next(2, "share") && next(3, "mode") {
            return Err(ValidationError::new(
                RejectCode::LockingClause,
                "Locking clauses (LOCK IN SHARE MODE) are not allowed in read-only queries.",
            ));
        }
    }
    Ok(())
}

/// Statements sqlparser cannot parse in full (`PRAGMA table_info(t)`,
/// `HANDLER t OPEN`, `FOR NO KEY UPDATE`…) still deserve the code of what
/// they are rather than `parse_error`: look at the tokens.
fn diagnose(tokens: &[Token]) -> Option<ValidationError> {
    let mut segments: Vec<Vec<&Token>> = vec![Vec::new()];
    for t in tokens {
        match t {
            Token::Whitespace(_) | Token::EOF => {}
            Token::SemiColon => segments.push(Vec::new()),
            t => segments.last_mut()?.push(t),
        }
    }
    segments.retain(|s| !s.is_empty());
    if segments.len() > 1 {
        return Some(ValidationError::new(
            RejectCode::MultipleStatements,
            format!(
                "Exactly one statement is allowed; found {}.",
                segments.len()
            ),
        ));
    }
    let words: Vec<String> = segments
        .first()?
        .iter()
        .map(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => w.value.to_uppercase(),
            _ => String::new(),
        })
        .collect();
    let first = words.first()?.as_str();
    let code = match first {
        "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "MERGE" | "UPSERT" | "TRUNCATE" | "DROP"
        | "CREATE" | "ALTER" | "RENAME" | "COPY" | "LOAD" => Some(RejectCode::DataModifying),
        "PRAGMA" | "ATTACH" | "DETACH" | "VACUUM" | "REINDEX" | "ANALYZE" | "SET" | "RESET"
        | "LOCK" | "UNLOCK" | "HANDLER" | "SHUTDOWN" | "KILL" | "GRANT" | "REVOKE" | "CALL"
        | "EXEC" | "EXECUTE" | "DO" | "PREPARE" | "DEALLOCATE" | "LISTEN" | "NOTIFY"
        | "UNLISTEN" | "CHECKPOINT" | "CLUSTER" | "DISCARD" | "SHOW" | "USE" | "FLUSH"
        | "INSTALL" | "BEGIN" | "START" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE"
        | "EXPLAIN" | "DESCRIBE" | "DESC" | "REFRESH" | "SECURITY" | "COMMENT" => {
            Some(RejectCode::NotAQuery)
        }
        _ => None,
    };
    if let Some(code) = code {
        return Some(ValidationError::new(
            code,
            format!(
                "Only read-only queries are allowed; this statement is {} statement.",
                super::policy::with_article(first)
            ),
        ));
    }
    let locking = words
        .windows(2)
        .any(|w| w[0] == "FOR" && matches!(w[1].as_str(), "UPDATE" | "SHARE" | "NO" | "KEY"));
    locking.then(|| {
        ValidationError::new(
            RejectCode::LockingClause,
            "Locking clauses (FOR UPDATE / FOR SHARE) are not allowed in read-only queries.",
        )
    })
}

/// Keywords and operators: the tokens that can open a level of the tree.
/// Identifiers, literals and commas cannot (lists are flat), so long `IN`
/// lists and wide `SELECT` lists cost nothing.
fn is_structural(t: &Token) -> bool {
    match t {
        Token::Word(w) => w.quote_style.is_none() && w.keyword != Keyword::NoKeyword,
        Token::Number(..)
        | Token::Comma
        | Token::Whitespace(_)
        | Token::EOF
        | Token::Placeholder(_)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::TripleSingleQuotedString(_)
        | Token::TripleDoubleQuotedString(_)
        | Token::DollarQuotedString(_)
        | Token::SingleQuotedByteStringLiteral(_)
        | Token::DoubleQuotedByteStringLiteral(_)
        | Token::TripleSingleQuotedByteStringLiteral(_)
        | Token::TripleDoubleQuotedByteStringLiteral(_)
        | Token::SingleQuotedRawStringLiteral(_)
        | Token::DoubleQuotedRawStringLiteral(_)
        | Token::TripleSingleQuotedRawStringLiteral(_)
        | Token::TripleDoubleQuotedRawStringLiteral(_)
        | Token::NationalStringLiteral(_)
        | Token::QuoteDelimitedStringLiteral(_)
        | Token::NationalQuoteDelimitedStringLiteral(_)
        | Token::EscapedStringLiteral(_)
        | Token::UnicodeStringLiteral(_)
        | Token::HexStringLiteral(_) => false,
        _ => true,
    }
}

fn readable(e: ParserError) -> ValidationError {
    match e {
        ParserError::RecursionLimitExceeded => ValidationError::new(
            RejectCode::ParseError,
            "The query is nested too deeply to be checked.",
        ),
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => parse_error(&m),
    }
}

/// "Expected: X, found: Y at Line: 1, Column: 5" → "The SQL could not be
/// parsed: expected X but found `Y` (line 1, column 5)."
fn parse_error(raw: &str) -> ValidationError {
    let raw = raw
        .trim()
        .trim_start_matches("sql parser error: ")
        .trim_end_matches('.');
    let (body, location) = match raw.rsplit_once(" at Line: ") {
        Some((body, loc)) => {
            let loc = loc.replace(", Column: ", ", column ");
            (body, format!(" (line {loc})"))
        }
        None => (raw, String::new()),
    };
    let body = match body
        .strip_prefix("Expected: ")
        .and_then(|b| b.split_once(", found: "))
    {
        Some((expected, "EOF")) => format!("expected {expected} but the query ended"),
        Some((expected, found)) => format!("expected {expected} but found `{found}`"),
        None => {
            let mut chars = body.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_lowercase().collect::<String>() + chars.as_str()
            })
        }
    };
    ValidationError::new(
        RejectCode::ParseError,
        format!("The SQL could not be parsed: {body}{location}."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(sql: &str, d: Dialect) -> RejectCode {
        parse_one(sql, d).unwrap_err().code
    }

    #[test]
    fn empty_whitespace_and_comments() {
        for sql in [
            "",
            "   \n\t",
            "-- nothing",
            "/* a */ /* b */",
            ";;",
            "-- x\n;",
        ] {
            assert_eq!(code(sql, Dialect::Sqlite), RejectCode::Empty, "{sql:?}");
        }
        assert_eq!(code("# note", Dialect::Mysql), RejectCode::Empty);
    }

    #[test]
    fn size_and_statement_count() {
        let long = format!("SELECT '{}'", "x".repeat(MAX_SQL_BYTES));
        assert_eq!(code(&long, Dialect::Sqlite), RejectCode::TooLong);
        assert_eq!(
            code("SELECT 1; SELECT 2", Dialect::Sqlite),
            RejectCode::MultipleStatements
        );
        // A trailing semicolon is one statement.
        assert!(parse_one("SELECT 1;", Dialect::Sqlite).is_ok());
    }

    #[test]
    fn parse_errors_read_like_sentences() {
        let e = parse_one("SEL/**/ECT 1", Dialect::Sqlite).unwrap_err();
        assert_eq!(e.code, RejectCode::ParseError);
        assert_eq!(
            e.message,
            "The SQL could not be parsed: expected an SQL statement but found `SEL` (line 1, column 1)."
        );
        let e = parse_one("SELECT 'open", Dialect::Sqlite).unwrap_err();
        assert_eq!(
            e.message,
            "The SQL could not be parsed: unterminated string literal (line 1, column 8)."
        );
        let e = parse_one("SELECT * FROM", Dialect::Sqlite).unwrap_err();
        assert!(e.message.contains("but the query ended"), "{}", e.message);
    }

    #[test]
    fn mysql_clauses_the_parser_lacks_get_their_own_codes() {
        assert_eq!(
            code("SELECT * FROM t INTO OUTFILE '/tmp/x'", Dialect::Mysql),
            RejectCode::ForbiddenConstruct
        );
        assert_eq!(
            code("SELECT * INTO dumpfile '/tmp/x' FROM t", Dialect::Mysql),
            RejectCode::ForbiddenConstruct
        );
        assert_eq!(
            code("SELECT * FROM t LOCK IN SHARE MODE", Dialect::Mysql),
            RejectCode::LockingClause
        );
        // Inside a string literal it is just text.
        assert!(parse_one("SELECT 'INTO OUTFILE'", Dialect::Mysql).is_ok());
    }

    #[test]
    fn operator_chains_are_bounded() {
        let ok = format!("SELECT 1{}", "+1".repeat(MAX_STRUCTURAL_TOKENS - 10));
        assert!(parse_one(&ok, Dialect::Postgres).is_ok());
        let too_many = format!("SELECT 1{}", "+1".repeat(MAX_STRUCTURAL_TOKENS));
        assert_eq!(code(&too_many, Dialect::Postgres), RejectCode::ParseError);
        // Literals and commas are free: a long IN list is fine.
        let list = format!("SELECT 1 WHERE 1 IN ({}1)", "1, ".repeat(20_000));
        assert!(parse_one(&list, Dialect::Postgres).is_ok());
    }
}
