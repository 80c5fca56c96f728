//! The `slack-bot` binary (coming: see issue "slack-bot").

fn main() {
    log::error!("the slack-bot binary is not built yet");
    std::process::exit(2);
}
