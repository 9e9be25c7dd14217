//! `insight eval`: answer quality as a number. Runs every question of a
//! Spider-format benchmark through the same [`Engine::ask`] as
//! `/api/v1/ask` and scores the result sets the way Spider's official
//! execution evaluator does.
//!
//! The run is self-contained: a fresh in-memory app store, the SQL cache
//! off (every question is generated, so latency and accuracy are honest),
//! no demo database and none of the configured connections — only the
//! dataset's databases, each registered read-only under its `db_id` and
//! introspected like any connection. With `--train leave-one-out` every
//! question→SQL pair of a database is trained once; before each question
//! the items carrying that question's text (duplicates included) are taken
//! out of the vector index and put back afterwards, so a question never sees
//! its own answer.
//!
//! This module owns the harness (loading, scoring, reporting); it must not
//! change how the pipeline answers. It is a batch tool like the CLI, so it
//! reports errors with `anyhow`.
//!
//! [`Engine::ask`]: crate::engine::pipeline::Engine::ask

pub mod compare;
pub mod dataset;
pub mod recall;
pub mod report;
pub mod retrieval;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use crate::app::{App, AppOverrides};
use crate::config::{Config, ProviderKind};
use crate::connectors::sqlite::SqliteConnector;
use crate::connectors::{ConnectionHandle, ConnectorError, ExecLimits};
use crate::domain::SchemaInfo;
use crate::domain::{ConnectionId, Question, TrainingKind};
use crate::engine::llm::{ContextItem, GenerationRequest, RetrievedContext};
use crate::engine::pipeline::{Engine, PipelineError, RequestContext};
use crate::engine::retrieval::IndexEntry;
use crate::engine::training::TrainingInput;
use crate::store::{Store, TrainingItem, TrainingSource, TrainingStatus};

pub use dataset::{Dataset, Example};
pub use report::{EvalReport, write_outputs};

/// Row cap for evaluated answers: high enough that no Spider answer is
/// truncated (a truncated result could never match its gold).
const EVAL_MAX_ROWS: u64 = 100_000;

/// Which training items exist while a question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TrainMode {
    /// Only the introspected DDL.
    #[default]
    None,
    /// DDL plus every other question→SQL pair of the same database. Most
    /// Spider questions have a paraphrase with the same gold SQL, which stays
    /// trained: this measures paraphrase lookup more than learning.
    LeaveOneOut,
    /// DDL plus every pair of the same database except those whose gold SQL
    /// (normalised, see [`dataset::sql_key`]) equals the question's, and
    /// those with the question's own text: no twin answers for it, so this
    /// measures what training teaches about new questions.
    LeaveGroupOut,
}

impl TrainMode {
    /// Are question→SQL pairs trained in this mode?
    pub fn trains(self) -> bool {
        self != TrainMode::None
    }

    /// The mode as the CLI spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TrainMode::None => "none",
            TrainMode::LeaveOneOut => "leave-one-out",
            TrainMode::LeaveGroupOut => "leave-group-out",
        }
    }
}

/// What to evaluate and where to write the results.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// The Spider folder (`dev.json`, `database/<db>/<db>.sqlite`).
    pub dataset: PathBuf,
    /// Overrides `llm.provider`; `None` keeps the configured one.
    pub provider: Option<ProviderKind>,
    pub train: TrainMode,
    /// Evaluate at most this many questions (after `dbs` filtering).
    pub limit: Option<usize>,
    /// At most this many questions of each database (gold order).
    pub limit_per_db: Option<usize>,
    /// Only these databases; empty means all.
    pub dbs: Vec<String>,
    /// A `SQL<TAB>db_id` gold file overriding `dev.json`'s SQL.
    pub gold: Option<PathBuf>,
    /// Draw a progress line on stderr.
    pub progress: bool,
}

impl EvalOptions {
    pub fn new(dataset: impl Into<PathBuf>) -> Self {
        Self {
            dataset: dataset.into(),
            provider: None,
            train: TrainMode::None,
            limit: None,
            limit_per_db: None,
            dbs: Vec::new(),
            gold: None,
            progress: false,
        }
    }
}

/// How one question ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Rows match the gold rows.
    Correct,
    /// Ran, but the rows differ.
    WrongResult,
    /// The generator produced no SQL (unanswerable).
    NoSql,
    /// The validator refused the SQL (every attempt).
    Rejected,
    /// The database failed or timed out on the SQL.
    ExecutionError,
    /// The LLM provider failed.
    LlmError,
    /// The gold SQL itself failed (counted as a miss).
    GoldError,
    /// Anything else (store, index, input).
    Other,
}

/// Everything measured about one question.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionResult {
    /// 0-based position in the official gold order.
    pub index: usize,
    pub db_id: String,
    pub question: String,
    pub gold_sql: String,
    /// The SQL the pipeline ran (answered) or last tried (failed).
    pub predicted_sql: Option<String>,
    pub answered: bool,
    pub outcome: Outcome,
    /// The rows match with the predicted columns in any order (the official
    /// scorer's comparison); true whenever `outcome` is `Correct`.
    pub correct_any_column_order: bool,
    pub reject_code: Option<String>,
    pub error: Option<String>,
    pub strategy: Option<String>,
    /// Wall time of `Engine::ask`.
    pub latency_ms: f64,
    /// `latency_ms` minus the generation and execution time the pipeline recorded.
    pub overhead_ms: f64,
    pub llm_calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Retrieved items: `(id, kind)`.
    pub sources: Vec<(String, TrainingKind)>,
    /// Training items held out for this question (leave-one-out).
    pub held_out: Vec<String>,
    /// The questions of the retrieved question→SQL examples.
    pub example_questions: Vec<String>,
    /// All gold tables and columns are in the retrieved DDL items
    /// (`None`: the gold SQL could not be resolved).
    pub ddl_recall: Option<bool>,
    /// All gold tables and columns are in the prompt a remote provider gets.
    pub prompt_recall: Option<bool>,
    /// Estimated tokens of that prompt.
    pub prompt_tokens_estimate: usize,
    pub gold_rows: Option<usize>,
    pub predicted_rows: Option<usize>,
    pub truncated: bool,
    /// The answer's confidence (`None`: no answer).
    pub confidence: Option<crate::domain::Confidence>,
}

/// Run the evaluation described by `opts` with `config`'s engine settings.
pub async fn evaluate(mut config: Config, opts: &EvalOptions) -> anyhow::Result<EvalReport> {
    let started = Instant::now();
    let dataset = Dataset::load(&opts.dataset, opts.gold.as_deref())?;
    let known: BTreeSet<&str> = dataset.examples.iter().map(|e| e.db_id.as_str()).collect();
    for db in &opts.dbs {
        anyhow::ensure!(
            known.contains(db.as_str()),
            "--db {db}: no such database in {}",
            opts.dataset.display()
        );
    }
    let (examples, skipped_missing_db) = dataset.select(&opts.dbs, opts.limit_per_db, opts.limit);

    prepare_config(&mut config, opts.provider);
    let timeout = Duration::from_secs(config.query.timeout_secs.max(1));
    let store = Store::in_memory()
        .await
        .context("creating the eval store")?;
    let app = App::build(
        config,
        AppOverrides {
            store: Some(store),
            ..Default::default()
        },
    )
    .await?;
    let engine = &app.engine;
    let rc = RequestContext {
        correlation_id: Some("insight-eval".into()),
        ..Default::default()
    };

    let mut results: Vec<QuestionResult> = Vec::with_capacity(examples.len());
    let mut training = report::TrainingSummary::default();
    let mut progress = Progress::new(opts.progress, examples.len());
    // Questions grouped by database (gold order kept within each group), so
    // each database is set up once; results are put back in gold order.
    let mut dbs: Vec<&str> = Vec::new();
    for ex in &examples {
        if !dbs.contains(&ex.db_id.as_str()) {
            dbs.push(&ex.db_id);
        }
    }
    for db in dbs {
        let path = dataset.db_path(db);
        let id = ConnectionId::parse(db).map_err(|e| anyhow::anyhow!("database `{db}`: {e}"))?;
        let connector = SqliteConnector::open(&path, true)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        let handle = engine.connections.insert(ConnectionHandle::new(
            id.clone(),
            None,
            Arc::new(connector),
            ExecLimits::new(timeout, EVAL_MAX_ROWS),
            None,
        ));
        engine
            .sync_schema(&handle)
            .await
            .with_context(|| format!("introspecting {db}"))?;
        let schema = handle.schema();
        let gold_db = compare::GoldDb::open(&path)
            .await
            .with_context(|| format!("opening {} for gold SQL", path.display()))?;

        let trained = if opts.train.trains() {
            train_pairs(engine, &rc, &dataset, db, &id, &mut training).await
        } else {
            TrainedPairs::default()
        };

        for ex in examples.iter().filter(|e| e.db_id == db) {
            progress.draw(db, &results);
            let held = trained.held_out(ex, opts.train);
            let held = held.as_slice();
            for item in held {
                engine.index.remove(&item.id).await?;
            }
            let r = evaluate_one(engine, &rc, &id, &schema, &gold_db, ex, timeout, held).await;
            for item in held {
                engine
                    .index
                    .upsert(IndexEntry {
                        id: item.id.clone(),
                        connection: item.connection.clone(),
                        kind: item.kind,
                        vector: item.embedding.clone(),
                    })
                    .await?;
            }
            results.push(r?);
        }
        gold_db.close().await;
    }
    progress.finish(&results);
    results.sort_by_key(|r| r.index);

    Ok(report::summarize(
        report::RunInfo {
            dataset: opts.dataset.display().to_string(),
            provider: engine.llm.name().to_string(),
            model: engine.llm.model().to_string(),
            train: opts.train,
            dbs: opts.dbs.clone(),
            limit: opts.limit,
            limit_per_db: opts.limit_per_db,
            skipped_missing_db,
            duration_secs: started.elapsed().as_secs_f64(),
            training,
        },
        results,
    ))
}

/// The question→SQL items trained for one database, found by what a
/// question must not see.
#[derive(Default)]
struct TrainedPairs {
    /// Question key → the training items carrying that question.
    by_question: BTreeMap<String, Vec<TrainingItem>>,
    /// Normalised gold SQL → the items trained with it (leave-group-out).
    by_sql: BTreeMap<String, Vec<TrainingItem>>,
}

impl TrainedPairs {
    /// The items taken out of the index while `ex` is asked: those with its
    /// text, and in leave-group-out also those with its gold SQL.
    fn held_out(&self, ex: &Example, mode: TrainMode) -> Vec<TrainingItem> {
        let mut held: Vec<TrainingItem> = self
            .by_question
            .get(&dataset::question_key(&ex.question))
            .cloned()
            .unwrap_or_default();
        if mode == TrainMode::LeaveGroupOut {
            for item in self
                .by_sql
                .get(&dataset::sql_key(&ex.gold_sql))
                .into_iter()
                .flatten()
            {
                push_unique(&mut held, item);
            }
        }
        held
    }
}

/// Train every question→SQL pair of `db` (the whole dataset's, not only
/// the selected questions), counting added, duplicate and rejected items
/// in `training`.
async fn train_pairs(
    engine: &Engine,
    rc: &RequestContext,
    dataset: &Dataset,
    db: &str,
    id: &ConnectionId,
    training: &mut report::TrainingSummary,
) -> TrainedPairs {
    let mut trained = TrainedPairs::default();
    for ex in dataset.of_db(db) {
        let input = TrainingInput {
            kind: TrainingKind::QuestionSql,
            content: ex.question.clone(),
            sql: Some(ex.gold_sql.clone()),
        };
        match engine
            .add_training(
                Some(id),
                input,
                TrainingSource::User,
                TrainingStatus::Active,
                rc,
            )
            .await
        {
            Ok((item, created)) => {
                if created {
                    training.added += 1;
                } else {
                    training.duplicates += 1;
                }
                push_unique(
                    trained
                        .by_sql
                        .entry(dataset::sql_key(&ex.gold_sql))
                        .or_default(),
                    &item,
                );
                push_unique(
                    trained
                        .by_question
                        .entry(dataset::question_key(&ex.question))
                        .or_default(),
                    &item,
                );
            }
            Err(e) => {
                training.rejected += 1;
                *training.rejected_reasons.entry(error_code(&e)).or_default() += 1;
            }
        }
    }
    trained
}

/// Add `item` to `items` unless an item with its id is there already.
fn push_unique(items: &mut Vec<TrainingItem>, item: &TrainingItem) {
    if !items.iter().any(|i| i.id == item.id) {
        items.push(item.clone());
    }
}

/// The eval's own view of the config: chosen provider, no cache, no demo,
/// no configured connections; throwaway secrets when none are set (nothing
/// is served, but the app's auth service wants them).
fn prepare_config(config: &mut Config, provider: Option<ProviderKind>) {
    if let Some(p) = provider {
        config.llm.provider = p;
    }
    config.cache.sql_ttl_secs = 0;
    config.demo.enabled = false;
    config.connections.clear();
    config.redis_url = None;
    config.query.max_rows = config.query.max_rows.max(EVAL_MAX_ROWS);
    let random = || secrecy::SecretString::from(format!("eval-{}", crate::store::new_id()));
    if config.jwt_secret.is_none() {
        config.jwt_secret = Some(random());
    }
    if config.secret_key.is_none() {
        config.secret_key = Some(random());
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one question's whole setting; a struct would only rename them"
)]
async fn evaluate_one(
    engine: &Engine,
    rc: &RequestContext,
    conn: &ConnectionId,
    schema: &Arc<SchemaInfo>,
    gold_db: &compare::GoldDb,
    ex: &Example,
    timeout: Duration,
    held: &[TrainingItem],
) -> anyhow::Result<QuestionResult> {
    let mut r = QuestionResult {
        index: ex.index,
        db_id: ex.db_id.clone(),
        question: ex.question.clone(),
        gold_sql: ex.gold_sql.clone(),
        predicted_sql: None,
        answered: false,
        outcome: Outcome::Other,
        correct_any_column_order: false,
        reject_code: None,
        error: None,
        strategy: None,
        latency_ms: 0.0,
        overhead_ms: 0.0,
        llm_calls: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        sources: Vec::new(),
        held_out: held.iter().map(|i| i.id.clone()).collect(),
        example_questions: Vec::new(),
        ddl_recall: None,
        prompt_recall: None,
        prompt_tokens_estimate: 0,
        gold_rows: None,
        predicted_rows: None,
        truncated: false,
        confidence: None,
    };
    let question = match Question::parse(&ex.question) {
        Ok(q) => q,
        Err(e) => {
            r.error = Some(e.to_string());
            return Ok(r);
        }
    };
    let t = Instant::now();
    let asked = engine.ask(&question, Some(conn), rc, None).await;
    r.latency_ms = t.elapsed().as_secs_f64() * 1000.0;

    let query_id = match &asked {
        Ok(a) => Some(a.query_id.clone()),
        Err(f) => f.query_id.clone(),
    };
    if let Some(record) = match &query_id {
        Some(id) => engine.store.get_query(id).await.ok(),
        None => None,
    } {
        r.llm_calls = record.attempts;
        r.prompt_tokens = record.prompt_tokens;
        r.completion_tokens = record.completion_tokens;
        r.strategy = record.strategy.clone();
        r.predicted_sql = record.sql.clone();
        let spent = ["generation", "execution"]
            .iter()
            .filter_map(|k| record.timings_ms.get(k).and_then(|v| v.as_f64()))
            .sum::<f64>();
        r.overhead_ms = (r.latency_ms - spent).max(0.0);
        if let Some(list) = record.sources.as_array() {
            r.sources = list
                .iter()
                .filter_map(|s| {
                    let id = s.get("id")?.as_str()?.to_string();
                    let kind = TrainingKind::parse(s.get("kind")?.as_str()?)?;
                    Some((id, kind))
                })
                .collect();
        }
    }

    let gold = gold_db.run(&ex.gold_sql, timeout).await;
    if let Ok(rows) = &gold {
        r.gold_rows = Some(rows.len());
    }
    match asked {
        Ok(answer) => {
            r.answered = true;
            r.confidence = Some(answer.confidence);
            r.predicted_sql = Some(answer.sql.clone());
            r.predicted_rows = Some(answer.rows.len());
            r.truncated = answer.truncated;
            if r.sources.is_empty() {
                r.sources = answer
                    .sources
                    .iter()
                    .map(|s| (s.id.clone(), s.kind))
                    .collect();
            }
            r.outcome = match &gold {
                Ok(rows) => {
                    let ordered = compare::has_top_level_order_by(&ex.gold_sql);
                    r.correct_any_column_order =
                        compare::results_match_any_column_order(rows, &answer.rows, ordered);
                    if compare::results_match(rows, &answer.rows, ordered) {
                        Outcome::Correct
                    } else {
                        Outcome::WrongResult
                    }
                }
                Err(e) => {
                    r.error = Some(format!("gold SQL failed: {e}"));
                    Outcome::GoldError
                }
            };
        }
        Err(failure) => {
            r.error = Some(failure.error.to_string());
            r.outcome = match &failure.error {
                PipelineError::Unanswerable(_) => Outcome::NoSql,
                PipelineError::Rejected(v) => {
                    r.reject_code = Some(v.code.as_str().to_string());
                    Outcome::Rejected
                }
                PipelineError::Connector(ConnectorError::Unavailable(_)) => Outcome::Other,
                PipelineError::Connector(_) => Outcome::ExecutionError,
                PipelineError::Llm(_) => Outcome::LlmError,
                _ => Outcome::Other,
            };
        }
    }

    let mut ctx = load_context(engine, &r.sources).await?;
    // As `Engine::retrieve` does (eval connections have no override).
    if engine.settings().allow_values_in_prompt {
        ctx.values = crate::engine::prompt::linking::value_hints(&ex.question, schema);
    }
    r.example_questions = ctx.examples.iter().map(|c| c.content.clone()).collect();
    if let Some(gold_refs) = recall::gold_refs(&ex.gold_sql, schema) {
        let (ddl, prompt, tokens) = context_recall(engine, schema, &ex.question, ctx, &gold_refs);
        r.ddl_recall = Some(ddl);
        r.prompt_recall = Some(prompt);
        r.prompt_tokens_estimate = tokens;
    }
    Ok(r)
}

/// The retrieved context of an ask, rebuilt from its sources.
async fn load_context(
    engine: &Engine,
    sources: &[(String, TrainingKind)],
) -> anyhow::Result<RetrievedContext> {
    let ids: Vec<String> = sources.iter().map(|(id, _)| id.clone()).collect();
    let items = engine.store.get_training_many(&ids).await?;
    let mut ctx = RetrievedContext::default();
    for (id, kind) in sources {
        let Some(item) = items.iter().find(|i| &i.id == id) else {
            continue;
        };
        let ci = ContextItem {
            id: item.id.clone(),
            kind: *kind,
            score: 0.0,
            content: item.content.clone(),
            sql: item.sql.clone(),
        };
        match kind {
            TrainingKind::Ddl => ctx.ddl.push(ci),
            TrainingKind::Documentation => ctx.documentation.push(ci),
            TrainingKind::QuestionSql => ctx.examples.push(ci),
        }
    }
    Ok(ctx)
}

/// Recall of the retrieved DDL items, recall of the prompt a remote
/// provider would get for this context, and that prompt's estimated tokens.
fn context_recall(
    engine: &Engine,
    schema: &Arc<SchemaInfo>,
    question: &str,
    ctx: RetrievedContext,
    gold: &recall::GoldRefs,
) -> (bool, bool, usize) {
    let shown_by = |texts: &mut dyn Iterator<Item = &str>| {
        let mut shown: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for text in texts {
            if let Some((t, cols)) = recall::ddl_refs(text, schema) {
                shown.entry(t).or_default().extend(cols);
            }
        }
        shown
    };
    let ddl_shown = shown_by(&mut ctx.ddl.iter().map(|c| c.content.as_str()));
    let ddl_recall = recall::covers(gold, &ddl_shown);

    // The prompt shows the whole schema when it fits and links (drops
    // tables and columns) when it does not: check what it really holds.
    let req = GenerationRequest {
        question: question.to_string(),
        dialect: crate::domain::Dialect::Sqlite,
        schema: schema.clone(),
        context: ctx,
        previous_attempts: Vec::new(),
        correlation_id: None,
        token_budget: engine.settings().token_budget,
    };
    let prompt = crate::engine::prompt::build_prompt(&req);
    let prompt_shown = shown_by(&mut recall::schema_blocks(&prompt.user).into_iter());
    (
        ddl_recall,
        recall::covers(gold, &prompt_shown),
        prompt.estimated_tokens,
    )
}

fn error_code(e: &PipelineError) -> String {
    match e {
        PipelineError::Rejected(v) => v.code.as_str().to_string(),
        PipelineError::BadInput(_) => "bad_input".into(),
        PipelineError::Connector(_) => "connector".into(),
        _ => "other".into(),
    }
}

/// A one-line progress bar on stderr, redrawn in place.
struct Progress {
    enabled: bool,
    total: usize,
    started: Instant,
}

impl Progress {
    fn new(enabled: bool, total: usize) -> Self {
        Self {
            enabled,
            total,
            started: Instant::now(),
        }
    }

    fn draw(&mut self, db: &str, done: &[QuestionResult]) {
        if !self.enabled {
            return;
        }
        let n = done.len();
        let correct = done
            .iter()
            .filter(|r| r.outcome == Outcome::Correct)
            .count();
        let width = 30;
        let filled = (n * width).checked_div(self.total).unwrap_or(width);
        let ex = if n == 0 {
            0.0
        } else {
            100.0 * correct as f64 / n as f64
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{}{}] {n}/{}  EX {ex:5.1}%  {:>5.0}s  {db:<30}",
            "#".repeat(filled),
            "-".repeat(width - filled),
            self.total,
            self.started.elapsed().as_secs_f64(),
        );
        let _ = err.flush();
    }

    fn finish(&mut self, done: &[QuestionResult]) {
        if self.enabled {
            self.draw("done", done);
            eprintln!();
        }
    }
}
