//! Blocking Slack Web API client on [`ureq`]: typed methods, typed errors, `Retry-After`,
//! per-channel rate limiting and an outgoing queue.
//!
//! ```
//! use slack_web::{BotToken, Message, PostMessage, WebClient};
//! # let slack = slack_testkit::FakeSlack::start()?;
//! # let bot_token = slack.bot_token();
//! # let api_url = slack.api_url();
//! let token: BotToken = bot_token.parse()?;
//! let client = WebClient::builder(token)
//!     .base_url(api_url) // default: https://slack.com/api/
//!     .allow_insecure_http(true) // only for a local fake Slack
//!     .build()?;
//! let posted = client.chat_post_message(&PostMessage::new("C123", Message::text("Hello!")))?;
//! client.reactions_add(&posted.channel, "eyes", &posted.ts)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! * [`WebClient`]: cheap to clone, one connection pool; base URL, timeouts, extra root
//!   certificates, proxy (`HTTPS_PROXY`/`NO_PROXY` or explicit), retry policy.
//! * Tokens ([`AppToken`], [`BotToken`], [`UserToken`]) are checked by prefix, redacted when
//!   printed, and only ever sent in the `Authorization` header.
//! * [`Error`] tells fatal configuration errors ([`Error::is_fatal_auth`]) from retryable
//!   ones ([`Error::is_retryable`], [`Error::retry_after`]).
//! * [`RateLimiter`] is pure logic (time passed in); the client and its [`Outbox`] share one.
//! * Each method is sent the way Slack reads it: JSON for the write methods that read JSON,
//!   a form otherwise ([`encoding`]); typed conversations/users/files/team methods with their
//!   answers in [`api`], `upload_file`, and cursor pagination ([`paginate`]).
//! * [`blocks`]: Block Kit builders with Slack's limits checked before sending.
//!
//! # Logging without secrets
//!
//! At debug and trace levels, `ureq` and `ureq_proto` (used here) log request URLs
//! (a `response_url` is a credential) and raw requests (the `Authorization` header). Install your logger with
//! `slack_web::logging::install(my_logger, log::LevelFilter::Trace)` (or wrap it in
//! [`logging::SecretFilter`]): those records are capped at a safe level, everything else
//! passes.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;
pub mod blocks;
mod client;
pub mod encoding;
mod error;
mod limiter;
mod methods;
mod outbox;
pub mod paginate;
mod token;
mod types;

pub use client::{
    DEFAULT_BASE_URL, ProxyConfig, ProxyVars, RetryPolicy, WebClient, WebClientBuilder, WebStats,
};
pub use encoding::{Encoding, JSON_METHODS};
pub use error::{Error, TransportKind};
pub use limiter::{LimiterConfig, Rate, RateLimiter, Tier};
pub use outbox::{FlushReport, Outbox, OutboxConfig, OutboxStats, QueueError, SharedPace, Unsent};
pub use slack_envelope::logging;
pub use token::{ApiToken, AppToken, BotToken, TokenError, TokenKind, UserToken};
pub use types::{
    AuthTest, EphemeralRef, Message, MessageRef, PostEphemeral, PostMessage, ResponseMessage,
    UpdateMessage, ViewId, ViewRef,
};
