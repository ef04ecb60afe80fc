//! The Alibaba openb 2023 GPU cluster trace (the FGD paper's data): its node
//! list and pod list, read into node shapes and pods.
//!
//! Node list columns: `sn, cpu_milli, memory_mib, gpu, model`. Pod list
//! columns: `name, cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec, qos,
//! pod_phase, creation_time, deletion_time, scheduled_time`. A pod with one
//! GPU and `gpu_milli` under 1000 asks for a share of one GPU; `gpu_spec`
//! (models separated by `|`) restricts the models it may use. Columns are
//! found by name, so their order does not matter and extra columns are
//! ignored. Parsing is pure: the caller reads the files.

use crate::node::NodeShape;
use crate::pod::{Pod, PodId};
use thiserror::Error;

/// A line of a trace file that could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{origin}:{line}: field `{field}`: {message}")]
pub struct TraceError {
    /// The file, as the caller named it.
    pub origin: String,
    /// Line number, from 1 (the header is line 1).
    pub line: usize,
    /// The column at fault.
    pub field: String,
    /// What is wrong and what would be right.
    pub message: String,
}

/// A node of the trace: its name and its shape.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceNode {
    /// `sn`.
    pub name: String,
    /// Shape: pool `openb-<model>`, `gpu.type` label set to the model.
    pub shape: NodeShape,
}

/// The pods and nodes of a trace.
#[derive(Clone, Debug, Default)]
pub struct PodTrace {
    /// Nodes, in file order.
    pub nodes: Vec<TraceNode>,
    /// Pods, in order of creation (file order for equal times).
    pub pods: Vec<Pod>,
}

struct Table<'a> {
    origin: &'a str,
    header: Vec<&'a str>,
}

impl<'a> Table<'a> {
    fn new(origin: &'a str, text: &'a str, required: &[&str]) -> Result<(Table<'a>, std::iter::Skip<std::str::Lines<'a>>), TraceError> {
        let header: Vec<&str> = text.lines().next().unwrap_or("").trim_start_matches('\u{feff}').split(',').map(str::trim).collect();
        for r in required {
            if !header.contains(r) {
                return Err(TraceError {
                    origin: origin.into(),
                    line: 1,
                    field: (*r).into(),
                    message: format!("the header has no `{r}` column (it has: {}); is this the right file?", header.join(", ")),
                });
            }
        }
        Ok((Table { origin, header }, text.lines().skip(1)))
    }

    fn col(&self, name: &str) -> usize {
        self.header.iter().position(|h| *h == name).unwrap_or(usize::MAX)
    }

    fn cell<'l>(&self, cells: &[&'l str], line: usize, name: &str) -> Result<&'l str, TraceError> {
        cells.get(self.col(name)).map(|c| c.trim()).ok_or_else(|| TraceError {
            origin: self.origin.into(),
            line,
            field: name.into(),
            message: format!("the row has {} cells, fewer than the header's {}: a truncated line?", cells.len(), self.header.len()),
        })
    }

    fn number(&self, cells: &[&str], line: usize, name: &str, max: u64) -> Result<u64, TraceError> {
        let raw = self.cell(cells, line, name)?;
        let bad = |why: &str| TraceError {
            origin: self.origin.into(),
            line,
            field: name.into(),
            message: format!("`{raw}` {why}; expected a whole number from 0 to {max}"),
        };
        let v: u64 = raw.parse().map_err(|_| bad("is not a whole number"))?;
        if v > max {
            return Err(bad("is too large"));
        }
        Ok(v)
    }
}

/// Reads the node list.
pub fn parse_nodes(origin: &str, text: &str) -> Result<Vec<TraceNode>, TraceError> {
    let (t, rows) = Table::new(origin, text, &["sn", "cpu_milli", "memory_mib", "gpu", "model"])?;
    let mut nodes = Vec::new();
    for (i, row) in rows.enumerate() {
        let line = i + 2;
        if row.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = row.split(',').collect();
        let name = t.cell(&cells, line, "sn")?.to_string();
        let gpus = t.number(&cells, line, "gpu", 64)? as u32;
        let model = t.cell(&cells, line, "model")?;
        let model = if gpus == 0 && model.is_empty() { "CPU" } else { model };
        if model.is_empty() {
            return Err(TraceError {
                origin: origin.into(),
                line,
                field: "model".into(),
                message: "a GPU node without a GPU model".into(),
            });
        }
        let mut shape = NodeShape::gpu_node(&format!("openb-{model}"), model, gpus);
        shape.cpu_milli = t.number(&cells, line, "cpu_milli", u64::from(u32::MAX))? as u32;
        shape.memory_mib = t.number(&cells, line, "memory_mib", u64::from(u32::MAX))? as u32;
        shape.labels.insert("gpu.type".into(), model.into());
        nodes.push(TraceNode { name, shape });
    }
    Ok(nodes)
}

/// Reads the pod list, ordered by `creation_time` (file order for ties).
pub fn parse_pods(origin: &str, text: &str) -> Result<Vec<Pod>, TraceError> {
    let (t, rows) = Table::new(origin, text, &["name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"])?;
    let has_spec = t.header.contains(&"gpu_spec");
    let has_time = t.header.contains(&"creation_time");
    let mut pods = Vec::new();
    for (i, row) in rows.enumerate() {
        let line = i + 2;
        if row.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = row.split(',').collect();
        let name = t.cell(&cells, line, "name")?;
        let gpus = t.number(&cells, line, "num_gpu", 64)? as u32;
        let milli = t.number(&cells, line, "gpu_milli", 1_000)? as u16;
        let id = pods.len() as u64;
        let mut pod = if gpus == 1 && milli < 1_000 {
            if milli == 0 {
                return Err(TraceError {
                    origin: origin.into(),
                    line,
                    field: "gpu_milli".into(),
                    message: "a pod with one GPU asks for 0 thousandths of it; expected 1 to 1000".into(),
                });
            }
            Pod::share(id, name, milli)
        } else {
            Pod::gpus(id, name, gpus)
        };
        pod.cpu_milli = t.number(&cells, line, "cpu_milli", u64::from(u32::MAX))? as u32;
        pod.memory_mib = t.number(&cells, line, "memory_mib", u64::from(u32::MAX))? as u32;
        if has_spec {
            let spec = t.cell(&cells, line, "gpu_spec")?;
            pod.gpu_models = spec.split('|').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
        }
        let created = if has_time { t.number(&cells, line, "creation_time", u64::MAX)? } else { 0 };
        pods.push((created, pod));
    }
    // Stable: equal creation times keep file order.
    pods.sort_by_key(|(c, _)| *c);
    Ok(pods
        .into_iter()
        .enumerate()
        .map(|(i, (_, mut p))| {
            p.id = PodId(i as u64);
            p.seq = i as u64;
            p
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_and_pods_read_by_column_name() {
        let nodes = parse_nodes("n.csv", "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,96000,393216,8,G2\n").unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[1].shape.gpus, 8);
        assert_eq!(nodes[1].shape.labels["gpu.type"], "G2");
        let pods = parse_pods(
            "p.csv",
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time\n\
             b,6000,12288,1,460,,LS,Running,20\n\
             a,12000,16384,1,1000,V100M16|V100M32,LS,Running,10\n\
             c,4000,1024,0,0,,BE,Failed,20\n",
        )
        .unwrap();
        assert_eq!(pods.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["a", "b", "c"], "creation order, ties in file order");
        assert_eq!((pods[0].gpus, pods[0].gpu_share), (1, 0));
        assert_eq!(pods[0].gpu_models, ["V100M16", "V100M32"]);
        assert_eq!((pods[1].gpus, pods[1].gpu_share), (0, 460));
        assert_eq!((pods[2].gpus, pods[2].gpu_share, pods[2].cpu_milli), (0, 0, 4000));
        assert_eq!(pods.iter().map(|p| p.id.0).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn bad_rows_name_line_and_field() {
        let e = parse_pods("p.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli\nx,1,1,1,500\ny,1,1,one,1000\n").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "num_gpu"));
        assert!(e.to_string().starts_with("p.csv:3: field `num_gpu`"), "{e}");
        let e = parse_pods("p.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli\nx,1,1,1,1500\n").unwrap_err();
        assert_eq!(e.field, "gpu_milli");
        let e = parse_pods("p.csv", "name,cpu_milli,memory_mib,num_gpu\n").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (1, "gpu_milli"));
        let e = parse_nodes("n.csv", "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144\n").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "gpu"));
        assert!(e.message.contains("truncated"), "{e}");
    }
}
