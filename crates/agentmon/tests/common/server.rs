//! Starting, waiting for and stopping one `agentmon serve` child process.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::http::client;

/// How long a server may take to replay its WAL and answer `/health/ready`.
pub const READY_DEADLINE: Duration = Duration::from_secs(60);
/// Pause between two polls of a condition.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Attempts to start a server when the chosen port was taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// Polls `check` until it yields `Some`, at most until `deadline` has passed;
/// `None` when the deadline ran out.
pub fn poll_until<T>(deadline: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    // The count bound is a backstop in case the clock misbehaves.
    let max_polls = (deadline.as_millis() / POLL_INTERVAL.as_millis()) as usize + 2;
    for _ in 0..max_polls {
        if let Some(value) = check() {
            return Some(value);
        }
        if start.elapsed() >= deadline {
            return None;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    None
}

/// A loopback port that was free a moment ago: bind port 0, read the
/// number the kernel chose, release it.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// One running `agentmon serve`. Killed with SIGKILL when dropped, so a
/// failing test leaves no process behind.
pub struct Server {
    child: Option<Child>,
    port: u16,
    data_dir: PathBuf,
    log_path: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server on `data_dir` with the default flags and waits until
    /// it is ready; panics with the server's log if it is not within
    /// [`READY_DEADLINE`].
    pub fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[])
    }

    /// As [`Server::start`], with extra command-line flags.
    pub fn start_with(data_dir: &Path, extra_args: &[&str]) -> Server {
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let mut server = Server::spawn(data_dir, extra_args);
            match server.wait_ready() {
                Ok(()) => return server,
                Err(reason) => {
                    last_log = server.log();
                    server.kill();
                    // Another process may have taken the port between our
                    // probe and the server's bind; only that is retried.
                    if !last_log.to_lowercase().contains("in use") {
                        panic!("agentmon did not become ready: {reason}\n--- server log ---\n{last_log}");
                    }
                }
            }
        }
        panic!("agentmon could not bind a free port in {START_ATTEMPTS} attempts\n{last_log}");
    }

    fn spawn(data_dir: &Path, extra_args: &[&str]) -> Server {
        let port = free_port();
        let log_dir = tempfile::tempdir().expect("log tempdir");
        let log_path = log_dir.path().join("agentmon.log");
        let log = File::create(&log_path).expect("create server log");
        let log_err = log.try_clone().expect("clone log handle");
        let child = Command::new(env!("CARGO_BIN_EXE_agentmon"))
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra_args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .expect("spawn agentmon");
        Server {
            child: Some(child),
            port,
            data_dir: data_dir.to_owned(),
            log_path,
            _log_dir: log_dir,
        }
    }

    /// Polls `/health/ready` until it answers 200, failing early if the
    /// process exits.
    fn wait_ready(&mut self) -> Result<(), String> {
        let http = client();
        let url = self.url("/health/ready");
        let mut last = String::from("no answer yet");
        let ready = poll_until(READY_DEADLINE, || {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Some(Err(format!(
                    "process exited with {status} before it was ready"
                )));
            }
            match http.get(&url).send() {
                Ok(response) if response.status().as_u16() == 200 => Some(Ok(())),
                Ok(response) => {
                    last = format!("status {}", response.status());
                    None
                }
                Err(error) => {
                    last = error.to_string();
                    None
                }
            }
        });
        ready.unwrap_or_else(|| {
            Err(format!(
                "not ready after {READY_DEADLINE:?}; last answer: {last}"
            ))
        })
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The process id; panics if the server was already stopped.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is running").id()
    }

    /// Everything the server printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Kills the process with SIGKILL, as a crash or power cut would stop
    /// it, and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error here means it already exited, which is fine.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits up to `deadline` for the process to exit;
    /// returns its exit status, or panics (after SIGKILL) if it hangs.
    pub fn terminate(&mut self, deadline: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) with a pid we spawned and still own (not yet
        // reaped, so it cannot have been reused) and a valid signal number.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(
            sent,
            0,
            "kill(SIGTERM) failed: {}",
            std::io::Error::last_os_error()
        );
        let status = poll_until(deadline, || child.try_wait().ok().flatten());
        match status {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "agentmon did not exit within {deadline:?} of SIGTERM\n--- server log ---\n{}",
                    self.log()
                );
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
