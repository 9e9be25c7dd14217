//! The retrieval benchmark (`insight eval --retrieval`): how often example
//! retrieval puts a trained example with the question's own SQL first.
//!
//! For every Spider question that has a twin (another question of its
//! database with the same gold SQL, compared after collapsing whitespace),
//! the database's *other* pairs are the trained examples and the question is
//! the query. Reported per ranking: hit@1 and
//! hit@5 (an example with the same SQL first / in the top five), the rate at
//! which a different-SQL example ranks first (1 − hit@1: what the generator
//! would see as its best example), per-query latency (embedding the question
//! plus ranking) and the CPU time spent embedding every question once.
//!
//! Rankings mirror the engine: `dense` is the embedder's cosine; `hybrid`
//! fetches the embedder's top [`HybridRanker::pool`] and fuses them with the
//! lexical ranking exactly as retrieval does ([`HybridRanker::fuse`]).
//! [`sweep`] lists the fixed grid of fusion settings `--sweep` scores from
//! the same embeddings, so the choice of the defaults can be re-checked.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::dataset::{Dataset, Example};
use crate::config::FusionKind;
use crate::engine::retrieval::hybrid::{Candidate, HybridRanker, cosine};
use crate::engine::retrieval::{EmbeddingService, HashingEmbedder};

/// One ranking's results.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalRow {
    /// `hashing`, `local`, `hybrid(local)`, …
    pub ranking: String,
    pub embedder: String,
    /// Questions with a twin.
    pub questions: usize,
    pub hit_at_1: f64,
    pub hit_at_5: f64,
    pub different_sql_first: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    /// CPU time (user + system, whole process) to embed every question once.
    pub embed_cpu_secs: Option<f64>,
    /// Per database: (questions, hit@1 %).
    pub per_db: BTreeMap<String, (usize, f64)>,
}

/// The embedded questions of one embedder.
struct Embedded {
    id: String,
    vectors: Vec<Vec<f32>>,
    /// Wall time to embed each question.
    times: Vec<Duration>,
    cpu: Option<f64>,
}

/// Run the benchmark over `examples` with the hashing embedder and, when
/// given, a model embedder: dense, then fused by each of `hybrids` (label,
/// settings).
pub async fn benchmark(
    dataset: &Dataset,
    dbs: &[String],
    model: Option<&dyn EmbeddingService>,
    hybrids: &[(String, HybridRanker)],
) -> anyhow::Result<Vec<RetrievalRow>> {
    let examples: Vec<&Example> = dataset
        .examples
        .iter()
        .filter(|e| dbs.is_empty() || dbs.contains(&e.db_id))
        .collect();
    let keys: Vec<String> = examples.iter().map(|e| sql_key(&e.gold_sql)).collect();
    let hashing = HashingEmbedder::default();
    let hashed = embed_all(&hashing, &examples).await?;
    let mut rows = vec![score("hashing", &hashed, &examples, &keys, None)];
    if let Some(model) = model {
        let dense = embed_all(model, &examples).await?;
        rows.push(score("dense", &dense, &examples, &keys, None));
        for (label, ranker) in hybrids {
            rows.push(score(
                label,
                &dense,
                &examples,
                &keys,
                Some((ranker, &hashed.vectors)),
            ));
        }
    }
    Ok(rows)
}

/// The `--sweep` grid, fixed in advance. Fusion without the lexical lead
/// gate: both fusions, the lexical weight at ¼, ½, 1 and 2 times the dense
/// one, and for rank fusion the common `k = 60` and a steep `k = 10`. Then
/// the gate on score fusion 1 : 1: a lead of 0.05, 0.1 and 0.2, each with
/// no minimum and with 0.5. These have no literal penalty; last, the
/// configured ranking with a literal penalty of 0, 0.1 and 0.4.
/// `candidates` is the configured one.
pub fn sweep(base: &HybridRanker) -> Vec<(String, HybridRanker)> {
    let ungated = HybridRanker {
        lexical_lead: 0.0,
        literal_penalty: 0.0,
        ..base.clone()
    };
    let mut out = Vec::new();
    for lexical in [0.25_f32, 0.5, 1.0, 2.0] {
        out.push((
            format!("score l={lexical}"),
            HybridRanker {
                fusion: FusionKind::Score,
                dense_weight: 1.0,
                lexical_weight: lexical,
                ..ungated.clone()
            },
        ));
        for k in [10.0_f32, 60.0] {
            out.push((
                format!("rrf l={lexical} k={k}"),
                HybridRanker {
                    fusion: FusionKind::Rrf,
                    dense_weight: 1.0,
                    lexical_weight: lexical,
                    rrf_k: k,
                    ..ungated.clone()
                },
            ));
        }
    }
    for lead in [0.05_f32, 0.1, 0.2] {
        for min in [0.0_f32, 0.5] {
            out.push((
                format!("gate {lead}/{min}"),
                HybridRanker {
                    fusion: FusionKind::Score,
                    dense_weight: 1.0,
                    lexical_weight: 1.0,
                    lexical_lead: lead,
                    lexical_lead_min: min,
                    ..ungated.clone()
                },
            ));
        }
    }
    for penalty in [0.0_f32, 0.1, 0.4] {
        out.push((
            format!("penalty {penalty}"),
            HybridRanker {
                literal_penalty: penalty,
                ..base.clone()
            },
        ));
    }
    out
}

async fn embed_all(
    embedder: &dyn EmbeddingService,
    examples: &[&Example],
) -> anyhow::Result<Embedded> {
    let cpu_before = process_cpu_secs();
    let mut vectors = Vec::with_capacity(examples.len());
    let mut times = Vec::with_capacity(examples.len());
    for e in examples {
        let started = Instant::now();
        vectors.push(embedder.embed_one(&e.question).await?);
        times.push(started.elapsed());
    }
    let cpu = cpu_before
        .zip(process_cpu_secs())
        .map(|(before, after)| after - before);
    Ok(Embedded {
        id: embedder.id().to_string(),
        vectors,
        times,
        cpu,
    })
}

/// Score one ranking; `hybrid` carries the fusion settings and the
/// questions' lexical (hashing) vectors.
fn score(
    name: &str,
    embedded: &Embedded,
    examples: &[&Example],
    keys: &[String],
    hybrid: Option<(&HybridRanker, &Vec<Vec<f32>>)>,
) -> RetrievalRow {
    let mut by_db: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, e) in examples.iter().enumerate() {
        by_db.entry(e.db_id.as_str()).or_default().push(i);
    }
    let (mut n, mut hit1, mut hit5) = (0usize, 0usize, 0usize);
    let mut per_db: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut latencies = Vec::new();
    for (i, e) in examples.iter().enumerate() {
        let others: Vec<usize> = by_db[e.db_id.as_str()]
            .iter()
            .copied()
            .filter(|&j| j != i)
            .collect();
        if !others.iter().any(|&j| keys[j] == keys[i]) {
            continue;
        }
        let started = Instant::now();
        let ranked = rank(i, &others, examples, &embedded.vectors, hybrid);
        latencies.push(embedded.times[i] + started.elapsed());
        n += 1;
        let first = ranked.first().is_some_and(|&j| keys[j] == keys[i]);
        let top5 = ranked.iter().take(5).any(|&j| keys[j] == keys[i]);
        hit1 += usize::from(first);
        hit5 += usize::from(top5);
        let d = per_db.entry(e.db_id.clone()).or_default();
        d.0 += 1;
        d.1 += usize::from(first);
    }
    latencies.sort();
    let pct = |a: usize| 100.0 * a as f64 / n.max(1) as f64;
    let quantile = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    RetrievalRow {
        ranking: name.to_string(),
        embedder: embedded.id.clone(),
        questions: n,
        hit_at_1: pct(hit1),
        hit_at_5: pct(hit5),
        different_sql_first: pct(n - hit1),
        latency_p50_ms: quantile(0.5),
        latency_p95_ms: quantile(0.95),
        embed_cpu_secs: embedded.cpu,
        per_db: per_db
            .into_iter()
            .map(|(db, (q, h))| (db, (q, 100.0 * h as f64 / q as f64)))
            .collect(),
    }
}

/// Indices of `others` best first for question `i`.
fn rank(
    i: usize,
    others: &[usize],
    examples: &[&Example],
    vectors: &[Vec<f32>],
    hybrid: Option<(&HybridRanker, &Vec<Vec<f32>>)>,
) -> Vec<usize> {
    let mut dense: Vec<(usize, f32)> = others
        .iter()
        .map(|&j| (j, cosine(&vectors[i], &vectors[j])))
        .collect();
    // Ties by position, as the index breaks them by id.
    dense.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let Some((ranker, lexical)) = hybrid else {
        return dense.into_iter().map(|d| d.0).collect();
    };
    dense.truncate(ranker.pool(5));
    // Ids that sort like positions, so ties break as in the dense order.
    let ids: Vec<String> = dense.iter().map(|d| format!("{:08}", d.0)).collect();
    let candidates: Vec<Candidate<'_>> = dense
        .iter()
        .zip(&ids)
        .map(|(d, id)| Candidate {
            id,
            dense: d.1,
            text: &examples[d.0].question,
        })
        .collect();
    let scored: Vec<(usize, f32, f32)> = dense
        .iter()
        .enumerate()
        .map(|(c, &(j, s))| (c, s, cosine(&lexical[i], &lexical[j])))
        .collect();
    ranker
        .fuse_for(&examples[i].question, &candidates, &scored, usize::MAX)
        .into_iter()
        .filter_map(|f| f.id.parse().ok())
        .collect()
}

/// Gold SQL compared as written, whitespace and a final `;` aside (case is
/// kept: `'France'` and `'france'` are different queries).
fn sql_key(sql: &str) -> String {
    sql.trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// User + system CPU time of this process from `/proc/self/stat` (Linux;
/// `None` elsewhere). Clock ticks are USER_HZ, 100 on every Linux ABI.
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, i.e. the 12th and 13th after it.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Resident set size of this process in MiB, from `/proc/self/status`
/// (Linux; `None` elsewhere).
pub fn process_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The summary table, then each fused ranking against hashing: the overall
/// hit@1 difference, the worst database and the databases more than one
/// point lower (the target).
pub fn render(rows: &[RetrievalRow]) -> String {
    let mut out = String::from(
        "ranking              embedder                                   questions  hit@1   hit@5   diff-SQL-first  p50 ms  p95 ms  embed CPU s\n",
    );
    for r in rows {
        out.push_str(&format!(
            "{:<20} {:<42} {:>9}  {:>5.1}%  {:>5.1}%  {:>13.1}%  {:>6.2}  {:>6.2}  {}\n",
            r.ranking,
            r.embedder,
            r.questions,
            r.hit_at_1,
            r.hit_at_5,
            r.different_sql_first,
            r.latency_p50_ms,
            r.latency_p95_ms,
            r.embed_cpu_secs
                .map_or_else(|| "n/a".to_string(), |c| format!("{c:.2}")),
        ));
    }
    let Some(base) = rows.iter().find(|r| r.ranking == "hashing") else {
        return out;
    };
    out.push_str("\nagainst hashing (hit@1 points): overall, worst database, databases more than 1 point lower\n");
    for r in rows.iter().filter(|r| r.ranking != "hashing") {
        let mut deltas: Vec<(f64, &String)> = r
            .per_db
            .iter()
            .filter_map(|(db, &(_, h))| Some((h - base.per_db.get(db)?.1, db)))
            .collect();
        deltas.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        let worst = deltas
            .first()
            .map_or_else(|| "n/a".to_string(), |(d, db)| format!("{db} {d:+.1}"));
        let lower: Vec<String> = deltas
            .iter()
            .filter(|(d, _)| *d < -1.0)
            .map(|(d, db)| format!("{db} {d:+.1}"))
            .collect();
        out.push_str(&format!(
            "{:<20} {:+5.1}  worst {:<28} lower: {}\n",
            r.ranking,
            r.hit_at_1 - base.hit_at_1,
            worst,
            if lower.is_empty() {
                "none".to_string()
            } else {
                lower.join(", ")
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(index: usize, db: &str, q: &str, sql: &str) -> Example {
        Example {
            index,
            db_id: db.into(),
            question: q.into(),
            gold_sql: sql.into(),
        }
    }

    #[tokio::test]
    async fn twins_are_scored_and_singletons_skipped() {
        let ds = Dataset {
            root: ".".into(),
            examples: vec![
                example(
                    0,
                    "s",
                    "How many singers do we have?",
                    "SELECT count(*) FROM singer",
                ),
                example(
                    1,
                    "s",
                    "What is the total number of singers?",
                    "SELECT count(*)  FROM singer;",
                ),
                example(
                    2,
                    "s",
                    "List the names of all stadiums.",
                    "SELECT name FROM stadium",
                ),
                example(
                    3,
                    "t",
                    "How many teams are there?",
                    "SELECT count(*) FROM team",
                ),
            ],
        };
        let rows = benchmark(&ds, &[], None, &sweep(&HybridRanker::default()))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        // Questions 0 and 1 are twins (SQL equal up to spaces and `;`).
        assert_eq!(r.questions, 2);
        assert_eq!(r.hit_at_1, 100.0);
        assert_eq!(r.different_sql_first, 0.0);
        assert_eq!(r.per_db["s"], (2, 100.0));
        assert!(!r.per_db.contains_key("t"));
        assert!(render(&rows).contains("hashing"));
    }

    #[test]
    fn cpu_time_and_memory_are_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(process_cpu_secs().is_some());
            assert!(process_rss_mib().is_some_and(|m| m > 1.0));
        }
    }

    #[test]
    fn the_sweep_grid_is_both_fusions_at_four_weights_then_the_gate() {
        let grid = sweep(&HybridRanker::default());
        assert_eq!(grid.len(), 21);
        let labels: Vec<&str> = grid.iter().map(|g| g.0.as_str()).collect();
        assert!(labels.contains(&"score l=0.5"), "{labels:?}");
        assert!(labels.contains(&"rrf l=1 k=60"), "{labels:?}");
        assert!(labels.contains(&"gate 0.2/0.5"), "{labels:?}");
        assert!(grid.iter().all(|g| g.1.candidates == 50));
        assert!(grid[..12].iter().all(|g| g.1.lexical_lead == 0.0));
        let (_, gated) = &grid[12];
        assert_eq!((gated.lexical_lead, gated.lexical_lead_min), (0.05, 0.0));
        assert!(grid[..18].iter().all(|g| g.1.literal_penalty == 0.0));
        assert_eq!(grid[18].0, "penalty 0");
        assert_eq!(grid[20].1.literal_penalty, 0.4);
    }

    #[test]
    fn fused_rows_are_compared_with_hashing_per_database() {
        let row = |ranking: &str, hit: f64, per_db: &[(&str, f64)]| RetrievalRow {
            ranking: ranking.into(),
            embedder: "e".into(),
            questions: 10,
            hit_at_1: hit,
            hit_at_5: hit,
            different_sql_first: 100.0 - hit,
            latency_p50_ms: 1.0,
            latency_p95_ms: 1.0,
            embed_cpu_secs: None,
            per_db: per_db
                .iter()
                .map(|&(db, h)| (db.to_string(), (5, h)))
                .collect(),
        };
        let rows = [
            row("hashing", 70.0, &[("a", 60.0), ("b", 80.0)]),
            row("hybrid", 72.5, &[("a", 75.0), ("b", 70.0)]),
        ];
        let text = render(&rows);
        assert!(text.contains("hybrid"), "{text}");
        assert!(text.contains(" +2.5  worst b -10.0"), "{text}");
        assert!(text.contains("lower: b -10.0"), "{text}");
    }
}
