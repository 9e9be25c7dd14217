//! The real `insight` binary as a child process: the command with a clean
//! environment ([`insight_cmd`]), a command fed on stdin ([`run_with_stdin`]),
//! and a running server found by the address it prints ([`Running`]), with
//! SIGTERM, exit status and its log lines, killed when the test ends.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// How long a process may take to print its address (debug build, loaded
/// machine).
const STARTUP: Duration = Duration::from_secs(60);

/// The `insight` binary run in `dir` with a clean environment (no
/// `INSIGHT_TEST_*` service URLs, which the config would refuse) and its
/// data dir at `dir/data`.
pub fn insight_cmd(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_insight"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("INSIGHT_DATA_DIR", dir.join("data"));
    cmd
}

/// Run `cmd` to the end with `stdin` written to it; its output.
pub fn run_with_stdin(cmd: &mut Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start insight");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("insight output")
}

/// A started `insight` process that has printed its address. Killed when
/// dropped, so a failing test leaves no server behind.
pub struct Running {
    /// `http://ADDRESS` from the line the process printed.
    pub base: String,
    /// The stderr lines up to and including the one with the address.
    pub lines: Vec<String>,
    /// The stderr lines after it, as they come.
    pub stderr: Receiver<String>,
    child: Option<Child>,
}

impl Running {
    /// Start `insight serve` from `cmd` and wait until it listens.
    pub fn serve(cmd: &mut Command) -> Running {
        Self::start(cmd, "listening on http://")
    }

    /// Start `cmd` (stdout discarded, stderr read line by line) and wait
    /// until a stderr line contains `marker` followed by an address.
    pub fn start(cmd: &mut Command, marker: &str) -> Running {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start insight");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + STARTUP;
        let mut lines = Vec::new();
        let base = loop {
            let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            else {
                let _ = child.kill();
                panic!(
                    "insight printed no `{marker}` line; its output:\n{}",
                    lines.join("\n")
                );
            };
            let found = line
                .split(marker)
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(|addr| format!("http://{addr}"));
            lines.push(line);
            if let Some(base) = found {
                break base;
            }
        };
        Running {
            base,
            lines,
            stderr: rx,
            child: Some(child),
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Send SIGTERM (what Kubernetes and systemd send to stop a process).
    pub fn sigterm(&self) {
        let kill = Command::new("kill")
            .args(["-TERM", &self.id().to_string()])
            .status()
            .expect("run kill");
        assert!(kill.success(), "kill -TERM failed");
    }

    /// Wait for the process to exit, without blocking the runtime.
    pub async fn wait(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("wait task")
            .expect("wait for insight")
    }

    /// The stderr lines that come within `window` from now.
    pub fn lines_within(&self, window: Duration) -> Vec<String> {
        let until = Instant::now() + window;
        let mut more = Vec::new();
        while let Ok(line) = self
            .stderr
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            more.push(line);
        }
        more
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
