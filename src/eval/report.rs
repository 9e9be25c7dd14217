//! The evaluation report: aggregation of per-question results, the summary
//! table printed on stdout, and the files written to `--out`:
//!
//! - `report.json` — the summary below (without per-question detail);
//! - `results.jsonl` — one [`QuestionResult`] per line, gold order;
//! - `predictions.sql` — one SQL per line in gold order, the official
//!   evaluator's `--pred` format (`SELECT 1` where the pipeline produced no
//!   answer);
//! - `gold.sql` — the matching `SQL<TAB>db_id` lines, its `--gold` format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use super::{Outcome, QuestionResult, TrainMode};

/// Written for a question the pipeline did not answer.
pub const NO_SQL_PLACEHOLDER: &str = "SELECT 1";

#[derive(Debug, Clone, Default, Serialize)]
pub struct TrainingSummary {
    /// question→SQL items created (leave-one-out).
    pub added: usize,
    /// Pairs that repeat an existing item (same question and SQL).
    pub duplicates: usize,
    /// Pairs whose gold SQL the pipeline refused to train on.
    pub rejected: usize,
    pub rejected_reasons: BTreeMap<String, usize>,
}

/// How the run was set up.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub dataset: String,
    pub provider: String,
    pub model: String,
    pub train: TrainMode,
    pub dbs: Vec<String>,
    pub limit: Option<usize>,
    pub limit_per_db: Option<usize>,
    /// Questions skipped because their database file is missing.
    pub skipped_missing_db: usize,
    pub duration_secs: f64,
    pub training: TrainingSummary,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Score {
    pub correct: usize,
    pub total: usize,
    /// `correct / total` (0 when there are no questions).
    pub accuracy: f64,
}

impl Score {
    fn add(&mut self, ok: bool) {
        self.total += 1;
        self.correct += usize::from(ok);
        self.accuracy = self.correct as f64 / self.total as f64;
    }
}

/// Why questions were missed. Every question is in exactly one of
/// `correct` and the other counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Failures {
    pub correct: usize,
    /// Of `correct`: empty result on both sides (Spider has 49 empty golds).
    pub correct_on_empty_gold: usize,
    pub wrong_result: usize,
    pub no_sql: usize,
    pub rejected: usize,
    pub rejected_codes: BTreeMap<String, usize>,
    pub execution_error: usize,
    pub llm_error: usize,
    pub gold_error: usize,
    pub other: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub mean: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        // Nearest rank.
        let at = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Self {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            max: v[v.len() - 1],
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LlmUsage {
    pub calls_per_question: f64,
    pub prompt_tokens_per_question: f64,
    pub completion_tokens_per_question: f64,
    pub total_calls: u64,
    pub total_prompt_tokens: u64,
    pub total_completion_tokens: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ContextRecall {
    /// Share of questions whose retrieved DDL items hold every gold table and column.
    pub ddl_sources: f64,
    /// Share whose prompt (as built for a remote provider) holds them all.
    pub prompt: f64,
    /// Questions whose gold SQL could be resolved (the denominator).
    pub measured: usize,
    /// Mean estimated prompt tokens (chars / 4).
    pub mean_prompt_tokens: f64,
}

/// How far an answer can be trusted: of the questions, how many got an
/// answer at all, and of those, how many were right.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Answered {
    /// Questions that got an answer (SQL that ran), right or wrong.
    pub answered: usize,
    /// `answered / total`.
    pub answered_rate: f64,
    /// Correct answers over answered questions (0 when none was answered).
    pub precision: f64,
    /// Answered and wrong, over all questions: the answers that look right
    /// and are not.
    pub wrong_rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub run: RunInfo,
    /// Execution accuracy over all evaluated questions.
    pub ex: Score,
    /// EX with the predicted columns in any order, as the official scorer
    /// compares them (its other leniency, stripping `DISTINCT`, is not
    /// applied: run `../shared/tools/spider-ex` on `predictions.sql` for it).
    pub ex_any_column_order: Score,
    pub answered: Answered,
    pub per_db: BTreeMap<String, Score>,
    pub failures: Failures,
    /// Wall time of one ask.
    pub latency_ms: Percentiles,
    /// Ask time minus recorded generation and execution time.
    pub overhead_ms: Percentiles,
    pub llm: LlmUsage,
    pub context_recall: ContextRecall,
    /// EX per builtin strategy (or `none` for remote providers).
    pub per_strategy: BTreeMap<String, Score>,
    /// Answers cut at the row cap (can never match).
    pub truncated: usize,
    #[serde(skip)]
    pub results: Vec<QuestionResult>,
}

pub fn summarize(run: RunInfo, results: Vec<QuestionResult>) -> EvalReport {
    let mut ex = Score::default();
    let mut ex_any = Score::default();
    let mut per_db: BTreeMap<String, Score> = BTreeMap::new();
    let mut per_strategy: BTreeMap<String, Score> = BTreeMap::new();
    let mut f = Failures::default();
    let mut llm = LlmUsage::default();
    let (mut ddl_hits, mut prompt_hits, mut measured, mut tokens) = (0, 0, 0, 0usize);
    for r in &results {
        let ok = r.outcome == Outcome::Correct;
        ex.add(ok);
        ex_any.add(ok || r.correct_any_column_order);
        per_db.entry(r.db_id.clone()).or_default().add(ok);
        per_strategy
            .entry(r.strategy.clone().unwrap_or_else(|| "none".into()))
            .or_default()
            .add(ok);
        match r.outcome {
            Outcome::Correct => {
                f.correct += 1;
                f.correct_on_empty_gold += usize::from(r.gold_rows == Some(0));
            }
            Outcome::WrongResult => f.wrong_result += 1,
            Outcome::NoSql => f.no_sql += 1,
            Outcome::Rejected => {
                f.rejected += 1;
                let code = r.reject_code.clone().unwrap_or_else(|| "unknown".into());
                *f.rejected_codes.entry(code).or_default() += 1;
            }
            Outcome::ExecutionError => f.execution_error += 1,
            Outcome::LlmError => f.llm_error += 1,
            Outcome::GoldError => f.gold_error += 1,
            Outcome::Other => f.other += 1,
        }
        llm.total_calls += u64::from(r.llm_calls);
        llm.total_prompt_tokens += r.prompt_tokens;
        llm.total_completion_tokens += r.completion_tokens;
        if let (Some(d), Some(p)) = (r.ddl_recall, r.prompt_recall) {
            measured += 1;
            ddl_hits += usize::from(d);
            prompt_hits += usize::from(p);
            tokens += r.prompt_tokens_estimate;
        }
    }
    let n = results.len().max(1) as f64;
    llm.calls_per_question = llm.total_calls as f64 / n;
    llm.prompt_tokens_per_question = llm.total_prompt_tokens as f64 / n;
    llm.completion_tokens_per_question = llm.total_completion_tokens as f64 / n;
    let m = measured.max(1) as f64;
    let latencies: Vec<f64> = results.iter().map(|r| r.latency_ms).collect();
    let overheads: Vec<f64> = results.iter().map(|r| r.overhead_ms).collect();
    let answered = results.iter().filter(|r| r.answered).count();
    let total = results.len();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let answered = Answered {
        answered,
        answered_rate: ratio(answered, total),
        precision: ratio(ex.correct, answered),
        wrong_rate: ratio(answered.saturating_sub(ex.correct), total),
    };
    EvalReport {
        run,
        ex,
        ex_any_column_order: ex_any,
        answered,
        per_db,
        failures: f,
        latency_ms: Percentiles::of(&latencies),
        overhead_ms: Percentiles::of(&overheads),
        llm,
        context_recall: ContextRecall {
            ddl_sources: ddl_hits as f64 / m,
            prompt: prompt_hits as f64 / m,
            measured,
            mean_prompt_tokens: tokens as f64 / m,
        },
        per_strategy,
        truncated: results.iter().filter(|r| r.truncated).count(),
        results,
    }
}

/// One predicted SQL per line, newlines folded, the placeholder when unanswered.
pub fn prediction_line(r: &QuestionResult) -> String {
    let sql = match (&r.predicted_sql, r.answered) {
        (Some(sql), true) => sql.as_str(),
        _ => NO_SQL_PLACEHOLDER,
    };
    let line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        NO_SQL_PLACEHOLDER.to_string()
    } else {
        line
    }
}

/// Write `report.json`, `results.jsonl`, `predictions.sql` and `gold.sql` into `dir`.
pub fn write_outputs(report: &EvalReport, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    write("report.json", serde_json::to_string_pretty(report)? + "\n")?;
    let mut jsonl = String::new();
    let mut pred = String::new();
    let mut gold = String::new();
    for r in &report.results {
        jsonl.push_str(&serde_json::to_string(r)?);
        jsonl.push('\n');
        pred.push_str(&prediction_line(r));
        pred.push('\n');
        let g = r.gold_sql.split_whitespace().collect::<Vec<_>>().join(" ");
        let _ = writeln!(gold, "{g}\t{}", r.db_id);
    }
    write("results.jsonl", jsonl)?;
    write("predictions.sql", pred)?;
    write("gold.sql", gold)?;
    Ok(())
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// The human-readable summary printed by `insight eval`.
pub fn render(report: &EvalReport) -> String {
    let mut s = String::new();
    let r = &report.run;
    let _ = writeln!(
        s,
        "Spider execution accuracy — provider {} ({}), train {}, {} question(s), {:.1}s",
        r.provider,
        r.model,
        r.train.as_str(),
        report.ex.total,
        r.duration_secs
    );
    if r.skipped_missing_db > 0 {
        let _ = writeln!(
            s,
            "skipped {} question(s) whose database file is missing",
            r.skipped_missing_db
        );
    }
    if r.train.trains() {
        let t = &r.training;
        let _ = writeln!(
            s,
            "training pairs: {} added, {} duplicate, {} refused {:?}",
            t.added, t.duplicates, t.rejected, t.rejected_reasons
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<30} {:>7} {:>7} {:>8}",
        "database", "correct", "total", "EX"
    );
    let _ = writeln!(s, "{}", "-".repeat(55));
    for (db, sc) in &report.per_db {
        let _ = writeln!(
            s,
            "{db:<30} {:>7} {:>7} {:>8}",
            sc.correct,
            sc.total,
            pct(sc.accuracy)
        );
    }
    let _ = writeln!(s, "{}", "-".repeat(55));
    let _ = writeln!(
        s,
        "{:<30} {:>7} {:>7} {:>8}",
        "overall",
        report.ex.correct,
        report.ex.total,
        pct(report.ex.accuracy)
    );
    let a = &report.answered;
    let _ = writeln!(
        s,
        "any column order (the official scorer's comparison): {}/{} {}",
        report.ex_any_column_order.correct,
        report.ex_any_column_order.total,
        pct(report.ex_any_column_order.accuracy)
    );
    let _ = writeln!(
        s,
        "answered {}/{} ({}); precision of answered {}; answered and wrong {} of all",
        a.answered,
        report.ex.total,
        pct(a.answered_rate),
        pct(a.precision),
        pct(a.wrong_rate)
    );
    let f = &report.failures;
    let _ = writeln!(
        s,
        "(of the correct: {} with an empty result on both sides)",
        f.correct_on_empty_gold
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "misses: wrong_result {}, no_sql {}, rejected {} {:?}, execution_error {}, llm_error {}, gold_error {}, other {}",
        f.wrong_result,
        f.no_sql,
        f.rejected,
        f.rejected_codes,
        f.execution_error,
        f.llm_error,
        f.gold_error,
        f.other
    );
    let l = &report.latency_ms;
    let o = &report.overhead_ms;
    let _ = writeln!(
        s,
        "latency ms: p50 {:.1}, p90 {:.1}, p99 {:.1} (overhead excl. generation+execution: p50 {:.1}, p90 {:.1})",
        l.p50, l.p90, l.p99, o.p50, o.p90
    );
    let u = &report.llm;
    let _ = writeln!(
        s,
        "LLM per question: {:.2} call(s), {:.0} prompt + {:.0} completion tokens",
        u.calls_per_question, u.prompt_tokens_per_question, u.completion_tokens_per_question
    );
    let c = &report.context_recall;
    let _ = writeln!(
        s,
        "context recall (gold tables+columns, {} q): retrieved DDL {}, prompt {}; mean prompt ~{:.0} tokens",
        c.measured,
        pct(c.ddl_sources),
        pct(c.prompt),
        c.mean_prompt_tokens
    );
    let strategies: Vec<String> = report
        .per_strategy
        .iter()
        .map(|(k, v)| format!("{k} {}/{}", v.correct, v.total))
        .collect();
    let _ = writeln!(s, "by strategy: {}", strategies.join(", "));
    if report.truncated > 0 {
        let _ = writeln!(s, "answers truncated at the row cap: {}", report.truncated);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&v);
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(Percentiles::of(&[]).p50, 0.0);
        assert_eq!(Percentiles::of(&[7.0]).p99, 7.0);
    }
}
