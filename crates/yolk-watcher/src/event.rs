//! What a watch reports: a path and what happened to it.

use std::path::{Path, PathBuf};

use notify::event::{EventKind as NotifyKind, ModifyKind};
use serde::{Deserialize, Serialize};

/// What happened to a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The path appeared.
    Created,
    /// Its content or metadata changed.
    Modified,
    /// The path is gone.
    Removed,
    /// The path was renamed or moved; [`Event::from`] holds the old path when it is known.
    Renamed,
}

/// One debounced change.
///
/// ```
/// use yolk_watcher::{Event, EventKind};
///
/// let event = Event::new("/app/config/config.default.toml", EventKind::Modified);
/// assert_eq!(event.kind, EventKind::Modified);
/// assert!(event.path.ends_with("config.default.toml"));
/// assert_eq!(event.from, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The path that changed (the new path of a rename).
    pub path: PathBuf,
    /// What happened.
    pub kind: EventKind,
    /// The old path of a rename, when both ends were seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<PathBuf>,
}

impl Event {
    /// An event without an old path.
    pub fn new(path: impl Into<PathBuf>, kind: EventKind) -> Self {
        Self {
            path: path.into(),
            kind,
            from: None,
        }
    }

    /// True when the event concerns `root` or a path under it (either end of a rename).
    ///
    /// ```
    /// use yolk_watcher::{Event, EventKind};
    ///
    /// let event = Event::new("/app/src/main.rs", EventKind::Modified);
    /// assert!(event.is_under("/app/src".as_ref()));
    /// assert!(!event.is_under("/app/config".as_ref()));
    /// ```
    pub fn is_under(&self, root: &Path) -> bool {
        self.path.starts_with(root)
            || self
                .from
                .as_deref()
                .is_some_and(|from| from.starts_with(root))
    }
}

/// Turns one of notify's events into ours; access events give none.
pub(crate) fn from_notify(event: &notify::Event, out: &mut Vec<Event>) {
    let kind = match event.kind {
        NotifyKind::Create(_) => EventKind::Created,
        NotifyKind::Remove(_) => EventKind::Removed,
        NotifyKind::Modify(ModifyKind::Name(_)) => {
            if let [from, to] = event.paths.as_slice() {
                out.push(Event {
                    path: to.clone(),
                    kind: EventKind::Renamed,
                    from: Some(from.clone()),
                });
                return;
            }
            EventKind::Renamed
        }
        NotifyKind::Modify(_) | NotifyKind::Any | NotifyKind::Other => EventKind::Modified,
        NotifyKind::Access(_) => return,
    };
    out.extend(
        event
            .paths
            .iter()
            .map(|path| Event::new(path.clone(), kind)),
    );
}

/// Collapses a debounced batch to one event per path, in order of first appearance.
///
/// A path created and then modified is `Created`; modified many times, one `Modified`; removed
/// and created again (an editor's safe-write), `Modified`; created and removed within the
/// batch (a swap file), nothing. A rename's old path created within the batch is dropped.
pub(crate) fn collapse(events: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Option<Event>> = Vec::with_capacity(events.len());
    for event in events {
        if let Some(from) = &event.from
            && let Some(slot) = out
                .iter_mut()
                .find(|slot| slot.as_ref().is_some_and(|seen| &seen.path == from))
            && slot
                .as_ref()
                .is_some_and(|seen| seen.kind == EventKind::Created)
        {
            *slot = None;
        }
        let Some(slot) = out
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|seen| seen.path == event.path))
        else {
            out.push(Some(event));
            continue;
        };
        let seen = slot.as_mut().expect("found a filled slot");
        use EventKind::{Created, Modified, Removed, Renamed};
        match (seen.kind, event.kind) {
            (Created, Modified) | (Renamed, Modified) => {}
            (Created, Removed) => *slot = None,
            (Removed, Created) => seen.kind = Modified,
            (_, _) => *seen = event,
        }
    }
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(path: &str, kind: EventKind) -> Event {
        Event::new(path, kind)
    }

    #[test]
    fn a_burst_of_writes_is_one_event() {
        let burst = (0..50).map(|_| ev("/a", EventKind::Modified)).collect();
        assert_eq!(collapse(burst), vec![ev("/a", EventKind::Modified)]);
    }

    #[test]
    fn created_then_written_is_created() {
        let events = vec![ev("/a", EventKind::Created), ev("/a", EventKind::Modified)];
        assert_eq!(collapse(events), vec![ev("/a", EventKind::Created)]);
    }

    #[test]
    fn safe_write_is_a_modification_and_swap_files_vanish() {
        let events = vec![
            ev("/a.swp", EventKind::Created),
            ev("/a", EventKind::Removed),
            ev("/a", EventKind::Created),
            ev("/a.swp", EventKind::Removed),
        ];
        assert_eq!(collapse(events), vec![ev("/a", EventKind::Modified)]);
    }

    #[test]
    fn rename_of_a_fresh_temp_file_keeps_only_the_target() {
        let rename = Event {
            path: "/a".into(),
            kind: EventKind::Renamed,
            from: Some("/a.tmp".into()),
        };
        let events = vec![ev("/a.tmp", EventKind::Created), rename.clone()];
        assert_eq!(collapse(events), vec![rename]);
    }

    #[test]
    fn notify_rename_both_carries_the_old_path() {
        let event = notify::Event::new(NotifyKind::Modify(ModifyKind::Name(
            notify::event::RenameMode::Both,
        )))
        .add_path("/old".into())
        .add_path("/new".into());
        let mut out = Vec::new();
        from_notify(&event, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].path, PathBuf::from("/new"));
        assert_eq!(out[0].from.as_deref(), Some(Path::new("/old")));
        assert!(out[0].is_under(Path::new("/old")));
    }

    #[test]
    fn access_is_not_a_change() {
        let event = notify::Event::new(NotifyKind::Access(notify::event::AccessKind::Read))
            .add_path("/a".into());
        let mut out = Vec::new();
        from_notify(&event, &mut out);
        assert!(out.is_empty());
    }
}
