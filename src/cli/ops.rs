//! Operator commands: `worker`, `backup`, `restore`, `export`, `import`.

use std::path::Path;

use anyhow::Context as _;

use crate::app::{App, AppOverrides, AppState};
use crate::config::Config;
use crate::store::Store;

pub async fn worker(config: Config) -> anyhow::Result<()> {
    let grace = std::time::Duration::from_secs(config.server.shutdown_grace_secs);
    let app = App::build(config, AppOverrides::default()).await?;
    let state = AppState(std::sync::Arc::new(app));
    let background = crate::jobs::Background::start(&state, true);
    eprintln!("Insight Engine worker running (stop with Ctrl-C or SIGTERM)");
    super::shutdown_signal().await;
    background.stop(grace).await;
    state.engine.store.close().await;
    Ok(())
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.store_url())
        .await
        .context("opening the app store")?;
    let pending = store.pending_migrations().await?;
    if pending > 0 {
        anyhow::bail!(
            "the app store has {pending} pending migration(s); run `insight migrate` first"
        );
    }
    Ok(store)
}

pub async fn backup(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let dir = config.backup_dir();
    let info = crate::backup::create(&store, &dir, config.backup.keep)
        .await
        .context("backup failed")?;
    println!(
        "backup written: {} ({} bytes)",
        dir.join(&info.name).display(),
        info.size_bytes
    );
    Ok(())
}

pub async fn restore(config: Config, file: &Path) -> anyhow::Result<()> {
    let store = crate::backup::restore(&config.store_url(), file)
        .await
        .context("restore failed")?;
    store.close().await;
    println!("restored {} into the app store", file.display());
    Ok(())
}

pub async fn export(config: Config, file: &Path) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let doc = crate::backup::export(&store).await?;
    let json = serde_json::to_string_pretty(&doc)?;
    if file == Path::new("-") {
        println!("{json}");
    } else {
        std::fs::write(file, json + "\n").with_context(|| format!("writing {}", file.display()))?;
        eprintln!(
            "exported {} training item(s), {} feedback record(s), {} question(s), {} conversation(s) to {}",
            doc.rows.training_items.len(),
            doc.rows.feedback.len(),
            doc.rows.queries.len(),
            doc.rows.conversations.len(),
            file.display()
        );
    }
    Ok(())
}

pub async fn import(config: Config, file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let doc: crate::backup::Export = serde_json::from_str(&text)
        .with_context(|| format!("{} is not an Insight Engine export", file.display()))?;
    let app = App::build(config, AppOverrides::default()).await?;
    let (added, counts) = crate::backup::import(&app.engine.store, &doc).await?;
    app.engine.index_imported(&added).await?;
    println!(
        "imported {} training item(s), {} feedback record(s), {} question(s), \
         {} conversation(s) with {} turn(s) (existing ones skipped)",
        counts.training_items,
        counts.feedback,
        counts.queries,
        counts.conversations,
        counts.conversation_turns
    );
    Ok(())
}
