//! Cursor pagination: an iterator over every item of a paged method.
//!
//! ```
//! use slack_web::api::ListConversations;
//! # let slack = slack_testkit::FakeSlack::start()?;
//! # slack.add_channels(7);
//! # let client = slack_web::WebClient::builder(slack_web::BotToken::new(slack.bot_token())?)
//! #     .base_url(slack.api_url()).allow_insecure_http(true).build()?;
//! // Every channel, 200 per request, following `response_metadata.next_cursor`.
//! let mut names = Vec::new();
//! for channel in client.conversations_list(ListConversations::default().limit(200u32)) {
//!     let channel = channel?; // an error ends the iteration
//!     names.push(channel.name.unwrap_or_default());
//! }
//! assert_eq!(names.len(), 10);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Each page is one call through the client, so it is paced by the method's rate-limit tier
//! ([`crate::Tier::of`]) and retried after a 429 as the client's
//! [`RetryPolicy`](crate::RetryPolicy) says; when the client gives up on a 429, the
//! iterator itself waits the `Retry-After` and asks again for the same page, as long as its
//! total wait stays within [`Pages::max_wait`] (default 5 minutes). Any other error is
//! yielded once and ends the iteration.

use std::marker::PhantomData;
use std::time::Duration;

use crate::api::{PagedRequest, PagedResponse};
use crate::client::WebClient;
use crate::error::Error;

/// The page size asked for when the request sets none: Slack's recommended 200 (the most is
/// 1000; Slack's own default is 100).
pub const DEFAULT_PAGE: u32 = 200;

/// Every item of a cursor-paginated method; see the [module docs](self).
#[must_use = "an iterator does nothing until iterated"]
pub struct Pages<'a, Req, Resp: PagedResponse> {
    client: &'a WebClient,
    method: &'static str,
    request: Req,
    buffer: std::vec::IntoIter<Resp::Item>,
    cursor: Option<String>,
    done: bool,
    pages: usize,
    waited: Duration,
    max_wait: Duration,
    _resp: PhantomData<fn() -> Resp>,
}

impl<Req, Resp: PagedResponse> std::fmt::Debug for Pages<'_, Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("method", &self.method)
            .field("pages", &self.pages)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<'a, Req: PagedRequest, Resp: PagedResponse> Pages<'a, Req, Resp> {
    /// Pages of `method` called with `request` (its cursor is managed here; without a
    /// `limit`, pages of [`DEFAULT_PAGE`] items are asked for).
    pub fn new(client: &'a WebClient, method: &'static str, mut request: Req) -> Self {
        request.default_limit(DEFAULT_PAGE);
        Pages {
            client,
            method,
            request,
            buffer: Vec::new().into_iter(),
            cursor: None,
            done: false,
            pages: 0,
            waited: Duration::ZERO,
            max_wait: Duration::from_secs(300),
            _resp: PhantomData,
        }
    }

    /// The most this iterator waits in total for 429s the client gave up on (default 5
    /// minutes); a longer wait ends the iteration with [`Error::RateLimited`].
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.max_wait = d;
        self
    }

    /// How many pages were fetched so far.
    pub fn pages_fetched(&self) -> usize {
        self.pages
    }

    /// The next whole page (instead of item by item); `None` after the last page or an
    /// error.
    pub fn next_page(&mut self) -> Option<Result<Resp, Error>> {
        if self.done {
            return None;
        }
        let mut req = self.request.clone();
        req.set_cursor(self.cursor.clone());
        loop {
            match self.client.call_typed::<Resp>(self.method, &req) {
                Ok(page) => {
                    self.pages += 1;
                    match page.next_cursor() {
                        Some(c) if Some(c) != self.cursor.as_deref() => {
                            self.cursor = Some(c.to_owned());
                        }
                        // No cursor (or the same one again, which would loop): the end.
                        _ => self.done = true,
                    }
                    return Some(Ok(page));
                }
                Err(Error::RateLimited { retry_after, .. })
                    if self.waited.saturating_add(retry_after) <= self.max_wait =>
                {
                    log::debug!(
                        "slack-web: {} page {} rate limited, waiting {retry_after:?}",
                        self.method,
                        self.pages + 1
                    );
                    std::thread::sleep(retry_after);
                    self.waited = self.waited.saturating_add(retry_after);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl<Req: PagedRequest, Resp: PagedResponse> Iterator for Pages<'_, Req, Resp> {
    type Item = Result<Resp::Item, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.buffer.next() {
                return Some(Ok(item));
            }
            match self.next_page()? {
                Ok(page) => self.buffer = page.into_items().into_iter(),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
