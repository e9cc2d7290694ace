//! The text a language model may add to the docs, without the model: the marked sections a
//! template leaves for prose and the data each one gets ([`sections`]), the cleaning every
//! answer goes through before it enters a doc ([`sanitize`]), and the check that it names
//! only what the repository has ([`grounding`]). The worker's LLM client calls a model
//! between them.

pub mod grounding;
pub mod sanitize;
pub mod sections;
