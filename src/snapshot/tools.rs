//! PostgreSQL's own client programs, `pg_dump` and `pg_restore`: found, checked against the
//! server's version, and started with the connection in their environment and the password in
//! a temporary password file, so that neither appears on a command line `ps` shows.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::SnapshotError;
use crate::db::DatabaseUrl;

/// A client program and its version.
#[derive(Debug, Clone)]
pub struct Tool {
    pub path: PathBuf,
    /// `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`.
    pub version_text: String,
    /// The major version as an ordered number: 1500 for 15.18, 906 for 9.6.24.
    pub major: u32,
}

impl Tool {
    /// The major version as people write it: `15`, `9.6`.
    pub fn major_text(&self) -> String {
        major_text(self.major)
    }
}

fn major_text(major: u32) -> String {
    if major >= 1000 {
        (major / 100).to_string()
    } else {
        format!("{}.{}", major / 100, major % 100)
    }
}

/// The major version of a server from `server_version_num`, ordered as [`Tool::major`]:
/// 150018 is 15 (1500), 90624 is 9.6 (906).
pub fn server_major(server_version_num: i32) -> u32 {
    let number = server_version_num.max(0) as u32;
    if number >= 100_000 {
        number / 10_000 * 100
    } else {
        (number / 10_000) * 100 + (number / 100) % 100
    }
}

/// The ordered major version in a version text: `pg_dump (PostgreSQL) 15.18 (Debian ...)` is
/// 1500, `9.6.24` is 906.
pub fn major_in(text: &str) -> Option<u32> {
    let number = text
        .split_whitespace()
        .find(|word| word.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let mut parts = number.split(|c: char| !c.is_ascii_digit());
    let first: u32 = parts.next()?.parse().ok()?;
    Some(if first >= 10 {
        first * 100
    } else {
        first * 100 + parts.next().and_then(|part| part.parse().ok()).unwrap_or(0)
    })
}

/// Finds the newest `name` (`pg_dump`, `pg_restore`): in `bindir` when given, else on `PATH`
/// and in the usual install directories of the PostgreSQL packages.
pub fn find(name: &str, bindir: Option<&Path>) -> Result<Tool, SnapshotError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    match bindir {
        Some(dir) => candidates.push(dir.join(name)),
        None => {
            if let Some(path) = std::env::var_os("PATH") {
                candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(name)));
            }
            for pattern_root in ["/usr/lib/postgresql", "/usr/local/opt", "/opt/homebrew/opt"] {
                if let Ok(entries) = std::fs::read_dir(pattern_root) {
                    for entry in entries.flatten() {
                        candidates.push(entry.path().join("bin").join(name));
                    }
                }
            }
            if let Ok(entries) = std::fs::read_dir("/usr") {
                for entry in entries.flatten() {
                    if entry.file_name().to_string_lossy().starts_with("pgsql-") {
                        candidates.push(entry.path().join("bin").join(name));
                    }
                }
            }
        }
    }
    let mut found: Vec<Tool> = candidates
        .into_iter()
        .filter(|path| path.is_file())
        .filter_map(|path| {
            version_of(&path).map(|(version_text, major)| Tool {
                path,
                version_text,
                major,
            })
        })
        .collect();
    found.sort_by_key(|tool| tool.major);
    found.pop().ok_or_else(|| SnapshotError::ToolMissing {
        tool: name.to_owned(),
        hint: match bindir {
            Some(dir) => format!("{} has no working {name}", dir.display()),
            None => "install the PostgreSQL client (Debian/Ubuntu: apt-get install postgresql-client; RHEL: dnf install postgresql; macOS: brew install libpq), or give --pg-bindir".to_owned(),
        },
    })
}

fn version_of(path: &Path) -> Option<(String, u32)> {
    let output = Command::new(path).arg("--version").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let major = major_in(&text)?;
    Some((text, major))
}

/// Refuses a `tool` older than the server: it cannot read (or write) what the server has.
pub fn require_at_least_server(tool: &Tool, server_version_num: i32) -> Result<(), SnapshotError> {
    let server = server_major(server_version_num);
    if tool.major >= server {
        return Ok(());
    }
    let wanted = major_text(server);
    Err(SnapshotError::ToolTooOld {
        tool: tool.path.display().to_string(),
        version: tool.major_text(),
        needed: format!("the server (PostgreSQL {wanted})"),
        hint: format!(
            "install the client of PostgreSQL {wanted} or newer (Debian/Ubuntu: apt-get install postgresql-client-{wanted} from apt.postgresql.org; RHEL: dnf install postgresql{}; macOS: brew install postgresql@{wanted}) and give --pg-bindir if it is not on PATH",
            wanted.replace('.', "")
        ),
    })
}

/// The password file handed to one child process, in libpq's format. On Linux it exists only in
/// memory (a memfd the child inherits, read through `/proc/self/fd/N`), so nothing is left on
/// disk even when the run is killed; elsewhere it is a file of mode 0600 in a private directory,
/// removed when dropped.
pub struct PasswordFile {
    path: PathBuf,
    #[cfg(target_os = "linux")]
    _memory: Option<std::os::fd::OwnedFd>,
    on_disk: Option<PathBuf>,
}

impl PasswordFile {
    pub fn new(password: &str) -> Result<PasswordFile, SnapshotError> {
        let escaped = password.replace('\\', "\\\\").replace(':', "\\:");
        let content = format!("*:*:*:*:{escaped}\n");
        #[cfg(target_os = "linux")]
        if let Some(file) = PasswordFile::in_memory(&content) {
            return Ok(file);
        }
        PasswordFile::on_disk(&content)
    }

    #[cfg(target_os = "linux")]
    fn in_memory(content: &str) -> Option<PasswordFile> {
        use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
        // Not close-on-exec: the child inherits it.
        // SAFETY: a NUL-terminated name and no flags; the fd returned is owned here.
        let raw = unsafe { libc::memfd_create(c"redash-upgrade-pgpass".as_ptr(), 0) };
        if raw < 0 {
            return None;
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut file = std::fs::File::from(fd.try_clone().ok()?);
        // libpq ignores a password file that group or others may read.
        // SAFETY: a valid descriptor and a mode.
        if unsafe { libc::fchmod(fd.as_raw_fd(), 0o600) } != 0 {
            return None;
        }
        file.write_all(content.as_bytes()).ok()?;
        Some(PasswordFile {
            path: PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
            _memory: Some(fd),
            on_disk: None,
        })
    }

    fn on_disk(content: &str) -> Result<PasswordFile, SnapshotError> {
        let base = std::env::temp_dir();
        let mut attempt = 0u32;
        let directory = loop {
            let candidate = base.join(format!(
                "redash-upgrade-{}-{}-{attempt}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|elapsed| elapsed.subsec_nanos())
                    .unwrap_or(0)
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&candidate) {
                Ok(()) => break candidate,
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && attempt < 20 => {
                    attempt += 1;
                }
                Err(source) => {
                    return Err(SnapshotError::Io {
                        path: candidate,
                        source,
                    })
                }
            }
        };
        let path = directory.join("pgpass");
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut file| file.write_all(content.as_bytes()));
        let file = PasswordFile {
            path: path.clone(),
            #[cfg(target_os = "linux")]
            _memory: None,
            on_disk: Some(directory),
        };
        written.map_err(|source| SnapshotError::Io { path, source })?;
        Ok(file)
    }

    /// What `PGPASSFILE` is set to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file is on disk (not Linux, or no memfd).
    pub fn is_on_disk(&self) -> bool {
        self.on_disk.is_some()
    }
}

impl Drop for PasswordFile {
    fn drop(&mut self) {
        if let Some(directory) = &self.on_disk {
            let _ = std::fs::remove_file(&self.path);
            let _ = std::fs::remove_dir(directory);
        }
    }
}

/// A command for `tool` that connects to `url` through its environment only. The returned
/// password file must live until the process ends.
pub fn command(
    tool: &Tool,
    url: &DatabaseUrl,
) -> Result<(Command, Option<PasswordFile>), SnapshotError> {
    let mut command = Command::new(&tool.path);
    for (name, value) in url.libpq_environment() {
        command.env(name, value);
    }
    // Nothing of the caller's own connection settings may point the tool elsewhere, and the
    // tool needs no URL of ours (it may hold the password).
    for name in [
        "PGSERVICE",
        "PGOPTIONS",
        "PGTARGETSESSIONATTRS",
        "REDASH_DATABASE_URL",
    ] {
        command.env_remove(name);
    }
    let password = match url.password() {
        Some(password) => {
            let file = PasswordFile::new(&password)?;
            command.env("PGPASSFILE", file.path());
            command.env_remove("PGPASSWORD");
            Some(file)
        }
        None => None,
    };
    command.arg("--no-password");
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt as _;
        // SAFETY: prctl is async-signal-safe. A tool outlives a killed run otherwise: a
        // pg_restore left behind would go on loading a copy that a resumed run is restoring
        // again, a pg_dump on writing a directory nobody will rename.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    Ok((command, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_majors_as_people_write_them() {
        assert_eq!(server_major(150_018), 1500);
        assert_eq!(server_major(90_624), 906);
        assert!(server_major(90_624) < server_major(100_001));
        assert_eq!(major_text(906), "9.6");
        assert_eq!(major_text(1600), "16");
        assert_eq!(
            major_in("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
            Some(1500)
        );
        assert_eq!(major_in("pg_restore (PostgreSQL) 9.6.24"), Some(906));
    }

    #[test]
    fn an_old_client_is_refused_with_the_package_to_install() {
        let tool = Tool {
            path: PathBuf::from("/usr/lib/postgresql/13/bin/pg_dump"),
            version_text: "pg_dump (PostgreSQL) 13.4".into(),
            major: 1300,
        };
        let error = require_at_least_server(&tool, 160_002)
            .unwrap_err()
            .to_string();
        assert!(error.contains("postgresql-client-16"), "{error}");
        assert!(require_at_least_server(&tool, 90_624).is_ok());
    }

    #[test]
    fn the_password_file_is_private_and_leaves_nothing_behind() {
        use std::os::unix::fs::PermissionsExt as _;
        let file = PasswordFile::new("p:a\\ss").unwrap();
        let path = file.path().to_owned();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "*:*:*:*:p\\:a\\\\ss\n"
        );
        if cfg!(target_os = "linux") {
            assert!(!file.is_on_disk(), "{}", path.display());
            assert!(path.starts_with("/proc/self/fd"));
        }
        drop(file);

        let on_disk = PasswordFile::on_disk("*:*:*:*:x\n").unwrap();
        let disk_path = on_disk.path().to_owned();
        let mode = std::fs::metadata(&disk_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(on_disk);
        assert!(!disk_path.exists());
        assert!(!disk_path.parent().unwrap().exists());
    }
}
