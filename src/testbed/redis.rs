//! A throwaway Redis server: `redis-server` on a free loopback port with a temp dir, nothing
//! saved to disk, killed and removed when dropped or when the process that started it exits.
//! [`RedisServer::send`] speaks enough RESP for readiness and for tests to read raw keys.

use std::fs;
use std::io::{BufReader, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use super::server::free_port;
use super::TestbedError;
use crate::status::resp::{encode, read_reply, RedisReply};

/// Overrides where `redis-server` is looked for (the path of the binary).
pub const REDIS_SERVER_ENV: &str = "REDASH_UPGRADE_REDIS_SERVER";

const INSTALL_HINT: &str = "install Redis (Debian: apt-get install -y redis-server) \
     or point REDASH_UPGRADE_REDIS_SERVER at a redis-server binary";

/// A running throwaway Redis server.
pub struct RedisServer {
    dir: tempfile::TempDir,
    port: u16,
    /// The TLS port, when started with [`RedisServer::start_with_tls`].
    tls_port: Option<u16>,
    server: Mutex<Option<Child>>,
}

impl RedisServer {
    /// Starts a server. Fails, saying what to install, when no `redis-server` is found.
    pub fn start() -> Result<RedisServer, TestbedError> {
        RedisServer::start_with(false)
    }

    /// Starts a server that also listens with TLS on [`RedisServer::tls_port`], its certificate
    /// (for `localhost` and 127.0.0.1) signed by a test authority in
    /// [`RedisServer::root_certificate`]. The plain port stays for the test's own commands.
    pub fn start_with_tls() -> Result<RedisServer, TestbedError> {
        RedisServer::start_with(true)
    }

    fn start_with(tls: bool) -> Result<RedisServer, TestbedError> {
        let binary = find_redis_server()?;
        let dir = tempfile::Builder::new()
            .prefix("redash-upgrade-redis-")
            .tempdir()
            .map_err(|source| TestbedError::Io {
                what: "create the Redis server directory".into(),
                source,
            })?;
        let port = free_port()?;
        let log =
            fs::File::create(dir.path().join("server.log")).map_err(|source| TestbedError::Io {
                what: "create the Redis server log".into(),
                source,
            })?;
        let mut command = Command::new(&binary);
        let tls_port = if tls {
            super::server::make_test_certificates(dir.path())?;
            let tls_port = free_port()?;
            command
                .args([
                    "--tls-port",
                    &tls_port.to_string(),
                    "--tls-auth-clients",
                    "no",
                ])
                .arg("--tls-cert-file")
                .arg(dir.path().join("server.crt"))
                .arg("--tls-key-file")
                .arg(dir.path().join("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(dir.path().join("root.crt"));
            Some(tls_port)
        } else {
            None
        };
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|source| TestbedError::Io {
                what: "create the Redis server log".into(),
                source,
            })?)
            .stderr(log);
        let child = command.spawn().map_err(|source| TestbedError::Io {
            what: format!("start {}", binary.display()),
            source,
        })?;
        let pid = child.id();
        let server = RedisServer {
            dir,
            port,
            tls_port,
            server: Mutex::new(Some(child)),
        };
        server.watch_for_exit_of_this_process(pid)?;
        server.wait_until_ready()?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    /// The test authority that signed the TLS certificate (PEM).
    pub fn root_certificate(&self) -> PathBuf {
        self.dir.path().join("root.crt")
    }

    /// The URL clients (rq, Celery, redash-upgrade) are given: database 0 over loopback TCP.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Sends one command on a new connection and reads its reply.
    pub fn send(&self, command: &[&str]) -> Result<RedisReply, TestbedError> {
        let what = || format!("send {} to the test Redis", command.join(" "));
        let io = |source| TestbedError::Io {
            what: what(),
            source,
        };
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(io)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(io)?;
        stream.write_all(&encode(command)).map_err(io)?;
        read_reply(&mut BufReader::new(stream)).map_err(io)
    }

    fn wait_until_ready(&self) -> Result<(), TestbedError> {
        super::server::wait_until_started(
            &self.server,
            Duration::from_secs(30),
            Duration::from_millis(20),
            "redis-server",
            "answer PING",
            || matches!(self.send(&["PING"]), Ok(RedisReply::Status(pong)) if pong == "PONG"),
        )
        .map_err(|why| TestbedError::RedisFailed {
            why,
            log: self.log(),
        })
    }

    /// As for PostgreSQL: a watcher outside the process kills the server and removes its
    /// directory once a test binary that never ran our destructor is gone.
    fn watch_for_exit_of_this_process(&self, server_pid: u32) -> Result<(), TestbedError> {
        super::server::watch_for_exit_of_this_process(server_pid, "KILL", 0, self.dir.path())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let child = self
            .server
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

fn find_redis_server() -> Result<PathBuf, TestbedError> {
    find_redis_server_with(
        std::env::var_os(REDIS_SERVER_ENV),
        std::env::var_os("PATH"),
        &[Path::new("/usr/bin"), Path::new("/usr/local/bin")],
    )
}

fn find_redis_server_with(
    override_path: Option<std::ffi::OsString>,
    search_path: Option<std::ffi::OsString>,
    fallback_dirs: &[&Path],
) -> Result<PathBuf, TestbedError> {
    if let Some(path) = override_path {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(TestbedError::NoRedis {
                why: format!("{REDIS_SERVER_ENV}={} is not an executable", path.display()),
                hint: INSTALL_HINT,
            })
        };
    }
    search_path
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(fallback_dirs.iter().map(|dir| dir.to_path_buf()))
        .map(|dir| dir.join("redis-server"))
        .find(|path| is_executable(path))
        .ok_or(TestbedError::NoRedis {
            why: "no redis-server found (looked on PATH, /usr/bin and /usr/local/bin)".into(),
            hint: INSTALL_HINT,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_redis_server_names_the_debian_package() {
        let empty = tempfile::tempdir().unwrap();
        let error =
            find_redis_server_with(None, Some(empty.path().into()), &[empty.path()]).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("no redis-server found"), "{message}");
        assert!(
            message.contains("apt-get install -y redis-server"),
            "{message}"
        );
        let error = find_redis_server_with(Some(empty.path().join("nope").into()), None, &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("REDASH_UPGRADE_REDIS_SERVER"), "{error}");
    }
}
