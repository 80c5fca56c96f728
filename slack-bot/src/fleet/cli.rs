//! The binary's side of the fleet: `--redis-url` / `SLACK_REDIS_URL` and `slack-bot fleet`.

use std::time::Duration;

use super::{FleetConfig, status};

/// Takes the fleet's settings out of the command line and the environment:
/// `--redis-url URL` (or `SLACK_REDIS_URL`), `SLACK_REDIS_PASSWORD`, `SLACK_REDIS_PREFIX`,
/// `SLACK_REDIS_TIMEOUT_MS`, `SLACK_REDIS_CA_FILE` (PEM roots for `rediss://`). Returns the other arguments and the configuration, if any.
pub fn take_args(
    args: Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<String>, Option<FleetConfig>), String> {
    let mut rest = Vec::with_capacity(args.len());
    let mut url = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "--redis-url" {
            match it.next() {
                Some(v) => url = Some(v),
                None => return Err("--redis-url needs a value".to_owned()),
            }
        } else if let Some(v) = a.strip_prefix("--redis-url=") {
            url = Some(v.to_owned());
        } else {
            rest.push(a);
        }
    }
    let url = url.or_else(|| env("SLACK_REDIS_URL").filter(|u| !u.trim().is_empty()));
    let Some(url) = url else {
        return Ok((rest, None));
    };
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err("the redis url must start with redis:// or rediss://".to_owned());
    }
    let mut cfg = FleetConfig::new(url);
    if let Some(p) = env("SLACK_REDIS_PASSWORD").filter(|p| !p.is_empty()) {
        cfg = cfg.password(p);
    }
    if let Some(p) = env("SLACK_REDIS_PREFIX").filter(|p| !p.is_empty()) {
        cfg = cfg.key_prefix(p);
    }
    if let Some(ms) = env("SLACK_REDIS_TIMEOUT_MS") {
        let ms: u64 = ms
            .trim()
            .parse()
            .map_err(|_| "SLACK_REDIS_TIMEOUT_MS must be a number of milliseconds".to_owned())?;
        cfg = cfg.call_timeout(Duration::from_millis(ms));
    }
    // Tests and operators may shorten the fleet's timers.
    for (var, set) in [
        (
            "SLACK_FLEET_LEASE_MS",
            FleetConfig::lease_ttl as fn(FleetConfig, Duration) -> FleetConfig,
        ),
        ("SLACK_FLEET_RECLAIM_MS", FleetConfig::reclaim_idle),
        ("SLACK_FLEET_HEARTBEAT_MS", FleetConfig::heartbeat_every),
    ] {
        if let Some(ms) = env(var) {
            let ms: u64 = ms
                .trim()
                .parse()
                .map_err(|_| format!("{var} must be a number of milliseconds"))?;
            cfg = set(cfg, Duration::from_millis(ms));
        }
    }
    if let Some(path) = env("SLACK_REDIS_CA_FILE").filter(|p| !p.is_empty()) {
        let pem = std::fs::read(&path)
            .map_err(|e| format!("SLACK_REDIS_CA_FILE `{path}` cannot be read: {e}"))?;
        cfg = cfg.tls_root_certs_pem(pem);
    }
    if let Some(id) = env("SLACK_FLEET_REPLICA_ID").filter(|p| !p.is_empty()) {
        cfg = cfg.replica_id(id);
    }
    Ok((rest, Some(cfg)))
}

/// `slack-bot fleet`: the live replicas, their connections against the budget, and their
/// counters, as text.
pub fn status_text(cfg: &FleetConfig) -> Result<String, super::FleetError> {
    let s = status(cfg, Duration::from_secs(2))?;
    let mut out = format!(
        "fleet {}: {} live replica(s), {} of {} connections leased\n",
        cfg.prefix,
        s.replicas.len(),
        s.leased,
        s.budget
    );
    let get = |r: &super::ReplicaStatus, k: &str| r.fields.get(k).cloned().unwrap_or_default();
    for r in &s.replicas {
        out.push_str(&format!(
            "  {}: {} connected, {} leased; claimed {}, duplicates {}, handled {}, reclaimed {}, local fallbacks {}, redis outages {}\n",
            r.id,
            get(r, "connections"),
            get(r, "leased"),
            get(r, "claimed"),
            get(r, "duplicates"),
            get(r, "stream_handled"),
            get(r, "reclaimed"),
            get(r, "local_fallbacks"),
            get(r, "outages"),
        ));
    }
    // Replicas whose claim periods differ keep their claims in different sets.
    let mut periods: Vec<String> = s
        .replicas
        .iter()
        .map(|r| get(r, "claim_ttl_ms"))
        .filter(|p| !p.is_empty())
        .collect();
    periods.sort_unstable();
    periods.dedup();
    if periods.len() > 1 {
        out.push_str(&format!(
            "  warning: the replicas use different claim times ({} ms): each keeps its claims apart, so a redelivery to another may be handled twice; give them all the same FleetConfig::claim_ttl\n",
            periods.join(", ")
        ));
    }
    if let Some(policy) = &s.eviction_policy {
        out.push_str(&format!(
            "  warning: {}\n",
            super::link::eviction_risk(policy)
        ));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_flag_wins_and_other_arguments_stay() {
        let (rest, cfg) = take_args(
            args(&["--connections", "2", "--redis-url", "redis://a:1/0"]),
            &env(&[
                ("SLACK_REDIS_URL", "redis://b:2/0"),
                ("SLACK_REDIS_PREFIX", "app"),
            ]),
        )
        .unwrap();
        assert_eq!(rest, args(&["--connections", "2"]));
        let cfg = cfg.unwrap();
        assert_eq!(cfg.url, "redis://a:1/0");
        assert_eq!(cfg.prefix, "app");
        let (_, cfg) = take_args(args(&["--redis-url=rediss://c:3"]), &env(&[])).unwrap();
        assert_eq!(cfg.unwrap().url, "rediss://c:3");
    }

    #[test]
    fn without_a_url_nothing_changes_and_bad_values_are_refused() {
        let (rest, cfg) = take_args(args(&["demo"]), &env(&[])).unwrap();
        assert_eq!(rest, args(&["demo"]));
        assert!(cfg.is_none());
        assert!(take_args(args(&["--redis-url"]), &env(&[])).is_err());
        assert!(take_args(args(&["--redis-url", "http://x"]), &env(&[])).is_err());
        let e = take_args(
            args(&[]),
            &env(&[
                ("SLACK_REDIS_URL", "redis://x"),
                ("SLACK_REDIS_TIMEOUT_MS", "soon"),
            ]),
        )
        .unwrap_err();
        assert!(e.contains("SLACK_REDIS_TIMEOUT_MS"), "{e}");
    }
}
