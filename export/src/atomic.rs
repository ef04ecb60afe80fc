//! Atomic file writes through `twin_replay::atomic::write_with` (a
//! temporary file in the same folder, synced, renamed at the end), with
//! polars' errors sorted into I/O and encoding.

use crate::ExportError;
use polars::prelude::PolarsError;
use std::io::BufWriter;
use std::path::Path;
use twin_replay::atomic::{AtomicError, write_with};

/// Writes `path` through `fill` so that it appears whole or not at all.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&mut std::fs::File>) -> Result<(), PolarsError>,
) -> Result<(), ExportError> {
    write_with(path, fill).map_err(|e| match e {
        AtomicError::Io(source) => ExportError::Io { path: path.to_path_buf(), source },
        AtomicError::Fill(e) => polars_error(path, e),
    })
}

/// What polars said while writing `path`: a failure of the disk as
/// [`ExportError::Io`], anything else as [`ExportError::Table`].
pub(crate) fn polars_error(path: &Path, e: PolarsError) -> ExportError {
    match e {
        PolarsError::IO { error, .. } => {
            ExportError::Io { path: path.to_path_buf(), source: std::io::Error::new(error.kind(), error.to_string()) }
        }
        other => ExportError::Table { path: path.to_path_buf(), source: other },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_failed_fill_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.txt");
        std::fs::write(&path, "old").unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"half").unwrap();
            Err(PolarsError::ComputeError("boom".into()))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "temporary file left behind");
        write_atomically(&path, |w| w.write_all(b"new").map_err(PolarsError::from)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }
}
