//! Processes as `/proc` shows them, for the tests that kill runs and watch what they leave.

/// A process as `/proc` shows it.
pub struct Process {
    pub pid: u32,
    pub parent: u32,
    /// The process group.
    pub group: u32,
    pub state: char,
    /// Process start time in clock ticks since boot: tells a reused pid from the process seen.
    pub started: u64,
}

pub fn process(pid: u32) -> Option<Process> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    Some(Process {
        pid,
        parent: fields.get(1)?.parse().ok()?,
        group: fields.get(2)?.parse().ok()?,
        state: fields.first()?.chars().next()?,
        started: fields.get(19)?.parse().ok()?,
    })
}

pub fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect()
}

pub fn children_of(parent: u32) -> Vec<Process> {
    all_pids()
        .into_iter()
        .filter_map(process)
        .filter(|info| info.parent == parent)
        .collect()
}

/// Whether the process seen as `info` is still running (a zombie nobody reaps is not).
pub fn still_running(info: &Process) -> bool {
    process(info.pid).is_some_and(|now| now.started == info.started && now.state != 'Z')
}

pub fn command_line(pid: u32) -> Option<Vec<String>> {
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        bytes
            .split(|byte| *byte == 0)
            .filter(|arg| !arg.is_empty())
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect(),
    )
}

pub fn environment_of(pid: u32) -> Option<Vec<(String, String)>> {
    let bytes = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    Some(
        bytes
            .split(|byte| *byte == 0)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let text = String::from_utf8_lossy(entry);
                match text.split_once('=') {
                    Some((name, value)) => (name.to_owned(), value.to_owned()),
                    None => (text.into_owned(), String::new()),
                }
            })
            .collect(),
    )
}
