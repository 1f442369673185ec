//! `detect --format json`: the contract in the README (fields may be added, none renamed).

use serde_json::{json, Value};

use crate::detect::Detection;

fn versions(list: &[semver::Version]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

pub fn detection_json(detection: &Detection) -> Value {
    json!({
        "type": "detect",
        "database": detection.database,
        "alembic": {
            "revisions": detection.stamp_revisions,
            "state": detection.stamp_state,
            "shipped_in": detection.revision_shipped_in.as_ref().map(ToString::to_string),
        },
        "candidates": versions(&detection.candidates),
        "basis": detection.basis,
        "indistinguishable": detection.indistinguishable(),
        "stamp_disagreement": detection.disagreement.as_ref().map(|disagreement| json!({
            "schema_matches": versions(&disagreement.schema_matches),
            "direction": disagreement.direction,
            "differences_from_stamped": disagreement.differences_from_stamped,
            "differences_from_match": disagreement.differences_from_match,
        })),
        "compared_with": detection.compared_with.as_ref().map(ToString::to_string),
        "compared_schema_of": versions(&detection.compared_schema_of),
        "drift": detection.drift,
        "accepted_drift": detection.accepted_drift,
        "variance": detection.variance,
        "server_version": detection.server.server_version,
        "server_version_num": detection.server.server_version_num,
        "database_bytes": detection.server.database_bytes,
        "largest_tables": detection.server.largest_tables.iter().map(|table| json!({
            "table": table.table,
            "bytes": table.bytes,
            "rows_estimate": table.rows_estimate,
        })).collect::<Vec<_>>(),
        "orgs": detection.orgs,
        "multi_org": detection.orgs.map(|orgs| orgs > 1),
        "needs_attention": detection.needs_attention(),
    })
}
