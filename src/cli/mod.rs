//! The `insight` subcommands. Each builds what it needs from the config and
//! calls the same library code the HTTP API uses; `anyhow` is used here (and
//! at startup) only, with messages written for the person at the terminal.

mod eval;
mod ops;
mod output;
mod uploads;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::app::{App, AppOverrides, AppState};
use crate::config::{Config, Profile};
use crate::domain::{ConnectionId, Question, TrainingKind};
use crate::engine::pipeline::RequestContext;
use crate::engine::training::TrainingInput;
use crate::store::{Store, TrainingSource, TrainingStatus};

#[derive(Debug, Parser)]
#[command(
    name = "insight",
    version,
    about = "Insight Engine: ask your databases questions in plain language"
)]
pub struct Cli {
    /// Config file (default: ./insight.toml when it exists).
    #[arg(long, global = true, env = "INSIGHT_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API.
    Serve(ServeArgs),
    /// Apply pending app-store migrations.
    Migrate,
    /// Ask a question in-process and print the SQL and the rows.
    Ask(AskArgs),
    /// Add training items: DDL, documentation or a question with its SQL.
    Train(TrainArgs),
    /// Score the pipeline on a Spider-format benchmark (execution accuracy).
    Eval(eval::EvalArgs),
    /// Manage users.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Run background job workers only (no HTTP), until SIGTERM.
    Worker,
    /// Back the app store (and the uploaded tables) up now into `backup.dir`
    /// (keeps `backup.keep`).
    Backup,
    /// Restore a backup file into an empty app store, with its uploaded
    /// tables (a directory: its newest backup).
    Restore(FileArg),
    /// Export training data, feedback, conversations, saved questions and
    /// dashboards as portable JSON (`-` for stdout).
    Export(FileArg),
    /// Import a JSON export (`insight export`) into this app store.
    Import(FileArg),
    /// Upload a CSV file or an Excel workbook (.xlsx) as a table of the
    /// `uploads` connection.
    Upload(uploads::UploadArgs),
}

#[derive(Debug, Args)]
pub struct FileArg {
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Override `server.host`.
    #[arg(long)]
    pub host: Option<std::net::IpAddr>,
    /// Override `server.port` (0 picks a free port).
    #[arg(long)]
    pub port: Option<u16>,
}

#[derive(Debug, Args)]
pub struct AskArgs {
    pub question: String,
    #[arg(long, short)]
    pub connection: Option<String>,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["ddl", "docs", "question"])))]
pub struct TrainArgs {
    /// A file of `CREATE TABLE …` statements.
    #[arg(long)]
    pub ddl: Option<PathBuf>,
    /// A text or Markdown file of documentation (split on blank lines).
    #[arg(long)]
    pub docs: Option<PathBuf>,
    /// A question, with `--sql`.
    #[arg(long, requires = "sql")]
    pub question: Option<String>,
    #[arg(long, requires = "question")]
    pub sql: Option<String>,
    #[arg(long, short)]
    pub connection: Option<String>,
}

/// Run a parsed command line; errors are printed, not panicked.
pub fn run(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    // The environment is read here, once, and handed to config and telemetry.
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let mut config = Config::load_from(cli.config.as_deref(), &env)?;
    let telemetry = crate::observability::telemetry::Telemetry::from_env_vars(&env)?;
    // One-shot commands stay quiet unless asked; the server logs at info.
    let default_filter = if matches!(cli.command, Command::Serve(_) | Command::Worker) {
        "info,sqlx=warn,tower_http=warn"
    } else {
        "warn"
    };
    let telemetry_guard =
        crate::observability::init_logging(config.log_format(), default_filter, telemetry);
    let result = run_command(cli.command, &mut config).await;
    // Flush queued spans and error reports before the process ends.
    telemetry_guard.shutdown().await;
    result
}

async fn run_command(command: Command, config: &mut Config) -> anyhow::Result<()> {
    // Evaluation runs on a throw-away store and signs nothing: it needs no
    // secrets and must not write any into the data dir.
    if config.profile == Profile::Dev && !matches!(command, Command::Eval(_)) {
        for warning in crate::config::secrets::ensure_dev_secrets(config)? {
            tracing::warn!("{warning}");
        }
    }
    let config = config.clone();
    match command {
        Command::Serve(args) => serve(config, args).await,
        Command::Migrate => migrate(config).await,
        Command::Ask(args) => ask(config, args).await,
        Command::Train(args) => train(config, args).await,
        Command::Eval(args) => eval::run(config, args).await,
        Command::User(cmd) => users::run(config, cmd).await,
        Command::Worker => ops::worker(config).await,
        Command::Backup => ops::backup(config).await,
        Command::Restore(f) => ops::restore(config, &f.file).await,
        Command::Export(f) => ops::export(config, &f.file).await,
        Command::Import(f) => ops::import(config, &f.file).await,
        Command::Upload(args) => uploads::upload(config, args).await,
    }
}

async fn serve(mut config: Config, args: ServeArgs) -> anyhow::Result<()> {
    if let Some(h) = args.host {
        config.server.host = h;
    }
    if let Some(p) = args.port {
        config.server.port = p;
    }
    let addr = std::net::SocketAddr::new(config.server.host, config.server.port);
    let grace = std::time::Duration::from_secs(config.server.shutdown_grace_secs);
    let app = App::build(config, AppOverrides::default()).await?;
    users::bootstrap(&app.auth.accounts(), &app.config).await?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (set server.port / INSIGHT_SERVER__PORT or --port)")
    })?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "insight is listening");
    eprintln!(
        "Insight Engine listening on http://{local}  (web UI: http://{local}/ui; log in: POST http://{local}/api/v1/auth/login; API docs: http://{local}/docs)"
    );
    let state = AppState(std::sync::Arc::new(app));
    let background = crate::jobs::Background::start(&state, state.config.jobs.worker);
    if let Some(metrics_addr) = state.config.server.metrics_addr {
        let metrics_listener = tokio::net::TcpListener::bind(metrics_addr)
            .await
            .with_context(|| format!("cannot listen on {metrics_addr} (server.metrics_addr)"))?;
        tracing::info!(address = %metrics_listener.local_addr()?, "metrics listening");
        let metrics_app = crate::api::metrics_router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(metrics_listener, metrics_app).await {
                tracing::error!(error = %e, "metrics listener stopped");
            }
        });
    }
    crate::api::serve(listener, state.clone(), shutdown_signal(), grace).await?;
    background.stop(grace).await;
    state.engine.store.close().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let store = Store::connect(&config.store_url())
        .await
        .context("opening the app store")?;
    let n = store.migrate().await?;
    println!("{n} migration(s) applied; the app store is up to date.");
    Ok(())
}

async fn ask(config: Config, args: AskArgs) -> anyhow::Result<()> {
    let question = Question::parse(&args.question)?;
    let connection = args
        .connection
        .as_deref()
        .map(ConnectionId::parse)
        .transpose()?;
    let app = App::build(config, AppOverrides::default()).await?;
    app.reembed_stale_now().await?;
    let rc = RequestContext::default();
    match app
        .engine
        .ask(&question, connection.as_ref(), &rc, None)
        .await
    {
        Ok(answer) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                println!("{}\n", answer.sql);
                print!("{}", output::table(&answer.columns, &answer.rows));
                let more = if answer.truncated { " (truncated)" } else { "" };
                println!("{} row(s){more}", answer.row_count);
                println!("confidence: {}", answer.confidence.as_str());
                for a in &answer.assumptions {
                    println!("  assumed ({}): {}", a.code, a.message);
                }
            }
            Ok(())
        }
        Err(failure) => {
            if args.json {
                let body = serde_json::json!({"error": {"message": failure.error.to_string(), "query_id": failure.query_id}});
                println!("{}", serde_json::to_string_pretty(&body)?);
            }
            anyhow::bail!("{}", failure.error)
        }
    }
}

async fn train(config: Config, args: TrainArgs) -> anyhow::Result<()> {
    let connection = args
        .connection
        .as_deref()
        .map(ConnectionId::parse)
        .transpose()?;
    let inputs: Vec<TrainingInput> = if let Some(path) = &args.ddl {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        split_ddl(&text)
            .into_iter()
            .map(|content| TrainingInput {
                kind: TrainingKind::Ddl,
                content,
                sql: None,
            })
            .collect()
    } else if let Some(path) = &args.docs {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        split_docs(&text)
            .into_iter()
            .map(|content| TrainingInput {
                kind: TrainingKind::Documentation,
                content,
                sql: None,
            })
            .collect()
    } else {
        vec![TrainingInput {
            kind: TrainingKind::QuestionSql,
            content: args.question.clone().unwrap_or_default(),
            sql: args.sql.clone(),
        }]
    };
    let app = App::build(config, AppOverrides::default()).await?;
    app.reembed_stale_now().await?;
    let rc = RequestContext::default();
    let (mut added, mut existing) = (0, 0);
    for input in inputs {
        let (item, created) = app
            .engine
            .add_training(
                connection.as_ref(),
                input,
                TrainingSource::User,
                TrainingStatus::Active,
                &rc,
            )
            .await?;
        if created {
            added += 1;
            println!("added {} {}", item.kind, item.id);
        } else {
            existing += 1;
        }
    }
    println!("{added} item(s) added, {existing} already present.");
    Ok(())
}

/// Split a DDL file into statements (sqlparser when it parses, `;` otherwise).
fn split_ddl(text: &str) -> Vec<String> {
    use sqlparser::dialect::GenericDialect;
    match sqlparser::parser::Parser::parse_sql(&GenericDialect {}, text) {
        Ok(stmts) if !stmts.is_empty() => stmts.iter().map(|s| format!("{s};")).collect(),
        _ => text
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| format!("{s};"))
            .collect(),
    }
}

/// Split documentation on blank lines, merging short paragraphs up to ~1,500
/// characters so each item carries enough context to be retrieved.
fn split_docs(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if !current.is_empty() && current.len() + para.len() > 1500 {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push_str("\n\n");
        }
        current.push_str(para);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_files_split_into_statements() {
        let parts = split_ddl("CREATE TABLE a (x INT);\n\nCREATE TABLE b (y TEXT);");
        assert_eq!(parts.len(), 2);
        assert!(parts[1].starts_with("CREATE TABLE b"));
    }

    #[test]
    fn docs_split_on_paragraphs_and_merge_short_ones() {
        let parts = split_docs("A.\n\nB.\n\n");
        assert_eq!(parts, vec!["A.\n\nB.".to_string()]);
        let long = "x".repeat(1000);
        assert_eq!(split_docs(&format!("{long}\n\n{long}")).len(), 2);
    }

    #[test]
    fn cli_parses_the_documented_commands() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["insight", "ask", "How many customers?", "--json"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Ask(AskArgs { json: true, .. })
        ));
        assert!(Cli::try_parse_from(["insight", "train", "--question", "q"]).is_err());
        assert!(Cli::try_parse_from(["insight", "train"]).is_err());
    }
}
