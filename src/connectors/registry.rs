//! (in progress)
pub struct ConnectionHandle;
pub struct ConnectorRegistry;
