//! Files a server keeps secrets and settings in. [`Reloading`]: a value read
//! from files (token keys, certificates) and read again when they change, so that Kubernetes Secret and cert-manager rotations take effect
//! without a restart. The files are looked at most once a second, when the
//! value is asked for; a change that cannot be read keeps the last good value,
//! so a half-written rotation does not take a server down.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// How often the files are looked at for a change.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Names, sizes and modification times of the files as last read.
type Stamp = Vec<(PathBuf, u64, Option<SystemTime>)>;

pub struct Reloading<T> {
    paths: Vec<PathBuf>,
    read: fn(&[PathBuf]) -> Result<T, String>,
    state: RwLock<State<T>>,
}

struct State<T> {
    value: Arc<T>,
    stamp: Stamp,
    checked: Instant,
}

impl<T> Reloading<T> {
    /// Reads the value from `paths` with `read` now; fails as `read` does.
    pub fn load(
        paths: Vec<PathBuf>,
        read: fn(&[PathBuf]) -> Result<T, String>,
    ) -> Result<Reloading<T>, String> {
        let stamp = stamp(&paths);
        let value = read(&paths)?;
        Ok(Reloading {
            paths,
            read,
            state: RwLock::new(State {
                value: Arc::new(value),
                stamp,
                checked: Instant::now(),
            }),
        })
    }

    /// The value now, and whether it was read again on this call.
    pub fn current(&self) -> (Arc<T>, bool) {
        match self.state.read() {
            Ok(state) if state.checked.elapsed() < CHECK_EVERY => {
                return (Arc::clone(&state.value), false);
            }
            _ => {}
        }
        let mut state = match self.state.write() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Another caller may have looked while this one waited.
        if state.checked.elapsed() < CHECK_EVERY {
            return (Arc::clone(&state.value), false);
        }
        state.checked = Instant::now();
        let stamp = stamp(&self.paths);
        if stamp == state.stamp {
            return (Arc::clone(&state.value), false);
        }
        state.stamp = stamp;
        match (self.read)(&self.paths) {
            Ok(value) => {
                tracing::info!(paths = ?self.paths, "read again after a change");
                state.value = Arc::new(value);
                (Arc::clone(&state.value), true)
            }
            Err(error) => {
                tracing::warn!(paths = ?self.paths, %error, "changed but cannot be read; keeping the last good one");
                (Arc::clone(&state.value), false)
            }
        }
    }
}

/// Writes a private key (or any secret) readable by its owner only.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// The stamp of some files; a directory stands for every file in it.
fn stamp(paths: &[PathBuf]) -> Stamp {
    let of = |path: PathBuf| {
        let meta = std::fs::metadata(&path).ok();
        let size = meta.as_ref().map_or(0, std::fs::Metadata::len);
        let modified = meta.and_then(|m| m.modified().ok());
        (path, size, modified)
    };
    let mut stamp: Stamp = Vec::new();
    for path in paths {
        match std::fs::read_dir(path) {
            Ok(entries) => stamp.extend(entries.filter_map(Result::ok).map(|e| of(e.path()))),
            Err(_) => stamp.push(of(path.clone())),
        }
    }
    stamp.sort();
    stamp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(paths: &[PathBuf]) -> Result<String, String> {
        let text = std::fs::read_to_string(&paths[0]).map_err(|e| e.to_string())?;
        if text.is_empty() {
            Err("empty".into())
        } else {
            Ok(text)
        }
    }

    #[test]
    fn a_changed_file_is_read_again_and_a_broken_one_is_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("value");
        std::fs::write(&file, "one").unwrap();
        let value = Reloading::load(vec![file.clone()], read_text).unwrap();
        assert_eq!(*value.current().0, "one");
        std::fs::write(&file, "two!").unwrap();
        assert_eq!(*value.current().0, "one", "looked at most once a second");
        std::thread::sleep(CHECK_EVERY + Duration::from_millis(100));
        assert_eq!(value.current(), (Arc::new("two!".to_owned()), true));
        assert!(!value.current().1);
        std::fs::write(&file, "").unwrap();
        std::thread::sleep(CHECK_EVERY + Duration::from_millis(100));
        assert_eq!(*value.current().0, "two!");
        assert!(Reloading::load(vec![dir.path().join("missing")], read_text).is_err());
    }
}
