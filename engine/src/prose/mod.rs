//! The text a language model may add to the docs, without the model: the marked sections a
//! template leaves for prose and the data each one gets ([`sections`]), and the cleaning every
//! answer goes through before it enters a doc ([`sanitize`]). The worker's LLM client calls a
//! model between the two, then holds the answer to the repository
//! ([`grounding`](crate::grounding)).

pub mod sanitize;
pub mod sections;
