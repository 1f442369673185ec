//! `inventory`'s report: the Markdown summary (counts, reasons, the effect of archiving) and the
//! JSON of every row. The CSV is in [`crate::inventory::csv_out`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::inventory::{Class, Inventory};
use crate::plan::format_instant;

pub fn json(inventory: &Inventory) -> Vec<u8> {
    let mut value = serde_json::json!({ "type": "inventory" });
    let body = serde_json::to_value(inventory).expect("serializes");
    if let (Some(object), serde_json::Value::Object(fields)) = (value.as_object_mut(), body) {
        object.extend(fields);
        object.insert(
            "counts".to_owned(),
            serde_json::to_value(inventory.counts()).expect("serializes"),
        );
    }
    let mut bytes = serde_json::to_vec_pretty(&value).expect("serializes");
    bytes.push(b'\n');
    bytes
}

fn count_of(inventory: &Inventory, class: Class) -> u64 {
    inventory.counts().get(&class).copied().unwrap_or(0)
}

/// A reason with its numbers written N, so that reasons of one rule group together.
fn reason_kind(reason: &str) -> String {
    let mut kind = String::with_capacity(reason.len());
    let mut in_number = false;
    for c in reason.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                kind.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            kind.push(c);
        }
    }
    kind
}

pub fn markdown(inventory: &Inventory) -> Vec<u8> {
    let mut out = String::new();
    let _ = writeln!(out, "# Redash inventory: {}", inventory.database);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "- Release {}, planning to {}; as of {}",
        inventory.release,
        inventory.to,
        format_instant(inventory.as_of)
    );
    let _ = writeln!(
        out,
        "- Rules: stale after {} days without a view, run or edit; a schedule failing {} times in a row is broken",
        inventory.rules.stale_after_days, inventory.rules.failing_after
    );
    for assumption in &inventory.assumptions {
        let _ = writeln!(out, "- Note: {assumption}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## Queries: {}", inventory.queries.len());
    let _ = writeln!(out);
    let _ = writeln!(out, "| org | keep | review | archive | already archived |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let mut by_org: BTreeMap<&str, [u64; 4]> = BTreeMap::new();
    for query in &inventory.queries {
        let counts = by_org.entry(query.org_slug.as_str()).or_default();
        let column = match (query.class, query.is_archived) {
            (_, true) => 3,
            (Class::Keep, _) => 0,
            (Class::Review, _) => 1,
            (Class::Archive, _) => 2,
        };
        counts[column] += 1;
    }
    for (org, counts) in &by_org {
        let _ = writeln!(
            out,
            "| {org} | {} | {} | {} | {} |",
            counts[0], counts[1], counts[2], counts[3]
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Why (queries not yet archived):");
    let _ = writeln!(out);
    let mut reasons: BTreeMap<(Class, String), u64> = BTreeMap::new();
    for query in inventory.queries.iter().filter(|query| !query.is_archived) {
        *reasons
            .entry((query.class, reason_kind(&query.reason)))
            .or_insert(0) += 1;
    }
    for ((class, reason), count) in &reasons {
        let _ = writeln!(out, "- {}: {reason} ({count})", class.name());
    }
    let effect = &inventory.effect;
    let _ = writeln!(out);
    let _ = writeln!(out, "## The effect of archiving the `archive` rows");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "- {} queries archived; scheduled runs per day {} -> {} ({} fewer)",
        effect.queries_to_archive,
        crate::inventory::format_rate(effect.scheduled_runs_per_day_now),
        crate::inventory::format_rate(
            effect.scheduled_runs_per_day_now - effect.scheduled_runs_per_day_removed
        ),
        crate::inventory::format_rate(effect.scheduled_runs_per_day_removed)
    );
    let _ = writeln!(
        out,
        "- The hops' query migrations still walk all {} rows of `queries`: they read archived queries too, so archiving does not shorten them",
        effect.query_rows_walked
    );
    let _ = writeln!(
        out,
        "- Review first: {} queries ({} of them fail a migration on the way)",
        count_of(inventory, Class::Review),
        inventory
            .queries
            .iter()
            .filter(|query| !query.migration_issues.is_empty())
            .count()
    );
    for (title, rows) in [
        (
            "Dashboards",
            inventory
                .dashboards
                .iter()
                .map(|dashboard| (dashboard.class, dashboard.reason.as_str()))
                .collect::<Vec<_>>(),
        ),
        (
            "Alerts",
            inventory
                .alerts
                .iter()
                .map(|alert| (alert.class, alert.reason.as_str()))
                .collect(),
        ),
        (
            "Data sources",
            inventory
                .data_sources
                .iter()
                .map(|source| (source.class, source.reason.as_str()))
                .collect(),
        ),
    ] {
        let _ = writeln!(out);
        let _ = writeln!(out, "## {title}: {}", rows.len());
        let _ = writeln!(out);
        let mut kinds: BTreeMap<(Class, String), u64> = BTreeMap::new();
        for (class, reason) in rows {
            *kinds.entry((class, reason_kind(reason))).or_insert(0) += 1;
        }
        for ((class, reason), count) in kinds {
            let _ = writeln!(out, "- {}: {reason} ({count})", class.name());
        }
    }
    for source in inventory
        .data_sources
        .iter()
        .filter(|source| source.class != Class::Keep)
    {
        if out.len() > 1 << 20 {
            break;
        }
        let _ = writeln!(
            out,
            "  - data source {} `{}` ({}): {}",
            source.id, source.name, source.r#type, source.reason
        );
    }
    out.into_bytes()
}
