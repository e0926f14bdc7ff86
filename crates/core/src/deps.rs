//! The dependency graph of Tasks (`spec.dependsOn`): cycles, refused at apply and by `axon
//! validate` (a cycle would wait forever), and the tree `axon get task X -o tree` prints.
//!
//! Names that no Task has (yet) are leaves: a Task may be applied before what it depends on.

use std::collections::{BTreeMap, BTreeSet};

/// The edges: each Task's name and the names it depends on.
pub type Graph = BTreeMap<String, Vec<String>>;

/// A cycle through the graph, as the names along it with the first repeated at the end
/// (`["a", "b", "a"]`), or `None`. Deterministic: the first cycle found from the smallest name.
pub fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        name: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(name) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = path.iter().position(|p| p == name).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(name.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(name.to_string(), Mark::Open);
        path.push(name.to_string());
        for dep in graph.get(name).into_iter().flatten() {
            if let Some(c) = visit(dep, graph, marks, path) {
                return Some(c);
            }
        }
        path.pop();
        marks.insert(name.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for name in graph.keys() {
        let mut path = Vec::new();
        if let Some(c) = visit(name, graph, &mut marks, &mut path) {
            return Some(c);
        }
    }
    None
}

/// A cycle that passes through `name` (`[name, …, name]`), or `None`.
pub fn cycle_through(graph: &Graph, name: &str) -> Option<Vec<String>> {
    let mut path = vec![name.to_string()];
    let mut seen = BTreeSet::new();
    fn walk(
        graph: &Graph,
        target: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        let Some(current) = path.last().cloned() else {
            return false;
        };
        for dep in graph.get(&current).into_iter().flatten() {
            if dep == target {
                path.push(dep.clone());
                return true;
            }
            if seen.insert(dep.clone()) {
                path.push(dep.clone());
                if walk(graph, target, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    walk(graph, name, &mut path, &mut seen).then_some(path)
}

/// The graph after adding (or replacing) `name -> deps`, and the cycle it would close.
pub fn cycle_with(graph: &Graph, name: &str, deps: &[String]) -> Option<Vec<String>> {
    let mut g = graph.clone();
    g.insert(name.to_string(), deps.to_vec());
    find_cycle(&g)
}

/// Words for a cycle: `a -> b -> a`.
pub fn describe_cycle(cycle: &[String]) -> String {
    cycle.join(" -> ")
}

/// One line of a dependency tree: depth, name, and whether it was already shown above (a
/// Task two others depend on is expanded once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeLine {
    pub depth: usize,
    pub name: String,
    pub repeated: bool,
}

/// The tree of what `root` depends on, depth first, dependencies in their listed order.
pub fn tree(graph: &Graph, root: &str) -> Vec<TreeLine> {
    fn walk(
        graph: &Graph,
        name: &str,
        depth: usize,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<TreeLine>,
    ) {
        let repeated = !seen.insert(name.to_string());
        out.push(TreeLine {
            depth,
            name: name.to_string(),
            repeated,
        });
        if repeated {
            return;
        }
        for dep in graph.get(name).into_iter().flatten() {
            walk(graph, dep, depth + 1, seen, out);
        }
    }
    let mut out = Vec::new();
    walk(graph, root, 0, &mut BTreeSet::new(), &mut out);
    out
}

/// The Tasks that depend on `name`, directly or not (for `-o tree` of a Task others wait on).
pub fn dependants(graph: &Graph, name: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![name.to_string()];
    while let Some(n) = todo.pop() {
        for (task, deps) in graph {
            if deps.contains(&n) && out.insert(task.clone()) {
                todo.push(task.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        edges
            .iter()
            .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn a_chain_and_a_fan_in_have_no_cycle() {
        let g = graph(&[
            ("docs", &["tests"]),
            ("tests", &["scaffold"]),
            ("scaffold", &[]),
            ("report", &["a", "b", "c"]),
        ]);
        assert_eq!(find_cycle(&g), None);
    }

    #[test]
    fn cycles_are_found_with_their_path() {
        let g = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]);
        assert_eq!(
            describe_cycle(&find_cycle(&g).expect("cycle")),
            "a -> b -> c -> a"
        );
        let g = graph(&[("x", &[]), ("y", &["x"])]);
        let c = cycle_with(&g, "x", &["y".to_string()]).expect("closing edge");
        assert_eq!(describe_cycle(&c), "x -> y -> x");
        let g = graph(&[("a", &["b"]), ("b", &["a"]), ("c", &["a"])]);
        assert_eq!(cycle_through(&g, "c"), None);
        assert_eq!(
            describe_cycle(&cycle_through(&g, "b").expect("b is on it")),
            "b -> a -> b"
        );
    }

    #[test]
    fn the_tree_expands_shared_dependencies_once() {
        let g = graph(&[
            ("report", &["a", "b"]),
            ("a", &["base"]),
            ("b", &["base"]),
            ("base", &[]),
        ]);
        let lines: Vec<String> = tree(&g, "report")
            .iter()
            .map(|l| {
                format!(
                    "{}{}{}",
                    "  ".repeat(l.depth),
                    l.name,
                    if l.repeated { " (above)" } else { "" }
                )
            })
            .collect();
        assert_eq!(
            lines,
            ["report", "  a", "    base", "  b", "    base (above)"]
        );
        assert_eq!(
            dependants(&g, "base").into_iter().collect::<Vec<_>>(),
            ["a", "b", "report"]
        );
    }
}
