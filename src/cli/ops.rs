//! Operator commands: `worker`, `backup`, `restore`, `export`, `import`.

use std::path::Path;

use anyhow::Context as _;

use crate::app::{App, AppOverrides, AppState};
use crate::config::Config;
use crate::store::Store;

/// `insight worker`: runs jobs, and serves `/health`, `/health/ready` and
/// `/metrics` on its own port (`server.metrics_addr`, else
/// `server.host:server.port`) so it can be probed and scraped. On SIGTERM
/// readiness turns 503, running jobs get `shutdown_grace_secs`, then the
/// port closes.
pub async fn worker(config: Config) -> anyhow::Result<()> {
    let grace = std::time::Duration::from_secs(config.server.shutdown_grace_secs);
    let addr = config
        .server
        .metrics_addr
        .unwrap_or(std::net::SocketAddr::new(
            config.server.host,
            config.server.port,
        ));
    let app = App::build(config, AppOverrides::default()).await?;
    let state = AppState(std::sync::Arc::new(app));
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (the worker's health and metrics port: server.metrics_addr, else server.host/server.port)")
    })?;
    let local = listener.local_addr()?;
    let router = crate::api::worker_router(state.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await
    });
    if state.engine.store.backend() == crate::store::Backend::Postgres {
        // Published as metrics, so an alert fires before a backup fails.
        let target = crate::backup::BackupTarget::from_config(&state.config);
        if let Err(e) = crate::backup::check_pg_dump(&state.engine.store, &target.pg_dump).await {
            tracing::warn!(error = %e, "backups of this app store will fail");
        }
    }
    let background = crate::jobs::Background::start(&state, true);
    tracing::info!(address = %local, "worker health and metrics listening");
    eprintln!(
        "Insight Engine worker running; health and metrics on http://{local} (stop with Ctrl-C or SIGTERM)"
    );
    super::shutdown_signal().await;
    state
        .draining
        .store(true, std::sync::atomic::Ordering::Relaxed);
    background.stop(grace).await;
    let _ = stop_tx.send(());
    if let Ok(Err(e)) = http.await {
        tracing::warn!(error = %e, "worker health listener stopped");
    }
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
    let target = crate::backup::BackupTarget::from_config(&config);
    let dir = target.dir.clone();
    let info = crate::backup::create(&store, &target)
        .await
        .context("backup failed")?;
    println!(
        "backup written: {} ({} bytes)",
        dir.join(&info.name).display(),
        info.size_bytes
    );
    if let Some(uploads) = &info.uploads {
        println!("uploaded tables written: {}", dir.join(uploads).display());
    }
    Ok(())
}

/// `insight restore FILE`, or `insight restore DIR` for the newest finished
/// backup in DIR (the backup volume, as the Kubernetes restore Job mounts it).
pub async fn restore(config: Config, file: &Path) -> anyhow::Result<()> {
    let newest;
    let file = if file.is_dir() {
        let Some(info) = crate::backup::list(file)?.into_iter().next() else {
            anyhow::bail!("{} holds no finished backup", file.display());
        };
        newest = file.join(info.name);
        eprintln!(
            "restoring the newest backup in {}: {}",
            file.display(),
            newest.display()
        );
        newest.as_path()
    } else {
        file
    };
    let uploads = config.uploads_db();
    let store = crate::backup::restore(&config.store_url(), file, uploads.as_deref())
        .await
        .context("restore failed")?;
    store.close().await;
    println!("restored {} into the app store", file.display());
    match (crate::backup::uploads_backup_of(file), uploads) {
        (Some(from), Some(to)) => {
            println!("restored {} into {}", from.display(), to.display())
        }
        (Some(from), None) => eprintln!(
            "{} (uploaded tables) not restored: uploads are off (uploads.enabled)",
            from.display()
        ),
        _ => {}
    }
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
            "exported {} training item(s), {} feedback record(s), {} question(s), {} conversation(s), \
             {} saved question(s), {} dashboard(s) to {}",
            doc.rows.training_items.len(),
            doc.rows.feedback.len(),
            doc.rows.queries.len(),
            doc.rows.conversations.len(),
            doc.rows.saved_questions.len(),
            doc.rows.dashboards.len(),
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
         {} conversation(s) with {} turn(s), {} saved question(s), {} dashboard(s) \
         (existing ones skipped)",
        counts.training_items,
        counts.feedback,
        counts.queries,
        counts.conversations,
        counts.conversation_turns,
        counts.saved_questions,
        counts.dashboards
    );
    if counts.skipped > 0 {
        println!(
            "skipped {} saved question(s), dashboard(s) or tile(s) whose owner is not a user here",
            counts.skipped
        );
    }
    Ok(())
}
