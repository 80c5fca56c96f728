//! Lists every channel of the workspace with the paginator: `conversations.list` page after
//! page (200 per request), following `response_metadata.next_cursor`, paced by the method's
//! rate-limit tier and waiting out 429s.
//!
//! Against real Slack (scope `channels:read`):
//!   SLACK_BOT_TOKEN=xoxb-… cargo run -p slack-web --example list_channels
//! Without a token it runs against the embedded fake Slack of `slack-testkit`, with 450
//! channels so that it takes three pages.

use slack_web::api::ListConversations;
use slack_web::{BotToken, ProxyConfig, WebClient};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fake;
    let client = match std::env::var("SLACK_BOT_TOKEN").ok() {
        Some(token) => WebClient::new(token.parse::<BotToken>()?)?,
        None => {
            fake = slack_testkit::FakeSlack::start()?;
            fake.add_channels(447);
            log_line(&format!(
                "no token given: using the fake Slack at {}",
                fake.api_url()
            ));
            WebClient::builder(fake.bot_token().parse::<BotToken>()?)
                .base_url(fake.api_url())
                .allow_insecure_http(true)
                .proxy(ProxyConfig::None)
                .build()?
        }
    };

    let mut pages = client.conversations_list(
        ListConversations::default()
            .types("public_channel")
            .exclude_archived(true)
            .limit(200u32),
    );
    let mut count = 0usize;
    for channel in pages.by_ref() {
        let channel = channel?; // an error ends the listing
        count += 1;
        if count <= 5 {
            log_line(&format!(
                "#{} ({}){}",
                channel.name.as_deref().unwrap_or("?"),
                channel.id,
                if channel.is_member == Some(true) {
                    ", member"
                } else {
                    ""
                }
            ));
        }
    }
    log_line(&format!(
        "{count} channels in {} pages",
        pages.pages_fetched()
    ));
    Ok(())
}

#[allow(clippy::print_stdout)]
fn log_line(s: &str) {
    println!("{s}");
}
