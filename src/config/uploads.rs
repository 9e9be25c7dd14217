//! Settings of CSV and Excel uploads (`[uploads]`): whether the `uploads` connection
//! (a SQLite file under the data dir) exists, and how large a file may be.

use serde::Deserialize;

/// Largest `uploads.max_bytes` a setting may ask for.
pub const MAX_UPLOAD_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadsConfig {
    /// Register the `uploads` connection (`<data_dir>/uploads.db`).
    pub enabled: bool,
    /// Largest file (CSV or workbook) accepted, bytes.
    pub max_bytes: u64,
}

impl Default for UploadsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_bytes: 10 << 20,
        }
    }
}
