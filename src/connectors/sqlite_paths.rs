//! Which files a SQLite connection created through the API may open.
//!
//! An admin registers a SQLite connection by path, and the service then
//! reads that file for every caller granted the connection. Without a fence
//! that reads anything the process can: `/etc/passwd`, `/proc/self/environ`,
//! or the app store itself (`users.password_hash`). So a path must be, after
//! symlinks are resolved:
//!
//! - a regular file (no directory, device, FIFO) under one of the configured
//!   roots (`sqlite_roots`, default `<data_dir>/databases`), or the demo
//!   database's own file;
//! - never the app store (nor its `-wal`/`-shm`/`-journal`), never a backup,
//!   never under `/proc`, `/sys`, `/dev` or `/etc`, whatever the roots say;
//! - a SQLite database: its first 16 bytes are SQLite's header magic (read
//!   only once the location is allowed, so the check is no oracle for files
//!   elsewhere).
//!
//! The checked, canonical path is what the connection opens, so a symlink
//! swapped in later does not move it. Connections from the config file are
//! the operator's and are not fenced.

use std::io::Read as _;
use std::path::{Path, PathBuf};

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Never a target, whatever `sqlite_roots` says.
const SYSTEM_DIRS: [&str; 4] = ["/proc", "/sys", "/dev", "/etc"];

/// The fence, built from the config.
#[derive(Debug, Clone)]
pub struct SqlitePathPolicy {
    /// Directories a connection's file may live under.
    pub roots: Vec<PathBuf>,
    /// Single files allowed outside the roots (the demo database).
    pub extra_files: Vec<PathBuf>,
    /// Files never allowed (the app store).
    pub forbidden_files: Vec<PathBuf>,
    /// Directories never allowed (backups of the app store).
    pub forbidden_dirs: Vec<PathBuf>,
}

impl SqlitePathPolicy {
    /// The fence `config` describes: `sqlite_roots` (default
    /// `<data_dir>/databases`), the demo database, the app store and its
    /// backups.
    pub fn for_config(config: &crate::config::Config) -> Self {
        let roots = if config.sqlite_roots.is_empty() {
            vec![config.data_dir.join("databases")]
        } else {
            config.sqlite_roots.clone()
        };
        let extra_files = if config.demo.enabled {
            vec![config.data_dir.join("demo.db")]
        } else {
            Vec::new()
        };
        let store_url = config.store_url();
        let store_file = store_url
            .strip_prefix("sqlite://")
            .or_else(|| store_url.strip_prefix("sqlite:"))
            .map(|p| PathBuf::from(p.split('?').next().unwrap_or(p)));
        Self {
            roots,
            extra_files,
            forbidden_files: store_file.into_iter().collect(),
            forbidden_dirs: vec![config.backup_dir()],
        }
    }

    /// Check `path`; the canonical path to open, or why not (a sentence for
    /// the admin who sent it).
    pub fn check(&self, path: &Path) -> Result<PathBuf, String> {
        let shown = path.display();
        if path.as_os_str().is_empty() {
            return Err("the SQLite path is empty".into());
        }
        let real = path
            .canonicalize()
            .map_err(|_| format!("SQLite file {shown} does not exist or cannot be read"))?;
        let meta =
            std::fs::metadata(&real).map_err(|_| format!("SQLite file {shown} cannot be read"))?;
        if !meta.is_file() {
            return Err(format!("{shown} is not a regular file"));
        }
        if SYSTEM_DIRS.iter().any(|d| real.starts_with(d)) {
            return Err(format!("{shown} is in a system directory"));
        }
        if self.is_app_store(&real) || under_any(&real, &self.forbidden_dirs) {
            return Err(format!(
                "{shown} belongs to the app store; it cannot be a connection"
            ));
        }
        let extra = self
            .extra_files
            .iter()
            .filter_map(|f| f.canonicalize().ok())
            .any(|f| f == real);
        if !extra && !under_any(&real, &self.roots) {
            let roots: Vec<String> = self.roots.iter().map(|r| r.display().to_string()).collect();
            return Err(format!(
                "{shown} is outside the directories SQLite connections may use (sqlite_roots: {})",
                roots.join(", ")
            ));
        }
        if !has_sqlite_header(&real) {
            return Err(format!("{shown} is not a SQLite database"));
        }
        Ok(real)
    }

    fn is_app_store(&self, real: &Path) -> bool {
        self.forbidden_files.iter().any(|f| {
            let f = f.canonicalize().unwrap_or_else(|_| f.clone());
            ["", "-wal", "-shm", "-journal"].iter().any(|suffix| {
                let mut name = f.clone().into_os_string();
                name.push(suffix);
                Path::new(&name) == real
            })
        })
    }
}

/// Is `real` (canonical) inside one of `dirs` (canonicalised; a missing
/// directory holds nothing)?
fn under_any(real: &Path, dirs: &[PathBuf]) -> bool {
    dirs.iter()
        .filter_map(|d| d.canonicalize().ok())
        .any(|d| real.starts_with(d))
}

fn has_sqlite_header(path: &Path) -> bool {
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == SQLITE_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_file(path: &Path) {
        let mut bytes = SQLITE_MAGIC.to_vec();
        bytes.resize(512, 0);
        std::fs::write(path, bytes).unwrap();
    }

    fn policy(dir: &Path) -> SqlitePathPolicy {
        SqlitePathPolicy {
            roots: vec![dir.join("databases")],
            extra_files: vec![dir.join("demo.db")],
            forbidden_files: vec![dir.join("insight.db")],
            forbidden_dirs: vec![dir.join("backups")],
        }
    }

    #[test]
    fn only_sqlite_files_under_the_roots_or_the_demo_database() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("databases/sub")).unwrap();
        std::fs::create_dir_all(d.join("backups")).unwrap();
        for f in [
            "databases/shop.db",
            "databases/sub/x.db",
            "demo.db",
            "insight.db",
            "other.db",
            "backups/insight-1.db",
        ] {
            sqlite_file(&d.join(f));
        }
        std::fs::write(d.join("databases/notes.txt"), "hello").unwrap();
        std::fs::write(d.join("insight.db-wal"), "x").unwrap();
        let p = policy(d);
        let real = p.check(&d.join("databases/shop.db")).unwrap();
        assert!(real.is_absolute());
        p.check(&d.join("databases/sub/x.db")).unwrap();
        p.check(&d.join("demo.db")).unwrap();
        // `..` and symlinks are resolved before the check.
        let err = p.check(&d.join("databases/../other.db")).unwrap_err();
        assert!(err.contains("outside"), "{err}");
        std::os::unix::fs::symlink(d.join("insight.db"), d.join("databases/link.db")).unwrap();
        let err = p.check(&d.join("databases/link.db")).unwrap_err();
        assert!(err.contains("app store"), "{err}");
        std::os::unix::fs::symlink("/etc/passwd", d.join("databases/passwd.db")).unwrap();
        let err = p.check(&d.join("databases/passwd.db")).unwrap_err();
        assert!(err.contains("system directory"), "{err}");
        for (path, why) in [
            (d.join("insight.db"), "app store"),
            (d.join("insight.db-wal"), "app store"),
            (d.join("backups/insight-1.db"), "app store"),
            (d.join("databases"), "not a regular file"),
            (d.join("databases/notes.txt"), "not a SQLite database"),
            (d.join("databases/missing.db"), "does not exist"),
            (PathBuf::from("/etc/passwd"), "system directory"),
            (PathBuf::from("/proc/self/environ"), "system directory"),
        ] {
            let err = p.check(&path).unwrap_err();
            assert!(err.contains(why), "{}: {err}", path.display());
        }
    }

    #[test]
    fn a_root_cannot_open_system_directories() {
        let p = SqlitePathPolicy {
            roots: vec![PathBuf::from("/")],
            extra_files: Vec::new(),
            forbidden_files: Vec::new(),
            forbidden_dirs: Vec::new(),
        };
        let err = p.check(Path::new("/etc/passwd")).unwrap_err();
        assert!(err.contains("system directory"), "{err}");
    }
}
