//! `memory-insufficient`: a role's memory limit, or the host, is below what the target release
//! needs at idle with the processes the role runs.
//!
//! The need of one container follows the release's measured containers
//! ([`RoleMemory::model`]): with two measurements that grow with the process count, a base plus
//! an increment per process (8.0.0's Celery workers: 190 MiB at concurrency 1, 292 at 2); with
//! one, or two that do not grow, one figure per container (10.x's RQ worker containers: 590 MiB
//! at WORKERS_COUNT 1, 589 at 2). A count outside the measured ones is said: extrapolated for the
//! first model, unknown for the second.

use super::super::{CannotRun, CheckMeta, ConfigCheck, HopContext, Report, Severity, Trigger};
use crate::inputs::{Role, RoleKind};
use crate::knowledge::model::{
    MeasuredRange, MemoryFigures, MemoryModel, ProcessCount, RoleMemory,
};

pub struct MemoryInsufficient;

static META: CheckMeta = CheckMeta {
    code: "memory-insufficient",
    severity: Severity::Error,
    trigger: Trigger::EveryHop,
    effect: None,
    summary: "memory below what the target release needs",
    what: "Models each role's idle memory on the target release from the knowledge base's \
           measured containers and the processes the role runs (REDASH_WEB_WORKERS gunicorn \
           workers for the server; WORKERS_COUNT RQ worker processes, or Celery concurrency, for \
           workers and the Celery scheduler; the entrypoint's default when unset): a base plus a \
           per-process increment where two measurements at different counts give one, one \
           figure per container where they do not. It compares that with the role's limit \
           (compose memory limits, ECS container or task memory); without per-role limits it \
           sums every role (times its replicas) against --host-memory and the release's \
           recommended host minimum. A process count outside the measured ones is said: \
           extrapolated, or, for a figure per container, unknown (a warning under a limit). \
           Where the knowledge base has no figures for the target (9.0.0-beta) or only a host \
           minimum (25.8.0, 26.3.0), it says so.",
    why: "10.0.0 moved workers to RQ: an idle worker container takes about 590 MiB where 8.0.0's \
          Celery workers took 190-292 MiB, and a 2 GB host that ran 8.0.0 starts swapping or \
          gets containers OOM-killed mid-migration; upstream raised its recommendation to 4 GB. \
          The figures come from one field report of idle containers: they are a floor, and \
          large query results take more.",
    fix: "Raise the limit or the host to at least the idle need before the hop, or run fewer \
          processes per container where each one adds memory. The idle need is a floor: leave \
          room for your largest query results, which no measurement sizes, and watch \
          `docker stats` after the hop; for a host, upstream's recommended minimum is that room.",
    references: &["https://discuss.redash.io/t/ec2-deployment-instance-size-issue/9271"],
};

/// Why the idle need is not enough, said in every fix that gives a size.
const FLOOR: &str = "Idle figures are a floor: large query results take more, by an amount no \
                     measurement gives, so leave room for your largest and watch `docker stats` \
                     after the hop.";

/// How many processes a role runs, as its environment or the entrypoint's default says.
struct Processes<'a> {
    spec: &'a ProcessCount,
    count: u32,
    /// Why the default stands in for a value the files do not give as a number.
    assumed: Option<String>,
    /// Whether the role sets the variable itself.
    set: bool,
}

impl Processes<'_> {
    /// `4 RQ worker processes (WORKERS_COUNT=4)`.
    fn text(&self) -> String {
        format!("{} ({})", self.spec.of(self.count), self.how())
    }

    /// `WORKERS_COUNT=4`, `WORKERS_COUNT unset: the default`.
    fn how(&self) -> String {
        match (&self.assumed, self.set) {
            (Some(why), _) => format!("{why}: the default {} assumed", self.count),
            (None, true) => format!("{}={}", self.spec.variable, self.count),
            (None, false) => format!("{} unset: the default", self.spec.variable),
        }
    }
}

/// One role's idle need on the target release.
struct Estimate<'a> {
    role: &'a Role,
    memory: &'a RoleMemory,
    /// `None` when the role runs a fixed set of processes.
    processes: Option<Processes<'a>>,
    need: u64,
    range: MeasuredRange,
}

impl<'a> Estimate<'a> {
    fn of(role: &'a Role, figures: &'a MemoryFigures) -> Option<Estimate<'a>> {
        let memory = match role.kind {
            RoleKind::Server => figures.server.as_ref(),
            RoleKind::Worker => figures.worker.as_ref(),
            RoleKind::Scheduler => figures.scheduler.as_ref(),
            RoleKind::Other => None,
        }?;
        let processes = memory.processes.as_ref().map(|spec| read_count(role, spec));
        let count = processes.as_ref().map_or(1, |processes| processes.count);
        Some(Estimate {
            role,
            memory,
            need: memory.need(count),
            range: match processes {
                Some(_) => memory.range(count),
                None => MeasuredRange::Within,
            },
            processes,
        })
    }

    fn flat(&self) -> bool {
        matches!(self.memory.model(), MemoryModel::Flat { .. })
    }

    /// Whether the need is a figure per container measured at counts the role does not run.
    fn unmeasured(&self) -> bool {
        self.flat() && self.range != MeasuredRange::Within
    }

    /// ` with 4 RQ worker processes (WORKERS_COUNT=4), more than were measured`; empty for a
    /// fixed set of processes.
    fn with_processes(&self) -> String {
        let Some(processes) = &self.processes else {
            return String::new();
        };
        let range = match (self.range, self.flat()) {
            (MeasuredRange::Within, _) => "",
            (MeasuredRange::Above, true) => ", more than were measured",
            (MeasuredRange::Below, true) => ", fewer than were measured",
            (_, false) => ", extrapolated",
        };
        format!(" with {}{range}", processes.text())
    }

    /// `; model: about 88 MiB plus 102 MiB per Celery worker process, ...`.
    fn model(&self) -> String {
        match &self.processes {
            None => ", as measured".to_owned(),
            Some(_) => format!("; model: {}", self.memory.describe()),
        }
    }

    /// The measured counts: `1 and 2`, `4`.
    fn measured_counts(&self) -> String {
        let counts = self.memory.measured_counts();
        match (counts.first(), counts.last()) {
            (Some(low), Some(high)) if low != high => format!("{low} and {high}"),
            (Some(low), _) => low.to_string(),
            _ => String::new(),
        }
    }

    /// For the host's sum: `adhoc_worker 292 MiB (2 Celery worker processes, WORKERS_COUNT=2;
    /// 88 + 2 x 102 MiB)`.
    fn summand(&self) -> String {
        let copies = self.role.copies();
        let mut text = if copies == 1 {
            format!("{} {} MiB", self.role.name, self.need)
        } else {
            format!("{} {copies} x {} MiB", self.role.name, self.need)
        };
        if let Some(processes) = &self.processes {
            let measured = self.measured_counts();
            let model = match (self.memory.model(), self.range) {
                (
                    MemoryModel::PerProcess {
                        base_mib,
                        per_process_mib,
                    },
                    range,
                ) => format!(
                    "{base_mib} + {} x {per_process_mib} MiB{}",
                    processes.count,
                    if range == MeasuredRange::Within {
                        ""
                    } else {
                        ", extrapolated"
                    }
                ),
                (MemoryModel::Flat { .. }, MeasuredRange::Within) => {
                    if self.memory.measured_counts().len() > 1 {
                        format!("one figure per container at {measured}")
                    } else {
                        format!("measured at {measured}")
                    }
                }
                (MemoryModel::Flat { .. }, MeasuredRange::Above) => {
                    format!("the figure at {measured}, more not measured")
                }
                (MemoryModel::Flat { .. }, MeasuredRange::Below) => {
                    format!("the figure at {measured}, fewer not measured")
                }
            };
            text.push_str(&format!(
                " ({}, {}; {model})",
                processes.spec.of(processes.count),
                processes.how()
            ));
        }
        text
    }

    /// What to do instead of running more processes than were measured.
    fn fewer_processes(&self, processes: &Processes<'_>) -> String {
        let high = self.memory.measured_counts().last().copied().unwrap_or(1);
        let keep = if high == 1 {
            format!("keep {} at 1", processes.spec.variable)
        } else {
            format!("keep {} at {high} or less", processes.spec.variable)
        };
        match self.role.kind {
            // More schedulers are no answer: one runs.
            RoleKind::Scheduler => keep,
            _ => format!("{keep} and run more containers"),
        }
    }
}

/// The role's process count: its own value, else the entrypoint's default (also when the value
/// is empty, as `${VAR:-default}` reads it, or not a count).
fn read_count<'a>(role: &Role, spec: &'a ProcessCount) -> Processes<'a> {
    let default = |assumed: Option<String>, set: bool| Processes {
        spec,
        count: spec.default,
        assumed,
        set,
    };
    let Some(value) = role.var(&spec.variable) else {
        return default(None, false);
    };
    let Some(text) = value.value.as_deref() else {
        return default(
            Some(format!(
                "{} comes from a secret or the shell",
                spec.variable
            )),
            true,
        );
    };
    let text = text.trim();
    if text.is_empty() {
        return default(None, false);
    }
    match text.parse::<u32>() {
        Ok(count) if count > 0 => Processes {
            spec,
            count,
            assumed: None,
            set: true,
        },
        _ => default(
            Some(format!("{}={text} is not a process count", spec.variable)),
            true,
        ),
    }
}

/// A limit below the need, or a process count the figures cannot speak for.
fn limit_report(estimate: &Estimate<'_>, limit: u64, version: &str) -> Option<Report> {
    let role = &estimate.role.name;
    let need = estimate.need;
    let location = estimate.role.memory_limit_mib.as_ref()?.location.clone();
    if !estimate.unmeasured() {
        if limit >= need {
            return None;
        }
        let fewer = match (&estimate.processes, estimate.memory.model()) {
            (
                Some(processes),
                MemoryModel::PerProcess {
                    per_process_mib, ..
                },
            ) if processes.count > 1 => {
                format!(
                    ", or lower {} (each {} adds about {per_process_mib} MiB)",
                    processes.spec.variable, processes.spec.unit
                )
            }
            _ => String::new(),
        };
        return Some(Report {
            severity: None,
            effect: None,
            message: format!(
                "{role} is limited to {limit} MiB; on {version} it needs about {need} MiB at idle{}{}",
                estimate.with_processes(),
                estimate.model()
            ),
            location: Some(location),
            help: format!("Raise the limit to at least {need} MiB, the idle need{fewer}. {FLOOR}"),
        });
    }
    // A figure per container, at a count the role does not run: below the figure with more
    // processes than measured, the limit is short; otherwise whether it holds is unknown (with
    // fewer processes than measured, only when it is below the figure).
    let processes = estimate.processes.as_ref()?;
    if estimate.range == MeasuredRange::Below && limit >= need {
        // Fewer processes than measured, under a limit that holds the measured container.
        return None;
    }
    let measured = estimate.measured_counts();
    let measure = format!(
        "measure one container at idle with {} (`docker stats`)",
        processes.spec.of(processes.count)
    );
    let within = estimate.fewer_processes(processes);
    let report = if limit < need && estimate.range == MeasuredRange::Above {
        Report {
            severity: None,
            effect: None,
            message: format!(
                "{role} is limited to {limit} MiB; on {version} it needs at least {need} MiB at idle{}{}",
                estimate.with_processes(),
                estimate.model()
            ),
            location: Some(location),
            help: format!(
                "Raise the limit above {need} MiB and {measure}, or {within}. {FLOOR}"
            ),
        }
    } else {
        Report {
            severity: Some(Severity::Warning),
            effect: None,
            message: format!(
                "{role} is limited to {limit} MiB; on {version} the figures cannot tell whether that is enough{}{}",
                estimate.with_processes(),
                estimate.model()
            ),
            location: Some(location),
            help: if limit < need {
                format!(
                    "Raise the limit to {need} MiB, the figure at {measured}, or {measure}. {FLOOR}"
                )
            } else {
                format!("{}, or {within}. {FLOOR}", capitalised(&measure))
            },
        }
    };
    Some(report)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

impl ConfigCheck for MemoryInsufficient {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }
    /// Every app on the host counts against --host-memory.
    fn host_wide(&self) -> bool {
        true
    }
    fn run(&self, hop: &HopContext<'_>) -> Result<Vec<Report>, CannotRun> {
        let Some(figures) = &hop.plan.to.memory else {
            return Err(CannotRun(format!(
                "the knowledge base has no memory figures for {}",
                hop.plan.to.version
            )));
        };
        let version = hop.plan.to.version.to_string();
        let per_role_figures = figures.has_role_figures();
        let host_minimum = figures.host_minimum_mib.map(u64::from);
        let deployment = hop.deployment;
        let estimates: Vec<Estimate<'_>> = deployment
            .running_roles()
            .filter_map(|role| Estimate::of(role, figures))
            .collect();
        let mut reports = Vec::new();
        let mut any_limit = false;
        for estimate in &estimates {
            let Some(limit) = &estimate.role.memory_limit_mib else {
                continue;
            };
            any_limit = true;
            reports.extend(limit_report(estimate, limit.value, &version));
        }
        if let Some(host) = deployment.host_memory_mib {
            let total: u64 = estimates
                .iter()
                .map(|estimate| estimate.need * u64::from(estimate.role.copies()))
                .sum();
            let minimum = host_minimum.unwrap_or(0).max(total);
            if host < minimum {
                let apps = deployment.apps();
                let (need, help) = if per_role_figures && !apps.is_empty() {
                    // Several apps share the host: one sum, broken down by app.
                    let breakdown: Vec<String> = apps
                        .iter()
                        .map(|app| {
                            let own: Vec<&Estimate<'_>> = estimates
                                .iter()
                                .filter(|estimate| estimate.role.app.as_deref() == Some(*app))
                                .collect();
                            let subtotal: u64 = own
                                .iter()
                                .map(|estimate| estimate.need * u64::from(estimate.role.copies()))
                                .sum();
                            let summands: Vec<String> =
                                own.iter().map(|estimate| estimate.summand()).collect();
                            format!("{app} {subtotal} MiB ({})", summands.join("; "))
                        })
                        .collect();
                    let need = format!(
                        "{version} needs about {total} MiB at idle for the roles of the {} apps on it, and upstream recommends at least {} MiB for a host of one Redash; idle need by app: {}",
                        apps.len(),
                        host_minimum.unwrap_or(total),
                        breakdown.join("; ")
                    );
                    let help = format!(
                        "Move to a host with at least {minimum} MiB before the hop, or move an app \
                         to a host of its own: every app's roles share this one. {FLOOR} Count \
                         PostgreSQL and Redis too where they share the host."
                    );
                    (need, help)
                } else if per_role_figures {
                    let summands: Vec<String> = estimates.iter().map(Estimate::summand).collect();
                    let need = format!(
                        "{version} needs about {total} MiB for these roles at idle and upstream recommends at least {} MiB; idle need: {}",
                        host_minimum.unwrap_or(total),
                        summands.join("; ")
                    );
                    let help = if host_minimum.is_some_and(|recommended| recommended >= total) {
                        format!(
                            "Move to a host with at least {minimum} MiB before the hop: upstream's \
                             recommendation for {version}. The roles' {total} MiB is their idle \
                             need, a floor: large query results, and PostgreSQL and Redis where \
                             they share the host, take the rest."
                        )
                    } else {
                        format!(
                            "Move to a host with at least {minimum} MiB, the roles' idle need, \
                             before the hop. {FLOOR} Count PostgreSQL and Redis too where they \
                             share the host."
                        )
                    };
                    (need, help)
                } else if !apps.is_empty() {
                    (
                        format!(
                            "upstream recommends at least {minimum} MiB for a host of one Redash on {version}, and this one runs {} apps ({}; the knowledge base has no per-role figures to sum)",
                            apps.len(),
                            apps.join(", ")
                        ),
                        format!(
                            "Move to a host with well over {minimum} MiB before the hop, or move \
                             apps to hosts of their own: upstream's figure is for one app."
                        ),
                    )
                } else {
                    (
                        format!("upstream recommends at least {minimum} MiB for {version} (the knowledge base has no per-role figures for it)"),
                        format!("Move to a host with at least {minimum} MiB before the hop."),
                    )
                };
                reports.push(Report {
                    severity: None,
                    effect: None,
                    message: format!("the host has {host} MiB; {need}"),
                    location: None,
                    help,
                });
            } else {
                // The host holds the modelled sum; say where a role's share is a figure at
                // fewer processes than it runs.
                for estimate in estimates.iter().filter(|estimate| {
                    estimate.role.memory_limit_mib.is_none()
                        && estimate.flat()
                        && estimate.range == MeasuredRange::Above
                }) {
                    let Some(processes) = &estimate.processes else {
                        continue;
                    };
                    reports.push(Report {
                        severity: Some(Severity::Info),
                        effect: None,
                        message: format!(
                            "{} on {version} is counted at {} MiB{}, so the host's sum may be low{}",
                            estimate.role.name,
                            estimate.need,
                            estimate.with_processes(),
                            estimate.model()
                        ),
                        location: estimate
                            .role
                            .var(&processes.spec.variable)
                            .map(|value| value.location.clone()),
                        help: format!(
                            "Measure one container at idle with {} (`docker stats`), or {}.",
                            processes.spec.of(processes.count),
                            estimate.fewer_processes(processes)
                        ),
                    });
                }
            }
        } else if !per_role_figures {
            return Err(CannotRun(format!(
                "the knowledge base has no per-role memory figures for {}, only a recommended host of at least {} MiB: give --host-memory to compare",
                hop.plan.to.version,
                host_minimum.map_or_else(|| "?".to_owned(), |mib| mib.to_string())
            )));
        } else if !any_limit {
            return Err(CannotRun(
                "no memory limits in the files and no --host-memory".into(),
            ));
        }
        Ok(reports)
    }
}
