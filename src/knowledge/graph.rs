//! The alembic migration graph: revisions and their parents.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::model::Revision;

/// A set of revisions, kept in the order the data lists them (parents before children).
#[derive(Debug, Clone)]
pub struct MigrationGraph<'a> {
    revisions: Vec<&'a Revision>,
    index: HashMap<&'a str, usize>,
}

impl<'a> MigrationGraph<'a> {
    pub fn new(revisions: impl IntoIterator<Item = &'a Revision>) -> MigrationGraph<'a> {
        let revisions: Vec<&Revision> = revisions.into_iter().collect();
        let index = revisions
            .iter()
            .enumerate()
            .map(|(position, revision)| (revision.revision.as_str(), position))
            .collect();
        MigrationGraph { revisions, index }
    }

    pub fn get(&self, id: &str) -> Option<&'a Revision> {
        self.index.get(id).map(|&position| self.revisions[position])
    }

    pub fn revisions(&self) -> &[&'a Revision] {
        &self.revisions
    }

    /// Revisions that no other revision names as a parent, in data order.
    pub fn heads(&self) -> Vec<&'a str> {
        let parents: HashSet<&str> = self
            .revisions
            .iter()
            .flat_map(|revision| revision.parents.iter().map(String::as_str))
            .collect();
        self.revisions
            .iter()
            .map(|revision| revision.revision.as_str())
            .filter(|id| !parents.contains(id))
            .collect()
    }

    /// `(child, parent)` pairs whose parent is not in the graph.
    pub fn missing_parents(&self) -> Vec<(&'a str, &'a str)> {
        self.revisions
            .iter()
            .flat_map(|revision| {
                revision
                    .parents
                    .iter()
                    .filter(|parent| !self.index.contains_key(parent.as_str()))
                    .map(|parent| (revision.revision.as_str(), parent.as_str()))
            })
            .collect()
    }

    /// The given revisions and every ancestor of them that the graph holds.
    pub fn ancestry<'s>(&self, tips: impl IntoIterator<Item = &'s str>) -> BTreeSet<&'a str> {
        let mut seen = BTreeSet::new();
        let mut pending: Vec<&str> = tips.into_iter().collect();
        while let Some(id) = pending.pop() {
            let Some(revision) = self.get(id) else {
                continue;
            };
            if seen.insert(revision.revision.as_str()) {
                pending.extend(revision.parents.iter().map(String::as_str));
            }
        }
        seen
    }

    /// What `alembic upgrade heads` applies to a database stamped at `stamped`: the ancestry of
    /// this graph's heads less the ancestry of `stamped`, each revision after all its parents.
    pub fn revisions_to_apply<'s>(
        &self,
        stamped: impl IntoIterator<Item = &'s str>,
    ) -> Vec<&'a Revision> {
        let done = self.ancestry(stamped);
        let wanted = self.ancestry(self.heads());
        let mut applied: HashSet<&str> = done.iter().copied().collect();
        let mut order = Vec::new();
        let mut remaining: Vec<&'a Revision> = self
            .revisions
            .iter()
            .copied()
            .filter(|revision| wanted.contains(revision.revision.as_str()))
            .filter(|revision| !done.contains(revision.revision.as_str()))
            .collect();
        // Kahn's algorithm; taking the first ready revision in data order keeps the result stable.
        while !remaining.is_empty() {
            let ready = remaining.iter().position(|revision| {
                revision
                    .parents
                    .iter()
                    .all(|parent| applied.contains(parent.as_str()))
            });
            let Some(position) = ready else {
                break;
            };
            let revision = remaining.remove(position);
            applied.insert(revision.revision.as_str());
            order.push(revision);
        }
        order
    }

    /// Whether some revision is its own ancestor: in a graph without cycles every revision is an
    /// ancestor of a head, so a topological order places them all.
    pub fn has_cycle(&self) -> bool {
        self.revisions_to_apply(std::iter::empty()).len() != self.revisions.len()
    }
}
