//! Private Redis servers for tests that break things: a standalone `redis-server` (killed and
//! restarted at will) and a 3-master Redis Cluster, each on loopback ports of its own and in a
//! temporary directory, stopped when dropped. The shared Redis of the machine is never touched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A port in a range where `port + 10000` (the cluster bus) is still a port.
fn random_port() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    let mixed = nanos ^ (std::process::id() << 8) ^ uuid::Uuid::new_v4().as_u128() as u32;
    20_000 + (mixed % 30_000) as u16
}

/// PING over TLS when `authority` (the CA file) is given.
fn ping(port: u16, authority: Option<&Path>) -> bool {
    let mut command = Command::new("redis-cli");
    command.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    if let Some(authority) = authority {
        command.arg("--tls").arg("--cacert").arg(authority);
    }
    command
        .arg("ping")
        .output()
        .map(|output| {
            // A server with a password answers, but refuses the unauthenticated ping.
            let answer = String::from_utf8_lossy(&output.stdout);
            answer.trim() == "PONG" || answer.contains("NOAUTH")
        })
        .unwrap_or(false)
}

fn temp_dir(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("wb-{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Starts `redis-server` on `port` with `extra` arguments; waits until it answers PING (over
/// TLS when `authority` is given: `extra` then makes `port` its TLS port).
fn spawn_server(
    port: u16,
    dir: &PathBuf,
    extra: &[String],
    authority: Option<&Path>,
) -> anyhow::Result<Option<Child>> {
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("failed to start redis-server (is it installed?)")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(_status) = child.try_wait()? {
            // Exited at once: most likely the port was taken.
            return Ok(None);
        }
        if ping(port, authority) {
            return Ok(Some(child));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    bail!("redis-server on port {port} did not answer")
}

/// The arguments of a standalone Redis on `port`: a password, and TLS only (`port` its TLS
/// port, no plaintext port) with the files in `tls`.
fn server_args(port: u16, password: Option<&str>, tls: Option<&Path>) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(password) = password {
        args.extend(["--requirepass".to_owned(), password.to_owned()]);
    }
    if let Some(tls) = tls {
        let file = |name: &str| tls.join(name).to_string_lossy().into_owned();
        args.extend([
            "--port".to_owned(),
            "0".to_owned(),
            "--tls-port".to_owned(),
            port.to_string(),
            "--tls-cert-file".to_owned(),
            file("tls.crt"),
            "--tls-key-file".to_owned(),
            file("tls.key"),
            "--tls-ca-cert-file".to_owned(),
            file("ca.crt"),
            "--tls-auth-clients".to_owned(),
            "no".to_owned(),
        ]);
    }
    args
}

/// One standalone Redis.
pub struct PrivateRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// `requirepass`, when it has one.
    password: Option<String>,
    /// Its certificate, key and authority (`tls.crt`, `tls.key`, `ca.crt`), when it speaks TLS
    /// only.
    tls: Option<PathBuf>,
}

impl PrivateRedis {
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(None)
    }

    /// A Redis that refuses every command before `AUTH password`.
    pub fn with_password(password: &str) -> anyhow::Result<Self> {
        Self::start_with(Some(password.to_owned()))
    }

    /// A Redis that speaks only TLS with the certificate in `certificate` (a directory with
    /// `tls.crt`, `tls.key` and `ca.crt`), and refuses commands before `AUTH password`.
    pub fn with_tls(password: &str, certificate: &Path) -> anyhow::Result<Self> {
        Self::start_with_tls(Some(password.to_owned()), Some(certificate.to_owned()))
    }

    fn start_with(password: Option<String>) -> anyhow::Result<Self> {
        Self::start_with_tls(password, None)
    }

    fn start_with_tls(password: Option<String>, tls: Option<PathBuf>) -> anyhow::Result<Self> {
        let dir = temp_dir("redis")?;
        for _ in 0..20 {
            let port = random_port();
            let extra = server_args(port, password.as_deref(), tls.as_deref());
            let authority = tls.as_ref().map(|tls| tls.join("ca.crt"));
            if let Some(child) = spawn_server(port, &dir, &extra, authority.as_deref())? {
                return Ok(Self {
                    port,
                    dir,
                    child: Some(child),
                    password,
                    tls,
                });
            }
        }
        bail!("no free port for a private redis-server")
    }

    /// Its URL, with the password when it has one.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        match &self.password {
            Some(password) => format!("{scheme}://:{password}@127.0.0.1:{}", self.port),
            None => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// Its URL without the password.
    pub fn url_without_password(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server abruptly (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty, as after a crash without persistence).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let extra = server_args(self.port, self.password.as_deref(), self.tls.as_deref());
            let authority = self.tls.as_ref().map(|tls| tls.join("ca.crt"));
            if let Some(child) = spawn_server(self.port, &self.dir, &extra, authority.as_deref())? {
                self.child = Some(child);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("redis-server could not start again on port {}", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of 3 masters (no replicas).
pub struct RedisCluster {
    pub ports: Vec<u16>,
    dir: PathBuf,
    children: Vec<Child>,
}

impl RedisCluster {
    pub fn start() -> anyhow::Result<Self> {
        let dir = temp_dir("cluster")?;
        let mut cluster = Self {
            ports: Vec::new(),
            dir,
            children: Vec::new(),
        };
        let mut attempts = 0;
        while cluster.ports.len() < 3 {
            attempts += 1;
            if attempts > 60 {
                bail!("no free ports for a redis cluster");
            }
            let port = random_port();
            let config = format!("nodes-{port}.conf");
            let extra = [
                "--cluster-enabled".to_owned(),
                "yes".to_owned(),
                "--cluster-config-file".to_owned(),
                config,
            ];
            if let Some(child) = spawn_server(port, &cluster.dir, &extra, None)? {
                cluster.ports.push(port);
                cluster.children.push(child);
            }
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .context("failed to run redis-cli --cluster create")?;
        if !created.status.success() {
            bail!(
                "cluster create failed: {}",
                String::from_utf8_lossy(&created.stdout)
            );
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let all_ok = cluster.ports.iter().all(|port| {
                Command::new("redis-cli")
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &port.to_string(),
                        "cluster",
                        "info",
                    ])
                    .output()
                    .map(|output| {
                        String::from_utf8_lossy(&output.stdout).contains("cluster_state:ok")
                    })
                    .unwrap_or(false)
            });
            if all_ok {
                return Ok(cluster);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("the redis cluster did not reach cluster_state:ok")
    }

    /// The URL fred reads for a cluster: the first node, the others as `node=` parameters.
    pub fn url(&self) -> String {
        let others: Vec<String> = self.ports[1..]
            .iter()
            .map(|port| format!("node=127.0.0.1:{port}"))
            .collect();
        format!(
            "redis-cluster://127.0.0.1:{}?{}",
            self.ports[0],
            others.join("&")
        )
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
