//! A private PostgreSQL cluster for tests that stop the database: `initdb` in a temporary
//! directory, `pg_ctl` on a free loopback port, trust authentication for `postgres`. It can be
//! stopped (fast, as an operator would; or immediate, as a crash would) and started again on the
//! same port and data, and is removed when dropped. The machine's shared PostgreSQL is untouched.
//!
//! The binaries are found with `PG_BIN_DIR`, else `pg_config --bindir`, else the newest
//! `/usr/lib/postgresql/<version>/bin`. `initdb` refuses to run as root: as root, every command
//! runs as the `postgres` system user (`runuser`), which then owns the temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How an outage begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// `pg_ctl stop -m fast`: open transactions are rolled back, sessions are closed.
    Fast,
    /// `pg_ctl stop -m immediate`: the server is killed and recovers from its WAL on the next
    /// start, as after a crash.
    Immediate,
}

pub struct PrivatePostgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    running: bool,
}

fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("no /usr/lib/postgresql: is PostgreSQL installed? (or set PG_BIN_DIR)")?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .context("no initdb under /usr/lib/postgresql/*/bin (set PG_BIN_DIR)")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A port nobody listens on now (bound and released; the cluster takes it a moment later).
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl PrivatePostgres {
    /// Creates and starts a cluster; waits until it takes connections.
    pub fn start() -> anyhow::Result<Self> {
        let bin = bin_dir()?;
        let run_as = is_root().then(|| "postgres".to_owned());
        let dir = std::env::temp_dir().join(format!("wb-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let mut cluster = Self {
            port: 0,
            dir,
            bin,
            run_as,
            running: false,
        };
        if let Some(user) = &cluster.run_as {
            let chowned = Command::new("chown")
                .args(["-R", &format!("{user}:"), &cluster.dir.to_string_lossy()])
                .output()?;
            if !chowned.status.success() {
                bail!("chown failed: {}", String::from_utf8_lossy(&chowned.stderr));
            }
        }
        let data = cluster.data_dir();
        let initdb = cluster.run(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        if !initdb.status.success() {
            bail!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&initdb.stdout),
                String::from_utf8_lossy(&initdb.stderr)
            );
        }
        for _ in 0..10 {
            cluster.port = free_port()?;
            if cluster.start_server().is_ok() {
                return Ok(cluster);
            }
        }
        bail!(
            "the private PostgreSQL did not start; see {}",
            cluster.log().display()
        )
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// Runs one of the cluster's binaries (as `postgres` when we are root).
    fn run(&self, tool: &str, args: &[&str]) -> anyhow::Result<Output> {
        let program = self.bin.join(tool);
        let output = match &self.run_as {
            Some(user) => Command::new("runuser")
                .args(["-u", user, "--"])
                .arg(&program)
                .args(args)
                .current_dir(&self.dir)
                .output(),
            None => Command::new(&program)
                .args(args)
                .current_dir(&self.dir)
                .output(),
        };
        output.with_context(|| format!("failed to run {}", program.display()))
    }

    fn start_server(&mut self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200 -c shared_buffers=32MB",
            self.port,
            self.dir.display()
        );
        let started = self.run(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "30",
                "-D",
                &self.data_dir().to_string_lossy(),
                "-l",
                &self.log().to_string_lossy(),
                "-o",
                &options,
            ],
        )?;
        if !started.status.success() {
            bail!(
                "pg_ctl start failed: {}",
                String::from_utf8_lossy(&started.stderr)
            );
        }
        self.running = true;
        self.wait_until_ready(Duration::from_secs(30))
    }

    /// Polls until the server takes TCP connections and answers (`pg_isready`).
    fn wait_until_ready(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let ready = self.run(
                "pg_isready",
                &[
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                ],
            )?;
            if ready.status.success() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "the private PostgreSQL on port {} did not become ready",
            self.port
        )
    }

    /// The server URL (no database), for `StackOptions::database_server`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Stops the server; returns once it no longer runs.
    pub fn stop(&mut self, mode: StopMode) -> anyhow::Result<()> {
        let mode = match mode {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        };
        let stopped = self.run(
            "pg_ctl",
            &[
                "stop",
                "-w",
                "-t",
                "30",
                "-m",
                mode,
                "-D",
                &self.data_dir().to_string_lossy(),
            ],
        )?;
        if !stopped.status.success() {
            bail!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&stopped.stderr)
            );
        }
        self.running = false;
        Ok(())
    }

    /// Starts the stopped server again on the same port and data.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.start_server() {
                Ok(()) => return Ok(()),
                // The port may linger for a moment after an immediate stop.
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200))
                }
                Err(error) => return Err(error),
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.stop(StopMode::Immediate);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
