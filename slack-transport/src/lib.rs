//! `slack-transport`: see the crate README. This crate is being built; its API is not stable yet.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
