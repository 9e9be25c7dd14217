//! (in progress)
pub struct EmbeddedIndex;
