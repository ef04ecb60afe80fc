//! Any table of plain columns as Parquet or CSV, atomically: for results
//! that are not a run's (sweeps).

use crate::{ExportError, write_atomically};
use polars::prelude::*;
use std::path::Path;

/// One column's values.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// Floating point.
    F64(Vec<f64>),
    /// Unsigned integers.
    U64(Vec<u64>),
    /// Text.
    Str(Vec<String>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::F64(v) => v.len(),
            Values::U64(v) => v.len(),
            Values::Str(v) => v.len(),
        }
    }
}

/// Writes `columns` (equal lengths) to `path` as Parquet when it ends in
/// `.parquet`, else as CSV; whole or not at all.
pub fn write_columns(path: &Path, columns: Vec<(&str, Values)>) -> Result<(), ExportError> {
    let rows = columns.first().map_or(0, |c| c.1.len());
    let cols: Vec<Column> = columns
        .into_iter()
        .map(|(name, v)| match v {
            Values::F64(v) => Column::new(name.into(), v),
            Values::U64(v) => Column::new(name.into(), v),
            Values::Str(v) => Column::new(name.into(), v),
        })
        .collect();
    let mut df = DataFrame::new(rows, cols).map_err(|source| ExportError::Table { path: path.to_path_buf(), source })?;
    if path.extension().is_some_and(|e| e == "parquet") {
        write_atomically(path, |w| ParquetWriter::new(w).finish(&mut df).map(|_| ()))
    } else {
        write_atomically(path, |w| CsvWriter::new(w).include_header(true).finish(&mut df))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_round_trip_through_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_columns(
            &path,
            vec![("x", Values::F64(vec![1.5, 2.5])), ("n", Values::U64(vec![1, 2])), ("s", Values::Str(vec!["a".into(), "b".into()]))],
        )
        .unwrap();
        let df = ParquetReader::new(std::fs::File::open(&path).unwrap()).finish().unwrap();
        assert_eq!(df.shape(), (2, 3));
        assert_eq!(df.column("x").unwrap().f64().unwrap().get(1), Some(2.5));
        assert!(write_columns(&dir.path().join("bad.csv"), vec![("x", Values::F64(vec![1.0])), ("y", Values::F64(vec![]))]).is_err());
    }
}
