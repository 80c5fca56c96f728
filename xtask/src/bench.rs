//! `cargo xtask bench`: end-to-end throughput and round trip against a raw tungstenite baseline,
//! the core alone, footprint and reconnect gap; writes `BENCHMARKS.md`. `--smoke` runs a tiny
//! version that writes nothing (part of `test-all`).
//!
//! The measuring is done by the `e2e` bench of `slack-bot` (`slack-bot/benches/e2e.rs`), the
//! `relay` bench (`slack-bot/benches/relay.rs`: envelopes through `slack-bot relay` to a local
//! HTTP app) and the `recovery` bench (`slack-bot/benches/recovery.rs`: a silent and a dropped
//! link while traffic flows, beside a raw tungstenite baseline), which print
//! `RESULT <key> <value>` lines; this task builds and runs them, then turns the lines into a
//! table with the targets of DESIGN.md.
//!
//! * `cargo xtask bench`: release profile (the `slack-bot` binary measured is the stripped
//!   release binary), 5 repetitions of each figure; writes and prints `BENCHMARKS.md`.
//! * `cargo xtask bench --smoke`: dev profile (reuses what `cargo test` built), a few hundred
//!   envelopes, one repetition; fails only if something is broken (an envelope not acked, a
//!   connection not made), never on slowness; writes nothing.
//! * `--note TEXT` adds a line to `BENCHMARKS.md` (e.g. "loaded machine"); `--out PATH` writes
//!   elsewhere; any other argument (`--reps N`, `--n N`, `--rtt-n N`, `--core-n N`,
//!   `--idle-secs N`, `--only SECTION`) goes to the bench program.

use std::path::Path;
use std::process::Stdio;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Keys every run must report (a missing one means a section failed to run).
const REQUIRED: &[&str] = &[
    "cores",
    "e2e_bot_per_sec",
    "e2e_base_per_sec",
    "e2e_ratio",
    "rtt_bot_p50_us",
    "rtt_base_p50_us",
    "rtt_p50_ratio",
    "core_per_sec",
    "parse_fixtures_ns",
    "bin_bytes",
    "rss_kb",
    "rss_tls_kb",
    "idle_wakeups",
    "cpu_bot_per_100k",
    "reconnect_ms",
    "refresh_gap_ms",
    "relay_per_sec",
    "relay_added_p50_us",
    "recovery_silent_bot_p50_ms",
    "recovery_silent_base_p50_ms",
    "recovery_drop_bot_p50_ms",
    "recovery_drop_base_p50_ms",
];

/// Runs the task; returns true on success.
pub(crate) fn run(root: &Path, args: &[String]) -> bool {
    let smoke = args.iter().any(|a| a == "--smoke");
    let mut note: Vec<String> = Vec::new();
    let mut out = root.join("BENCHMARKS.md");
    let mut pass: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let (arg, next) = (args.get(i), args.get(i + 1));
        match (arg.map(String::as_str), next) {
            (Some("--note"), Some(v)) => {
                note.push(v.clone());
                i += 2;
            }
            (Some("--out"), Some(v)) => {
                out = root.join(v);
                i += 2;
            }
            (Some(a), _) => {
                pass.push(a.to_owned());
                i += 1;
            }
            (None, _) => break,
        }
    }
    // The smoke run selects like `cargo test --workspace --all-features` in test-all, so it
    // reuses those dev artifacts (only the bench itself is compiled).
    let (profile, selection): (&str, &[&str]) = if smoke {
        ("dev", &["--workspace", "--all-features"])
    } else {
        ("release", &["--package", "slack-bot"])
    };
    let load_before = loadavg();
    let mut cmd_args: Vec<String> = ["bench", "--profile", profile]
        .iter()
        .chain(selection)
        .chain(&["--bench", "e2e", "--bench", "relay", "--bench", "recovery"])
        .map(|s| (*s).to_owned())
        .collect();
    // Build first, so the build time is reported apart from the run.
    let build_started = Instant::now();
    let mut build_args = cmd_args.clone();
    build_args.push("--no-run".to_owned());
    println!("[bench] cargo {}", build_args.join(" "));
    match crate::cargo().args(&build_args).current_dir(root).status() {
        Ok(s) if s.success() => {}
        Ok(s) => {
            eprintln!("[bench] FAILED: the build failed ({s})");
            return false;
        }
        Err(e) => {
            eprintln!("[bench] could not run cargo: {e}");
            return false;
        }
    }
    let build_took = build_started.elapsed();
    cmd_args.push("--".to_owned());
    cmd_args.extend(pass.iter().cloned());
    println!("[bench] cargo {}", cmd_args.join(" "));
    let started = Instant::now();
    let ticks_before = cpu_ticks();
    // Progress goes to stderr (inherited); the results come on stdout.
    let output = crate::cargo()
        .args(&cmd_args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output();
    let output = match output {
        Ok(o) => o,
        Err(e) => {
            eprintln!("[bench] could not run cargo: {e}");
            return false;
        }
    };
    let took = started.elapsed();
    let steal = stolen_share(ticks_before, cpu_ticks());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let results: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .map(|l| match l.split_once(' ') {
            Some((k, v)) => (k.to_owned(), v.trim().to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect();
    for l in stdout.lines().filter(|l| !l.starts_with("RESULT ")) {
        println!("{l}");
    }
    if !output.status.success() {
        eprintln!(
            "[bench] FAILED: the bench program reported a problem ({})",
            output.status
        );
        return false;
    }
    let only = pass.iter().any(|a| a == "--only");
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|k| !results.iter().any(|(rk, _)| rk == k))
        .collect();
    if !missing.is_empty() && !only {
        eprintln!("[bench] FAILED: no result for {}", missing.join(", "));
        return false;
    }
    let mut results = results;
    // The fleet's section needs slack-bot's `fleet` feature, which the release binary measured
    // above is built without (it is not a default feature): a second build with it, run after
    // the rest so the footprint figures stay those of the default binary.
    if !smoke && (!only || pass.iter().any(|a| a == "fleet")) {
        match fleet_results(root, &pass) {
            Some(mut more) => results.append(&mut more),
            None => return false,
        }
    }
    let r = Results(results);
    if smoke {
        println!(
            "[bench] smoke OK (build {:.1}s, run {:.1}s): every section ran; slack-bot {} envelopes/s vs baseline {}, rtt p50 {} µs vs {} µs, core {}/s, rss {} kB, gap {} ms, relay {} envelopes/s and +{} µs p50 (dev profile; not figures)",
            build_took.as_secs_f64(),
            took.as_secs_f64(),
            r.text("e2e_bot_per_sec"),
            r.text("e2e_base_per_sec"),
            r.text("rtt_bot_p50_us"),
            r.text("rtt_base_p50_us"),
            r.text("core_per_sec"),
            r.text("rss_kb"),
            r.text("refresh_gap_ms"),
            r.text("relay_per_sec"),
            r.text("relay_added_p50_us"),
        );
        println!(
            "[bench] smoke recovery: silent link {} ms vs baseline {} ms, dropped link {} ms vs baseline {} ms (dev profile; not figures)",
            r.text("recovery_silent_bot_p50_ms"),
            r.text("recovery_silent_base_p50_ms"),
            r.text("recovery_drop_bot_p50_ms"),
            r.text("recovery_drop_base_p50_ms"),
        );
        return true;
    }
    let load_after = loadavg();
    let mut command = String::from("cargo xtask bench");
    for a in args {
        command.push(' ');
        if a.contains(' ') {
            command.push_str(&format!("\"{a}\""));
        } else {
            command.push_str(a);
        }
    }
    let md = markdown(
        &r,
        &command,
        &note,
        &load_before,
        &load_after,
        &steal,
        (build_took, took),
    );
    if let Err(e) = std::fs::write(&out, &md) {
        eprintln!("[bench] could not write {}: {e}", out.display());
        return false;
    }
    println!();
    print!("{md}");
    println!(
        "[bench] wrote {} (build {:.0}s, run {:.0}s)",
        out.display(),
        build_took.as_secs_f64(),
        took.as_secs_f64()
    );
    true
}

/// The `RESULT` lines of one run, in order.
struct Results(Vec<(String, String)>);

impl Results {
    fn text(&self, key: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or_else(|| "n/a".to_owned(), |(_, v)| v.clone())
    }

    fn num(&self, key: &str) -> Option<f64> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse().ok())
    }
}

/// How a figure is judged.
enum Target {
    /// At least this.
    AtLeast(f64),
    /// At most this.
    AtMost(f64),
}

fn status(value: Option<f64>, target: &Target) -> &'static str {
    match (value, target) {
        (None, _) => "n/a",
        (Some(v), Target::AtLeast(t)) if v >= *t => "met",
        (Some(v), Target::AtMost(t)) if v <= *t => "met",
        (Some(_), _) => "**missed**",
    }
}

fn thousands(v: f64) -> String {
    let s = format!("{:.0}", v.round());
    let (sign, digits) = match s.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", s.as_str()),
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn markdown(
    r: &Results,
    command: &str,
    notes: &[String],
    load_before: &str,
    load_after: &str,
    steal: &str,
    (build_took, took): (std::time::Duration, std::time::Duration),
) -> String {
    let num = |k: &str| r.num(k);
    let fmt = |k: &str, f: &dyn Fn(f64) -> String| num(k).map_or_else(|| "n/a".to_owned(), f);
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut row = |figure: &str, value: String, target: &str, st: &str| {
        rows.push([figure.to_owned(), value, target.to_owned(), st.to_owned()]);
    };

    let n = r.text("e2e_n");
    let bytes = r.text("envelope_bytes");
    row(
        &format!(
            "Throughput, 64 in flight, {n} × {bytes} B `events_api`: slack-bot (ack-only handler)"
        ),
        fmt("e2e_bot_per_sec", &|v| format!("{} events/s", thousands(v))),
        "",
        "",
    );
    row(
        "Throughput: raw tungstenite baseline",
        fmt("e2e_base_per_sec", &|v| {
            format!("{} events/s", thousands(v))
        }),
        "",
        "",
    );
    row(
        "**Throughput ratio** slack-bot / baseline",
        fmt("e2e_ratio", &|v| format!("{v:.2}")),
        "≥ 0.80",
        status(num("e2e_ratio"), &Target::AtLeast(0.8)),
    );
    row(
        "Throughput: baseline flushing each ack on its own (`send`, one write per ack)",
        fmt("e2e_base_flush_each_per_sec", &|v| {
            format!("{} events/s", thousands(v))
        }),
        "",
        "",
    );
    row(
        "Throughput ratio slack-bot / flush-each baseline",
        fmt("e2e_ratio_flush_each", &|v| format!("{v:.2}")),
        "",
        "",
    );
    let rtt_n = r.text("rtt_n");
    for (who, key) in [("slack-bot", "bot"), ("baseline", "base")] {
        row(
            &format!("Ack round trip, 1 in flight, {rtt_n} envelopes: {who} p50 / p99 / max"),
            format!(
                "{} / {} / {} µs",
                r.text(&format!("rtt_{key}_p50_us")),
                r.text(&format!("rtt_{key}_p99_us")),
                r.text(&format!("rtt_{key}_max_us")),
            ),
            "",
            "",
        );
    }
    row(
        "**Round trip p50 ratio** slack-bot / baseline",
        fmt("rtt_p50_ratio", &|v| format!("{v:.2}")),
        "≤ 1.5",
        status(num("rtt_p50_ratio"), &Target::AtMost(1.5)),
    );
    // fleet: shared claims on a local Redis against off (the bench's `fleet` section, which
    // runs when the bench is built with slack-bot's `fleet` feature and redis-server exists).
    let fleet_na = "n/a (`cargo bench -p slack-bot --features fleet --bench e2e -- --only fleet`, with redis-server)";
    row(
        "**Fleet: throughput with shared claims on** (local Redis) / off, 64 in flight",
        num("fleet_ratio").map_or_else(
            || fleet_na.to_owned(),
            |v| {
                format!(
                    "{v:.2} ({} / {} events/s)",
                    r.text("fleet_on_per_sec"),
                    r.text("fleet_off_per_sec")
                )
            },
        ),
        "≥ 0.50",
        status(num("fleet_ratio"), &Target::AtLeast(0.5)),
    );
    row(
        &format!(
            "Fleet: throughput on / off, {} in flight (saturated: what the claim path carries when round trips do not bound it)",
            r.text("fleet_sat_window")
        ),
        num("fleet_sat_ratio").map_or_else(
            || fleet_na.to_owned(),
            |v| {
                format!(
                    "{v:.2} ({} / {} events/s)",
                    r.text("fleet_sat_on_per_sec"),
                    r.text("fleet_sat_off_per_sec")
                )
            },
        ),
        "",
        "",
    );
    row(
        "**Fleet: ack round trip p50**, claims on − off, 1 in flight",
        num("fleet_rtt_p50_delta_us").map_or_else(
            || fleet_na.to_owned(),
            |v| {
                format!(
                    "{v:.0} µs ({} vs {} µs)",
                    r.text("fleet_rtt_on_p50_us"),
                    r.text("fleet_rtt_off_p50_us")
                )
            },
        ),
        "≤ 1000 µs",
        status(num("fleet_rtt_p50_delta_us"), &Target::AtMost(1000.0)),
    );
    row(
        &format!("**Core alone**: parse + dedup + ack of the {bytes} B envelope, one core"),
        fmt("core_per_sec", &|v| format!("{} envelopes/s", thousands(v))),
        "≥ 500 000/s",
        status(num("core_per_sec"), &Target::AtLeast(500_000.0)),
    );
    row(
        "Core alone, per wall-clock second (lower when other load shares the core)",
        fmt("core_per_wall_sec", &|v| {
            format!("{} envelopes/s", thousands(v))
        }),
        "",
        "",
    );
    row(
        &format!("`Frame::parse` of the {bytes} B benchmark envelope"),
        fmt("parse_bench_envelope_ns", &|v| format!("{v:.0} ns")),
        "",
        "",
    );
    for item in r.text("parse_fixtures_ns").split(',') {
        if let Some((name, ns)) = item.split_once(':') {
            row(
                &format!("`Frame::parse` of fixture `socket_mode_{name}`"),
                format!("{ns} ns"),
                "",
                "",
            );
        }
    }
    row(
        "Release binary `slack-bot`, stripped",
        fmt("bin_bytes", &|v| {
            format!("{:.2} MiB ({} bytes)", v / 1_048_576.0, thousands(v))
        }),
        "reported",
        "",
    );
    let rss_mib = num("rss_kb").map(|kb| kb / 1024.0);
    row(
        &format!(
            "**RSS** of the `slack-bot` binary, connected and idle {} s",
            r.text("idle_secs")
        ),
        rss_mib.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2} MiB")),
        "≤ 5 MiB",
        status(rss_mib, &Target::AtMost(5.0)),
    );
    row(
        "RSS of the same over TLS (`https` + `wss` with the fake's CA, as a real Slack is \
         reached: rustls and the root store resident too); idle wake-ups",
        format!(
            "{} MiB; {}",
            num("rss_tls_kb").map_or_else(|| "n/a".to_owned(), |kb| format!("{:.2}", kb / 1024.0)),
            r.text("idle_wakeups_tls")
        ),
        "reported",
        "",
    );
    let breakdown = r.text("idle_wakeups_threads").replace(',', ", ");
    row(
        &format!(
            "Thread wake-ups while idle {} s (voluntary context switches, all threads; {} threads)",
            r.text("idle_secs"),
            r.text("bin_threads")
        ),
        format!(
            "{} ({})",
            r.text("idle_wakeups"),
            if breakdown.trim().is_empty() {
                "none".to_owned()
            } else {
                breakdown
            }
        ),
        "liveness timer only",
        "see breakdown",
    );
    row(
        "CPU per 100 000 envelopes (client threads, 64 in flight): slack-bot",
        fmt("cpu_bot_per_100k", &|v| format!("{v:.2} s")),
        "",
        "",
    );
    row(
        "CPU per 100 000 envelopes: baseline",
        fmt("cpu_base_per_100k", &|v| format!("{v:.2} s")),
        "",
        "",
    );
    row(
        "Fake Slack's own CPU during the throughput runs (share of one core): slack-bot / baseline",
        format!(
            "{} / {}",
            fmt("fake_busy_bot", &|v| format!("{:.0} %", v * 100.0)),
            fmt("fake_busy_base", &|v| format!("{:.0} %", v * 100.0)),
        ),
        "< 100 % (not the bottleneck)",
        status(
            num("fake_busy_base").map(|v| v.max(num("fake_busy_bot").unwrap_or(0.0))),
            &Target::AtMost(0.9),
        ),
    );
    row(
        "Reconnect: `disconnect` (`refresh_requested`) to the replacement's `hello`",
        fmt("reconnect_ms", &|v| format!("{v:.1} ms")),
        "",
        "",
    );
    row(
        "**Refresh gap**: no connection able to receive",
        fmt("refresh_gap_ms", &|v| format!("{v:.1} ms")),
        "0",
        status(num("refresh_gap_ms"), &Target::AtMost(0.0)),
    );
    row(
        &format!(
            "**Relay** throughput, 64 in flight, {} `events_api` envelopes through `slack-bot relay` to a local HTTP app answering at once (each acked after the app's 200)",
            r.text("relay_n")
        ),
        fmt("relay_per_sec", &|v| {
            format!("{} envelopes/s", thousands(v))
        }),
        "reported",
        "",
    );
    row(
        &format!(
            "Relay: ack round trip p50, 1 in flight, {} envelopes: added to a direct bot's (relay / direct)",
            r.text("relay_rtt_n")
        ),
        format!(
            "+{} µs ({} / {} µs)",
            r.text("relay_added_p50_us"),
            r.text("relay_p50_us"),
            r.text("relay_direct_p50_us")
        ),
        "reported",
        "",
    );
    recovery_rows(r, &mut row);

    let mut md = String::new();
    md.push_str("# Benchmarks\n\n");
    md.push_str(&format!(
        "Generated by `{command}` on {} (release build {:.0} s, run {:.0} s).  \n",
        utc_now(),
        build_took.as_secs_f64(),
        took.as_secs_f64()
    ));
    md.push_str(&format!(
        "Machine: {} core(s), {}; load average (1/5/15 min) {} before, {} after; CPU time \
         taken by the hypervisor from this machine during the run (steal): {}.  \n",
        r.text("cores"),
        cpu_model(),
        load_before,
        load_after,
        steal
    ));
    md.push_str(&format!(
        "Every figure is the median of {} runs.\n",
        r.text("reps")
    ));
    for n in notes {
        md.push_str(&format!("\n**Note:** {n}\n"));
    }
    md.push_str("\n| Figure | Value | Target | Status |\n|---|---|---|---|\n");
    for [figure, value, target, st] in &rows {
        md.push_str(&format!("| {figure} | {value} | {target} | {st} |\n"));
    }
    md.push_str(
        "\n## How it is measured\n\n\
- Everything runs on loopback (plain ws) against `slack-testkit`, in `slack-bot/benches/e2e.rs`. \
The fake writes the envelopes itself (`FakeSlack::stream_envelopes`: copies of one ~1.2 KB \
`events_api` message envelope, unique `envelope_id` and `event_id` each, a fixed number un-acked \
in flight, acks matched by a plain scan), so the test API is not the limit; its own CPU share is \
in the table. Each run uses a fresh fake and client and a short warm-up; the two clients \
alternate which goes first.\n\
- slack-bot: the library with default settings and an ack-only `message` handler. Baseline: \
blocking tungstenite on one thread (`TCP_NODELAY`), finds `envelope_id` in the text and sends \
`{\"envelope_id\":…}`; with 64 in flight it queues acks while frames keep coming and flushes \
when none is waiting (the batching slack-bot does too, so neither side pays one write per ack), \
with 1 in flight it flushes each ack at once.\n\
- Round trip: from the fake queuing the envelope for writing to the fake reading the ack.\n\
- CPU per 100 000: user + system time of the client's threads (`/proc/self/task/*/stat`, 10 ms \
ticks) during the 64-in-flight runs, the fake's threads excluded.\n\
- Core: `Supervisor::handle_text` + `ack` + `poll_transmit` on one thread with a fake clock, \
500 000 distinct envelopes made outside the timed part in chunks of 1024 (small enough to stay \
in cache, as a frame just copied out of the socket's read buffer is; chunks of 10 000, 12 MB, \
measured memory bandwidth instead and read up to 2x slower on a 2-core VM); the figure is per \
second of that thread's CPU time (`/proc/thread-self/schedstat`), so other load on the machine \
counts less; the wall-clock figure is next to it. `Frame::parse` times are CPU time per parse \
too, made the same way.\n\
- Footprint: the release `slack-bot` binary (several instances at once) against the fake with \
`SLACK_API_URL` and `SLACK_ALLOW_INSECURE=1`; RSS from `/proc/PID/status`; wake-ups are \
voluntary context switches summed over `/proc/PID/task/*/status` across the idle window; \
afterwards each instance must still ack an event.\n\
- Refresh gap: from the old link's close to the replacement's `hello` (0 when the replacement \
was ready before the old link closed: make-before-break).\n",
    );
    md.push_str(RECOVERY_HOW);
    md
}

/// How the recovery rows are measured (`slack-bot/benches/recovery.rs`).
const RECOVERY_HOW: &str = "- Recovery (`slack-bot/benches/recovery.rs`): a fresh fake and \
client per run, `events_api` envelopes at 100/s, 1.5 s of traffic, then the fault on the link: \
half-open (`Fault::Silent`: the fake neither reads, writes nor answers pings, TCP stays open) \
or a TCP drop (`Fault::DropTcp`); measured from the fault to the first ack the fake reads over \
another link. slack-bot with default settings (a busy link is suspected after 3 s of silence; \
the first reconnect after a working link drops waits at most 100 ms of jitter). Baseline: a raw \
tungstenite client on one thread (`apps.connections.open` as one HTTP request, then read and \
ack) whose only liveness check is a 5 s read timeout; it replaces a failed link at once, with \
no backoff. Median and max over the runs.\n";

/// The recovery rows: each fault, slack-bot beside the baseline (median / max).
fn recovery_rows(r: &Results, row: &mut dyn FnMut(&str, String, &str, &str)) {
    let reps = r.text("recovery_reps");
    let rate = r.text("recovery_rate");
    let pair = |key: &str| {
        format!(
            "{} / {} ms",
            r.text(&format!("{key}_p50_ms")),
            r.text(&format!("{key}_max_ms"))
        )
    };
    let p50 = |key: &str| r.num(&format!("{key}_p50_ms"));
    // (key, figure, target, by how much slack-bot's median may exceed the baseline's)
    for (scenario, what, target, allowance_ms) in [
        (
            "silent",
            "**Recovery from a silent half-open link** (from the link going silent to events \
             flowing over a replacement)",
            "< baseline's",
            None,
        ),
        (
            "drop",
            "**Recovery from a dropped healthy link** (from the TCP drop to the first event \
             over the new link)",
            "≤ baseline's + 100 ms (jitter)",
            Some(100.0),
        ),
    ] {
        let bot = p50(&format!("recovery_{scenario}_bot"));
        let base = p50(&format!("recovery_{scenario}_base"));
        let st = match (bot, base, allowance_ms) {
            (Some(b), Some(a), None) if b < a => "met",
            (Some(b), Some(a), Some(x)) => status(Some(b), &Target::AtMost(a + x)),
            (Some(_), Some(_), None) => "**missed**",
            _ => "n/a",
        };
        row(
            &format!("{what}, {rate} events/s, {reps} runs: slack-bot median / max"),
            pair(&format!("recovery_{scenario}_bot")),
            target,
            st,
        );
        row(
            &format!(
                "Recovery from a {} link: raw tungstenite baseline (5 s read timeout, reconnects \
                 at once) median / max",
                if scenario == "silent" {
                    "silent half-open"
                } else {
                    "dropped healthy"
                }
            ),
            pair(&format!("recovery_{scenario}_base")),
            "",
            "",
        );
    }
}

/// (steal, total) ticks of all CPUs from `/proc/stat`.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    Some((*fields.get(7)?, fields.iter().sum()))
}

/// The share of CPU time stolen between two `cpu_ticks` readings, as text. On a virtual
/// machine, time the host gives to others: the figures are then slower than the hardware.
fn stolen_share(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> String {
    match (before, after) {
        (Some((s0, t0)), Some((s1, t1))) if t1 > t0 => {
            let share = s1.saturating_sub(s0) as f64 / (t1 - t0) as f64;
            format!("{:.1} %", share * 100.0)
        }
        _ => "n/a".to_owned(),
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "n/a".to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// The current UTC date and time as `YYYY-MM-DD HH:MM UTC` (std only).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// The fleet section of the e2e bench, built with slack-bot's `fleet` feature: its `RESULT`
/// lines (none when redis-server is missing: the rows then say n/a). `None` if it failed.
fn fleet_results(root: &Path, pass: &[String]) -> Option<Vec<(String, String)>> {
    let mut args: Vec<String> = [
        "bench",
        "--profile",
        "release",
        "--package",
        "slack-bot",
        "--features",
        "fleet",
        "--bench",
        "e2e",
        "--",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // `--only` is the fleet's here; the other pass-through arguments (`--reps`, …) apply.
    let mut i = 0;
    while i < pass.len() {
        if pass.get(i).map(String::as_str) == Some("--only") {
            i += 2;
            continue;
        }
        if let Some(a) = pass.get(i) {
            args.push(a.clone());
        }
        i += 1;
    }
    args.push("--only".to_owned());
    args.push("fleet".to_owned());
    println!("[bench] cargo {}", args.join(" "));
    let output = crate::cargo()
        .args(&args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output();
    match output {
        Ok(o) if o.status.success() => Some(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.strip_prefix("RESULT "))
                .filter_map(|l| l.split_once(' '))
                .filter(|(k, _)| k.starts_with("fleet_"))
                .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
                .collect(),
        ),
        Ok(o) => {
            eprintln!(
                "[bench] FAILED: the fleet bench reported a problem ({})",
                o.status
            );
            None
        }
        Err(e) => {
            eprintln!("[bench] could not run cargo: {e}");
            None
        }
    }
}
