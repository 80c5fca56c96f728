//! Posts a message built with the Block Kit builders (header, section with fields and an
//! accessory, context, actions with a confirmed button, a select and an overflow), checked
//! against Slack's limits before it is sent, then shows that a limit broken is an error,
//! never a truncation.
//!
//! Against real Slack (scope `chat:write`):
//!   SLACK_BOT_TOKEN=xoxb-… cargo run -p slack-web --example block_kit_message -- C0123456789
//! Without a token and channel it runs against the embedded fake Slack of `slack-testkit`.

use slack_web::blocks::{
    Block, Button, Confirm, Element, ImageElement, Overflow, SelectOption, StaticSelect, Text,
};
use slack_web::{BotToken, Message, PostMessage, ProxyConfig, WebClient};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let channel = std::env::args().nth(1);
    let token = std::env::var("SLACK_BOT_TOKEN").ok();
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

    let blocks: Vec<Block> = vec![
        Block::header("Deploy request"),
        Block::section(Text::mrkdwn(
            "*api-server* `v1.4.2` is ready for production.",
        ))
        .block_id("summary")
        .fields([
            Text::mrkdwn("*Requested by*\n<@U0BOT>"),
            Text::mrkdwn("*Tests*\n412 passed"),
        ])
        .accessory(ImageElement::new(
            "https://api.slack.com/img/blocks/bkb_template_images/approvalsNewDevice.png",
            "deploy",
        ))
        .into(),
        Block::divider(),
        Block::actions([
            Element::from(
                Button::new("Deploy", "deploy")
                    .value("v1.4.2")
                    .primary()
                    .confirm(Confirm::new(
                        "Deploy v1.4.2?",
                        Text::mrkdwn("This goes to *production*."),
                        "Deploy",
                        "Not yet",
                    )),
            ),
            StaticSelect::new("region")
                .placeholder(Text::plain("Region"))
                .options([
                    SelectOption::new("eu-west-1", "eu-west-1"),
                    SelectOption::new("us-east-1", "us-east-1"),
                ])
                .into(),
            Overflow::new("more")
                .options([
                    SelectOption::new("View diff", "diff"),
                    SelectOption::new("Cancel request", "cancel"),
                ])
                .into(),
        ])
        .block_id("decide")
        .into(),
        Block::context([Text::mrkdwn("Expires in 1 hour").into()]).into(),
    ];
    let message = Message::text("Deploy request: api-server v1.4.2").with_blocks(blocks)?;
    let posted = client.chat_post_message(&PostMessage::new(&channel, message))?;
    log_line(&format!("posted the Block Kit message ts={}", posted.ts));

    // A limit broken is refused before anything is sent.
    let too_many: Vec<Block> = (0..51)
        .map(|i| Block::section(Text::plain(format!("line {i}"))).into())
        .collect();
    match Message::text("too long").with_blocks(too_many) {
        Err(e) => log_line(&format!("refused as expected: {e}")),
        Ok(_) => return Err("51 blocks were accepted".into()),
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
fn log_line(s: &str) {
    println!("{s}");
}
