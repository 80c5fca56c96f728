//! What every example shares, apart from its bot: where it runs, and a check helper.
//!
//! With `SLACK_APP_TOKEN` and `SLACK_BOT_TOKEN` set, an example runs its bot against Slack
//! until Ctrl-C. Without them, or with `--against-testkit` (how `cargo xtask examples` runs
//! them), it runs the same bot against the built-in fake Slack, drives it through a scripted
//! exchange, checks what the bot did, and exits.

use std::error::Error;
use std::time::Duration;

use slack_bot::{Bot, BotBuilder, RunningBot};
use slack_testkit::FakeSlack;

/// What the examples' functions return.
pub(crate) type Res<T = ()> = Result<T, Box<dyn Error>>;

/// How long a scripted exchange waits for each step.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Runs the bot that `bot` builds: against Slack, or against the fake Slack with `script`
/// (given the fake and the running bot, which it shuts down when it wants its report).
pub(crate) fn main(
    what: &str,
    bot: impl Fn(BotBuilder) -> BotBuilder,
    script: impl FnOnce(&FakeSlack, RunningBot) -> Res,
) -> Res {
    let against_testkit = std::env::args().any(|a| a == "--against-testkit");
    match (
        std::env::var("SLACK_APP_TOKEN"),
        std::env::var("SLACK_BOT_TOKEN"),
    ) {
        (Ok(app), Ok(token)) if !against_testkit => {
            against_slack(what, bot(Bot::builder(&app, &token)?))
        }
        _ => {
            if !against_testkit {
                println!("SLACK_APP_TOKEN/SLACK_BOT_TOKEN not set: running against the fake Slack");
            }
            let slack = FakeSlack::start()?;
            let running = bot(Bot::builder(&slack.app_token(), &slack.bot_token())?
                .api_url(slack.api_url())
                .allow_insecure(true) // the fake speaks plain http:// and ws://
                .no_proxy())
            .start()?;
            slack.wait_for_connections(1, WAIT)?;
            script(&slack, running)?;
            slack.shutdown();
            Ok(())
        }
    }
}

/// Starts the bot `builder` describes against Slack, with logs on stderr, and runs it until
/// Ctrl-C.
pub(crate) fn against_slack(what: &str, builder: BotBuilder) -> Res {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let running = builder.start()?;
    let stopper = running.stopper();
    ctrlc::set_handler(move || stopper.stop())?;
    println!("{what} running; Ctrl-C to stop");
    running.wait()?;
    Ok(())
}

/// An error naming `what` unless `ok`.
pub(crate) fn check(ok: bool, what: &str) -> Res {
    if ok {
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}
