//! The one table of exit codes. Scripts branch on these; a number never has two meanings.
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | success: the command did what was asked and found nothing blocking |
//! | 1    | blocking findings: for `detect`, schema drift or a stamp that is missing, empty, doubled, unknown or contradicted by the schema; for `snapshot verify`, a file that does not match the manifest; for `verify`, a difference beyond what the migrations in between declare; for `restore`, a restored copy that does not match the manifest |
//! |      | for `status`, an error finding (a backlog the next hop loses, sessions left before a migration, a Redis too old), or `--wait-drained` timing out |
//! |      | for `archive`, rows refused (edited since the inventory or the archive, on dashboards, not found) while the others were changed |
//! | 2    | the tool failed: bad input (an unknown version, a malformed file), or a file or database it could not read (or one that is not a Redash metadata database) |

/// Success, nothing blocking.
pub const SUCCESS: i32 = 0;
/// The command ran and found something that blocks the upgrade.
pub const BLOCKING_FINDINGS: i32 = 1;
/// The command could not do its job: bad input or an unreadable file.
pub const TOOL_FAILED: i32 = 2;

/// The table as `--help` shows it.
pub const TABLE: &str = "Exit codes:\n  0  success, nothing blocking\n  1  blocking findings\n  2  the tool failed: bad input, or a file it could not read";

/// The table as `detect --help` shows it.
pub const DETECT_TABLE: &str = "Exit codes:\n  0  detected, no drift\n  1  schema drift, or a stamp that is missing, empty, doubled, unknown or\n     contradicted by the schema\n  2  the tool failed: could not connect or read, or not a Redash metadata\n     database";

/// The table as `check --help` shows it.
pub const CHECK_TABLE: &str = "Exit codes:\n  0  nothing at error severity\n  1  errors found\n  2  the tool failed: bad input, an unreadable or malformed file";

/// The table as `snapshot --help` shows it.
pub const SNAPSHOT_TABLE: &str = "Exit codes:\n  0  snapshot written (snapshot verify: every file matches the manifest)\n  1  snapshot verify: a file is missing or differs from the manifest\n  2  the tool failed: could not connect, pg_dump failed or is too old, --out\n     exists, or the directory is not a (finished) snapshot";

/// The table as `restore --help` shows it.
pub const RESTORE_TABLE: &str = "Exit codes:\n  0  restored, and the copy matches the snapshot's manifest (or --dry-run)\n  1  restored, but the copy differs from the manifest\n  2  the tool failed or refused: a damaged snapshot, a target that is not\n     empty or is the source, no confirmation, pg_restore failed";

/// The table as `verify --help` shows it.
pub const VERIFY_TABLE: &str = "Exit codes:\n  0  verified: nothing lost or changed beyond the declared effects\n  1  differences: rows missing, added or changed, schema or alembic not as\n     expected, broken references\n  2  the tool failed: could not connect or read, a damaged snapshot";

/// `rehearse`.
pub const REHEARSE_TABLE: &str = "Exit codes:\n  0  every hop migrated and verified (or --dry-run; --restore-neutralized:\n     everything put back)\n  1  a hop failed (checks, migration, alembic or verify), the restore differs,\n     or --restore-neutralized refused originals it cannot put back\n  2  the tool failed or refused: a damaged snapshot, a staging database that is\n     not empty or is the source, another rehearsal holds it, no confirmation";

/// `status`.
pub const STATUS_TABLE: &str = "Exit codes:\n  0  nothing at error severity (--wait-drained: and every queue drained)\n  1  errors found (a backlog the next hop would lose, sessions left before a\n     migration, a Redis too old), --wait-drained timed out, or\n     --require-all and a check could not run\n  2  the tool failed: a bad --redis-url, Redis or the database unreachable or\n     refusing the credentials, an unreadable --baseline";

/// `inventory`.
pub const INVENTORY_TABLE: &str = "Exit codes:\n  0  the inventory was written\n  2  the tool failed: no database, an unreadable database, a bad option, a file\n     it could not write";

/// `smoke`.
pub const SMOKE_TABLE: &str = "Exit codes:\n  0  every probe passed\n  1  a probe failed: unreachable, refused key, wrong version, status\n     unhealthy, a queue without workers, a query or dashboard that failed\n  2  the tool could not run: a bad --url, no --api-key-env variable";

/// `window`.
pub const WINDOW_TABLE: &str = "Exit codes:\n  0  windows ranked (whether the hop fits is in the report)\n  2  the tool could not run: an unknown --tz, a bad --as-of, no events in the\n     weeks before --as-of, the database unreachable, an unreadable --rehearsal";

/// `archive`.
pub const ARCHIVE_TABLE: &str = "Exit codes:\n  0  done: every row asked for was changed or already so (or a dry run)\n  1  some rows refused (edited since the inventory or the archive, on\n     dashboards, not found); the others were changed\n  2  the tool failed or refused: a bad CSV or journal, --journal exists, no\n     confirmation, the database unreachable";
