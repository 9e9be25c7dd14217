//! Schema and value linking: which words of a question name a table, a
//! column, a stored value, a number or a year.
//!
//! Matching is longest-phrase-first over stemmed words, so "order date" is the
//! column `orders.order_date` rather than the table `orders` followed by a stray
//! "date". A word that matches a column of several tables keeps every
//! candidate; the shape builder picks by context (tables already in play).
//! Two words may spell a one-word name ("high schoolers"), a word of a link
//! table's key names the table it references, and an opening verb ("Show …")
//! is never a table of that name.

use crate::domain::{ColumnInfo, SchemaInfo};

use crate::text::{Token, identifier_words, is_question_filler, stem};

pub use super::time::{Bucket, Period};

/// What a span of the question refers to.
#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    Table(usize),
    /// Candidate `(table, column)` pairs, best first.
    Column(Vec<(usize, usize)>),
    /// A stored value: candidate `(table, column, exact stored spelling)`.
    Value(Vec<(usize, usize, String)>),
    /// A quoted or capitalised literal that matched no stored value.
    Literal(String),
    Number(f64),
    Year(i32),
    /// revenue / sales / amount…: a money measure resolved later.
    Revenue,
    /// "year", "monthly", "per quarter": a grouping grain.
    Bucket(Bucket),
    /// "last year", "in December 2025": a span of dates.
    Period(Period),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mention {
    pub start: usize,
    pub end: usize,
    pub link: Link,
}

/// Words the shape builder understands besides stopwords; anything else that
/// links to nothing makes the question unanswerable.
pub const INTENT_WORDS: &[&str] = &[
    "many",
    "number",
    "count",
    "total",
    "sum",
    "average",
    "avg",
    "mean",
    "minimum",
    "min",
    "maximum",
    "max",
    "highest",
    "lowest",
    "largest",
    "smallest",
    "biggest",
    "most",
    "least",
    "fewest",
    "top",
    "bottom",
    "best",
    "worst",
    "per",
    "by",
    "each",
    "every",
    "group",
    "grouped",
    "distinct",
    "unique",
    "different",
    "sorted",
    "sort",
    "order",
    "ordered",
    "newest",
    "latest",
    "recent",
    "oldest",
    "earliest",
    "first",
    "last",
    "expensive",
    "cheap",
    "cheapest",
    "cheaper",
    "priciest",
    "pricey",
    "costly",
    "inexpensive",
    "more",
    "than",
    "over",
    "above",
    "under",
    "below",
    "less",
    "fewer",
    "greater",
    "exceeding",
    "exceed",
    "between",
    "or",
    "descending",
    "ascending",
    "desc",
    "asc",
    "year",
    "years",
    "month",
    "months",
    "yearly",
    "monthly",
    "much",
    "breakdown",
    "sold",
    "sell",
    "bought",
    "purchased",
    "placed",
    "handled",
    "ordered",
    "live",
    "located",
    "based",
    "come",
    "since",
    "before",
    "after",
    "during",
    "equal",
    "one",
    "ones",
    "ranked",
    "work",
    "works",
    "working",
    "employed",
    "rank",
    "name",
    "names",
    "across",
    "respectively",
    "high",
    "low",
    "big",
    "small",
    "alphabetical",
    "alphabetically",
    "lexicographical",
    "lexicographically",
];

const REVENUE_WORDS: &[&str] = &[
    "revenue", "revenues", "sales", "sale", "income", "turnover", "spend", "spent", "spending",
    "amount", "earnings", "money",
];

/// Synonyms for table head words (the last word of a table name).
const TABLE_SYNONYMS: &[(&str, &[&str])] = &[
    (
        "customer",
        &["client", "buyer", "shopper", "purchaser", "account"],
    ),
    (
        "employee",
        &[
            "staff",
            "worker",
            "salesperson",
            "seller",
            "rep",
            "colleague",
        ],
    ),
    (
        "product",
        &["item", "good", "merchandise", "article", "sku"],
    ),
    ("order", &["purchase"]),
];

/// Verbs that open an instruction ("Show …", "List …"); there, never the
/// name of a table or column.
const OPENING_VERBS: &[&str] = &[
    "show", "list", "find", "give", "display", "return", "tell", "get",
];

/// Words that never link on their own as part of a longer column name.
const WEAK_PARTS: &[&str] = &[
    "id", "at", "first", "last", "unit", "is", "has", "no", "num",
];

#[derive(Debug)]
struct Entry {
    words: Vec<String>,
    link: Link,
    /// Lower is better at equal length.
    rank: u8,
}

/// `(table, column, stored value)` candidates of one value mention.
type ValueHits = Vec<(usize, usize, String)>;

/// A column of numbers: a numeric type, or a text column whose stored
/// values are all numbers ([`holds_numbers`]).
pub fn is_numeric(c: &ColumnInfo) -> bool {
    has_numeric_type(c) || holds_numbers(c)
}

/// The column's declared type is a number type.
pub fn has_numeric_type(c: &ColumnInfo) -> bool {
    let t = c.data_type.to_ascii_uppercase();
    ["INT", "REAL", "FLOA", "DOUB", "NUM", "DEC", "MONEY"]
        .iter()
        .any(|k| t.contains(k))
}

/// A text column that holds quantities: every sampled value is a number
/// written plainly ("6", "7.57"). Codes keep their text: a leading zero
/// ("02647", a zip code) marks one, and so do yes/no flags stored as "0"
/// and "1", and years stored as text are dates. Such a column is compared
/// and aggregated as a number.
pub fn holds_numbers(c: &ColumnInfo) -> bool {
    let plain = |v: &str| {
        let digits = v.strip_prefix('-').unwrap_or(v);
        !digits.is_empty()
            && digits.chars().all(|ch| ch.is_ascii_digit() || ch == '.')
            && digits.parse::<f64>().is_ok()
            && !(digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0."))
    };
    let flag = c.sample_values.iter().all(|v| v == "0" || v == "1");
    !has_numeric_type(c)
        && !c.name.to_ascii_lowercase().contains("year")
        && !c.sample_values.is_empty()
        && !flag
        && c.sample_values.iter().all(|v| plain(v))
}

pub fn is_date(c: &ColumnInfo) -> bool {
    let t = c.data_type.to_ascii_uppercase();
    let n = c.name.to_ascii_lowercase();
    t.contains("DATE") || t.contains("TIME") || n.ends_with("_at") || n.ends_with("date")
}

pub fn is_key(schema: &SchemaInfo, t: usize, c: usize) -> bool {
    let table = &schema.tables[t];
    let name = &table.columns[c].name;
    table.primary_key.iter().any(|k| k == name)
        || table
            .foreign_keys
            .iter()
            .any(|f| f.columns.iter().any(|k| k == name))
        || name.eq_ignore_ascii_case("id")
}

/// Abbreviations in column names and the words a question uses for them.
const ABBREVIATIONS: &[(&str, &[&str])] = &[
    ("fname", &["first", "name"]),
    ("lname", &["last", "name"]),
    ("mname", &["middle", "name"]),
    ("qty", &["quantity"]),
    ("amt", &["amount"]),
    ("addr", &["address"]),
    ("dept", &["department"]),
    ("num", &["number"]),
];

fn stems(words: &[String]) -> Vec<String> {
    words.iter().map(|w| stem(w)).collect()
}

fn lexicon(schema: &SchemaInfo) -> Vec<Entry> {
    let mut out = Vec::new();
    for (ti, t) in schema.tables.iter().enumerate() {
        let tw = stems(&identifier_words(&t.name));
        if let Some(head) = tw.last() {
            for (canon, syns) in TABLE_SYNONYMS {
                if stem(canon) == *head {
                    for s in *syns {
                        out.push(Entry {
                            words: vec![stem(s)],
                            link: Link::Table(ti),
                            rank: 2,
                        });
                    }
                }
            }
        }
        out.push(Entry {
            words: tw.clone(),
            link: Link::Table(ti),
            rank: 0,
        });
        for (ci, c) in t.columns.iter().enumerate() {
            let cw = stems(&identifier_words(&c.name));
            // "id"/"ids" names the primary key of whichever table is in play.
            let is_pk = t.primary_key.len() == 1 && t.primary_key[0] == c.name;
            if is_pk && cw.last().is_some_and(|w| w == "id") {
                for w in ["id", "ids"] {
                    out.push(Entry {
                        words: vec![w.into()],
                        link: Link::Column(vec![(ti, ci)]),
                        rank: 3,
                    });
                }
            }
            if cw.is_empty() || (cw.len() == 1 && cw[0] == "id") {
                continue;
            }
            let cand = Link::Column(vec![(ti, ci)]);
            out.push(Entry {
                words: cw.clone(),
                link: cand.clone(),
                rank: 1,
            });
            // "Fname" is what "first name" asks for.
            let expanded: Vec<String> = cw
                .iter()
                .flat_map(
                    |w| match ABBREVIATIONS.iter().find(|(a, _)| stem(a) == *w) {
                        Some((_, full)) => full.iter().map(|f| stem(f)).collect(),
                        None => vec![w.clone()],
                    },
                )
                .collect();
            if expanded != cw {
                out.push(Entry {
                    words: expanded,
                    link: cand.clone(),
                    rank: 1,
                });
            }
            let mut qualified = tw.clone();
            qualified.extend(cw.iter().filter(|w| !tw.contains(w)).cloned());
            if qualified.len() > cw.len() {
                out.push(Entry {
                    words: qualified,
                    link: cand.clone(),
                    rank: 0,
                });
            }
            if cw.len() > 1 {
                // "student" in `Friend.student_id` names the students.
                let part = junction_parent(schema, ti, ci).map_or(cand.clone(), Link::Table);
                for w in &cw {
                    if !WEAK_PARTS.contains(&w.as_str())
                        && !tw.contains(w)
                        && !is_question_filler(w)
                    {
                        out.push(Entry {
                            words: vec![w.clone()],
                            link: part.clone(),
                            rank: 3,
                        });
                    }
                }
            }
            if is_date(c) && !cw.iter().any(|w| w == "date") {
                out.push(Entry {
                    words: vec!["date".into()],
                    link: cand.clone(),
                    rank: 3,
                });
            }
        }
    }
    out
}

/// The table a key column of a link table stands for: in `Friend
/// (student_id, friend_id)`, whose rows are pairs of students, the word
/// "student" names `Highschooler`, the table `student_id` references, not
/// the key column. Only for a key that is part of its table's composite
/// primary key and references another table; a role of a row's own table
/// ("manager" in `employees.manager_id`) stays the column.
fn junction_parent(schema: &SchemaInfo, t: usize, c: usize) -> Option<usize> {
    let table = &schema.tables[t];
    let name = &table.columns[c].name;
    if table.primary_key.len() < 2 || !table.primary_key.contains(name) {
        return None;
    }
    let fk = table
        .foreign_keys
        .iter()
        .find(|f| f.columns.as_slice() == std::slice::from_ref(name))?;
    let parent = schema
        .tables
        .iter()
        .position(|x| x.name.eq_ignore_ascii_case(&fk.ref_table))?;
    (parent != t).then_some(parent)
}

/// Column candidates of one word, the column a candidate's key references
/// first: "models" in a schema where `car_names.Model` references
/// `model_list.Model` names the models of `model_list`, not the column
/// that points at them. The order is otherwise kept.
fn referenced_first(schema: &SchemaInfo, cands: &mut [(usize, usize)]) {
    let points_at_another = |&(t, c): &(usize, usize), all: &[(usize, usize)]| {
        let table = &schema.tables[t];
        let name = &table.columns[c].name;
        table.foreign_keys.iter().any(|f| {
            let ([col], [key]) = (f.columns.as_slice(), f.ref_columns.as_slice()) else {
                return false;
            };
            col == name
                && all.iter().any(|&(u, d)| {
                    u != t
                        && schema.tables[u].name.eq_ignore_ascii_case(&f.ref_table)
                        && &schema.tables[u].columns[d].name == key
                })
        })
    };
    let all = cands.to_vec();
    cands.sort_by_key(|x| points_at_another(x, &all));
}

/// A stored sample value of a column, with its words.
struct SampleValue {
    words: Vec<String>,
    table: usize,
    column: usize,
    value: String,
}

/// Every sample value of the schema that has a word other than filler.
fn sample_values(schema: &SchemaInfo) -> Vec<SampleValue> {
    let mut values = Vec::new();
    for (ti, t) in schema.tables.iter().enumerate() {
        for (ci, c) in t.columns.iter().enumerate() {
            for v in &c.sample_values {
                let words: Vec<String> = crate::text::question_tokens(v)
                    .into_iter()
                    .map(|t| t.lower)
                    .collect();
                if !(words.is_empty() || (words.len() == 1 && is_question_filler(&words[0]))) {
                    values.push(SampleValue {
                        words,
                        table: ti,
                        column: ci,
                        value: v.clone(),
                    });
                }
            }
        }
    }
    values
}

/// The longest run of tokens from `i` that spells stored values, and
/// every value of that length.
fn longest_value(values: &[SampleValue], tokens: &[Token], i: usize) -> Option<(usize, ValueHits)> {
    let mut best_value: Option<(usize, ValueHits)> = None;
    for SampleValue {
        words,
        table: t,
        column: c,
        value: v,
    } in values
    {
        let n = words.len();
        if i + n > tokens.len() {
            continue;
        }
        let hit = words
            .iter()
            .zip(&tokens[i..i + n])
            .all(|(w, tk)| *w == tk.lower || (n == 1 && w.len() >= 4 && stem(w) == tk.stem));
        if hit {
            match &mut best_value {
                Some((len, hits)) if *len == n => hits.push((*t, *c, v.clone())),
                Some((len, _)) if *len > n => {}
                _ => best_value = Some((n, vec![(*t, *c, v.clone())])),
            }
        }
    }
    best_value
}

/// The longest schema-name match from token `i`: its length in tokens, its
/// rank and every link of that length and best rank.
struct SchemaMatch {
    len: usize,
    rank: u8,
    links: Vec<Link>,
}

fn longest_schema(lex: &[Entry], tokens: &[Token], i: usize) -> Option<SchemaMatch> {
    let mut best: Option<SchemaMatch> = None;
    // "high schoolers" spells the one-word name `Highschooler`.
    let joined = tokens
        .get(i + 1)
        .filter(|next| !tokens[i].quoted && !next.quoted)
        .map(|next| stem(&format!("{}{}", tokens[i].lower, next.lower)));
    for e in lex {
        let compound =
            matches!(e.words.as_slice(), [w] if w.len() >= 6 && Some(w) == joined.as_ref());
        let n = if compound { 2 } else { e.words.len() };
        if !compound
            && (i + n > tokens.len()
                || !e
                    .words
                    .iter()
                    .zip(&tokens[i..i + n])
                    .all(|(w, t)| *w == t.stem))
        {
            continue;
        }
        match &mut best {
            Some(b) if b.len == n && b.rank == e.rank => b.links.push(e.link.clone()),
            Some(b) if b.len > n || (b.len == n && b.rank < e.rank) => {}
            _ => {
                best = Some(SchemaMatch {
                    len: n,
                    rank: e.rank,
                    links: vec![e.link.clone()],
                })
            }
        }
    }
    best
}

/// A quoted token: the stored values it spells exactly, else a literal.
fn quoted_link(values: &[SampleValue], tok: &Token) -> Link {
    let hits: Vec<_> = values
        .iter()
        .filter(|x| x.value.eq_ignore_ascii_case(&tok.raw))
        .map(|x| (x.table, x.column, x.value.clone()))
        .collect();
    if hits.is_empty() {
        Link::Literal(tok.raw.clone())
    } else {
        Link::Value(hits)
    }
}

/// Link every token span of `tokens` against `schema`.
pub fn link(tokens: &[Token], schema: &SchemaInfo) -> Vec<Mention> {
    let lex = lexicon(schema);
    let values = sample_values(schema);
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let tok = &tokens[i];
        if tok.quoted {
            out.push(Mention {
                start: i,
                end: i + 1,
                link: quoted_link(&values, tok),
            });
            i += 1;
            continue;
        }
        if let Some((n, p)) = super::time::period_at(tokens, i) {
            out.push(Mention {
                start: i,
                end: i + n,
                link: Link::Period(p),
            });
            i += n;
            continue;
        }
        let prev = i
            .checked_sub(1)
            .map(|p| tokens[p].lower.as_str())
            .unwrap_or("");
        // A number after a comparison word is a quantity, never a stored value.
        let compared = matches!(
            prev,
            "than"
                | "least"
                | "most"
                | "over"
                | "above"
                | "under"
                | "below"
                | "exceeding"
                | "before"
                | "after"
                | "since"
        ) && number_of(tokens, i).is_some();
        // Longest value match.
        let best_value = if compared {
            None
        } else {
            longest_value(&values, tokens, i)
        };
        // Longest schema match; all entries of that length and best rank.
        // "Show the names …": the opening verb, not a table called `show`.
        let opening_verb = i == 0
            && OPENING_VERBS.contains(&tok.lower.as_str())
            && tokens.get(1).is_some_and(|t| t.lower != "of");
        let best_schema = if opening_verb {
            None
        } else {
            longest_schema(&lex, tokens, i)
        };
        let schema_len = best_schema.as_ref().map_or(0, |b| b.len);
        let value_len = best_value.as_ref().map_or(0, |b| b.0);
        if value_len > 0 && (value_len > schema_len || (value_len == schema_len && tok.capitalised))
        {
            let (n, hits) = best_value.expect("checked");
            out.push(Mention {
                start: i,
                end: i + n,
                link: Link::Value(hits),
            });
            i += n;
            continue;
        }
        if let Some(SchemaMatch { len: n, links, .. }) = best_schema {
            let mut link = merge(links);
            if let Link::Column(cands) = &mut link {
                referenced_first(schema, cands);
            }
            out.push(Mention {
                start: i,
                end: i + n,
                link,
            });
            i += n;
            continue;
        }
        if let Some(x) = number_of(tokens, i) {
            out.push(Mention {
                start: i,
                end: i + 1,
                link: number_link(x, prev, tokens.get(i + 1)),
            });
            i += 1;
            continue;
        }
        // "the amount of horsepower" names the column that follows.
        let amount_of = tok.lower == "amount" && tokens.get(i + 1).is_some_and(|t| t.lower == "of");
        // "sales rep", "sales orders": a kind of the table that follows.
        if REVENUE_WORDS.contains(&tok.lower.as_str())
            && let Some(SchemaMatch { len: n, links, .. }) = longest_schema(&lex, tokens, i + 1)
            && let Link::Table(t) = merge(links)
        {
            out.push(Mention {
                start: i,
                end: i + 1 + n,
                link: Link::Table(t),
            });
            i += 1 + n;
            continue;
        }
        if REVENUE_WORDS.contains(&tok.lower.as_str()) && !amount_of {
            out.push(Mention {
                start: i,
                end: i + 1,
                link: Link::Revenue,
            });
            i += 1;
            continue;
        }
        if let Some(b) = Bucket::of_word(&tok.lower) {
            out.push(Mention {
                start: i,
                end: i + 1,
                link: Link::Bucket(b),
            });
            i += 1;
            continue;
        }
        if tok.capitalised
            && !is_question_filler(&tok.lower)
            && !INTENT_WORDS.contains(&tok.lower.as_str())
        {
            let literal = capitalised_run(tokens, i);
            i = literal.end;
            out.push(literal);
            continue;
        }
        i += 1;
    }
    out
}

/// A number, read as a year when it could be one and follows a word that
/// introduces a year ("in 2024", "since 1999"), follows a time grain
/// ("orders per month 2025"), or stands before a noun at the head of what
/// is asked for ("show 2025 revenue", "2024 orders by country").
fn number_link(x: f64, prev: &str, next: Option<&Token>) -> Link {
    let before_noun = next.is_some_and(|t| {
        !t.quoted && t.number().is_none() && t.lower.chars().all(char::is_alphabetic)
    });
    let year_ctx = matches!(
        prev,
        "in" | "during" | "of" | "since" | "before" | "after" | "for" | "year"
    ) || super::time::Bucket::of_word(prev).is_some()
        || (matches!(prev, "" | "show" | "list" | "give" | "compare") && before_noun);
    if x.fract() == 0.0 && (1900.0..=2100.0).contains(&x) && year_ctx {
        Link::Year(x as i32)
    } else {
        Link::Number(x)
    }
}

/// Consecutive capitalised words from `i` form one literal ("Ada Lovelace").
fn capitalised_run(tokens: &[Token], i: usize) -> Mention {
    let mut j = i + 1;
    while j < tokens.len() && tokens[j].capitalised && !tokens[j].quoted {
        j += 1;
    }
    let raw = tokens[i..j]
        .iter()
        .map(|t| t.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    Mention {
        start: i,
        end: j,
        link: Link::Literal(raw),
    }
}

/// The number token `i` stands for: digits, or a number word ("two", and
/// "one" only where it is a quantity: "more than one", "one or more").
fn number_of(tokens: &[Token], i: usize) -> Option<f64> {
    let tok = &tokens[i];
    if let Some(x) = tok.number() {
        return Some(x);
    }
    if tok.quoted {
        return None;
    }
    const WORDS: &[&str] = &[
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    let n = WORDS.iter().position(|w| *w == tok.lower)?;
    if n == 1 {
        let prev = i.checked_sub(1).map(|p| tokens[p].lower.as_str());
        let next = tokens.get(i + 1).map(|t| t.lower.as_str());
        let quantity = matches!(prev, Some("than" | "least" | "most" | "exactly" | "only"))
            || next == Some("or");
        if !quantity {
            return None;
        }
    }
    Some(n as f64)
}

/// Several tables or columns for the same words: keep tables if any, else
/// all column candidates in rank order.
fn merge(links: Vec<Link>) -> Link {
    if let Some(t) = links.iter().find(|l| matches!(l, Link::Table(_))) {
        return t.clone();
    }
    let mut cands = Vec::new();
    for l in links {
        if let Link::Column(c) = l {
            for x in c {
                if !cands.contains(&x) {
                    cands.push(x);
                }
            }
        }
    }
    Link::Column(cands)
}
