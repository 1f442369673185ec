//! A throwaway PostgreSQL server: `initdb` into a temp dir, a unix socket in that dir and a free
//! loopback port, tuned for tests, stopped and removed when dropped or when the process that
//! started it exits (a small watcher process cleans up after a test binary that panicked).

use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use super::{Client, TestbedError};
use crate::db::quote_ident;

/// The superuser of the throwaway server.
pub const SUPERUSER: &str = "postgres";

/// Overrides where the server binaries are looked for.
pub const BINDIR_ENV: &str = "REDASH_UPGRADE_PG_BINDIR";

const INSTALL_HINT: &str = "install the PostgreSQL server (Debian: apt-get install -y postgresql) \
     or point REDASH_UPGRADE_PG_BINDIR at the directory holding initdb and postgres";

/// Whether the throwaway server speaks TLS (a self-signed certificate made at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tls {
    #[default]
    Off,
    On,
    /// TCP connections without TLS are refused, as on RDS with `rds.force_ssl`.
    Required,
}

/// A running throwaway server.
pub struct PgServer {
    dir: tempfile::TempDir,
    port: u16,
    password: String,
    server: Mutex<Option<Child>>,
    create_database: Mutex<()>,
}

impl PgServer {
    /// Creates a cluster and starts it. Fails, saying what to install, when no server is found.
    pub fn start() -> Result<PgServer, TestbedError> {
        PgServer::start_with(None, Tls::Off)
    }

    /// As [`PgServer::start`], with the binaries' directory given instead of looked for.
    pub fn start_with_bindir(bindir: Option<&Path>) -> Result<PgServer, TestbedError> {
        PgServer::start_with(bindir, Tls::Off)
    }

    /// As [`PgServer::start`], with TLS on or required.
    pub fn start_with_tls(tls: Tls) -> Result<PgServer, TestbedError> {
        PgServer::start_with(None, tls)
    }

    fn start_with(bindir: Option<&Path>, tls: Tls) -> Result<PgServer, TestbedError> {
        let bindir = match bindir {
            Some(dir) => checked_bindir(dir.to_owned())?,
            None => find_bindir()?,
        };
        let dir = tempfile::Builder::new()
            .prefix("redash-upgrade-pg-")
            .tempdir()
            .map_err(|source| TestbedError::Io {
                what: "create the server directory".into(),
                source,
            })?;
        let run_as = unprivileged_user()?;
        let password = random_password();
        let pwfile = dir.path().join("pwfile");
        write_file(&pwfile, &password)?;
        if let Some((uid, gid)) = run_as {
            for path in [dir.path(), pwfile.as_path()] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|source| {
                    TestbedError::Io {
                        what: format!("hand {} to the server user", path.display()),
                        source,
                    }
                })?;
            }
        }
        let data = dir.path().join("data");
        let mut initdb = Command::new(bindir.join("initdb"));
        initdb
            .arg("--pgdata")
            .arg(&data)
            .args(["--username", SUPERUSER, "--encoding", "UTF8", "--no-locale"])
            .args(["--auth-local", "trust", "--auth-host", "scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .arg("--no-sync");
        run_quietly(&mut initdb, run_as, "initdb")?;
        if tls != Tls::Off {
            make_certificate(&data, run_as)?;
        }
        if tls == Tls::Required {
            write_file(
                &data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject\n",
            )?;
        }

        let port = free_port()?;
        let log =
            fs::File::create(dir.path().join("server.log")).map_err(|source| TestbedError::Io {
                what: "create the server log".into(),
                source,
            })?;
        let mut postgres = Command::new(bindir.join("postgres"));
        postgres
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(dir.path())
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=300"])
            .args(["-c", "shared_buffers=256MB", "-c", "max_wal_size=4GB"])
            .args(["-c", if tls == Tls::Off { "ssl=off" } else { "ssl=on" }])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some((uid, gid)) = run_as {
            postgres.uid(uid).gid(gid);
        }
        let child = postgres.spawn().map_err(|source| TestbedError::Io {
            what: format!("start {}", bindir.join("postgres").display()),
            source,
        })?;
        let pid = child.id();
        let server = PgServer {
            dir,
            port,
            password,
            server: Mutex::new(Some(child)),
            create_database: Mutex::new(()),
        };
        server.watch_for_exit_of_this_process(pid)?;
        server.wait_until_ready()?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The certificate authority that signed the server's certificate (TLS servers only).
    pub fn root_certificate(&self) -> PathBuf {
        self.dir.path().join("root.crt")
    }

    /// The superuser's password, for tests that need a wrong one.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// A URL over loopback TCP with the superuser's password, as operators write them.
    pub fn tcp_url(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// A superuser session over the unix socket.
    pub fn connect(&self, database: &str) -> Result<Client, TestbedError> {
        let options = PgConnectOptions::new_without_pgpass()
            .socket(self.dir.path())
            .port(self.port)
            .username(SUPERUSER)
            .database(database)
            .ssl_mode(PgSslMode::Disable)
            .application_name("redash-upgrade-testbed");
        Client::connect(&options, &format!("connect to {database}"))
    }

    /// Creates `name`, as a copy of `template` when given.
    pub fn create_database(&self, name: &str, template: Option<&str>) -> Result<(), TestbedError> {
        // Two copies of one template at once fail with "being accessed by other users".
        let _one_at_a_time = self
            .create_database
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut admin = self.connect("postgres")?;
        let statement = match template {
            Some(template) => format!(
                "CREATE DATABASE {} TEMPLATE {}",
                quote_ident(name),
                quote_ident(template)
            ),
            None => format!("CREATE DATABASE {} TEMPLATE template0", quote_ident(name)),
        };
        admin.batch_execute(&statement)
    }

    pub fn drop_database(&self, name: &str) -> Result<(), TestbedError> {
        let mut admin = self.connect("postgres")?;
        admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(name)
        ))
    }

    pub fn database_exists(&self, name: &str) -> Result<bool, TestbedError> {
        let mut admin = self.connect("postgres")?;
        let row = admin.fetch_one(
            sqlx::query("SELECT count(*) FROM pg_database WHERE datname = $1")
                .bind(name.to_owned()),
        )?;
        Ok(sqlx::Row::get::<i64, _>(&row, 0) == 1)
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn wait_until_ready(&self) -> Result<(), TestbedError> {
        wait_until_started(
            &self.server,
            Duration::from_secs(60),
            Duration::from_millis(50),
            "postgres",
            "accept connections",
            || self.connect("postgres").is_ok(),
        )
        .map_err(|why| TestbedError::ServerFailed {
            why,
            log: self.log(),
        })
    }

    /// Test binaries end without running destructors of statics, and sometimes by a panic: a
    /// watcher outside the process stops the server and removes its directory once we are gone.
    fn watch_for_exit_of_this_process(&self, server_pid: u32) -> Result<(), TestbedError> {
        watch_for_exit_of_this_process(server_pid, "QUIT", 2, self.dir.path())
    }
}

/// Starts a shell, outside this process's group, that waits for this process to end, then
/// sends `signal` to the server, waits `grace` seconds and removes `dir`.
pub(super) fn watch_for_exit_of_this_process(
    server_pid: u32,
    signal: &str,
    grace: u32,
    dir: &Path,
) -> Result<(), TestbedError> {
    let script = format!(
        "while kill -0 {owner} 2>/dev/null; do sleep 1; done; \
         kill -{signal} {server_pid} 2>/dev/null; sleep {grace}; rm -rf '{dir}'",
        owner = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|source| TestbedError::Io {
            what: "start the clean-up watcher".into(),
            source,
        })
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let child = self
            .server
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(mut child) = child {
            // SIGQUIT: immediate shutdown; the data is thrown away anyway.
            // SAFETY: kill(2) with a pid we spawned and still own.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGQUIT);
            }
            let _ = child.wait();
        }
    }
}

/// Polls `ready` until it says yes; the reason it gave up when the server process exits first
/// or `limit` passes.
pub(super) fn wait_until_started(
    server: &Mutex<Option<Child>>,
    limit: Duration,
    poll: Duration,
    name: &str,
    what: &str,
    ready: impl Fn() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        if ready() {
            return Ok(());
        }
        let exited = server
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten());
        if let Some(status) = exited {
            return Err(format!("{name} exited with {status}"));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{name} did not {what} within {} s",
                limit.as_secs()
            ));
        }
        std::thread::sleep(poll);
    }
}

fn has_server(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("postgres").is_file()
}

fn checked_bindir(dir: PathBuf) -> Result<PathBuf, TestbedError> {
    if has_server(&dir) {
        Ok(dir)
    } else {
        Err(TestbedError::NoServer {
            why: format!("{} has no initdb and postgres", dir.display()),
            hint: INSTALL_HINT,
        })
    }
}

fn find_bindir() -> Result<PathBuf, TestbedError> {
    if let Some(dir) = std::env::var_os(BINDIR_ENV) {
        return checked_bindir(PathBuf::from(dir));
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_server(&dir) {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_server(dir))
        .collect();
    candidates.sort();
    candidates
        .pop()
        .map(|(_, dir)| dir)
        .ok_or(TestbedError::NoServer {
            why: "no PostgreSQL server binaries found (looked at pg_config --bindir and /usr/lib/postgresql/*/bin)".into(),
            hint: INSTALL_HINT,
        })
}

/// PostgreSQL refuses to run as root: then the server runs as `nobody`.
fn unprivileged_user() -> Result<Option<(u32, u32)>, TestbedError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").map_err(|source| TestbedError::Io {
        what: "read /etc/passwd to find the user nobody".into(),
        source,
    })?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                ["nobody", _, uid, gid, ..] => Some((uid.parse().ok()?, gid.parse().ok()?)),
                _ => None,
            }
        })
        .map(Some)
        .ok_or(TestbedError::NoServer {
            why: "running as root and there is no user nobody to run PostgreSQL as".into(),
            hint: "run the tests as a non-root user",
        })
}

fn run_quietly(
    command: &mut Command,
    run_as: Option<(u32, u32)>,
    what: &str,
) -> Result<(), TestbedError> {
    if let Some((uid, gid)) = run_as {
        command.uid(uid).gid(gid);
    }
    let output = command.output().map_err(|source| TestbedError::Io {
        what: format!("run {what}"),
        source,
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(TestbedError::ServerFailed {
            why: format!("{what} exited with {}", output.status),
            log: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// A certificate authority of the test run (`root.crt`, `root.key`) and a server certificate it
/// signs for `localhost` and 127.0.0.1 (`server.crt`, `server.key`), written into `top`.
pub(crate) fn make_test_certificates(top: &Path) -> Result<(), TestbedError> {
    let openssl = |args: &[&str], what: &str| {
        let mut command = Command::new("openssl");
        command.args(args).current_dir(top);
        run_quietly(&mut command, None, what)
    };
    openssl(
        &[
            "req",
            "-new",
            "-x509",
            "-days",
            "2",
            "-nodes",
            "-subj",
            "/CN=redash-upgrade test CA",
            "-keyout",
            "root.key",
            "-out",
            "root.crt",
        ],
        "openssl (to make the test certificate authority)",
    )?;
    openssl(
        &[
            "req",
            "-new",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
        "openssl (to make the test server's key)",
    )?;
    write_file(
        &top.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )?;
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "root.crt",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
        "openssl (to sign the test server's certificate)",
    )?;
    Ok(())
}

/// A certificate authority of the test run and a server certificate it signs for `localhost`
/// and 127.0.0.1, where PostgreSQL looks for them (`server.crt`, `server.key` in the data
/// directory, the key readable by the server's user only). The authority's certificate is left
/// in `root.crt` beside the data directory, for clients that verify (`sslrootcert`).
fn make_certificate(data: &Path, run_as: Option<(u32, u32)>) -> Result<(), TestbedError> {
    let top = data.parent().unwrap_or(data);
    make_test_certificates(top)?;
    for name in ["server.crt", "server.key"] {
        fs::rename(top.join(name), data.join(name)).map_err(|source| TestbedError::Io {
            what: format!("move {name} into the data directory"),
            source,
        })?;
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(data.join(name), Some(uid), Some(gid)).map_err(|source| {
                TestbedError::Io {
                    what: format!("hand {name} to the server user"),
                    source,
                }
            })?;
        }
    }
    std::fs::set_permissions(
        data.join("server.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .map_err(|source| TestbedError::Io {
        what: "restrict the test server's key".into(),
        source,
    })
}

pub(super) fn free_port() -> Result<u16, TestbedError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| TestbedError::Io {
        what: "find a free loopback port".into(),
        source,
    })?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|source| TestbedError::Io {
            what: "find a free loopback port".into(),
            source,
        })
}

fn random_password() -> String {
    let mut bytes = [0u8; 12];
    if let Ok(mut urandom) = fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut urandom, &mut bytes);
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let mut text: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    text.push_str(&format!("{:x}", seed & 0xffff));
    format!("pw-{text}")
}

fn write_file(path: &Path, text: &str) -> Result<(), TestbedError> {
    let mut file = fs::File::create(path).map_err(|source| TestbedError::Io {
        what: format!("write {}", path.display()),
        source,
    })?;
    file.write_all(text.as_bytes())
        .map_err(|source| TestbedError::Io {
            what: format!("write {}", path.display()),
            source,
        })
}
