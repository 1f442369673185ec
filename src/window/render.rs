//! The window report: a heatmap of Unicode blocks for the terminal, Markdown for the change
//! ticket, JSON, and a self-contained SVG (and an HTML page holding it) with one heatmap per org.

use std::fmt::Write as _;

use super::{label, Grid, QuietWindow, Scope, WindowReport, DAYS};
use crate::report::Format;

/// Shades from empty to the busiest quarter of the non-empty hours.
const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];
/// Grey levels of the same five shades in the SVG.
const FILLS: [&str; 5] = ["#ffffff", "#d9e2ef", "#9fb5d5", "#5b7fb4", "#1f3f73"];

pub fn render(format: Format, report: &WindowReport) -> Vec<u8> {
    match format {
        Format::Json => {
            let mut bytes = serde_json::to_vec_pretty(report).expect("a window report serializes");
            bytes.push(b'\n');
            bytes
        }
        Format::Markdown => markdown(report).into_bytes(),
        _ => text(report).into_bytes(),
    }
}

/// The upper bounds of shades 1 to 3 (quartiles of the non-empty cells); above them, shade 4.
fn thresholds(grid: &Grid) -> [u64; 3] {
    let mut values: Vec<u64> = grid.iter().flatten().copied().filter(|&v| v > 0).collect();
    values.sort_unstable();
    if values.is_empty() {
        return [0; 3];
    }
    let at = |quarter: usize| {
        values[(values.len() * quarter / 4)
            .saturating_sub(1)
            .min(values.len() - 1)]
    };
    [at(1), at(2), at(3)]
}

fn shade(value: u64, bounds: &[u64; 3]) -> usize {
    if value == 0 {
        0
    } else if value <= bounds[0] {
        1
    } else if value <= bounds[1] {
        2
    } else if value <= bounds[2] {
        3
    } else {
        4
    }
}

fn duration_line(report: &WindowReport) -> String {
    let duration = &report.duration;
    format!(
        "Hop duration: {:.1} min, {} ({} in {} h)",
        duration.seconds / 60.0,
        duration.basis,
        if duration.fits {
            "fits"
        } else {
            "does NOT fit"
        },
        report.hours
    )
}

fn window_line(window: &QuietWindow) -> String {
    format!(
        "{}. {}: {:.1} events/week, {:.1} active users/week, {} scheduled queries due ({:.1} runs/week), {} alerts evaluated",
        window.rank,
        window.label,
        window.events_per_week,
        window.active_users_per_week,
        window.scheduled_queries_due,
        window.scheduled_runs_per_week,
        window.alerts_evaluated
    )
}

fn text(report: &WindowReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Quietest {} h windows of {}, {} weeks {} to {}, times in {}",
        report.hours, report.database, report.weeks, report.from, report.to, report.timezone
    );
    let _ = writeln!(out, "{}", duration_line(report));
    for scope in &report.scopes {
        let _ = writeln!(out);
        let title = match &scope.org {
            Some(slug) => format!("{} ({slug}): {} events", scope.name, scope.events),
            None => format!("{}: {} events", scope.name, scope.events),
        };
        let _ = writeln!(out, "{title}");
        let mut header = String::from("    ");
        for hour in 0..24 {
            if hour % 3 == 0 {
                let _ = write!(header, "{hour:<2}");
            } else {
                header.push_str("  ");
            }
        }
        let _ = writeln!(out, "{}", header.trim_end());
        let bounds = thresholds(&scope.event_grid);
        for (day, row) in scope.event_grid.iter().enumerate() {
            let mut line = format!("{} ", DAYS[day]);
            for &value in row {
                let block = SHADES[shade(value, &bounds)];
                line.push(block);
                line.push(block);
            }
            let _ = writeln!(out, "{}|", line);
        }
        let _ = writeln!(
            out,
            "    ' ' none  ░ up to {}  ▒ up to {}  ▓ up to {}  █ more (events per hour, all weeks)",
            bounds[0], bounds[1], bounds[2]
        );
        for window in &scope.windows {
            let _ = writeln!(out, "  {}", window_line(window));
        }
    }
    out
}

fn markdown(report: &WindowReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Quietest {} h windows\n", report.hours);
    let _ = writeln!(
        out,
        "Database `{}`, {} weeks from {} to {}, times in {}.\n",
        report.database, report.weeks, report.from, report.to, report.timezone
    );
    let _ = writeln!(out, "{}\n", duration_line(report));
    for scope in &report.scopes {
        let title = match &scope.org {
            Some(slug) => format!("{} (`{slug}`)", scope.name),
            None => scope.name.clone(),
        };
        let _ = writeln!(out, "## {title}\n");
        let _ = writeln!(
            out,
            "| rank | window | events/week | active users/week | scheduled queries due | runs/week | alerts |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for window in &scope.windows {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} | {:.1} | {} | {:.1} | {} |",
                window.rank,
                window.label,
                window.events_per_week,
                window.active_users_per_week,
                window.scheduled_queries_due,
                window.scheduled_runs_per_week,
                window.alerts_evaluated
            );
        }
        let _ = writeln!(out);
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CELL_WIDTH: usize = 22;
const CELL_HEIGHT: usize = 18;
const LEFT: usize = 40;
const PANEL_HEIGHT: usize = 40 + 7 * CELL_HEIGHT + 30;

/// A self-contained SVG: one heatmap per scope, the quietest windows outlined, a legend.
pub fn svg(report: &WindowReport) -> String {
    let width = LEFT + 24 * CELL_WIDTH + 20;
    let height = 70 + report.scopes.len() * PANEL_HEIGHT + 60;
    let title = format!(
        "Quietest {} h windows: {}, {} weeks {} to {} ({})",
        report.hours, report.database, report.weeks, report.from, report.to, report.timezone
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&title));
    let _ = writeln!(
        out,
        r#"<text x="10" y="18" font-size="14" font-weight="bold">Quietest {} h windows, times in {}</text>"#,
        report.hours,
        escape(&report.timezone)
    );
    let _ = writeln!(
        out,
        r#"<text x="10" y="36">{}: {} weeks, {} to {}</text>"#,
        escape(&report.database),
        report.weeks,
        escape(day_or_instant(&report.from)),
        escape(day_or_instant(&report.to))
    );
    let duration = &report.duration;
    let _ = writeln!(
        out,
        r#"<text x="10" y="54">Hop duration {:.1} min ({}): {} in {} h</text>"#,
        duration.seconds / 60.0,
        if duration.source == "rehearsal" {
            "measured by the rehearsal"
        } else {
            "an estimate"
        },
        if duration.fits {
            "fits"
        } else {
            "does NOT fit"
        },
        report.hours
    );
    for (index, scope) in report.scopes.iter().enumerate() {
        let top = 70 + index * PANEL_HEIGHT;
        panel(&mut out, scope, top);
    }
    let legend_top = 70 + report.scopes.len() * PANEL_HEIGHT;
    let _ = writeln!(
        out,
        r#"<g class="legend" transform="translate(10,{legend_top})">"#
    );
    let names = [
        "none",
        "lowest quarter",
        "second quarter",
        "third quarter",
        "busiest quarter",
    ];
    for (level, name) in names.iter().enumerate() {
        let x = level * 110;
        let _ = writeln!(
            out,
            r##"<rect x="{x}" y="0" width="14" height="14" fill="{}" stroke="#999"/><text x="{}" y="11">{name}</text>"##,
            FILLS[level],
            x + 18
        );
    }
    let _ = writeln!(
        out,
        r##"<rect x="0" y="24" width="14" height="14" fill="none" stroke="#d62728" stroke-width="2"/><text x="18" y="35">a quietest window (rank inside), events per hour over all weeks shaded by quarter of the busy hours</text>"##
    );
    let _ = writeln!(out, "</g>");
    out.push_str("</svg>\n");
    out
}

fn panel(out: &mut String, scope: &Scope, top: usize) {
    let name = match &scope.org {
        Some(slug) => format!("{} ({slug})", scope.name),
        None => scope.name.clone(),
    };
    let _ = writeln!(
        out,
        r#"<g class="org" data-org="{}" transform="translate(0,{top})">"#,
        escape(scope.org.as_deref().unwrap_or("all"))
    );
    let _ = writeln!(
        out,
        r#"<text x="10" y="12" font-weight="bold">{}: {} events</text>"#,
        escape(&name),
        scope.events
    );
    for hour in 0..24 {
        let _ = writeln!(
            out,
            r#"<text x="{}" y="32" text-anchor="middle">{hour:02}</text>"#,
            LEFT + hour * CELL_WIDTH + CELL_WIDTH / 2
        );
    }
    let bounds = thresholds(&scope.event_grid);
    for (day, row) in scope.event_grid.iter().enumerate() {
        let y = 40 + day * CELL_HEIGHT;
        let _ = writeln!(
            out,
            r#"<text x="10" y="{}">{}</text>"#,
            y + CELL_HEIGHT - 5,
            DAYS[day]
        );
        for (hour, &value) in row.iter().enumerate() {
            let _ = writeln!(
                out,
                r##"<rect class="cell" data-day="{day}" data-hour="{hour}" data-count="{value}" x="{}" y="{y}" width="{CELL_WIDTH}" height="{CELL_HEIGHT}" fill="{}" stroke="#eee"><title>{} {hour:02}:00: {value} events</title></rect>"##,
                LEFT + hour * CELL_WIDTH,
                FILLS[shade(value, &bounds)],
                DAYS[day]
            );
        }
    }
    for window in &scope.windows {
        let start = (window.day * 24 + window.hour) as i64;
        let _ = writeln!(
            out,
            r#"<g class="window" data-rank="{}"><title>{}</title>"#,
            window.rank,
            escape(&label(start, i64::from(window.hours)))
        );
        // A window crossing midnight is outlined in one piece per day.
        let mut hour = start;
        let end = start + i64::from(window.hours);
        while hour < end {
            let day = (hour.rem_euclid(168) / 24) as usize;
            let first = (hour.rem_euclid(168) % 24) as usize;
            let length = ((24 - first) as i64).min(end - hour) as usize;
            let _ = writeln!(
                out,
                r##"<rect x="{}" y="{}" width="{}" height="{CELL_HEIGHT}" fill="none" stroke="#d62728" stroke-width="2"/>"##,
                LEFT + first * CELL_WIDTH,
                40 + day * CELL_HEIGHT,
                length * CELL_WIDTH
            );
            hour += length as i64;
        }
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" fill="#d62728" font-weight="bold">{}</text></g>"##,
            LEFT + window.hour * CELL_WIDTH + 3,
            40 + window.day * CELL_HEIGHT + CELL_HEIGHT - 5,
            window.rank
        );
    }
    let _ = writeln!(out, "</g>");
}

/// An HTML page holding the SVG and the windows' table, with nothing fetched from elsewhere.
pub fn html(report: &WindowReport) -> String {
    let mut out = String::new();
    let title = format!("Quietest {} h windows: {}", report.hours, report.database);
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:nth-child(2){{text-align:left}}</style>\n</head>\n<body>",
        escape(&title)
    );
    let _ = writeln!(out, "<h1>{}</h1>", escape(&title));
    let _ = writeln!(
        out,
        "<p>{} weeks from {} to {}, times in {}.</p>\n<p>{}</p>",
        report.weeks,
        escape(&report.from),
        escape(&report.to),
        escape(&report.timezone),
        escape(&duration_line(report))
    );
    out.push_str(&svg(report));
    for scope in &report.scopes {
        let name = match &scope.org {
            Some(slug) => format!("{} ({slug})", scope.name),
            None => scope.name.clone(),
        };
        let _ = writeln!(out, "<h2>{}</h2>\n<table>\n<tr><th>rank</th><th>window</th><th>events/week</th><th>active users/week</th><th>scheduled queries due</th><th>runs/week</th><th>alerts</th></tr>", escape(&name));
        for window in &scope.windows {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
                window.rank,
                escape(&window.label),
                window.events_per_week,
                window.active_users_per_week,
                window.scheduled_queries_due,
                window.scheduled_runs_per_week,
                window.alerts_evaluated
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// `2026-11-30` for an instant at midnight UTC, so that the SVG's subtitle fits its width.
fn day_or_instant(instant: &str) -> &str {
    instant.strip_suffix("T00:00:00Z").unwrap_or(instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shades_follow_the_quarters_of_the_busy_hours() {
        let mut grid: Grid = [[0; 24]; 7];
        for (index, cell) in grid.iter_mut().flatten().enumerate().take(8) {
            *cell = index as u64 + 1;
        }
        let bounds = thresholds(&grid);
        assert_eq!(bounds, [2, 4, 6]);
        assert_eq!(shade(0, &bounds), 0);
        assert_eq!(shade(1, &bounds), 1);
        assert_eq!(shade(8, &bounds), 4);
    }
}
