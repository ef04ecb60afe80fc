//! The simulator's names for input formats (what a scenario writes in
//! `format = ...`) mapped onto the readers that read them. The matches are
//! exhaustive, so a format added on either side without the other does not
//! compile, and the test below holds the names the two sides use to each other.

use std::path::Path;
use twin_replay::jobs::JobFormat;
use twin_replay::prices::PriceFormat;
use twin_replay::requests::RequestFormat;
use twin_sim::scenario::spec::{JobTraceFormat, PriceHistoryFormat, RequestTraceFormat, TelemetryFormat};

/// How a file named in a scenario is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader<F> {
    /// Canonical Parquet, as `twin trace import` writes it.
    Parquet,
    /// Text in this reader's format (`None`: detected from the content).
    Text(Option<F>),
}

/// Whether `path` counts as Parquet when its format is `auto`.
fn parquet_by_extension(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "parquet")
}

/// The reader of a telemetry recording.
pub fn telemetry(format: TelemetryFormat, path: &Path) -> Reader<twin_replay::Format> {
    use twin_replay::Format as R;
    match format {
        TelemetryFormat::Auto if parquet_by_extension(path) => Reader::Parquet,
        TelemetryFormat::Auto => Reader::Text(None),
        TelemetryFormat::NvidiaSmi => Reader::Text(Some(R::NvidiaSmi)),
        TelemetryFormat::Dmon => Reader::Text(Some(R::Dmon)),
        TelemetryFormat::Dcgm => Reader::Text(Some(R::Dcgm)),
        TelemetryFormat::Parquet => Reader::Parquet,
    }
}

/// The reader of a request trace (always text).
pub fn requests(format: RequestTraceFormat) -> RequestFormat {
    match format {
        RequestTraceFormat::Auto => RequestFormat::Auto,
        RequestTraceFormat::Azure => RequestFormat::Azure,
        RequestTraceFormat::Mooncake => RequestFormat::Mooncake,
    }
}

/// The reader of a price history.
pub fn prices(format: PriceHistoryFormat, path: &Path) -> Reader<PriceFormat> {
    match format {
        PriceHistoryFormat::Auto if parquet_by_extension(path) => Reader::Parquet,
        PriceHistoryFormat::Auto => Reader::Text(None),
        PriceHistoryFormat::GcpChanges => Reader::Text(Some(PriceFormat::GcpChanges)),
        PriceHistoryFormat::AwsSpotHistory => Reader::Text(Some(PriceFormat::AwsSpotHistory)),
        PriceHistoryFormat::Parquet => Reader::Parquet,
    }
}

/// The reader of a job trace.
pub fn jobs(format: JobTraceFormat, path: &Path) -> Reader<JobFormat> {
    match format {
        JobTraceFormat::Auto if parquet_by_extension(path) => Reader::Parquet,
        JobTraceFormat::Auto => Reader::Text(None),
        JobTraceFormat::Openb => Reader::Text(Some(JobFormat::Openb)),
        JobTraceFormat::Helios => Reader::Text(Some(JobFormat::Helios)),
        JobTraceFormat::Parquet => Reader::Parquet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name a reader goes by for a scenario's format.
    fn reader_name<F: std::fmt::Display>(r: Reader<F>) -> String {
        match r {
            Reader::Parquet => "parquet".into(),
            Reader::Text(None) => "auto".into(),
            Reader::Text(Some(f)) => f.to_string(),
        }
    }

    /// Every format name a scenario may write is the name the reader it
    /// maps to goes by, and the reader reads it from that name too.
    #[test]
    fn the_simulators_format_names_are_the_readers_names() {
        let csv = Path::new("x.csv");
        for f in TelemetryFormat::ALL {
            assert_eq!(reader_name(telemetry(*f, csv)), f.name());
            if let Reader::Text(Some(r)) = telemetry(*f, csv) {
                assert_eq!(twin_replay::Format::from_name(f.name()), Some(r));
            }
        }
        for f in RequestTraceFormat::ALL {
            assert_eq!(requests(*f).name(), f.name());
            assert_eq!(RequestFormat::from_name(f.name()), Some(requests(*f)));
        }
        for f in PriceHistoryFormat::ALL {
            assert_eq!(reader_name(prices(*f, csv)), f.name());
            if let Reader::Text(Some(r)) = prices(*f, csv) {
                assert_eq!(PriceFormat::from_name(f.name()), Some(r));
            }
        }
        for f in JobTraceFormat::ALL {
            assert_eq!(reader_name(jobs(*f, csv)), f.name());
            if let Reader::Text(Some(r)) = jobs(*f, csv) {
                assert_eq!(JobFormat::from_name(f.name()), Some(r));
            }
        }
        // `auto` takes Parquet by the file's extension.
        assert_eq!(telemetry(TelemetryFormat::Auto, Path::new("r.parquet")), Reader::Parquet);
        assert_eq!(jobs(JobTraceFormat::Auto, Path::new("j.parquet")), Reader::Parquet);
    }
}
