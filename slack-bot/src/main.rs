//! The `slack-bot` binary: the reference bot (see `slack_bot::reference`). `slack-bot demo`
//! runs it against the embedded fake Slack.
fn main() {}
