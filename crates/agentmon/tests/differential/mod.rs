//! Pieces of the differential test of agentmon's PromQL against a real
//! Prometheus: the generated data ([`fleet`]), the query list
//! ([`queries`], `queries.txt`), the query API client ([`answer`]) and
//! the comparison of answers ([`compare`]).

pub mod answer;
pub mod compare;
pub mod fleet;
pub mod queries;
