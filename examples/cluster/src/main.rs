//! `cluster-demo start --workers 2`, `cluster-demo status`, `cluster-demo reload`,
//! `cluster-demo stop`: see the crate's README.

fn main() -> std::process::ExitCode {
    yolk_cluster::run(cluster_demo::app)
}
