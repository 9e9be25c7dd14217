//! (in progress)
pub struct HashingEmbedder;
