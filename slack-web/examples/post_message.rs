//! Posts a message, reacts to it and queues a few more through the outbox.
//!
//! Against real Slack:
//!   SLACK_BOT_TOKEN=xoxb-… cargo run -p slack-web --example post_message -- C0123456789
//! Without arguments or token it runs against the embedded fake Slack of `slack-testkit`.

use std::time::{Duration, Instant};

use slack_web::{BotToken, Message, Outbox, OutboxConfig, PostMessage, ProxyConfig, WebClient};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let channel = std::env::args().nth(1);
    let token = std::env::var("SLACK_BOT_TOKEN").ok();

    // Keep the fake alive for the whole run when it is used.
    let fake;
    let client = match (token, channel.as_deref()) {
        (Some(token), Some(_)) => WebClient::new(token.parse::<BotToken>()?)?,
        _ => {
            fake = slack_testkit::FakeSlack::start()?;
            log_line(&format!(
                "no token/channel given: using the fake Slack at {}",
                fake.api_url()
            ));
            WebClient::builder(fake.bot_token().parse::<BotToken>()?)
                .base_url(fake.api_url())
                .allow_insecure_http(true)
                .proxy(ProxyConfig::None)
                .build()?
        }
    };
    let channel = channel.unwrap_or_else(|| "C0DEMO".to_owned());

    let me = client.auth_test()?;
    log_line(&format!(
        "authenticated as {} ({}) in {}",
        me.user, me.user_id, me.team
    ));

    let posted = client.chat_post_message(&PostMessage::new(&channel, "Hello from slack-web!"))?;
    log_line(&format!("posted ts={}", posted.ts));
    client.reactions_add(&posted.channel, "eyes", &posted.ts)?;

    let outbox = Outbox::start(&client, OutboxConfig::default())?;
    for i in 1..=3 {
        outbox.queue_message(&channel, Message::text(format!("queued message {i}")))?;
    }
    if let Err(report) = outbox.flush(Instant::now() + Duration::from_secs(30)) {
        log_line(&format!("{report}"));
    }
    for unsent in outbox.shutdown(Instant::now() + Duration::from_secs(5)) {
        log_line(&format!(
            "not sent: {:?} ({:?})",
            unsent.message.message.text, unsent.error
        ));
    }
    log_line(&format!("stats: {:?}", client.stats()));
    Ok(())
}

#[allow(clippy::print_stdout)]
fn log_line(s: &str) {
    println!("{s}");
}
