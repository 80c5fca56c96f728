# An HTTP-mode Slack app written with Bolt for Python, unchanged from how one would write it
# for Slack's HTTP delivery. `cargo xtask relay-check` runs it behind `slack-bot relay`, with
# the testkit's fake-slack playing Slack. Bolt itself verifies X-Slack-Signature.
import logging
import os
import sys

from slack_bolt import App
from slack_sdk import WebClient

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

# Not SLACK_BOT_TOKEN: Bolt would read that too and warn that it goes unused.
client = WebClient(token=os.environ["BOLT_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])


@app.event("app_mention")
def on_mention(event, say):
    # A Web API call from the listener: chat.postMessage to the event's channel.
    say(f"Bolt heard: {event.get('text', '')}")


@app.command("/relay-hello")
def on_hello(ack, command):
    # The answer in the ack: Slack shows it to the user who ran the command.
    ack(f"Hello <@{command['user_id']}>, from Bolt behind the relay")


@app.view("relay-modal")
def on_submit(ack, view):
    name = view["state"]["values"]["name_block"]["name"]["value"] or ""
    if len(name) < 3:
        ack(response_action="errors", errors={"name_block": "Bolt says: at least 3 characters"})
    else:
        ack()


@app.event("message")
def on_message(event):
    pass


if __name__ == "__main__":
    print("bolt: starting", flush=True)
    # The development server (http.server): enough for a check on loopback.
    app.start(port=int(os.environ["PORT"]), path="/slack/events")
