//! `insight eval`: score the pipeline on a Spider-format benchmark. The work
//! is in [`crate::eval`]; this file parses flags, prints the summary table
//! and writes the report files.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use clap::Args;

use crate::config::{Config, ProviderKind};
use crate::eval::{EvalOptions, TrainMode};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Spider-format folder: dev.json, tables.json, database/<db>/<db>.sqlite.
    #[arg(long, default_value = "../shared/data/spider-dev")]
    pub dataset: PathBuf,
    /// Generator to evaluate (default: `llm.provider` from the config).
    #[arg(long, value_parser = ["builtin", "openai", "anthropic"])]
    pub provider: Option<String>,
    /// `none`: DDL only; `leave-group-out`: also the database's question→SQL pairs whose gold SQL
    /// differs from the question's (the training figure); `leave-one-out`: every other pair
    /// (paraphrase lookup: a twin with the same SQL usually stays trained).
    #[arg(long, value_enum, default_value_t = TrainMode::None)]
    pub train: TrainMode,
    /// Evaluate at most N questions (gold order, after --db).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Evaluate at most N questions of each database (gold order).
    #[arg(long)]
    pub limit_per_db: Option<usize>,
    /// Only this database (repeatable).
    #[arg(long = "db")]
    pub dbs: Vec<String>,
    /// Where report.json, results.jsonl, predictions.sql and gold.sql go.
    #[arg(long, default_value = "target/eval")]
    pub out: PathBuf,
    /// A `SQL<TAB>db_id` gold file (e.g. dev_gold_19db.sql) instead of dev.json's SQL.
    #[arg(long)]
    pub gold: Option<PathBuf>,
    /// Run the retrieval benchmark instead (hit@1/hit@5 of same-SQL twins,
    /// per ranking); writes retrieval.json to --out.
    #[arg(long)]
    pub retrieval: bool,
    /// Embed with this sentence-transformer model directory (the `local`
    /// embedder; needs the `local-embeddings` feature). With --retrieval:
    /// also rank dense and hybrid; otherwise: the engine's embedder, ranked
    /// as `retrieval.hybrid` says.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// With --retrieval and --model-dir: also score the fixed grid of fusion
    /// settings (`eval::retrieval::sweep`).
    #[arg(long, requires = "model_dir")]
    pub sweep: bool,
}

pub async fn run(mut config: Config, args: EvalArgs) -> anyhow::Result<()> {
    if args.retrieval {
        return run_retrieval(&config, &args).await;
    }
    if let Some(dir) = &args.model_dir {
        config.retrieval.embedding.provider = crate::config::EmbedderKind::Local;
        config.retrieval.embedding.model_dir = Some(dir.clone());
    }
    let provider = args.provider.as_deref().map(|p| match p {
        "openai" => ProviderKind::Openai,
        "anthropic" => ProviderKind::Anthropic,
        _ => ProviderKind::Builtin,
    });
    let opts = EvalOptions {
        dataset: args.dataset,
        provider,
        train: args.train,
        limit: args.limit,
        limit_per_db: args.limit_per_db,
        dbs: args.dbs,
        gold: args.gold,
        progress: std::io::stderr().is_terminal(),
    };
    let report = crate::eval::evaluate(config, &opts).await?;
    crate::eval::write_outputs(&report, &args.out)?;
    print!("{}", crate::eval::report::render(&report));
    println!(
        "\nwrote {0}/report.json, {0}/results.jsonl, {0}/predictions.sql, {0}/gold.sql",
        args.out.display()
    );
    Ok(())
}

async fn run_retrieval(config: &Config, args: &EvalArgs) -> anyhow::Result<()> {
    use crate::eval::retrieval::process_rss_mib;
    let dataset = crate::eval::dataset::Dataset::load(&args.dataset, args.gold.as_deref())?;
    let mut model_note = None;
    let model = match &args.model_dir {
        Some(dir) => {
            let mut r = config.retrieval.clone();
            r.embedding.provider = crate::config::EmbedderKind::Local;
            r.embedding.model_dir = Some(dir.clone());
            let (rss_before, started) = (process_rss_mib(), std::time::Instant::now());
            let model = crate::engine::retrieval::build_embedder(&r)?;
            // One embedding, so lazily allocated buffers count too.
            model.embed_one("How many singers do we have?").await?;
            model_note = Some(format!(
                "model loaded and run once in {:.2} s; RSS {} MiB before, {} MiB after",
                started.elapsed().as_secs_f64(),
                rss_before.map_or_else(|| "n/a".into(), |m| format!("{m:.1}")),
                process_rss_mib().map_or_else(|| "n/a".into(), |m| format!("{m:.1}")),
            ));
            Some(model)
        }
        None => None,
    };
    let configured: crate::engine::retrieval::hybrid::HybridRanker =
        (&config.retrieval.hybrid).into();
    let mut rankers = vec![("hybrid".to_string(), configured.clone())];
    if args.sweep {
        rankers.extend(crate::eval::retrieval::sweep(&configured));
    }
    let rows =
        crate::eval::retrieval::benchmark(&dataset, &args.dbs, model.as_deref(), &rankers).await?;
    std::fs::create_dir_all(&args.out)?;
    let path = args.out.join("retrieval.json");
    std::fs::write(&path, serde_json::to_string_pretty(&rows)?)?;
    if let Some(note) = model_note {
        println!("{note}");
    }
    print!("{}", crate::eval::retrieval::render(&rows));
    println!("\nwrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::super::{Cli, Command};
    use super::*;

    #[test]
    fn eval_flags_parse_with_their_defaults() {
        let cli = Cli::try_parse_from(["insight", "eval"]).unwrap();
        let Command::Eval(a) = cli.command else {
            panic!("not eval")
        };
        assert_eq!(a.dataset, PathBuf::from("../shared/data/spider-dev"));
        assert_eq!(
            (a.train, a.limit, a.provider),
            (TrainMode::None, None, None)
        );
        assert_eq!(a.out, PathBuf::from("target/eval"));

        let cli = Cli::try_parse_from([
            "insight",
            "eval",
            "--train",
            "leave-one-out",
            "--db",
            "singer",
            "--db",
            "pets_1",
            "--limit",
            "5",
            "--provider",
            "builtin",
        ])
        .unwrap();
        let Command::Eval(a) = cli.command else {
            panic!("not eval")
        };
        assert_eq!(a.train, TrainMode::LeaveOneOut);
        assert_eq!(a.dbs, ["singer", "pets_1"]);
        assert_eq!(a.limit, Some(5));
        assert!(Cli::try_parse_from(["insight", "eval", "--provider", "gpt"]).is_err());
        assert!(Cli::try_parse_from(["insight", "eval", "--train", "all"]).is_err());
        let cli = Cli::try_parse_from(["insight", "eval", "--train", "leave-group-out"]).unwrap();
        let Command::Eval(a) = cli.command else {
            panic!("not eval")
        };
        assert_eq!(a.train, TrainMode::LeaveGroupOut);
        let cli = Cli::try_parse_from([
            "insight",
            "eval",
            "--retrieval",
            "--model-dir",
            "m",
            "--sweep",
        ])
        .unwrap();
        let Command::Eval(a) = cli.command else {
            panic!("not eval")
        };
        assert!(a.retrieval && a.sweep);
        assert_eq!(a.model_dir, Some(PathBuf::from("m")));
        assert!(
            Cli::try_parse_from(["insight", "eval", "--sweep"]).is_err(),
            "--sweep needs a model"
        );
    }
}
