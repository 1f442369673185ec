//! `status`'s report: what Redis (and the database) hold now, then the findings, as `check`
//! prints them.

use std::fmt::Write as _;

use crate::checks::Severity;
use crate::report::describe::{app_tag, summary_line};
use crate::report::{wrap, Format, TEXT_WIDTH};
use crate::status::{Heartbeat, Liveness, Observation, StatusReport};

/// Renders the report whole, in text, Markdown or JSON (`"type": "status"`).
pub fn render(format: Format, report: &StatusReport) -> Vec<u8> {
    match format {
        Format::Json => {
            let mut value = super::json::check::findings_json(&report.report);
            if let Some(object) = value.as_object_mut() {
                object.insert("type".to_owned(), "status".into());
                object.insert("inputs".to_owned(), serde_json::json!(report.report.inputs));
                object.insert(
                    "observation".to_owned(),
                    serde_json::to_value(&report.observation).expect("serializes"),
                );
                object.insert(
                    "wait".to_owned(),
                    serde_json::to_value(&report.wait).expect("serializes"),
                );
                object.insert("blocks".to_owned(), report.blocks().into());
            }
            let mut bytes = serde_json::to_vec_pretty(&value).expect("serializes");
            bytes.push(b'\n');
            bytes
        }
        Format::Markdown => markdown(report).into_bytes(),
        _ => text(report).into_bytes(),
    }
}

fn liveness(state: Liveness) -> &'static str {
    match state {
        Liveness::Connected => "connected",
        Liveness::Stopped => "stopped",
        Liveness::Gone => "gone (no connection)",
        Liveness::Unknown => "registered (this rq cannot tell if it runs)",
    }
}

fn heartbeat(state: Heartbeat) -> &'static str {
    match state {
        Heartbeat::Fresh => "running",
        Heartbeat::Late => "stale (no heartbeat)",
        Heartbeat::Stopped => "stopped",
    }
}

fn persistence(observation: &Observation) -> String {
    let server = &observation.server;
    let save = match &server.save {
        Some(rules) if rules.trim().is_empty() => "no snapshots".to_owned(),
        Some(rules) => format!("snapshots \"{rules}\""),
        None => "snapshot rules unreadable (CONFIG refused)".to_owned(),
    };
    let aof = if server.aof_enabled { ", AOF on" } else { "" };
    format!("{save}{aof}")
}

fn server_line(observation: &Observation) -> String {
    let server = &observation.server;
    let limit = if server.maxmemory == 0 {
        "no memory limit".to_owned()
    } else {
        format!("maxmemory {} bytes", server.maxmemory)
    };
    format!(
        "Redis {}, {limit}, maxmemory-policy {}, {}; {} keys",
        server.version,
        server.maxmemory_policy,
        persistence(observation),
        observation.keys
    )
}

fn text(report: &StatusReport) -> String {
    let observation = &report.observation;
    let hop = report.report.hops.first();
    let mut out = String::new();
    let release = hop.map(|hop| hop.from.to_string()).unwrap_or_default();
    let _ = writeln!(
        out,
        "Status of {} for Redash {release} ({}: {})",
        observation.redis,
        observation.job_system.name(),
        observation.libraries
    );
    if let Some(hop) = hop.filter(|hop| hop.from != hop.to) {
        let _ = writeln!(out, "Next hop: {} -> {}", hop.from, hop.to);
    }
    let _ = writeln!(out, "{}", server_line(observation));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<22} {:>7} {:>8} {:>7} {:>9} {:>10}  workers",
        "Queue", "queued", "running", "failed", "deferred", "scheduled"
    );
    for queue in &observation.queues {
        let workers = match &observation.workers {
            None => "(Celery: not registered)".to_owned(),
            Some(_) if queue.workers.is_empty() => "none".to_owned(),
            Some(_) => queue.workers.join(", "),
        };
        let _ = writeln!(
            out,
            "  {:<20} {:>7} {:>8} {:>7} {:>9} {:>10}  {workers}",
            queue.name, queue.queued, queue.started, queue.failed, queue.deferred, queue.scheduled
        );
    }
    if let Some(workers) = &observation.workers {
        let _ = writeln!(out);
        let _ = writeln!(out, "Workers: {}", workers.len());
        for worker in workers {
            let job = worker
                .current_job
                .as_deref()
                .map(|job| format!(", job {job}"))
                .unwrap_or_default();
            let expiry = worker
                .expires_in
                .map(|seconds| format!(", expires in {seconds} s"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} [{}] {}, {}{job}{expiry}",
                worker.name,
                worker.queues.join(","),
                worker.state.as_deref().unwrap_or("?"),
                liveness(worker.liveness)
            );
        }
    }
    if let Some(scheduler) = &observation.scheduler {
        let _ = writeln!(out);
        let _ = writeln!(out, "Scheduler ({}):", scheduler.library);
        if scheduler.instances.is_empty() {
            let _ = writeln!(out, "  not registered");
        }
        for instance in &scheduler.instances {
            let since = instance
                .seconds_since_heartbeat
                .map(|seconds| format!(", last heartbeat {seconds} s ago"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} {}{since}, expires in {} s",
                instance.key,
                heartbeat(instance.heartbeat),
                instance.expires_in
            );
        }
        let _ = writeln!(
            out,
            "  lock rq:scheduler_lock: {}",
            scheduler
                .lock_expires_in
                .map(|seconds| format!("held, expires in {seconds} s"))
                .unwrap_or_else(|| "not held".to_owned())
        );
        let _ = writeln!(
            out,
            "  periodic jobs registered: {}",
            scheduler.periodic_jobs.len()
        );
        for job in &scheduler.periodic_jobs {
            let _ = writeln!(
                out,
                "    {} {}",
                job.id,
                job.description.as_deref().unwrap_or("")
            );
        }
    }
    let outlived = observation
        .job_locks
        .iter()
        .filter(|lock| lock.outlived_its_job())
        .count();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Query locks: {} ({outlived} outlived their job)",
        observation.job_locks.len()
    );
    if !observation.celery_keys.is_empty() {
        let _ = writeln!(out, "Celery keys:");
        for group in &observation.celery_keys {
            let messages = if group.messages > 0 {
                format!(", {} message(s)", group.messages)
            } else {
                String::new()
            };
            let _ = writeln!(out, "  {} x{}{messages}", group.pattern, group.count);
        }
    }
    if let Some(sessions) = &observation.sessions {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Other sessions on the metadata database: {}",
            sessions.len()
        );
        for session in sessions {
            let connected = session
                .connected_seconds
                .map(|seconds| format!(", connected {seconds} s"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  pid {} {}: {}{connected}",
                session.pid,
                session.label(),
                session.state.as_deref().unwrap_or("hidden from this role")
            );
        }
    }
    if let Some(wait) = &report.wait {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Waited {} s of {} s: {}",
            wait.waited_seconds,
            wait.timeout_seconds,
            if wait.drained {
                "every queue drained"
            } else {
                "NOT drained"
            }
        );
    }
    let findings = &report.report;
    let _ = writeln!(out);
    let _ = writeln!(out, "Findings:");
    let mut any = false;
    for finding in findings
        .findings
        .iter()
        .filter(|finding| finding.code != crate::checks::CANNOT_RUN)
    {
        any = true;
        let mut bytes = Vec::new();
        let _ = super::text::check::write_finding(&mut bytes, finding);
        out.push_str(&String::from_utf8_lossy(&bytes));
    }
    if !any {
        let _ = writeln!(out, "  nothing found");
    }
    if findings.not_run() > 0 {
        let _ = writeln!(out);
        let _ = writeln!(out, "Could not run:");
        for finding in findings.could_not_run() {
            for line in wrap(
                &format!("{}{}", app_tag(finding), finding.message),
                TEXT_WIDTH,
                "  ",
                "    ",
            ) {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Summary: {}", summary_line(findings));
    out
}

fn markdown(report: &StatusReport) -> String {
    let observation = &report.observation;
    let findings = &report.report;
    let mut out = String::new();
    let release = findings
        .hops
        .first()
        .map(|hop| hop.from.to_string())
        .unwrap_or_default();
    let _ = writeln!(out, "# Redash {release}: running system status");
    let _ = writeln!(out);
    let _ = writeln!(out, "- Read: {}", findings.inputs.join(", "));
    let _ = writeln!(
        out,
        "- Job system: {} ({})",
        observation.job_system.name(),
        observation.libraries
    );
    let _ = writeln!(out, "- {}", server_line(observation));
    if let Some(wait) = &report.wait {
        let _ = writeln!(
            out,
            "- Waited {} s of {} s: {}",
            wait.waited_seconds,
            wait.timeout_seconds,
            if wait.drained {
                "drained"
            } else {
                "not drained"
            }
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| Queue | Queued | Running | Failed | Deferred | Scheduled | Workers |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---|");
    for queue in &observation.queues {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            queue.name,
            queue.queued,
            queue.started,
            queue.failed,
            queue.deferred,
            queue.scheduled,
            if observation.workers.is_none() {
                "n/a (Celery)".to_owned()
            } else if queue.workers.is_empty() {
                "none".to_owned()
            } else {
                queue.workers.join(", ")
            }
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## Findings");
    let _ = writeln!(out);
    let mut any = false;
    for severity in [Severity::Error, Severity::Warning, Severity::Info] {
        for finding in findings.findings.iter().filter(|finding| {
            finding.severity == severity && finding.code != crate::checks::CANNOT_RUN
        }) {
            any = true;
            let _ = writeln!(
                out,
                "- [ ] **{}** `{}`: {}. Fix: {}",
                finding.severity, finding.code, finding.message, finding.help
            );
        }
    }
    if !any {
        let _ = writeln!(out, "Nothing found.");
    }
    for finding in findings.could_not_run() {
        let _ = writeln!(out, "- Could not run: {}", finding.message);
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Summary: {}", summary_line(findings));
    out
}
