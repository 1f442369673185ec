//! Invariants of the knowledge base. A violation makes the whole base unusable: the planner
//! would otherwise print a path built on a broken graph.

use std::collections::HashSet;
use std::fmt;

use semver::Version;

use super::model::{Note, Release, Source};
use super::KnowledgeBase;

/// One broken invariant, with the file it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub file: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.file, self.message)
    }
}

struct Collector {
    file: String,
    found: Vec<Violation>,
}

impl Collector {
    fn report(&mut self, message: impl Into<String>) {
        self.found.push(Violation {
            file: self.file.clone(),
            message: message.into(),
        });
    }

    fn source(&mut self, what: &str, source: &Source) {
        if !source.is_well_formed() {
            self.report(format!(
                "{what}: source {:?} is not TAG:path, setup@SHA:path or an https URL",
                source.0
            ));
        }
    }

    fn notes(&mut self, what: &str, notes: &[Note]) {
        for note in notes {
            if note.text.trim().is_empty() {
                self.report(format!("{what}: empty text"));
            }
            self.source(what, &note.source);
        }
    }

    fn switch(&mut self, file: String) {
        self.file = file;
    }
}

pub(super) fn violations(knowledge: &KnowledgeBase) -> Vec<Violation> {
    let mut collector = Collector {
        file: String::new(),
        found: Vec::new(),
    };
    releases(knowledge, &mut collector);
    transitions(knowledge, &mut collector);
    known_bugs(knowledge, &mut collector);
    env_catalog(knowledge, &mut collector);
    schemas(knowledge, &mut collector);
    modules(knowledge, &mut collector);
    collector.switch("upgrade-paths/helm-chart.json".into());
    for problem in super::helm_chart::problems(&knowledge.helm_chart, &knowledge.releases) {
        collector.report(problem);
    }
    collector.found
}

fn releases(knowledge: &KnowledgeBase, collector: &mut Collector) {
    if knowledge.releases.is_empty() {
        collector.switch("upgrade-paths/releases".into());
        collector.report("no release");
        return;
    }
    let mut seen_versions = HashSet::new();
    let mut seen_revisions = HashSet::new();
    for release in &knowledge.releases {
        collector.switch(format!("upgrade-paths/releases/{}.json", release.version));
        if !seen_versions.insert(release.version.clone()) {
            collector.report("release listed twice");
        }
        if !is_iso_date(&release.released_on) {
            collector.report(format!(
                "released_on {:?} is not a YYYY-MM-DD date",
                release.released_on
            ));
        }
        if release.git_tag != format!("v{}", release.version) {
            collector.report(format!(
                "git_tag {} does not match version",
                release.git_tag
            ));
        }
        if release.prerelease == release.version.pre.is_empty() {
            collector.report("prerelease flag disagrees with the version's pre-release part");
        }
        match (&release.image.tag, &release.image.source) {
            (Some(_), Some(source)) => collector.source("image", source),
            (Some(_), None) => collector.report("image: a tag without a source"),
            (None, _) if release.image.note.is_none() => {
                collector.report("image: no tag and no note saying why")
            }
            (None, _) => {}
        }
        let known_platform = |platform: &str| matches!(platform, "linux/amd64" | "linux/arm64");
        if let Some(built) = &release.image.platforms {
            collector.source("image platforms", &built.source);
            for platform in &built.platforms {
                if !known_platform(platform) {
                    collector.report(format!(
                        "image platforms: {platform:?} is not linux/amd64 or linux/arm64"
                    ));
                }
            }
        }
        for gap in &release.modules.platform_gaps {
            collector.source(&format!("platform gap {}", gap.platform), &gap.source);
            if !known_platform(&gap.platform) {
                collector.report(format!(
                    "platform gap: {:?} is not linux/amd64 or linux/arm64",
                    gap.platform
                ));
            }
        }
        let sources = [
            ("python", &release.python.source),
            ("postgresql_minimum", &release.postgresql_minimum.source),
            ("redis_minimum", &release.redis_minimum.source),
            ("migrate_command", &release.migrate_command.source),
            (
                "queues.worker_default",
                &release.queues.worker_default.source,
            ),
            (
                "queues.scheduler_default",
                &release.queues.scheduler_default.source,
            ),
        ];
        for (what, source) in sources {
            collector.source(what, source);
        }
        if let Some(skip) = &release.skip {
            collector.notes("skip", std::slice::from_ref(skip));
        }
        collector.notes("health", &release.health);
        collector.notes(
            "queues",
            &[
                release.queues.queues_syntax.clone(),
                release.queues.workers_count.clone(),
            ],
        );
        for library in &release.job_libraries {
            collector.source(&format!("job library {}", library.name), &library.source);
        }
        let job_library = match release.job_system {
            crate::knowledge::model::JobSystem::Celery => "celery",
            crate::knowledge::model::JobSystem::Rq => "rq",
        };
        if release.library(job_library).is_none() {
            collector.report(format!(
                "job_libraries: no {job_library} pin, though the job system is {}",
                release.job_system.name()
            ));
        }
        for queue in &release.queues.receiving_jobs {
            collector.source(&format!("queue {}", queue.name), &queue.source);
        }
        for role in &release.roles {
            collector.source(&format!("role {}", role.name), &role.source);
        }
        for expected in ["server", "worker", "scheduler"] {
            if !release.roles.iter().any(|role| role.name == expected) {
                collector.report(format!("no {expected} role"));
            }
        }
        if let Some(memory) = &release.memory {
            collector.source("memory", &memory.source);
            memory_figures(release, memory, collector);
        }
        for variable in &release.env {
            collector.source(&format!("env {}", variable.name), &variable.source);
            if let Some(ignored) = &variable.ignored {
                collector.notes(
                    &format!("env {} ignored", variable.name),
                    std::slice::from_ref(ignored),
                );
            }
            if let Some(effect) = &variable.takes_effect {
                collector.source(
                    &format!("env {} takes_effect", variable.name),
                    &effect.source,
                );
                if effect.roles.is_empty()
                    || effect
                        .roles
                        .iter()
                        .any(|role| !["server", "worker", "scheduler"].contains(&role.as_str()))
                {
                    collector.report(format!(
                        "env {}: takes_effect.roles must name server, worker or scheduler",
                        variable.name
                    ));
                }
            }
            if knowledge.env_doc(&variable.name).is_none() {
                collector.report(format!(
                    "env {} is not documented in env-vars.json",
                    variable.name
                ));
            }
        }
        let mut names = HashSet::new();
        for variable in &release.env {
            if !names.insert(variable.name.as_str()) {
                collector.report(format!("env {} listed twice", variable.name));
            }
        }
        for revision in &release.migrations {
            let what = format!("revision {}", revision.revision);
            if !seen_revisions.insert(revision.revision.clone()) {
                collector.report(format!("{what} is listed by two releases"));
            }
            if revision.revision.len() != 12
                || !revision.revision.chars().all(|c| c.is_ascii_hexdigit())
            {
                collector.report(format!("{what}: not a 12-digit alembic revision id"));
            }
            if revision.parents.len() > 2 {
                collector.report(format!("{what}: more than two parents"));
            }
            for walked in &revision.row_by_row {
                collector.source(
                    &format!("{what} row_by_row {}", walked.table),
                    &walked.source,
                );
            }
            collector.source(&what, &revision.source);
            collector.notes(&what, &revision.data_risks);
            for effect in &revision.data_effects {
                collector.source(
                    &format!("{what} data effect on {}", effect.table()),
                    effect.source(),
                );
                let schemas = [
                    knowledge.schema_of(&release.version),
                    previous_release(knowledge, &release.version)
                        .and_then(|previous| knowledge.schema_of(&previous.version)),
                ];
                let known = |table: &str, column: Option<&str>| {
                    schemas.iter().flatten().any(|schema| {
                        schema.table(table).is_some_and(|found| {
                            column.is_none_or(|column| {
                                found.columns.iter().any(|known| known.name == column)
                            })
                        })
                    })
                };
                if !known(effect.table(), None) {
                    collector.report(format!(
                        "{what}: data effect names table {}, which neither this release nor the one before has",
                        effect.table()
                    ));
                }
                for column in effect.columns() {
                    if !known(effect.table(), Some(column)) {
                        collector.report(format!(
                            "{what}: data effect names {}.{column}, which neither this release nor the one before has",
                            effect.table()
                        ));
                    }
                }
            }
            for change in &revision.changed_in {
                collector.source(&what, &change.source);
                if knowledge.release(&change.release).is_none() {
                    collector.report(format!(
                        "{what}: changed_in names unknown release {}",
                        change.release
                    ));
                }
            }
        }
        let graph = knowledge.graph_at(&release.version);
        for (child, parent) in graph.missing_parents() {
            collector.report(format!(
                "revision {child} names parent {parent}, which no release up to this one ships"
            ));
        }
        if graph.has_cycle() {
            collector.report("the migration graph has a cycle");
        }
        let mut computed: Vec<&str> = graph.heads();
        let mut declared: Vec<&str> = release.alembic_heads.iter().map(String::as_str).collect();
        computed.sort_unstable();
        declared.sort_unstable();
        if computed != declared {
            collector.report(format!(
                "alembic_heads {declared:?} differ from the graph's heads {computed:?}"
            ));
        }
    }
}

/// A release's memory figures: each measured role can be modelled (one or two measurements, at
/// distinct process counts when a variable sets the count, and no negative base), and the
/// variable is one the release reads, with the default its `env` entry gives.
fn memory_figures(
    release: &super::model::Release,
    memory: &super::model::MemoryFigures,
    collector: &mut Collector,
) {
    use super::model::MemoryModel;
    if !memory.has_role_figures() && memory.host_minimum_mib.is_none() {
        collector.report("memory: no figure at all (give null instead)");
    }
    if memory.note.trim().is_empty() {
        collector.report("memory: empty note");
    }
    for (role, figures) in memory.roles() {
        let what = format!("memory {role}");
        if figures.measured.is_empty() || figures.measured.len() > 2 {
            collector.report(format!(
                "{what}: {} measurements; the model takes one or two",
                figures.measured.len()
            ));
        }
        if figures.measured.iter().any(|measured| measured.mib == 0) {
            collector.report(format!("{what}: a measurement of 0 MiB"));
        }
        let Some(processes) = &figures.processes else {
            if figures
                .measured
                .iter()
                .any(|measured| measured.processes.is_some())
            {
                collector.report(format!(
                    "{what}: a process count is measured but no variable sets it"
                ));
            }
            if figures.measured.len() != 1 {
                collector.report(format!(
                    "{what}: a fixed set of processes takes exactly one measurement"
                ));
            }
            continue;
        };
        let counts = figures.measured_counts();
        if counts.len() != figures.measured.len() {
            collector.report(format!(
                "{what}: every measurement needs the {} it ran at",
                processes.variable
            ));
        }
        if counts.contains(&0) || processes.default == 0 {
            collector.report(format!("{what}: a process count of 0"));
        }
        if counts.windows(2).any(|pair| pair[0] == pair[1]) {
            collector.report(format!("{what}: two measurements at the same count"));
        }
        if processes.unit.trim().is_empty() {
            collector.report(format!("{what}: empty unit"));
        }
        if let MemoryModel::PerProcess { base_mib, .. } = figures.model() {
            if base_mib < 0 {
                collector.report(format!(
                    "{what}: the line through the measurements has a negative base ({base_mib} MiB)"
                ));
            }
        }
        match release
            .env
            .iter()
            .find(|variable| variable.name == processes.variable)
        {
            None => collector.report(format!(
                "{what}: {} is not among the release's env",
                processes.variable
            )),
            Some(variable) => {
                // The env default may be per role ("2 for worker, 1 for scheduler").
                let defaults: Vec<u32> = variable
                    .default
                    .as_deref()
                    .unwrap_or("")
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|number| number.parse().ok())
                    .collect();
                if !defaults.contains(&processes.default) {
                    collector.report(format!(
                        "{what}: default {} disagrees with env {}'s default {:?}",
                        processes.default, processes.variable, variable.default
                    ));
                }
            }
        }
    }
}

fn transitions(knowledge: &KnowledgeBase, collector: &mut Collector) {
    for pair in knowledge.releases.windows(2) {
        let (from, to) = (&pair[0].version, &pair[1].version);
        let matching = knowledge
            .transitions
            .iter()
            .filter(|transition| &transition.from == from && &transition.to == to)
            .count();
        if matching != 1 {
            collector.switch(format!("upgrade-paths/hops/{from}-{to}.json"));
            collector.report(format!(
                "expected one transition from {from} to {to}, found {matching}"
            ));
        }
    }
    for transition in &knowledge.transitions {
        collector.switch(format!(
            "upgrade-paths/hops/{}-{}.json",
            transition.from, transition.to
        ));
        let consecutive = knowledge
            .releases
            .windows(2)
            .any(|pair| pair[0].version == transition.from && pair[1].version == transition.to);
        if !consecutive {
            collector.report("from and to are not consecutive known releases");
        }
        for (what, notes) in [
            ("breaking_changes", &transition.breaking_changes),
            ("process_changes", &transition.process_changes),
            ("memory", &transition.memory),
            ("multi_org", &transition.multi_org),
            ("user_notes", &transition.user_notes),
            ("verify", &transition.verify),
        ] {
            collector.notes(what, notes);
        }
        for action in &transition.required_actions {
            collector.notes(
                "required_actions",
                &[Note {
                    text: action.text.clone(),
                    source: action.source.clone(),
                }],
            );
            if let Some(name) = &action.sets_env {
                let read_by_target = knowledge.release(&transition.to).is_some_and(|release| {
                    release.env.iter().any(|variable| &variable.name == name)
                });
                if !read_by_target {
                    collector.report(format!(
                        "required_actions: sets_env {name} is not read by {}",
                        transition.to
                    ));
                }
            }
        }
        for rename in &transition.env_renamed {
            collector.source(&format!("rename {}", rename.from), &rename.source);
        }
        for trigger in &transition.checks {
            // Whether the code names a registered check is the check engine's test to make.
            if trigger.code.is_empty() || trigger.text.is_empty() {
                collector.report("checks: an entry without a code or a text");
            }
            collector.source(&format!("check {}", trigger.code), &trigger.source);
        }
    }
}

fn known_bugs(knowledge: &KnowledgeBase, collector: &mut Collector) {
    collector.switch("upgrade-paths/known-bugs.json".into());
    let mut ids = HashSet::new();
    for bug in &knowledge.known_bugs.bugs {
        if !ids.insert(bug.id.as_str()) {
            collector.report(format!("bug {} listed twice", bug.id));
        }
        if !is_kebab_case(&bug.id) {
            collector.report(format!("bug id {} is not kebab-case", bug.id));
        }
        if knowledge.release(&bug.introduced_in).is_none() {
            collector.report(format!(
                "bug {}: introduced_in {} is not a known release",
                bug.id, bug.introduced_in
            ));
        }
        if let Some(fixed) = &bug.fixed_in {
            if knowledge.release(fixed).is_none() {
                collector.report(format!(
                    "bug {}: fixed_in {fixed} is not a known release",
                    bug.id
                ));
            }
            if fixed <= &bug.introduced_in {
                collector.report(format!(
                    "bug {}: fixed_in is not after introduced_in",
                    bug.id
                ));
            }
        }
        if !bug.url.starts_with("https://") {
            collector.report(format!("bug {}: url is not https", bug.id));
        }
        if bug.sources.is_empty() {
            collector.report(format!("bug {}: no source", bug.id));
        }
        for source in &bug.sources {
            collector.source(&format!("bug {}", bug.id), source);
        }
    }
}

fn env_catalog(knowledge: &KnowledgeBase, collector: &mut Collector) {
    collector.switch("upgrade-paths/env-vars.json".into());
    let mut names = HashSet::new();
    for doc in &knowledge.env_catalog.vars {
        if !names.insert(doc.name.as_str()) {
            collector.report(format!("{} listed twice", doc.name));
        }
        collector.source(&doc.name, &doc.source);
        collector.notes(&format!("{} wanted", doc.name), doc.wanted.as_slice());
        let read_somewhere = knowledge
            .releases
            .iter()
            .any(|release| release.env.iter().any(|variable| variable.name == doc.name));
        if !read_somewhere {
            collector.report(format!("{} is read by no release", doc.name));
        }
    }
    collector.switch("upgrade-paths/policy.json".into());
    let policy = &knowledge.policy;
    collector.notes(
        "policy",
        &[
            policy.one_major_line_at_a_time.clone(),
            policy.newest_of_line.clone(),
            policy.snapshot.clone(),
            policy.migrate.clone(),
            policy.setup_script.clone(),
        ],
    );
}

pub(crate) fn is_kebab_case(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !text.contains("--")
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn modules(knowledge: &KnowledgeBase, collector: &mut Collector) {
    for release in &knowledge.releases {
        collector.switch(format!("upgrade-paths/releases/{}.json", release.version));
        let modules = &release.modules;
        collector.source("modules", &modules.source);
        collector.source(
            "modules.default_enabled_runners",
            &modules.default_enabled_source,
        );
        for module in modules
            .default_enabled_runners
            .iter()
            .chain(modules.runner_types.iter().map(|runner| &runner.module))
        {
            if !modules.query_runners.contains(module) {
                collector.report(format!(
                    "{module} is not one of the release's query-runner modules"
                ));
            }
        }
    }
}

fn schemas(knowledge: &KnowledgeBase, collector: &mut Collector) {
    for release in &knowledge.releases {
        let holders = knowledge
            .schemas
            .iter()
            .filter(|schema| schema.covers(&release.version))
            .count();
        if holders != 1 {
            collector.switch("upgrade-paths/schemas".into());
            collector.report(format!(
                "release {} is in {holders} schema files, expected exactly one",
                release.version
            ));
        }
    }
    for schema in &knowledge.schemas {
        let Some(first) = schema.releases.first() else {
            collector.switch("upgrade-paths/schemas".into());
            collector.report("a schema file lists no release");
            continue;
        };
        collector.switch(format!("upgrade-paths/schemas/{first}.json"));
        for version in &schema.releases {
            if knowledge.release(version).is_none() {
                collector.report(format!("release {version} has no release file"));
            }
        }
        for source in &schema.sources {
            collector.source("sources", source);
        }
        let mut table_names = HashSet::new();
        for table in &schema.tables {
            if !table_names.insert(table.name.as_str()) {
                collector.report(format!("table {} listed twice", table.name));
            }
            schema_table(schema, table, collector);
        }
        if schema.table("alembic_version").is_none() {
            collector.report("no alembic_version table");
        }
        for variant in &schema.upgraded_variants {
            let what = format!("upgraded variant {}.{}", variant.table, variant.column);
            collector.source(&what, &variant.source);
            match schema
                .table(&variant.table)
                .and_then(|table| table.column(&variant.column))
            {
                None => collector.report(format!("{what}: no such column in the schema")),
                Some(column) if column.shape() == variant.upgraded => {
                    collector.report(format!("{what}: same shape as a fresh install"))
                }
                Some(_) => {}
            }
        }
    }
}

fn schema_table(
    schema: &super::schema::ReleaseSchema,
    table: &super::schema::Table,
    collector: &mut Collector,
) {
    collector.source(&format!("table {}", table.name), &table.source);
    let mut column_names = HashSet::new();
    for column in &table.columns {
        if !column_names.insert(column.name.as_str()) {
            collector.report(format!("{}.{} listed twice", table.name, column.name));
        }
    }
    let check_columns = |collector: &mut Collector, what: &str, columns: &[String]| {
        if columns.is_empty() {
            collector.report(format!("{}: {what} names no column", table.name));
        }
        for column in columns {
            if table.column(column).is_none() {
                collector.report(format!(
                    "{}: {what} names unknown column {column}",
                    table.name
                ));
            }
        }
    };
    if let Some(key) = &table.primary_key {
        check_columns(collector, &key.name, &key.columns);
    }
    for unique in &table.unique {
        check_columns(collector, &unique.name, &unique.columns);
    }
    for index in &table.indexes {
        check_columns(collector, &index.name, &index.columns);
    }
    for foreign_key in &table.foreign_keys {
        check_columns(collector, &foreign_key.name, &foreign_key.columns);
        let target = schema.table(&foreign_key.references);
        let resolved = target.is_some_and(|target| {
            foreign_key
                .referenced_columns
                .iter()
                .all(|column| target.column(column).is_some())
        });
        if !resolved {
            collector.report(format!(
                "{}: {} references {}({}), which the schema does not have",
                table.name,
                foreign_key.name,
                foreign_key.references,
                foreign_key.referenced_columns.join(", ")
            ));
        }
    }
    for trigger in &table.triggers {
        if !schema
            .functions
            .iter()
            .any(|function| function.name == trigger.function)
        {
            collector.report(format!(
                "{}: trigger {} executes unknown function {}",
                table.name, trigger.name, trigger.function
            ));
        }
    }
}

/// `YYYY-MM-DD` with a month and day in range.
fn is_iso_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return false;
    };
    let number = |part: &str, width: usize, range: std::ops::RangeInclusive<u32>| {
        part.len() == width
            && part.bytes().all(|byte| byte.is_ascii_digit())
            && part.parse().is_ok_and(|value| range.contains(&value))
    };
    number(year, 4, 1990..=2100) && number(month, 2, 1..=12) && number(day, 2, 1..=31)
}

/// The release just before `version`, in the knowledge base's order.
fn previous_release<'k>(knowledge: &'k KnowledgeBase, version: &Version) -> Option<&'k Release> {
    knowledge
        .releases
        .iter()
        .take_while(|release| &release.version < version)
        .last()
}

#[cfg(test)]
mod memory_tests {
    use super::super::model::Measurement;
    use super::super::KnowledgeBase;

    /// The violations about 8.0.0's memory after `change`.
    fn memory_violations(
        change: impl FnOnce(&mut super::super::model::MemoryFigures),
    ) -> Vec<String> {
        let mut knowledge = KnowledgeBase::embedded().unwrap();
        let release = knowledge
            .releases
            .iter_mut()
            .find(|release| release.version.to_string() == "8.0.0")
            .unwrap();
        change(release.memory.as_mut().unwrap());
        knowledge
            .violations()
            .into_iter()
            .map(|violation| violation.message)
            .filter(|message| message.starts_with("memory"))
            .collect()
    }

    #[test]
    fn the_shipped_figures_hold() {
        assert_eq!(memory_violations(|_| {}), Vec::<String>::new());
    }

    #[test]
    fn figures_the_model_cannot_take_are_violations() {
        let worker = |memory: &mut super::super::model::MemoryFigures| {
            memory.worker.as_mut().unwrap().clone()
        };
        assert_eq!(
            memory_violations(|memory| {
                let mut figures = worker(memory);
                figures.measured.push(Measurement {
                    processes: Some(3),
                    mib: 400,
                });
                memory.worker = Some(figures);
            }),
            ["memory worker: 3 measurements; the model takes one or two"]
        );
        assert_eq!(
            memory_violations(|memory| {
                let mut figures = worker(memory);
                figures.measured[1].processes = Some(1);
                memory.worker = Some(figures);
            }),
            ["memory worker: two measurements at the same count"]
        );
        assert_eq!(
            memory_violations(|memory| {
                let mut figures = worker(memory);
                figures.measured[1].processes = None;
                memory.worker = Some(figures);
            }),
            ["memory worker: every measurement needs the WORKERS_COUNT it ran at"]
        );
        assert_eq!(
            memory_violations(|memory| {
                let mut figures = worker(memory);
                figures.measured[1].mib = 500;
                memory.worker = Some(figures);
            }),
            ["memory worker: the line through the measurements has a negative base (-120 MiB)"]
        );
        assert_eq!(
            memory_violations(|memory| {
                let mut figures = worker(memory);
                figures.processes.as_mut().unwrap().default = 3;
                memory.worker = Some(figures);
            }),
            ["memory worker: default 3 disagrees with env WORKERS_COUNT's default Some(\"2 for worker, 1 for scheduler\")"]
        );
        assert_eq!(
            memory_violations(|memory| {
                let mut figures = worker(memory);
                figures.processes.as_mut().unwrap().variable = "CELERY_CONCURRENCY".into();
                memory.worker = Some(figures);
            }),
            ["memory worker: CELERY_CONCURRENCY is not among the release's env"]
        );
        assert_eq!(
            memory_violations(|memory| {
                let mut figures = worker(memory);
                figures.processes = None;
                memory.worker = Some(figures);
            }),
            [
                "memory worker: a process count is measured but no variable sets it",
                "memory worker: a fixed set of processes takes exactly one measurement"
            ]
        );
        assert_eq!(
            memory_violations(|memory| {
                memory.server = None;
                memory.worker = None;
                memory.scheduler = None;
                memory.host_minimum_mib = None;
            }),
            ["memory: no figure at all (give null instead)"]
        );
    }
}
