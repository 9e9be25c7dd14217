//! Few-shot selection: the order in which retrieved question→SQL examples
//! enter the prompt (the budget keeps a prefix of it).
//!
//! The question has no SQL yet, so structure is judged against a
//! *predicted skeleton*: the skeleton of the example whose question is
//! closest to the asked one. Each example's relevance combines
//!
//! - question similarity: content-word overlap (Jaccard over stemmed words)
//!   with the asked question, plus a prior for its retrieval rank (the
//!   embedder also sees trigrams and bigrams that word overlap misses);
//! - skeleton similarity to the predicted skeleton (Dice over skeleton-token
//!   bigrams), so structurally close examples win over lexically close
//!   ones with another shape.
//!
//! Examples are then picked greedily (maximal marginal relevance): each
//! pick loses the similarity it shares with an already picked example
//! (same structure *and* same words), so near-copies of one example do not
//! crowd out a different useful one. Exact duplicates (same question and
//! same SQL) are dropped. Ranks, not retrieval scores, feed the prior, so
//! the order only depends on what was retrieved and in which order.
//!
//! A skeleton is the SQL's token stream with identifiers masked as `_`,
//! literals as `?`, and keywords, operators and punctuation kept:
//! `SELECT name FROM singer WHERE age > 30` → `SELECT _ FROM _ WHERE _ > ?`.

use std::collections::{BTreeMap, BTreeSet};

use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::text::{jaccard, linking_words as words};

/// Weight of question similarity against skeleton similarity.
const QUESTION_WEIGHT: f64 = 0.75;
/// Within question similarity: word overlap against the retrieval-rank prior.
const OVERLAP_WEIGHT: f64 = 0.7;
/// How much of the redundancy with a picked example a candidate loses.
const REDUNDANCY_PENALTY: f64 = 0.5;

/// One candidate example: its question and SQL.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub question: &'a str,
    pub sql: &'a str,
}

/// Indices into `candidates` (given in retrieval order, best first), in
/// the order they should enter the prompt; duplicates are left out.
pub fn order(question: &str, candidates: &[Candidate<'_>]) -> Vec<usize> {
    if candidates.is_empty() {
        return Vec::new();
    }
    let (feats, relevance) = relevance(question, candidates);

    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut pool: Vec<usize> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        let key = (normalize(c.question), normalize(c.sql));
        if seen.insert(key) {
            pool.push(i);
        }
    }

    let mut picked: Vec<usize> = Vec::with_capacity(pool.len());
    while !pool.is_empty() {
        let scored = pool.iter().enumerate().map(|(slot, &i)| {
            let redundancy = picked
                .iter()
                .map(|&j| jaccard(&feats[i].0, &feats[j].0) * dice(&feats[i].1, &feats[j].1))
                .fold(0.0, f64::max);
            (slot, relevance[i] - REDUNDANCY_PENALTY * redundancy)
        });
        let slot = argmax(scored).unwrap_or(0);
        picked.push(pool.remove(slot));
    }
    picked
}

type Features = (BTreeSet<String>, Vec<String>);

/// Each candidate's words and skeleton, and its relevance to `question`.
fn relevance(question: &str, candidates: &[Candidate<'_>]) -> (Vec<Features>, Vec<f64>) {
    let asked: BTreeSet<String> = words(question).into_iter().collect();
    let feats: Vec<Features> = candidates
        .iter()
        .map(|c| (words(c.question).into_iter().collect(), skeleton(c.sql)))
        .collect();
    let qsim: Vec<f64> = feats
        .iter()
        .enumerate()
        .map(|(rank, (w, _))| {
            OVERLAP_WEIGHT * jaccard(&asked, w) + (1.0 - OVERLAP_WEIGHT) / (1.0 + rank as f64)
        })
        .collect();
    let best = argmax(qsim.iter().copied().enumerate()).unwrap_or(0);
    let predicted = feats.get(best).map(|f| f.1.clone()).unwrap_or_default();
    let relevance = feats
        .iter()
        .zip(&qsim)
        .map(|((_, sk), q)| QUESTION_WEIGHT * q + (1.0 - QUESTION_WEIGHT) * dice(sk, &predicted))
        .collect();
    (feats, relevance)
}

/// The first position with the highest score (so ties keep retrieval order).
fn argmax(scores: impl Iterator<Item = (usize, f64)>) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, s) in scores {
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    best.map(|(i, _)| i)
}

fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Dice coefficient over the multisets of consecutive token pairs.
fn dice(a: &[String], b: &[String]) -> f64 {
    let (pa, pb) = (pairs(a), pairs(b));
    let total: usize = pa.values().sum::<usize>() + pb.values().sum::<usize>();
    if total == 0 {
        return 0.0;
    }
    let common: usize = pa
        .iter()
        .map(|(k, n)| (*n).min(pb.get(k).copied().unwrap_or(0)))
        .sum();
    2.0 * common as f64 / total as f64
}

fn pairs(s: &[String]) -> BTreeMap<(&str, &str), usize> {
    let mut m = BTreeMap::new();
    for w in s.windows(2) {
        *m.entry((w[0].as_str(), w[1].as_str())).or_default() += 1;
    }
    m
}

/// The SQL's structure: keywords upper-cased, identifiers `_` (a qualified
/// `t.col` is one `_`), literals `?`, operators and punctuation as written.
/// Empty when the SQL does not tokenize.
pub fn skeleton(sql: &str) -> Vec<String> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    for t in tokens {
        let piece = match t {
            Token::Whitespace(_) | Token::EOF | Token::SemiColon => continue,
            Token::Word(w) if w.quote_style.is_none() && structural(w.keyword) => {
                w.value.to_uppercase()
            }
            Token::Word(_) => "_".to_string(),
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Placeholder(_) => "?".to_string(),
            other => other.to_string(),
        };
        // `_ . _` (a qualified name) folds into one `_`.
        if piece == "_" && out.len() >= 2 && out[out.len() - 1] == "." && out[out.len() - 2] == "_"
        {
            out.pop();
            continue;
        }
        out.push(piece);
    }
    out
}

/// Keywords that shape a query. Other keywords (`name`, `year`, `date`…)
/// are mostly column names in practice and are masked like identifiers.
fn structural(k: Keyword) -> bool {
    use Keyword as K;
    matches!(
        k,
        K::SELECT
            | K::FROM
            | K::WHERE
            | K::GROUP
            | K::BY
            | K::ORDER
            | K::HAVING
            | K::LIMIT
            | K::OFFSET
            | K::JOIN
            | K::INNER
            | K::LEFT
            | K::RIGHT
            | K::FULL
            | K::OUTER
            | K::CROSS
            | K::ON
            | K::USING
            | K::AS
            | K::AND
            | K::OR
            | K::NOT
            | K::IN
            | K::EXISTS
            | K::BETWEEN
            | K::LIKE
            | K::ILIKE
            | K::IS
            | K::NULL
            | K::DISTINCT
            | K::UNION
            | K::INTERSECT
            | K::EXCEPT
            | K::ALL
            | K::ANY
            | K::CASE
            | K::WHEN
            | K::THEN
            | K::ELSE
            | K::END
            | K::ASC
            | K::DESC
            | K::WITH
            | K::COUNT
            | K::SUM
            | K::AVG
            | K::MIN
            | K::MAX
            | K::CAST
            | K::OVER
            | K::PARTITION
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c<'a>(question: &'a str, sql: &'a str) -> Candidate<'a> {
        Candidate { question, sql }
    }

    #[test]
    fn skeletons_mask_names_and_literals() {
        assert_eq!(
            skeleton(
                "SELECT T1.name, count(*) FROM singer AS T1 WHERE age > 30 AND country = 'France'"
            )
            .join(" "),
            "SELECT _ , COUNT ( * ) FROM _ AS _ WHERE _ > ? AND _ = ?"
        );
        assert_eq!(
            skeleton("select name from singer where age > 40"),
            skeleton("SELECT title FROM song WHERE year > 2000"),
            "keywords that are column names in practice are masked"
        );
        assert!(skeleton("SELECT 'unterminated").is_empty());
    }

    #[test]
    fn structure_outweighs_a_slightly_better_rank() {
        // Candidates 1 and 2 have the same words; 2 was retrieved later but
        // has the GROUP BY shape the closest question (0) predicts.
        let asked = "How many singers are there per country?";
        let cands = [
            c(
                "How many singers per country?",
                "SELECT country, count(*) FROM singer GROUP BY country",
            ),
            c(
                "singers and their country",
                "SELECT name FROM singer WHERE country = 'France'",
            ),
            c(
                "country and its singers",
                "SELECT country, count(*) FROM singer GROUP BY country HAVING count(*) > 1",
            ),
        ];
        let (_, rel) = relevance(asked, &cands);
        assert!(rel[0] > rel[2] && rel[2] > rel[1], "{rel:?}");
    }

    #[test]
    fn duplicates_are_dropped_and_near_copies_yield() {
        let asked = "Which singers are older than 30?";
        let cands = [
            c(
                "Which singers are older than 40?",
                "SELECT name FROM singer WHERE age > 40",
            ),
            c(
                "which  singers are older than 40?",
                "SELECT name FROM singer WHERE age > 40",
            ),
            c(
                "Which singers are older than 40?",
                "SELECT name FROM singer WHERE age > 40 ORDER BY name",
            ),
            c("Average age of singers", "SELECT avg(age) FROM singer"),
        ];
        let (_, rel) = relevance(asked, &cands);
        assert!(
            rel[2] > rel[3],
            "alone, the near-copy is more relevant: {rel:?}"
        );
        // 1 is an exact duplicate of 0 (case and spaces aside); 2 says what
        // 0 says, so the different example 3 goes before it.
        assert_eq!(order(asked, &cands), vec![0, 3, 2]);
    }

    #[test]
    fn the_order_is_deterministic_and_total() {
        let asked = "List the names of all students";
        let cands: Vec<Candidate> = (0..6)
            .map(|_| c("Names of the students", "SELECT name FROM student"))
            .collect();
        assert_eq!(order(asked, &cands), vec![0]);
        let cands = [
            c("a b", "SELECT 1"),
            c("c d", "SELECT x FROM y"),
            c("", "not sql at all '"),
        ];
        let mut sorted = order(asked, &cands);
        assert_eq!(sorted, order(asked, &cands), "deterministic");
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 1, 2]);
        assert!(order(asked, &[]).is_empty());
    }
}
