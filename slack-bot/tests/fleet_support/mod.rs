//! Test support for the fleet: a private `redis-server` per test, and replicas as processes.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` of our own on a free loopback port, persistence off unless asked; stopped
/// on drop.
pub(crate) struct RedisServer {
    child: Option<Child>,
    pub(crate) port: u16,
    dir: PathBuf,
    persistent: bool,
    /// More `redis-server` arguments (`--cluster-enabled yes`, …).
    extra: Vec<String>,
}

/// Whether `redis-server` can be run. Without it the fleet's tests are skipped, loudly, except
/// under CI (`CI=true`), where they fail: `.ci/run` installs it.
pub(crate) fn redis_available() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "redis-server is not installed, and CI=true: .ci/run should have installed it"
        );
        eprintln!(
            "\n\n*** SKIPPED: redis-server is not installed (apt-get install redis-server); the fleet tests did not run ***\n\n"
        );
    }
    found
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl RedisServer {
    /// Starts one (persistence off), or `None` when `redis-server` is missing (skip).
    pub(crate) fn start() -> Option<RedisServer> {
        RedisServer::start_with(false)
    }

    /// With `persistent`, an append-only file (fsync always) in a private directory, so that
    /// a restart keeps the data, as a production Redis would.
    pub(crate) fn start_with(persistent: bool) -> Option<RedisServer> {
        RedisServer::start_args(persistent, &[])
    }

    /// Like [`RedisServer::start_with`], with more `redis-server` arguments.
    pub(crate) fn start_args(persistent: bool, extra: &[&str]) -> Option<RedisServer> {
        if !redis_available() {
            return None;
        }
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("slack-fleet-redis-{}-{port}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let mut s = RedisServer {
            child: None,
            port,
            dir,
            persistent,
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
        };
        s.spawn();
        Some(s)
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--dir")
            .arg(&self.dir)
            .arg("--daemonize")
            .arg("no")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.persistent {
            cmd.arg("--appendonly")
                .arg("yes")
                .arg("--appendfsync")
                .arg("always");
        } else {
            cmd.arg("--appendonly").arg("no");
        }
        cmd.args(&self.extra);
        self.child = Some(cmd.spawn().expect("start redis-server"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops it: SIGTERM when persistent (Redis writes its append-only file and exits),
    /// else SIGKILL.
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if self.persistent {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(c.id().to_string())
                    .status();
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port (with its data, when persistent).
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Pauses it (SIGSTOP): connections stay open, nothing answers: a hung Redis.
    pub(crate) fn freeze(&self, on: bool) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg(if on { "-STOP" } else { "-CONT" })
                .arg(c.id().to_string())
                .status();
        }
    }

    /// A raw command, for assertions (`redis-cli` is not needed: the crate speaks it).
    pub(crate) fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("client")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.freeze(false);
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A replica: the `slack-bot` binary with `--redis-url`, against a fake Slack; its log goes
/// to a file (read with `log`). Killed on drop.
pub(crate) struct Replica {
    pub(crate) child: Child,
    pub(crate) id: String,
    log: PathBuf,
}

impl Replica {
    pub(crate) fn start(
        api_url: &str,
        app_token: &str,
        bot_token: &str,
        redis_url: &str,
        id: &str,
        connections: usize,
        extra: &[(&str, &str)],
    ) -> Replica {
        let log = std::env::temp_dir().join(format!(
            "slack-fleet-{}-{id}-{}.log",
            std::process::id(),
            free_port()
        ));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_slack-bot"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SLACK_APP_TOKEN", app_token)
            .env("SLACK_BOT_TOKEN", bot_token)
            .env("SLACK_API_URL", api_url)
            .env("SLACK_ALLOW_INSECURE", "1")
            .env("BOT_USER_ID", "UBOT")
            .env("RUST_LOG", "info,slack_bot=debug")
            .env("SLACK_FLEET_REPLICA_ID", id)
            .args([
                "--redis-url",
                redis_url,
                "--connections",
                &connections.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start slack-bot");
        Replica {
            child,
            id: id.to_owned(),
            log,
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait (graceful shutdown).
    pub(crate) fn terminate(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("---- log of replica {} ----\n{}", self.id, self.log());
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Waits until `f` holds, up to `timeout`.
pub(crate) fn eventually(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}
