//! Schema linking for the prompt: which tables (and which of their
//! columns) a remote model sees when the whole schema does not fit the
//! budget, and the value hints shown beside them.
//!
//! When every table's DDL fits, all of them are shown in schema order and
//! nothing is linked: small schemas lose nothing. Otherwise:
//!
//! 1. **Score** every table and column against the question's words
//!    (identifiers split into words, light stemming, a few synonyms, column
//!    and table comments), with an IDF weight so a word found in every
//!    table (`id`, `name`) counts little, a bonus for the table's rank among
//!    the retrieved DDL items (the embedder catches what word overlap
//!    misses), and a bonus for columns whose stored values the question
//!    mentions — only when value hints were gathered, i.e. when values may
//!    be used at all.
//! 2. **Pick** the best tables (at most [`MAX_SEEDS`], each scoring at least
//!    [`SEED_FLOOR`] of the best) and add their **foreign-key closure**: the
//!    shortest FK path (up to [`MAX_PATH`] hops) joining each picked table
//!    to the ones before it, then the tables the picked ones reference.
//! 3. **Fit** them into the budget: first every picked table in a compact
//!    form (primary and foreign key columns, the columns linked to the
//!    question, and columns other picked tables reference), then each is
//!    upgraded to its full DDL while that fits; the referenced tables follow
//!    the same two steps. A compact table says how many of its columns it
//!    shows, so the model knows the rest exist.
//!
//! Retrieved DDL items that are not the introspected DDL of a table (DDL
//! added as training) are shown whole after the tables, best first, if they
//! fit. Everything here is deterministic: same input, same section.
//!
//! The question-independent work (every table's DDL, identifier words and
//! their IDF weights, the FK graph) is prepared once per schema `Arc` and
//! kept in a small cache, so a 200-table schema costs ~0.1 ms per prompt.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use super::synonyms::synonyms;
use crate::domain::schema::quote_ident;
use crate::domain::{SchemaInfo, TableInfo};
use crate::engine::llm::{ContextItem, ValueHint};
use crate::text::linking_words as words;

/// At most this many tables are picked by score (the closure adds more).
pub const MAX_SEEDS: usize = 8;
/// A table is picked only if it scores at least this share of the best.
pub const SEED_FLOOR: f64 = 0.3;
/// Longest foreign-key path (in hops) used to connect picked tables.
pub const MAX_PATH: usize = 3;
/// At most this many columns get value hints.
pub const MAX_VALUE_HINTS: usize = 6;
/// Stored values shown per hinted column besides the matched ones.
pub const MAX_SAMPLES: usize = 3;
/// Longer stored values are cut in hints.
const MAX_VALUE_CHARS: usize = 60;

const SYNONYM_WEIGHT: f64 = 0.8;
const TABLE_NAME_WEIGHT: f64 = 2.0;
const OTHER_COLUMNS_WEIGHT: f64 = 0.25;
const COMMENT_WEIGHT: f64 = 0.3;
const VALUE_HIT: f64 = 3.0;
const RETRIEVAL_WEIGHT: f64 = 2.0;

/// Title line of the value-hint section.
pub const VALUES_HEADER: &str = "Stored values of some columns, spelled as stored:";

/// The schema part of a prompt: DDL blocks and value-hint lines, in order.
#[derive(Debug, Default)]
pub struct SchemaSection {
    /// `CREATE TABLE` texts (not yet defused).
    pub blocks: Vec<String>,
    /// Hint lines (without the list dash).
    pub values: Vec<String>,
    /// Whether the schema was linked (some tables or columns left out).
    pub linked: bool,
    /// Characters the blocks and the value section take at most.
    pub cost: usize,
}

/// What a DDL block costs in the prompt: its text, its newline and the
/// blank line before it (the first block needs no blank line, so this is
/// one character generous).
pub fn block_cost(text: &str) -> usize {
    text.chars().count() + 2
}

/// What the value section costs around its lines: `\n<values>\n`, the
/// header line and `</values>\n`.
pub fn values_overhead() -> usize {
    "\n<values>\n".len() + VALUES_HEADER.chars().count() + 1 + "</values>\n".len()
}

/// What one hint line costs: `- `, the line and its newline.
pub fn value_line_cost(line: &str) -> usize {
    line.chars().count() + 3
}

/// The schema section for `question` within `budget` characters.
pub fn schema_section(
    question: &str,
    schema: &Arc<SchemaInfo>,
    retrieved: &[ContextItem],
    hints: &[ValueHint],
    budget: usize,
) -> SchemaSection {
    let prepared = prepared(schema);
    let full = &prepared.full;
    let mut rank: Vec<Option<usize>> = vec![None; full.len()];
    let mut extras: Vec<&str> = Vec::new();
    for (r, item) in retrieved.iter().enumerate() {
        let text = item.content.trim();
        match full.iter().position(|d| d == text) {
            Some(t) => {
                rank[t].get_or_insert(r);
            }
            None => extras.push(text),
        }
    }

    let mut left = budget;
    let mut out = SchemaSection::default();
    // (table, shown columns; `None` = all)
    let mut shown: Vec<(usize, Option<BTreeSet<usize>>)> = Vec::new();
    if prepared.whole_cost <= budget {
        left -= prepared.whole_cost;
        out.blocks = full.clone();
        shown = (0..schema.tables.len()).map(|t| (t, None)).collect();
    } else {
        out.linked = true;
        let linker = Linker::new(question, schema, &prepared, &rank, hints);
        for (t, cols) in linker.fit(full, &mut left) {
            out.blocks.push(match &cols {
                None => full[t].clone(),
                Some(keep) => compact_ddl(&schema.tables[t], keep),
            });
            shown.push((t, cols));
        }
    }
    for e in extras {
        let cost = block_cost(e);
        if cost <= left {
            left -= cost;
            out.blocks.push(e.to_string());
        }
    }

    for hint in hints {
        let Some(t) = schema
            .tables
            .iter()
            .position(|t| t.name.eq_ignore_ascii_case(&hint.table))
        else {
            continue;
        };
        let table = &schema.tables[t];
        let Some(c) = table
            .columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(&hint.column))
        else {
            continue;
        };
        let visible = shown
            .iter()
            .any(|(st, cols)| *st == t && cols.as_ref().is_none_or(|k| k.contains(&c)));
        if !visible {
            continue;
        }
        let line = value_line(table, &table.columns[c].name, hint);
        let mut cost = value_line_cost(&line);
        if out.values.is_empty() {
            cost += values_overhead();
        }
        if cost <= left {
            left -= cost;
            out.values.push(line);
        }
    }
    out.cost = budget - left;
    out
}

/// `"singer".Country: 'France' (named in the question); other values include …`
fn value_line(table: &TableInfo, column: &str, hint: &ValueHint) -> String {
    let list = |vs: &[String]| {
        vs.iter()
            .map(|v| sql_literal(v))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let name = format!("{}.{}", quote_ident(&table.name), quote_ident(column));
    match (hint.matched.is_empty(), hint.samples.is_empty()) {
        (false, false) => format!(
            "{name}: {} (named in the question); other values include {}",
            list(&hint.matched),
            list(&hint.samples)
        ),
        (false, true) => format!("{name}: {} (named in the question)", list(&hint.matched)),
        (true, _) => format!("{name}: values include {}", list(&hint.samples)),
    }
}

/// A value as a one-line SQL string literal, cut to [`MAX_VALUE_CHARS`].
fn sql_literal(v: &str) -> String {
    let one_line: String = v
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cut: String = match one_line.char_indices().nth(MAX_VALUE_CHARS) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    };
    format!("'{}'", cut.replace('\'', "''"))
}

/// `table` with only the columns in `keep`, headed by a comment saying how
/// many columns are shown; keys are kept whole.
fn compact_ddl(table: &TableInfo, keep: &BTreeSet<usize>) -> String {
    let n = table.columns.len();
    let note = format!("{} of {n} columns shown", keep.len());
    let mut t = TableInfo {
        name: table.name.clone(),
        is_view: table.is_view,
        columns: Vec::with_capacity(keep.len()),
        primary_key: table.primary_key.clone(),
        foreign_keys: table.foreign_keys.clone(),
        row_count: None,
        comment: Some(match &table.comment {
            Some(c) => format!("{c} ({note})"),
            None => note,
        }),
    };
    for &c in keep {
        let col = &table.columns[c];
        t.columns.push(crate::domain::ColumnInfo {
            name: col.name.clone(),
            data_type: col.data_type.clone(),
            nullable: col.nullable,
            comment: col.comment.clone(),
            sample_values: Vec::new(),
        });
    }
    t.to_ddl()
}

/// Columns of `text` with a stored value the question mentions, or whose
/// name the question uses, with those values and a few others: the value
/// hints for `llm.allow_values_in_prompt`. Columns with matched values come
/// first. Uses the `sample_values` gathered at introspection (low-cardinality
/// text columns), never the database itself.
pub fn value_hints(question: &str, schema: &SchemaInfo) -> Vec<ValueHint> {
    let asked = format!(" {} ", normalize(question));
    let asked_words: BTreeSet<String> = words(question).into_iter().collect();
    let mut found: Vec<ValueHint> = Vec::new();
    for table in &schema.tables {
        for col in &table.columns {
            if col.sample_values.is_empty() {
                continue;
            }
            let matched: Vec<String> = col
                .sample_values
                .iter()
                .filter(|v| {
                    let n = normalize(v);
                    n.chars().count() >= 2
                        && n.chars().any(char::is_alphabetic)
                        && asked.contains(&format!(" {n} "))
                })
                .cloned()
                .collect();
            let named = {
                let w = words(&col.name);
                !w.is_empty() && w.iter().all(|w| asked_words.contains(w))
            };
            if matched.is_empty() && !named {
                continue;
            }
            let samples = col
                .sample_values
                .iter()
                .filter(|v| !matched.contains(v))
                .take(MAX_SAMPLES)
                .cloned()
                .collect();
            found.push(ValueHint {
                table: table.name.clone(),
                column: col.name.clone(),
                matched,
                samples,
            });
        }
    }
    // Stable: schema order within the same number of matches.
    found.sort_by_key(|h| std::cmp::Reverse(h.matched.len()));
    found.truncate(MAX_VALUE_HINTS);
    found
}

/// Lower-case words separated by single spaces.
fn normalize(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// At most this many schemas keep their [`Prepared`] form.
const MAX_PREPARED: usize = 32;

/// Words with their IDF weight, distinct.
type Weighted = Vec<(String, f64)>;

/// What linking needs from a schema, independent of the question: computed
/// once per schema (version) and shared, because rendering and splitting
/// every identifier of a 200-table schema costs more than the rest of a
/// question's pipeline.
struct Prepared {
    /// Each table's full DDL, and what all of them cost together.
    full: Vec<String>,
    whole_cost: usize,
    /// Table name words (IDF over table names).
    table_words: Vec<Weighted>,
    /// Table comment words (IDF over column names).
    table_comment: Vec<Weighted>,
    /// Per table, per column: name words and comment words.
    column_words: Vec<Vec<(Weighted, Weighted)>>,
    /// Tables each table references, resolved, in FK order.
    refs: Vec<Vec<usize>>,
    /// Undirected FK neighbours, sorted.
    adjacent: Vec<Vec<usize>>,
}

/// Recently used schemas, keyed by the identity of their `Arc`: a schema is
/// immutable once introspected (a refresh makes a new `Arc`), and a live
/// `Weak` pins the allocation, so the same pointer is the same schema.
static PREPARED: LazyLock<Mutex<PreparedCache>> = LazyLock::new(Mutex::default);

type PreparedCache = Vec<(Weak<SchemaInfo>, Arc<Prepared>)>;

fn prepared(schema: &Arc<SchemaInfo>) -> Arc<Prepared> {
    let find = |cache: &mut PreparedCache| {
        cache.retain(|(w, _)| w.strong_count() > 0);
        cache
            .iter()
            .find(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(schema)))
            .map(|(_, p)| p.clone())
    };
    if let Some(p) = find(&mut PREPARED.lock().unwrap_or_else(|e| e.into_inner())) {
        return p;
    }
    let p = Arc::new(Prepared::new(schema));
    let mut cache = PREPARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(other) = find(&mut cache) {
        return other;
    }
    if cache.len() >= MAX_PREPARED {
        cache.remove(0);
    }
    cache.push((Arc::downgrade(schema), p.clone()));
    p
}

impl Prepared {
    fn new(schema: &SchemaInfo) -> Self {
        let n = schema.tables.len();
        let full: Vec<String> = schema.tables.iter().map(TableInfo::to_ddl).collect();
        let whole_cost = full.iter().map(|d| block_cost(d)).sum();
        let distinct = |text: &str| -> Vec<String> {
            let mut w = words(text);
            w.sort_unstable();
            w.dedup();
            w
        };
        let table_names: Vec<Vec<String>> =
            schema.tables.iter().map(|t| distinct(&t.name)).collect();
        let column_names: Vec<Vec<(Vec<String>, Vec<String>)>> = schema
            .tables
            .iter()
            .map(|t| {
                t.columns
                    .iter()
                    .map(|c| {
                        (
                            distinct(&c.name),
                            c.comment.as_deref().map(distinct).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .collect();
        // Document frequencies, separately for table names and column names:
        // the central entity of a schema is named by one table but
        // referenced by columns of many, and must still count when named.
        let mut df_table: HashMap<&str, usize> = HashMap::new();
        let mut df_column: HashMap<&str, usize> = HashMap::new();
        for (name, cols) in table_names.iter().zip(&column_names) {
            for w in name {
                *df_table.entry(w).or_default() += 1;
            }
            let words: BTreeSet<&str> = cols
                .iter()
                .flat_map(|(c, _)| c.iter().map(String::as_str))
                .collect();
            for w in words {
                *df_column.entry(w).or_default() += 1;
            }
        }
        let weigh = |df: &HashMap<&str, usize>, ws: &[String]| -> Weighted {
            ws.iter()
                .map(|w| {
                    let d = df.get(w.as_str()).copied().unwrap_or(1).max(1);
                    (w.clone(), (1.0 + n as f64 / d as f64).ln())
                })
                .collect()
        };
        let table_words = table_names.iter().map(|w| weigh(&df_table, w)).collect();
        let table_comment = schema
            .tables
            .iter()
            .map(|t| {
                weigh(
                    &df_column,
                    &t.comment.as_deref().map(distinct).unwrap_or_default(),
                )
            })
            .collect();
        let column_words = column_names
            .iter()
            .map(|cols| {
                cols.iter()
                    .map(|(name, comment)| (weigh(&df_column, name), weigh(&df_column, comment)))
                    .collect()
            })
            .collect();

        let by_name: HashMap<String, usize> = schema
            .tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.to_lowercase(), i))
            .collect();
        let mut refs = vec![Vec::new(); n];
        let mut adjacent = vec![Vec::new(); n];
        for (i, t) in schema.tables.iter().enumerate() {
            for fk in &t.foreign_keys {
                let Some(&r) = by_name.get(&fk.ref_table.to_lowercase()) else {
                    continue;
                };
                if r != i && !refs[i].contains(&r) {
                    refs[i].push(r);
                    adjacent[i].push(r);
                    adjacent[r].push(i);
                }
            }
        }
        for a in &mut adjacent {
            a.sort_unstable();
            a.dedup();
        }
        Self {
            full,
            whole_cost,
            table_words,
            table_comment,
            column_words,
            refs,
            adjacent,
        }
    }
}

/// Scores of one schema against one question.
struct Linker<'a> {
    schema: &'a SchemaInfo,
    prepared: &'a Prepared,
    table_score: Vec<f64>,
    column_score: Vec<Vec<f64>>,
}

impl<'a> Linker<'a> {
    fn new(
        question: &str,
        schema: &'a SchemaInfo,
        prepared: &'a Prepared,
        rank: &[Option<usize>],
        hints: &[ValueHint],
    ) -> Self {
        let mut terms: HashMap<String, f64> = HashMap::new();
        for w in words(question) {
            for s in synonyms(&w) {
                let e = terms.entry(s.clone()).or_insert(0.0);
                *e = e.max(SYNONYM_WEIGHT);
            }
            terms.insert(w, 1.0);
        }
        // (sum of matched weights, share of words matched)
        let matched = |ws: &Weighted| {
            if ws.is_empty() {
                return (0.0, 0.0);
            }
            let mut sum = 0.0;
            let mut hits = 0usize;
            for (w, idf) in ws {
                if let Some(q) = terms.get(w) {
                    sum += q * idf;
                    hits += 1;
                }
            }
            (sum, hits as f64 / ws.len() as f64)
        };

        let n = schema.tables.len();
        let mut table_score = Vec::with_capacity(n);
        let mut column_score = Vec::with_capacity(n);
        for (i, t) in schema.tables.iter().enumerate() {
            let cols: Vec<f64> = t
                .columns
                .iter()
                .zip(&prepared.column_words[i])
                .map(|(c, (name, comment))| {
                    let (s, cov) = matched(name);
                    let value = hints.iter().any(|h| {
                        !h.matched.is_empty()
                            && h.table.eq_ignore_ascii_case(&t.name)
                            && h.column.eq_ignore_ascii_case(&c.name)
                    });
                    s * cov
                        + COMMENT_WEIGHT * matched(comment).0
                        + if value { VALUE_HIT } else { 0.0 }
                })
                .collect();
            let best = cols.iter().copied().fold(0.0, f64::max);
            let rest = cols.iter().sum::<f64>() - best;
            let (s, cov) = matched(&prepared.table_words[i]);
            let rank = rank[i]
                .map(|r| RETRIEVAL_WEIGHT / (1.0 + r as f64))
                .unwrap_or(0.0);
            table_score.push(
                TABLE_NAME_WEIGHT * s * cov
                    + best
                    + OTHER_COLUMNS_WEIGHT * rest
                    + COMMENT_WEIGHT * matched(&prepared.table_comment[i]).0
                    + rank,
            );
            column_score.push(cols);
        }
        Self {
            schema,
            prepared,
            table_score,
            column_score,
        }
    }

    /// The best tables, best first (ties in schema order).
    fn seeds(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.table_score.len()).collect();
        order.sort_by(|&a, &b| {
            self.table_score[b]
                .total_cmp(&self.table_score[a])
                .then(a.cmp(&b))
        });
        let best = order.first().map_or(0.0, |&t| self.table_score[t]);
        order
            .into_iter()
            .filter(|&t| self.table_score[t] > 0.0 && self.table_score[t] >= SEED_FLOOR * best)
            .take(MAX_SEEDS)
            .collect()
    }

    /// Seeds with the FK paths joining them, in pick order, then the tables
    /// those reference.
    fn closure(&self) -> (Vec<usize>, Vec<usize>) {
        let n = self.table_score.len();
        let mut chosen: Vec<usize> = Vec::new();
        let mut in_set = vec![false; n];
        for seed in self.seeds() {
            if in_set[seed] {
                continue;
            }
            let path = if chosen.is_empty() {
                Vec::new()
            } else {
                self.path_to_set(seed, &in_set)
            };
            chosen.push(seed);
            in_set[seed] = true;
            for t in path {
                if !in_set[t] {
                    chosen.push(t);
                    in_set[t] = true;
                }
            }
        }
        let mut referenced = Vec::new();
        for &t in &chosen {
            for &r in &self.prepared.refs[t] {
                if !in_set[r] {
                    in_set[r] = true;
                    referenced.push(r);
                }
            }
        }
        (chosen, referenced)
    }

    /// The tables strictly between `from` and the nearest table of the set
    /// (breadth-first, neighbours in schema order); empty when none is
    /// within [`MAX_PATH`] hops.
    fn path_to_set(&self, from: usize, in_set: &[bool]) -> Vec<usize> {
        let mut parent: Vec<Option<usize>> = vec![None; in_set.len()];
        let mut depth = vec![usize::MAX; in_set.len()];
        depth[from] = 0;
        let mut queue = VecDeque::from([from]);
        while let Some(t) = queue.pop_front() {
            if in_set[t] {
                let mut path = Vec::new();
                let mut cur = parent[t];
                while let Some(p) = cur {
                    if p == from {
                        break;
                    }
                    path.push(p);
                    cur = parent[p];
                }
                path.reverse();
                return path;
            }
            if depth[t] == MAX_PATH {
                continue;
            }
            for &u in &self.prepared.adjacent[t] {
                if depth[u] == usize::MAX {
                    depth[u] = depth[t] + 1;
                    parent[u] = Some(t);
                    queue.push_back(u);
                }
            }
        }
        Vec::new()
    }

    /// Columns of `t` shown in its compact form: keys, columns linked to the
    /// question, and columns the other `tables` reference.
    fn compact_columns(&self, t: usize, tables: &[usize]) -> BTreeSet<usize> {
        let table = &self.schema.tables[t];
        let is = |list: &[String], name: &str| list.iter().any(|c| c.eq_ignore_ascii_case(name));
        table
            .columns
            .iter()
            .enumerate()
            .filter(|(c, col)| {
                self.column_score[t][*c] > 0.0
                    || is(&table.primary_key, &col.name)
                    || table
                        .foreign_keys
                        .iter()
                        .any(|fk| is(&fk.columns, &col.name))
                    || tables.iter().any(|&u| {
                        self.schema.tables[u].foreign_keys.iter().any(|fk| {
                            fk.ref_table.eq_ignore_ascii_case(&table.name)
                                && is(&fk.ref_columns, &col.name)
                        })
                    })
            })
            .map(|(c, _)| c)
            .collect()
    }

    /// The tables to show, in order, each with its shown columns (`None`:
    /// all), spending from `left`.
    fn fit(&self, full: &[String], left: &mut usize) -> Vec<(usize, Option<BTreeSet<usize>>)> {
        let (chosen, referenced) = self.closure();
        let all: Vec<usize> = chosen.iter().chain(&referenced).copied().collect();
        let mut placed: Vec<(usize, Option<BTreeSet<usize>>, usize)> = Vec::new();
        for group in [&chosen, &referenced] {
            let first = placed.len();
            for &t in group.iter() {
                let keep = self.compact_columns(t, &all);
                let whole = block_cost(&full[t]);
                let (cols, cost) = if keep.len() == self.schema.tables[t].columns.len() {
                    (None, whole)
                } else {
                    // Leaving out one short column can cost more than the
                    // note saying so: then show the table whole.
                    let cost = block_cost(&compact_ddl(&self.schema.tables[t], &keep));
                    if whole <= cost {
                        (None, whole)
                    } else {
                        (Some(keep), cost)
                    }
                };
                if cost <= *left {
                    *left -= cost;
                    placed.push((t, cols, cost));
                }
            }
            for p in &mut placed[first..] {
                if p.1.is_none() {
                    continue;
                }
                let extra = block_cost(&full[p.0]) - p.2;
                if extra <= *left {
                    *left -= extra;
                    p.1 = None;
                }
            }
        }
        placed.into_iter().map(|(t, cols, _)| (t, cols)).collect()
    }
}

/// Scores by table name, for tests and diagnostics.
#[cfg(test)]
fn table_scores(question: &str, schema: &SchemaInfo) -> std::collections::BTreeMap<String, f64> {
    let prepared = Prepared::new(schema);
    let linker = Linker::new(
        question,
        schema,
        &prepared,
        &vec![None; schema.tables.len()],
        &[],
    );
    schema
        .tables
        .iter()
        .zip(linker.table_score)
        .map(|(t, s)| (t.name.clone(), s))
        .collect()
}

#[cfg(test)]
mod tests;
