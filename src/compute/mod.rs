//! Running work: HTTP calls to workflow containers, chained pipelines, and the Docker
//! lifecycle of managed containers.
pub mod container;
pub mod docker;
pub mod pipeline;
pub mod state;

pub use container::{ContainerError, Endpoint, HttpContainers};
pub use docker::DockerContainers;
pub use pipeline::{ChainOutcome, JobLocation};
pub use state::{ContainerState, ContainerStatus, StateTable};
