//! The bridge on one machine: the local host (every HTTP route and stream subscription of
//! template.yaml, served by the functions' own handlers), the backends chosen by configuration,
//! and the demo.

pub mod agent_side;
pub mod agents;
pub mod audit_check;
pub mod backends;
pub mod demo;
pub mod doctor;
pub mod fields;
pub mod files;
pub mod functions;
pub mod host;
pub mod policies;
pub mod report;
pub mod routes;
pub mod sessions;
pub mod shadow;
pub mod shapes;
pub mod stream;
pub mod tenants;
