//! Tower middleware of our own: correlation ids and error-body normalisation.

pub mod correlation;
