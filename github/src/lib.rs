//! # coderipple-github
//!
//! GitHub's REST API as CodeRipple uses it, and nothing about docs: authentication (a GitHub
//! App's installation tokens, or a token), rate limits honoured, refusals classified, pages
//! followed, calls kept inside an invocation's deadline; and the recovery of webhook
//! deliveries GitHub failed to make, which only needs this API and the store.
//!
//! The public surface: [`GitHubApi`] and its answers ([`Page`], [`Refusal`]), its settings
//! ([`GitHubConfig`], [`Credentials`]), the modules [`deadline`] (the time GitHub calls may
//! take inside one invocation) and [`recover`]. `auth`, `client`, `config` and `refusal` are internal.

mod auth;
mod client;
mod config;
pub mod deadline;
pub mod recover;
mod refusal;

pub use client::{GitHubApi, Method, Page, is_out_of_time};
pub use config::{Credentials, GitHubConfig};
pub use refusal::Refusal;
