//! Files written whole or not at all: every writer of this crate fills a
//! temporary file in the target's folder, flushes and syncs it, then renames
//! it over the target. A failed write leaves the old file (or none) and no
//! temporary behind; errors name the target.

use crate::ReplayError;
use parquet::errors::ParquetError;
use polars::prelude::PolarsError;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Why an encoder failed: the disk (kept as I/O), or the data.
pub(crate) enum Failure {
    /// Writing the bytes failed.
    Io(std::io::Error),
    /// The encoder could not encode the table.
    Encode(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Io(e)
    }
}

impl From<PolarsError> for Failure {
    fn from(e: PolarsError) -> Failure {
        match e {
            PolarsError::IO { error, .. } => Failure::Io(std::io::Error::new(error.kind(), error.to_string())),
            other => Failure::Encode(other.to_string()),
        }
    }
}

impl From<ParquetError> for Failure {
    fn from(e: ParquetError) -> Failure {
        match e {
            ParquetError::External(e) => match e.downcast::<std::io::Error>() {
                Ok(io) => Failure::Io(*io),
                Err(other) => Failure::Encode(other.to_string()),
            },
            other => Failure::Encode(other.to_string()),
        }
    }
}

/// Why an atomic write failed: around the filling (creating, flushing,
/// syncing or renaming the temporary file), or in it.
#[derive(Debug)]
pub enum AtomicError<E> {
    /// The file system failed.
    Io(std::io::Error),
    /// `fill` failed with its own error.
    Fill(E),
}

/// Writes `path` through `fill` so that it appears whole or not at all:
/// Twin's one way of writing a result file (this crate's tables, the
/// exporter's, the TUI's saved scenarios).
///
/// The temporary file is `.<name>.<random>.tmp` beside `path` (so the rename
/// stays on one file system), made readable like an ordinary file (0644 on
/// Unix) and synced before it takes the target's name. A failed write
/// leaves the old file (or none) and no temporary behind.
pub fn write_with<E>(path: &Path, fill: impl FnOnce(&mut BufWriter<&mut File>) -> Result<(), E>) -> Result<(), AtomicError<E>> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let mut tmp = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").tempfile_in(dir).map_err(AtomicError::Io)?;
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        fill(&mut w).map_err(AtomicError::Fill)?;
        w.flush().map_err(AtomicError::Io)?;
    }
    // Temporary files are private (0600); results are ordinary files.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(AtomicError::Io)?;
    }
    tmp.as_file().sync_all().map_err(AtomicError::Io)?;
    tmp.persist(path).map_err(|e| AtomicError::Io(e.error))?;
    Ok(())
}

/// Writes `text` to `path` whole or not at all, through [`write_with`].
pub fn write_text(path: &Path, text: &str) -> std::io::Result<()> {
    write_with(path, |w| w.write_all(text.as_bytes())).map_err(|e| match e {
        AtomicError::Io(e) | AtomicError::Fill(e) => e,
    })
}

/// [`write_with`] for this crate's encoders: an I/O failure, in `fill` or
/// around it, is a [`ReplayError::Io`]; any other failure of `fill` (the
/// encoder could not encode the table) a [`ReplayError::Table`]. Errors
/// name the target.
pub(crate) fn write_atomically<E: Into<Failure>>(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&mut File>) -> Result<(), E>,
) -> Result<(), ReplayError> {
    let io = |source| ReplayError::Io { path: path.to_path_buf(), source };
    write_with(path, fill).map_err(|e| match e {
        AtomicError::Io(e) => io(e),
        AtomicError::Fill(e) => match e.into() {
            Failure::Io(e) => io(e),
            Failure::Encode(message) => ReplayError::Table { path: path.to_path_buf(), message },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_fill_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.txt");
        std::fs::write(&path, "old").unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"half").unwrap();
            Err(PolarsError::ComputeError("boom".into()))
        })
        .unwrap_err();
        assert!(matches!(&err, ReplayError::Table { path: p, .. } if *p == path), "{err}");
        assert!(err.to_string().contains("boom"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "temporary file left behind");
        write_atomically(&path, |w| w.write_all(b"new").map_err(PolarsError::from)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        }
    }

    #[test]
    fn io_errors_name_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-folder").join("x.parquet");
        let err = write_atomically(&path, |w| w.write_all(b"x").map_err(PolarsError::from)).unwrap_err();
        assert!(matches!(&err, ReplayError::Io { path: p, .. } if *p == path), "{err}");
        let err =
            write_atomically(&dir.path().join("y"), |_| Err::<(), PolarsError>(std::io::Error::other("disk full").into())).unwrap_err();
        assert!(matches!(&err, ReplayError::Io { source, .. } if source.to_string().contains("disk full")), "{err}");
    }
}
