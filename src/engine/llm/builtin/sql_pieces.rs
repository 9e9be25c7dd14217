//! SQL text split into string literals, numbers and identifiers with their
//! byte spans: enough for [`adapt`](super::adapt) to find and replace the
//! literals and identifiers of a trained example's SQL. This is no parser
//! (the validator parses); it only has to agree with itself.

use std::collections::BTreeSet;

/// A piece of SQL text: a literal or an identifier, with its byte span.
#[derive(Debug, Clone)]
pub(super) enum Piece {
    Str {
        start: usize,
        end: usize,
        quote: char,
    },
    Num {
        start: usize,
        end: usize,
        value: f64,
    },
    Ident {
        start: usize,
        end: usize,
    },
}

/// Split SQL into string literals, numbers and words (enough to find and
/// replace literals and identifiers; this is no parser).
pub(super) fn pieces(sql: &str) -> Vec<Piece> {
    let b: Vec<(usize, char)> = sql.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let (pos, c) = b[i];
        if c == '\'' || c == '"' {
            let mut j = i + 1;
            while j < b.len() {
                if b[j].1 == c {
                    if b.get(j + 1).is_some_and(|n| n.1 == c) {
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            let end = b.get(j).map_or(sql.len(), |x| x.0 + x.1.len_utf8());
            out.push(Piece::Str {
                start: pos,
                end,
                quote: c,
            });
            i = j + 1;
            continue;
        }
        if c == '`' || c == '[' {
            // Quoted identifier.
            let close = if c == '[' { ']' } else { '`' };
            let mut j = i + 1;
            while j < b.len() && b[j].1 != close {
                j += 1;
            }
            if j < b.len() {
                out.push(Piece::Ident {
                    start: b[i + 1].0.min(b[j].0),
                    end: b[j].0,
                });
            }
            i = j + 1;
            continue;
        }
        if c.is_ascii_digit() {
            let mut j = i;
            while j < b.len() && (b[j].1.is_ascii_digit() || b[j].1 == '.') {
                j += 1;
            }
            let end = b.get(j).map_or(sql.len(), |x| x.0);
            if let Ok(value) = sql[pos..end].parse::<f64>() {
                out.push(Piece::Num {
                    start: pos,
                    end,
                    value,
                });
            }
            i = j;
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            let mut j = i;
            while j < b.len() && (b[j].1.is_alphanumeric() || b[j].1 == '_') {
                j += 1;
            }
            let end = b.get(j).map_or(sql.len(), |x| x.0);
            out.push(Piece::Ident { start: pos, end });
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// The text inside a string literal piece, `%` wildcards trimmed.
pub(super) fn str_body(sql: &str, start: usize, end: usize) -> &str {
    let inner = &sql[start + 1..end.saturating_sub(1).max(start + 1)];
    inner.trim_matches('%').trim()
}

/// The column a SQL literal is compared with: the nearest identifier before
/// it that is no keyword (`name = 'x'`, `name LIKE 'x'`, `name IN ('x', 'y')`).
pub(super) fn slot_column(sql: &str, ps: &[Piece], at: usize) -> Option<String> {
    const KEYWORDS: &[&str] = &["like", "in", "not", "is", "and", "or", "between"];
    ps[..at].iter().rev().find_map(|p| match p {
        Piece::Ident { start, end } => {
            let w = sql[*start..*end].to_lowercase();
            (!KEYWORDS.contains(&w.as_str())).then_some(Some(w))
        }
        Piece::Str { .. } => None,
        Piece::Num { .. } => Some(None),
    })?
}

pub(super) fn idents(sql: &str, ps: &[Piece]) -> BTreeSet<String> {
    ps.iter()
        .filter_map(|p| match p {
            Piece::Ident { start, end } => Some(sql[*start..*end].to_lowercase()),
            _ => None,
        })
        .collect()
}

/// The identifiers of `sql` outside its join conditions (`ON a.x = b.y`):
/// the columns the query shows, filters, groups or ranks by. A key that
/// only joins two tables answers no word of a question ("ids" is not
/// `document_id` because the documents are joined on it).
pub(super) fn idents_outside_joins(sql: &str, ps: &[Piece]) -> BTreeSet<String> {
    const CLAUSE_ENDS: &[&str] = &[
        "join",
        "where",
        "group",
        "order",
        "limit",
        "union",
        "intersect",
        "except",
        "having",
    ];
    let mut in_join = false;
    let mut depth_at_on = 0usize;
    let mut out = BTreeSet::new();
    for p in ps {
        let Piece::Ident { start, end } = p else {
            continue;
        };
        let w = sql[*start..*end].to_lowercase();
        // Parentheses before this piece decide whether a subquery closed the condition.
        let depth = sql[..*start].matches('(').count() as isize
            - sql[..*start].matches(')').count() as isize;
        let depth = depth.max(0) as usize;
        if w == "on" {
            in_join = true;
            depth_at_on = depth;
            continue;
        }
        if in_join && (CLAUSE_ENDS.contains(&w.as_str()) || depth < depth_at_on) {
            in_join = false;
        }
        if !in_join {
            out.insert(w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keys_are_not_outside_joins() {
        let sql = "SELECT T1.paragraph_text FROM Paragraphs AS T1 JOIN Documents AS T2 \
                   ON T1.document_id = T2.document_id WHERE T2.document_name = 'x'";
        let ids = idents_outside_joins(sql, &pieces(sql));
        assert!(ids.contains("paragraph_text") && ids.contains("document_name"));
        assert!(!ids.contains("document_id"), "{ids:?}");
        // A key shown or filtered on stays.
        let sql = "SELECT T1.document_id FROM Paragraphs AS T1 JOIN Documents AS T2 \
                   ON T1.document_id = T2.document_id";
        assert!(idents_outside_joins(sql, &pieces(sql)).contains("document_id"));
    }

    #[test]
    fn sql_pieces_find_literals_and_identifiers() {
        let sql =
            "SELECT name FROM singer WHERE country = \"France\" AND age > 30 AND x LIKE '%o''k%'";
        let ps = pieces(sql);
        let strs: Vec<&str> = ps
            .iter()
            .filter_map(|p| match p {
                Piece::Str { start, end, .. } => Some(str_body(sql, *start, *end)),
                _ => None,
            })
            .collect();
        assert_eq!(strs, ["France", "o''k"]);
        assert!(
            ps.iter()
                .any(|p| matches!(p, Piece::Num { value, .. } if *value == 30.0))
        );
        assert!(idents(sql, &ps).contains("singer"));
    }
}
