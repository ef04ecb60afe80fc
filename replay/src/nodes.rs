//! Cluster node lists: the machines a job trace ran on.
//!
//! | format | file | columns |
//! | --- | --- | --- |
//! | `openb-nodes` | Alibaba openb 2023 node list (`openb_node_list_gpu_node.csv`) | `sn,cpu_milli,memory_mib,gpu,model` |
//!
//! The canonical schema, as [`write_parquet`] writes it: `name` (string),
//! `cpu_milli` (u64, thousandths of a CPU), `memory_mib` (u64), `gpus` (u32)
//! and `gpu_model` (string, null for a node without GPUs). A row that cannot
//! be read is skipped and reported with its line, or, with `strict`, stops the
//! read; two rows with the same name are a problem too (the second is kept
//! out), since a scheduler keys nodes by name.
//!
//! ```
//! use twin_replay::{ReadOptions, nodes};
//! let text = "sn,cpu_milli,memory_mib,gpu,model\nn-0,96000,786432,8,G2\nn-1,32000,131072,0,\n";
//! let (list, report) = nodes::read(text, "nodes.csv", &ReadOptions::default()).unwrap();
//! assert_eq!((report.format.as_str(), list.nodes.len(), list.gpus()), ("openb-nodes", 2, 8));
//! assert_eq!(list.nodes[1].gpu_model, None);
//! ```

use crate::csv::csv_rows;
use crate::{ReadOptions, ReadReport, ReplayError};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// A node-list format (there is one). Serde reads and writes its [`NodeFormat::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeFormat {
    /// Alibaba openb 2023 node list.
    OpenbNodes,
}

format_names!(NodeFormat { OpenbNodes => "openb-nodes" });

impl NodeFormat {
    /// From a name in [`NodeFormat::NAMES`].
    pub fn from_name(s: &str) -> Option<NodeFormat> {
        NodeFormat::ALL.into_iter().find(|f| f.name() == s)
    }
}

/// The format's name, as `--format` takes it: [`NodeFormat::OpenbNodes`]'s.
pub const FORMAT: &str = NodeFormat::OpenbNodes.name();

/// One machine of a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterNode {
    /// Its name in the list.
    pub name: String,
    /// CPU, in thousandths of a core.
    pub cpu_milli: u64,
    /// Memory, MiB.
    pub memory_mib: u64,
    /// Accelerators.
    pub gpus: u32,
    /// Accelerator model, `None` without accelerators.
    pub gpu_model: Option<String>,
}

/// A cluster's machines, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeList {
    /// The machines.
    pub nodes: Vec<ClusterNode>,
}

/// What one accelerator model (or "CPU only") amounts to in a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelShare {
    /// The model, or `None` for machines without accelerators.
    pub model: Option<String>,
    /// Machines.
    pub nodes: usize,
    /// Accelerators.
    pub gpus: u64,
    /// The distinct accelerator counts per machine, smallest first.
    pub per_node: Vec<u32>,
}

impl NodeList {
    /// All accelerators.
    pub fn gpus(&self) -> u64 {
        self.nodes.iter().map(|n| u64::from(n.gpus)).sum()
    }

    /// Machines and accelerators by model, by model name (machines without
    /// accelerators last).
    pub fn by_model(&self) -> Vec<ModelShare> {
        let mut m: BTreeMap<(bool, Option<&str>), ModelShare> = BTreeMap::new();
        for n in &self.nodes {
            let model = n.gpu_model.as_deref();
            let e = m.entry((model.is_none(), model)).or_insert_with(|| ModelShare {
                model: model.map(str::to_string),
                nodes: 0,
                gpus: 0,
                per_node: Vec::new(),
            });
            e.nodes += 1;
            e.gpus += u64::from(n.gpus);
            if !e.per_node.contains(&n.gpus) {
                e.per_node.push(n.gpus);
            }
        }
        m.into_values()
            .map(|mut s| {
                s.per_node.sort_unstable();
                s
            })
            .collect()
    }
}

/// Whether a CSV header (or a whole text, by its first non-empty line) is an openb node list.
pub fn detect(header: &str) -> bool {
    let Some(first) = header.lines().map(|l| l.trim().trim_start_matches('\u{feff}')).find(|l| !l.is_empty()) else {
        return false;
    };
    let cols: Vec<String> = first.split(',').map(|c| c.trim().to_ascii_lowercase()).collect();
    ["sn", "gpu", "model"].iter().all(|c| cols.iter().any(|x| x == c))
}

fn number(name: &str, s: &str, most: u64) -> Result<u64, (Option<String>, String)> {
    s.trim()
        .parse::<u64>()
        .ok()
        .filter(|v| *v <= most)
        .ok_or_else(|| (Some(name.to_string()), format!("`{s}` is not a count (0 to {most})")))
}

/// Reads an openb node list.
pub fn read(text: &str, origin: &str, opts: &ReadOptions) -> Result<(NodeList, ReadReport), ReplayError> {
    let mut report = ReadReport { format: FORMAT.into(), ..ReadReport::default() };
    let hint = "the openb node list's columns are sn,cpu_milli,memory_mib,gpu,model";
    let mut seen = std::collections::HashSet::new();
    let mut duplicates = Vec::new();
    let nodes = csv_rows(text, origin, opts, &mut report, &["sn", "gpu", "model"], hint, |h, f, line| {
        let name = h.get(f, "sn")?.trim();
        if name.is_empty() {
            return Err((Some("sn".into()), "a node without a name".into()));
        }
        let gpus = number("gpu", h.get(f, "gpu")?, 1024)? as u32;
        let model = h.get(f, "model")?.trim();
        if gpus > 0 && model.is_empty() {
            return Err((Some("model".into()), format!("a node with {gpus} GPUs but no GPU model")));
        }
        let cpu_milli = h.opt(f, "cpu_milli")?.map_or(Ok(0), |s| number("cpu_milli", s, 1 << 40))?;
        let memory_mib = h.opt(f, "memory_mib")?.map_or(Ok(0), |s| number("memory_mib", s, 1 << 40))?;
        if !seen.insert(name.to_string()) {
            duplicates.push(line);
            return Ok(None);
        }
        let gpu_model = (gpus > 0).then(|| model.to_string());
        Ok(Some(ClusterNode { name: name.to_string(), cpu_milli, memory_mib, gpus, gpu_model }))
    })?;
    if let Some(&line) = duplicates.first() {
        if opts.strict {
            return Err(ReplayError::Format {
                origin: origin.into(),
                line,
                field: Some("sn".into()),
                message: "a node named twice".into(),
                hint: Some("node names must be unique".into()),
            });
        }
        for line in duplicates {
            report.skip(line, Some("sn"), "a node named twice; the first is kept");
        }
    }
    Ok((NodeList { nodes }, report))
}

/// Reads a node-list file by path, once (bytes that are not UTF-8 are replaced).
pub fn read_file(path: &Path, opts: &ReadOptions) -> Result<(NodeList, ReadReport), ReplayError> {
    let bytes = std::fs::read(path).map_err(|source| ReplayError::Io { path: path.to_path_buf(), source })?;
    read_from_bytes(&bytes, &path.display().to_string(), opts)
}

/// Reads a node list's bytes already in memory (a caller that read the
/// file to tell its kind hands them over rather than reading it again;
/// bytes that are not UTF-8 are replaced).
pub fn read_from_bytes(bytes: &[u8], origin: &str, opts: &ReadOptions) -> Result<(NodeList, ReadReport), ReplayError> {
    read(&crate::text::from_bytes(bytes), origin, opts)
}

/// The list as a polars frame in the canonical schema.
pub fn to_frame(l: &NodeList) -> PolarsResult<DataFrame> {
    let n = &l.nodes;
    let cols = vec![
        Column::new("name".into(), n.iter().map(|n| n.name.as_str()).collect::<Vec<_>>()),
        Column::new("cpu_milli".into(), n.iter().map(|n| n.cpu_milli).collect::<Vec<_>>()),
        Column::new("memory_mib".into(), n.iter().map(|n| n.memory_mib).collect::<Vec<_>>()),
        Column::new("gpus".into(), n.iter().map(|n| n.gpus).collect::<Vec<_>>()),
        Column::new("gpu_model".into(), n.iter().map(|n| n.gpu_model.as_deref()).collect::<Vec<_>>()),
    ];
    DataFrame::new(n.len(), cols)
}

/// Writes the list as Parquet, whole or not at all.
pub fn write_parquet(l: &NodeList, path: &Path) -> Result<(), ReplayError> {
    crate::parquet::write_frame(to_frame(l), path)
}

/// Reads a list back from Parquet (as [`write_parquet`] wrote it).
pub fn read_parquet(path: &Path) -> Result<NodeList, ReplayError> {
    let table = |message: String| ReplayError::Table { path: path.to_path_buf(), message };
    let df = crate::parquet::read_frame(path, None)?;
    let col = |name: &str| df.column(name).map_err(|_| table(format!("no column `{name}`: not a Twin node list")));
    let err = |e: PolarsError| table(e.to_string());
    let names = col("name")?.str().map_err(err)?;
    let cpu = col("cpu_milli")?.u64().map_err(err)?;
    let mem = col("memory_mib")?.u64().map_err(err)?;
    let gpus = col("gpus")?.u32().map_err(err)?;
    let model = col("gpu_model")?.str().map_err(err)?;
    let nodes = (0..df.height())
        .map(|i| ClusterNode {
            name: names.get(i).unwrap_or_default().to_string(),
            cpu_milli: cpu.get(i).unwrap_or(0),
            memory_mib: mem.get(i).unwrap_or(0),
            gpus: gpus.get(i).unwrap_or(0),
            gpu_model: model.get(i).map(str::to_string),
        })
        .collect();
    Ok(NodeList { nodes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_real_openb_node_list() {
        let Some(text) = crate::shared_data("job_traces", "alibaba_openb2023_node_list_gpu_node.csv") else { return };
        let (list, report) = read(&text, "nodes.csv", &ReadOptions::default()).unwrap();
        assert!(report.problems.is_empty(), "{report}");
        // Counted independently of the reader: awk -F, 'NR>1{n[$5]++; g[$5]+=$4}' on the file.
        assert_eq!(list.nodes.len(), 1213);
        assert_eq!(list.gpus(), 6212);
        let g2 = list.by_model().into_iter().find(|m| m.model.as_deref() == Some("G2")).unwrap();
        assert_eq!((g2.nodes, g2.gpus), (549, 4392));
        let t4 = list.by_model().into_iter().find(|m| m.model.as_deref() == Some("T4")).unwrap();
        assert_eq!((t4.nodes, t4.gpus), (404, 842));
    }

    #[test]
    fn bad_rows_are_reported_with_lines_and_strict_stops() {
        let text = "sn,cpu_milli,memory_mib,gpu,model\na,1000,10,2,T4\nb,1000,10,two,T4\nc,1000,10,4,\na,1000,10,1,T4\nd,x,10,0,\n";
        let (list, report) = read(text, "n.csv", &ReadOptions::default()).unwrap();
        assert_eq!(list.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["a"]);
        let lines: Vec<(usize, Option<&str>)> = report.problems.iter().map(|p| (p.line, p.field.as_deref())).collect();
        assert_eq!(lines, [(3, Some("gpu")), (4, Some("model")), (6, Some("cpu_milli")), (5, Some("sn"))], "{report}");
        let strict = ReadOptions { strict: true, ..ReadOptions::default() };
        let e = read(text, "n.csv", &strict).unwrap_err().to_string();
        assert!(e.starts_with("n.csv:3: `gpu`"), "{e}");
        let e = read("sn,gpu\na,1\n", "n.csv", &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.contains("model") && e.contains("sn,cpu_milli,memory_mib,gpu,model"), "{e}");
    }

    #[test]
    fn detects_only_node_lists() {
        assert!(detect("sn,cpu_milli,memory_mib,gpu,model\n"));
        assert!(detect("\u{feff}SN, GPU, Model"));
        assert!(!detect("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time"));
        assert!(!detect(""));
    }

    #[test]
    fn round_trips_through_parquet() {
        let text = "sn,cpu_milli,memory_mib,gpu,model\nn-0,96000,786432,8,G2\nn-1,32000,131072,0,\n";
        let (list, _) = read(text, "n.csv", &ReadOptions::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodes.parquet");
        write_parquet(&list, &path).unwrap();
        assert_eq!(read_parquet(&path).unwrap(), list);
        assert_eq!(list.by_model()[1], ModelShare { model: None, nodes: 1, gpus: 0, per_node: vec![0] });
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}", strict in any::<bool>()) {
            let _ = read(&format!("sn,cpu_milli,memory_mib,gpu,model\n{text}"), "n.csv", &ReadOptions { strict, ..ReadOptions::default() });
            let _ = read(&text, "n.csv", &ReadOptions { strict, ..ReadOptions::default() });
        }
    }
}
