//! The bridge on one machine. Today: the backends chosen by configuration and the demo of the
//! foundation; the local host serving every function's routes comes with issue 5.

pub mod agents;
pub mod backends;
pub mod demo;
pub mod functions;
pub mod host;
pub mod report;
pub mod routes;
pub mod sessions;
