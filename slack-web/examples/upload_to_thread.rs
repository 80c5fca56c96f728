//! Uploads a file into a thread: posts a message, then `upload_file` (the three-step
//! `files.getUploadURLExternal` → upload → `files.completeUploadExternal` flow) replies in
//! its thread with the file.
//!
//! Against real Slack (scopes `chat:write`, `files:write`, `files:read`):
//!   SLACK_BOT_TOKEN=xoxb-… cargo run -p slack-web --example upload_to_thread -- C0123456789 [PATH]
//! Without a token and channel it runs against the embedded fake Slack of `slack-testkit`.

use slack_web::api::UploadFile;
use slack_web::{BotToken, PostMessage, ProxyConfig, WebClient};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let channel = std::env::args().nth(1);
    let path = std::env::args().nth(2);
    let token = std::env::var("SLACK_BOT_TOKEN").ok();

    let fake;
    let (client, channel) = match (token, channel) {
        (Some(token), Some(channel)) => (WebClient::new(token.parse::<BotToken>()?)?, channel),
        _ => {
            fake = slack_testkit::FakeSlack::start()?;
            log_line(&format!(
                "no token/channel given: using the fake Slack at {}",
                fake.api_url()
            ));
            let client = WebClient::builder(fake.bot_token().parse::<BotToken>()?)
                .base_url(fake.api_url())
                .allow_insecure_http(true)
                .proxy(ProxyConfig::None)
                .build()?;
            // The fake's #general.
            let general = client
                .conversations_list(Default::default())
                .find_map(|c| c.ok().filter(|c| c.name.as_deref() == Some("general")))
                .ok_or("the fake has no #general")?;
            (client, general.id)
        }
    };

    let (name, content) = match path {
        Some(p) => {
            let name = std::path::Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".into());
            (name, std::fs::read(&p)?)
        }
        None => (
            "report.txt".to_owned(),
            b"build ok\n42 tests passed\n".to_vec(),
        ),
    };

    let parent = client.chat_post_message(&PostMessage::new(&channel, "Nightly build finished"))?;
    log_line(&format!("posted the parent message ts={}", parent.ts));

    let uploaded = client.upload_file(
        &UploadFile::new(&name, content)
            .channel(&parent.channel)
            .thread_ts(&parent.ts)
            .title("Build report")
            .initial_comment("Here is the report"),
    )?;
    log_line(&format!(
        "uploaded {name} as {} into the thread",
        uploaded.id
    ));

    let info = client.files_info(&uploaded.id)?;
    log_line(&format!(
        "files.info: {} ({} bytes), shared in {:?}",
        info.name.unwrap_or_default(),
        info.size.unwrap_or(0),
        info.channels
    ));
    Ok(())
}

#[allow(clippy::print_stdout)]
fn log_line(s: &str) {
    println!("{s}");
}
