//! Twin's readers of real GPU telemetry, into one canonical schema.
//!
//! ```text
//!  nvidia-smi --query-gpu CSV ─┐
//!  nvidia-smi dmon text ───────┼─► Telemetry (canonical columns) ─► energy, idle phases, info
//!  DCGM exporter metrics ──────┘        │
//!                                       └─► Parquet (twin trace import), read back by twin trace info
//! ```
//!
//! Readers take the file's text and never panic: a row that cannot be read is
//! skipped and reported with its line ([`ReadReport`]), or, with
//! [`ReadOptions::strict`], stops the read with a [`ReplayError::Format`]
//! naming the line and field. Samples are sorted by time (stably, so equal
//! times keep file order); out-of-order samples and gaps are counted.
//!
//! ```
//! use twin_replay::{read, Format, ReadOptions, Field};
//! let text = "timestamp, index, power.draw [W]\n2026/11/27 01:58:59.960, 0, 77.25 W\n2026/11/27 01:59:00.060, 0, 79.25 W\n";
//! let (t, report) = read(text, "smi.csv", Format::Auto, &ReadOptions::default()).unwrap();
//! assert_eq!(report.format, "nvidia-smi");
//! assert_eq!(t.value(Field::Power, 1), Some(79.25));
//! let e = twin_replay::energy::by_gpu(&t);
//! assert!((e[0].joules - 7.825).abs() < 1e-9); // trapezoid over 100 ms
//! ```
#![warn(missing_docs)]
// The one exception, `set_len` on columns filled in place, is allowed on its
// own module beside its invariant: `nvidia_smi/columns.rs`.
#![deny(unsafe_code)]

/// Gives a format enum, from one list of its variants and their names:
/// `ALL` (every variant, in order), `NAMES` (the names, comma-separated, as
/// messages list them) and `name` (as the command line and, through serde's
/// kebab case, files spell it; the tests check that serde agrees).
macro_rules! format_names {
    ($ty:ident { $first:ident => $first_name:literal $(, $v:ident => $n:literal)* $(,)? }) => {
        impl $ty {
            /// Every format, in the order of [`Self::NAMES`].
            pub const ALL: [$ty; 1 $(+ format_names!(@one $v))*] = [$ty::$first $(, $ty::$v)*];

            /// The formats' names, as the command line takes them.
            pub const NAMES: &'static str = concat!($first_name $(, ", ", $n)*);

            /// The format's name, as the command line takes it and serde writes it.
            pub const fn name(self) -> &'static str {
                match self {
                    $ty::$first => $first_name,
                    $($ty::$v => $n,)*
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
    (@one $v:ident) => {
        1
    };
}

pub mod atomic;
pub mod benchmarks;
mod cores;
mod csv;
pub mod dcgm;
pub mod dmon;
pub mod encoding;
pub mod energy;
pub mod fit;
mod issues;
pub mod jobs;
pub mod nodes;
pub mod nvidia_smi;
pub mod parquet;
pub mod phases;
pub mod prices;
pub mod record;
pub mod requests;
mod telemetry;
mod text;
pub mod timefmt;
mod timeline;
pub mod usage;

pub use issues::{Problem, ReadReport};
pub use telemetry::{Field, Sample, Telemetry};
pub use timeline::finish;

use std::path::PathBuf;

/// Why telemetry could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The input is not in the format, or (with `--strict`) a row is bad.
    #[error("{origin}:{line}: {}{message}{}", field.as_ref().map(|f| format!("`{f}`: ")).unwrap_or_default(), hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Format {
        /// The file.
        origin: String,
        /// 1-based line.
        line: usize,
        /// The column or field.
        field: Option<String>,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// Writing or reading Parquet failed.
    #[error("{path}: {message}")]
    Table {
        /// The file.
        path: PathBuf,
        /// What polars said.
        message: String,
    },
}

/// A telemetry format. Serde reads and writes its [`Format::name`]
/// (`nvidia-smi`), and the aliases [`Format::from_name`] takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Decide from the content.
    Auto,
    /// `nvidia-smi --query-gpu=... --format=csv`.
    #[serde(alias = "smi", alias = "csv")]
    NvidiaSmi,
    /// `nvidia-smi dmon` text.
    Dmon,
    /// DCGM exporter Prometheus text.
    #[serde(alias = "prometheus")]
    Dcgm,
}

format_names!(Format { Auto => "auto", NvidiaSmi => "nvidia-smi", Dmon => "dmon", Dcgm => "dcgm" });

impl Format {
    /// From a command-line name: one of [`Format::NAMES`], or an alias
    /// (`smi` and `csv` for nvidia-smi, `prometheus` for DCGM).
    pub fn from_name(s: &str) -> Option<Format> {
        match s {
            "auto" => Some(Format::Auto),
            "nvidia-smi" | "smi" | "csv" => Some(Format::NvidiaSmi),
            "dmon" => Some(Format::Dmon),
            "dcgm" | "prometheus" => Some(Format::Dcgm),
            _ => None,
        }
    }

    /// Guesses the format from the first lines, if it can.
    pub fn detect(text: &str) -> Option<Format> {
        let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
        if first.starts_with("#Date") || first.starts_with("# gpu") || first.starts_with("#gpu") {
            Some(Format::Dmon)
        } else if first.starts_with("# HELP") || first.starts_with("# TYPE") || first.starts_with("DCGM_") {
            Some(Format::Dcgm)
        } else if first.contains(',') && (first.contains("timestamp") || first.contains("index") || first.contains('[')) {
            Some(Format::NvidiaSmi)
        } else {
            None
        }
    }
}

/// How to read.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Stop at the first bad row instead of skipping it.
    pub strict: bool,
    /// DCGM text without timestamps: the time between scrapes (ns). Default 1 s.
    pub scrape_interval_ns: i64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { strict: false, scrape_interval_ns: 1_000_000_000 }
    }
}

/// Reads telemetry text in `format` (or detected), `origin` naming it in errors.
pub fn read(text: &str, origin: &str, format: Format, opts: &ReadOptions) -> Result<(Telemetry, ReadReport), ReplayError> {
    let format = match format {
        Format::Auto => Format::detect(text).ok_or_else(|| ReplayError::Format {
            origin: origin.to_string(),
            line: 1,
            field: None,
            message: "cannot tell the telemetry format from the first line".into(),
            hint: Some(format!("pass --format, one of {}", Format::NAMES)),
        })?,
        f => f,
    };
    let (t, mut report) = match format {
        Format::NvidiaSmi => nvidia_smi::read(text, origin, opts)?,
        Format::Dmon => dmon::read(text, origin, opts).map(|(s, r)| (Telemetry::from_samples(s), r))?,
        Format::Dcgm => dcgm::read(text, origin, opts).map(|(s, r)| (Telemetry::from_samples(s), r))?,
        Format::Auto => unreachable!("resolved above"),
    };
    let t = finish(t, &mut report);
    Ok((t, report))
}

/// A file's bytes, large files read in parts on all cores: copying from the
/// page cache and mapping fresh memory are then shared out, which for a
/// file of hundreds of MB is most of the time a read takes. A file that
/// grows meanwhile (a logger still writing) is read as long as it was when
/// opened; one that shrinks is read again whole.
pub fn read_bytes(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let file = std::fs::File::open(path)?;
        let len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
        let threads = cores::cores().min(8);
        if len >= 16 << 20 && threads > 1 {
            let mut bytes = vec![0u8; len];
            let per = len.div_ceil(threads);
            let parts: Vec<(usize, &mut [u8])> = bytes.chunks_mut(per).enumerate().map(|(k, part)| (k * per, part)).collect();
            let read: std::io::Result<Vec<()>> =
                cores::on_cores(parts, threads, |(at, part)| file.read_exact_at(part, at as u64)).into_iter().collect();
            return match read {
                Ok(_) => Ok(bytes),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => std::fs::read(path),
                Err(e) => Err(e),
            };
        }
    }
    std::fs::read(path)
}

/// Reads a file, by path: its bytes once (see [`read_bytes`]), then
/// [`read_from_bytes`].
pub fn read_file(path: &std::path::Path, format: Format, opts: &ReadOptions) -> Result<(Telemetry, ReadReport), ReplayError> {
    let bytes = read_bytes(path).map_err(|source| ReplayError::Io { path: path.to_path_buf(), source })?;
    read_from_bytes(&bytes, &path.display().to_string(), format, opts)
}

/// Reads a file's bytes already in memory (a caller that read the file to
/// tell its kind hands them over rather than reading it again): valid UTF-8
/// is taken as it is, other bytes are replaced by U+FFFD; then [`read`].
pub fn read_from_bytes(bytes: &[u8], origin: &str, format: Format, opts: &ReadOptions) -> Result<(Telemetry, ReadReport), ReplayError> {
    read(&text::from_bytes(bytes), origin, format, opts)
}

/// `text` with each edit (at, cut, insert) applied in turn, at char
/// boundaries: how the readers' property tests mangle valid samples.
#[cfg(test)]
pub(crate) fn mangle(text: &str, edits: &[(usize, usize, String)]) -> String {
    let mut text = text.to_string();
    for (at, cut, insert) in edits {
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mut end = (at + cut).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.replace_range(at..end, insert);
    }
    text
}

/// A file of `../shared/data/<folder>`, which the tests read real traces
/// from. A missing file fails the test, saying how to supply it, unless
/// `TWIN_SKIP_DATA_TESTS=1`, when the test is skipped (`None`), saying so.
#[cfg(test)]
pub(crate) fn shared_data(folder: &str, name: &str) -> Option<String> {
    let path = format!("{}/../../shared/data/{folder}/{name}", env!("CARGO_MANIFEST_DIR"));
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(_) if std::env::var("TWIN_SKIP_DATA_TESTS").is_ok_and(|v| v == "1") => {
            eprintln!("skipped (TWIN_SKIP_DATA_TESTS=1): {path} is not here");
            None
        }
        Err(e) => panic!(
            "{path}: {e}; these tests read real traces from ../shared/data beside the checkout: put it there, or set TWIN_SKIP_DATA_TESTS=1 to skip them"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_files_read_in_parts_read_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        // 17 MB and a few bytes: parts on every core, the last one short.
        let bytes: Vec<u8> = (0..(17usize << 20) + 13).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_bytes(&path).unwrap() == bytes);
        assert!(read_bytes(&dir.path().join("missing")).is_err());
        // Text that is not UTF-8 is read with its bad bytes replaced.
        std::fs::write(&path, b"timestamp, index, power.draw [W]\n2026/11/27 01:58:59.960, 0, 77.25 W\xff\n").unwrap();
        let (t, report) = read_file(&path, Format::Auto, &ReadOptions::default()).unwrap();
        assert_eq!((t.len(), report.skipped), (0, 1), "{report}");
    }

    /// A format enum's names: listed in order, serde's, and read back.
    fn names_agree<F>(all: &[F], names: &str, name: fn(F) -> &'static str, from_name: fn(&str) -> Option<F>)
    where
        F: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + serde::Serialize + serde::de::DeserializeOwned,
    {
        assert_eq!(all.iter().map(|f| name(*f)).collect::<Vec<_>>().join(", "), names);
        for &f in all {
            let quoted = format!("\"{}\"", name(f));
            assert_eq!(serde_json::to_string(&f).unwrap(), quoted);
            assert_eq!(serde_json::from_str::<F>(&quoted).unwrap(), f);
            assert_eq!(from_name(name(f)), Some(f));
            assert_eq!(f.to_string(), name(f));
        }
        assert!(serde_json::from_str::<F>("\"no-such-format\"").is_err());
        assert_eq!(from_name("no-such-format"), None);
    }

    #[test]
    fn format_names_are_the_command_lines_and_serdes() {
        // The names as they always were.
        names_agree(&Format::ALL, "auto, nvidia-smi, dmon, dcgm", Format::name, Format::from_name);
        names_agree(
            &prices::PriceFormat::ALL,
            "gcp-changes, aws-spot-history, spot-advisor-csv, spot-advisor-json",
            prices::PriceFormat::name,
            prices::PriceFormat::from_name,
        );
        names_agree(&jobs::JobFormat::ALL, "openb, helios", jobs::JobFormat::name, jobs::JobFormat::from_name);
        names_agree(
            &requests::RequestFormat::ALL,
            "auto, azure, mooncake",
            requests::RequestFormat::name,
            requests::RequestFormat::from_name,
        );
        names_agree(&nodes::NodeFormat::ALL, "openb-nodes", nodes::NodeFormat::name, nodes::NodeFormat::from_name);
        assert_eq!(nodes::FORMAT, "openb-nodes");
        assert_eq!(
            (Format::NAMES, prices::PriceFormat::NAMES, jobs::JobFormat::NAMES),
            ("auto, nvidia-smi, dmon, dcgm", "gcp-changes, aws-spot-history, spot-advisor-csv, spot-advisor-json", "openb, helios")
        );
        // Telemetry's aliases, on the command line and in files.
        for (alias, f) in [("smi", Format::NvidiaSmi), ("csv", Format::NvidiaSmi), ("prometheus", Format::Dcgm)] {
            assert_eq!(Format::from_name(alias), Some(f));
            assert_eq!(serde_json::from_str::<Format>(&format!("\"{alias}\"")).unwrap(), f);
        }
        assert_eq!(requests::RequestFormat::resolve("auto", "{\"timestamp\": 0}"), Some(requests::RequestFormat::Mooncake));
        assert_eq!(requests::RequestFormat::resolve("auto", "hello"), None);
        assert_eq!(requests::RequestFormat::resolve("azure", ""), Some(requests::RequestFormat::Azure));
    }

    #[test]
    fn bytes_in_memory_read_as_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let o = ReadOptions::default();
        let files: [&[u8]; 5] = [
            b"timestamp, index, power.draw [W]\n2026/11/27 01:58:59.960, 0, 77.25 W\n2026/11/27 01:58:59.960, 1, 7\xff W\n",
            b"snapshot_date,source_commit,machine_type,gpu_model,gpu_count,region,ondemand_usd_per_hour,spot_usd_per_hour\n2024-05-17,\xff,a3,h100,8,us-central1,87.83,61.95\n",
            b"name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\npod-\xff,6000,12288,1,460,,LS,Running,10,110,20\n",
            b"sn,cpu_milli,memory_mib,gpu,model\nn-\xff,96000,786432,8,G2\n",
            b"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04,\xff,1\n",
        ];
        for (i, bytes) in files.iter().enumerate() {
            let path = dir.path().join(format!("f{i}"));
            std::fs::write(&path, bytes).unwrap();
            let origin = path.display().to_string();
            let same = match i {
                0 => {
                    format!("{:?}", read_file(&path, Format::Auto, &o))
                        == format!("{:?}", read_from_bytes(bytes, &origin, Format::Auto, &o))
                }
                1 => {
                    format!("{:?}", prices::read_file(&path, None, &o))
                        == format!("{:?}", prices::read_from_bytes(bytes, &origin, None, &o))
                }
                2 => format!("{:?}", jobs::read_file(&path, None, &o)) == format!("{:?}", jobs::read_from_bytes(bytes, &origin, None, &o)),
                3 => format!("{:?}", nodes::read_file(&path, &o)) == format!("{:?}", nodes::read_from_bytes(bytes, &origin, &o)),
                _ => {
                    format!("{:?}", requests::read_file(&path, requests::RequestFormat::Auto, &o))
                        == format!("{:?}", requests::read_from_bytes(bytes, &origin, requests::RequestFormat::Auto, &o))
                }
            };
            assert!(same, "file {i}");
        }
        let (_, report) = read_from_bytes(files[0], "x", Format::Auto, &o).unwrap();
        assert_eq!((report.rows, report.skipped), (1, 1), "{report}");
    }

    #[test]
    fn reading_and_encoding_give_the_same_on_any_number_of_threads() {
        // 15 MB: chunks of the read, parts of the timeline scan and columns
        // of the encoding all shared out.
        let text = benchmarks::nvidia_smi_csv(110_000);
        let run = || {
            let (t, report) = read(&text, "b.csv", Format::NvidiaSmi, &ReadOptions::default()).unwrap();
            let mut bytes = Vec::new();
            encoding::write_parquet(&t, &mut bytes).unwrap();
            (t, report, bytes)
        };
        let one = cores::in_pool(1, run);
        assert_eq!((one.0.len(), one.1.skipped), (110_000, 0));
        for threads in [2, 3] {
            let got = cores::in_pool(threads, run);
            assert!(got.0 == one.0 && got.1 == one.1, "{threads} threads");
            assert!(got.2 == one.2, "the same Parquet bytes on {threads} threads");
        }
    }
}
