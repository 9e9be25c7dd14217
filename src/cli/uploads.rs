//! `insight upload FILE`: a CSV file or an Excel workbook becomes a table of
//! the `uploads` connection, as `POST /api/v1/uploads` does (same limits,
//! types, errors and single transaction), run in-process with full reach.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use crate::app::{App, AppOverrides};
use crate::config::Config;
use crate::engine::pipeline::RequestContext;
use crate::engine::uploads::UploadFile;
use crate::jobs::JobSpec;

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The CSV file or `.xlsx` workbook.
    pub file: PathBuf,
    /// The table's name (default: the file's name without its extension),
    /// kept as lower-case letters, digits and `_`.
    #[arg(long)]
    pub table: Option<String>,
    /// Replace an existing table of that name.
    #[arg(long)]
    pub replace: bool,
    /// For a workbook, the sheet to read (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
}

/// The table name a file gives when none is asked for: its stem.
fn default_table(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub async fn upload(config: Config, args: UploadArgs) -> anyhow::Result<()> {
    let max = config.uploads.max_bytes;
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?
        .len();
    if size > max {
        anyhow::bail!(
            "{} is {size} bytes; the upload limit (uploads.max_bytes) is {max}",
            args.file.display()
        );
    }
    let data =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let name = args.table.unwrap_or_else(|| default_table(&args.file));
    let app = App::build(config, AppOverrides::default()).await?;
    let file = UploadFile {
        data: &data,
        sheet: args.sheet.as_deref(),
    };
    let made = app
        .engine
        .upload_file(
            &RequestContext::default(),
            app.uploads.as_ref(),
            &name,
            file,
            args.replace,
        )
        .await?;
    let columns: Vec<String> = made
        .columns
        .iter()
        .map(|c| format!("{} ({})", c.name, c.column_type.sql().to_ascii_lowercase()))
        .collect();
    println!(
        "{} table `{}` of `uploads`: {} row(s); columns {}",
        if made.replaced { "replaced" } else { "created" },
        made.table,
        made.row_count,
        columns.join(", ")
    );
    // A running server introspected `uploads` at startup: this job makes
    // the worker that picks it up see the new table without a restart.
    let spec = JobSpec::Introspect {
        connection: made.connection.clone(),
    };
    crate::jobs::enqueue(&app, &spec, None, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_named_after_the_file() {
        assert_eq!(
            default_table(Path::new("/tmp/Sales 2024.xlsx")),
            "Sales 2024"
        );
        assert_eq!(default_table(Path::new("orders.csv")), "orders");
    }
}
