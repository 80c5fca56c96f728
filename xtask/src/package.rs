//! `cargo xtask package`: checks that every library crate can be published.
//!
//! 1. `cargo package` for all library crates in one invocation: each `.crate` is built and then
//!    compiled on its own from the unpacked archive. The crates depend on each other by path
//!    *and* version and are not on crates.io yet; cargo (1.90+) resolves such dependencies
//!    through a local overlay of the crates it is packaging, so no publishing is needed.
//! 2. `cargo package --list` for each: no build output, fuzz corpora, editor or log files.
//! 3. The declared `rust-version` (MSRV): every dependency a user of our libraries compiles
//!    (normal and build dependencies, from `cargo metadata`) must declare a `rust-version` no
//!    newer than ours; and when a toolchain of exactly that version is installed, the libraries
//!    are checked with it. Otherwise that build is skipped, and the reason printed (clippy's
//!    `incompatible_msrv` lint, run by `test-all`, covers our own use of newer std APIs).
//!
//! ```text
//! cargo xtask package [--no-verify]
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use json::Value;

/// The crates meant for crates.io.
const LIBRARIES: &[&str] = &[
    "slack-envelope",
    "slack-transport",
    "slack-web",
    "slack-testkit",
    "slack-bot",
];

/// Removes unpacked copies of our libraries from cargo's registry source cache (see `run`).
fn remove_stale_overlay_sources() {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry").join("src")) else {
        return;
    };
    let Ok(registries) = std::fs::read_dir(&src) else {
        return;
    };
    for registry in registries.flatten() {
        let Ok(entries) = std::fs::read_dir(registry.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ours = LIBRARIES.iter().any(|lib| {
                name.strip_prefix(lib)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            });
            if ours {
                match std::fs::remove_dir_all(entry.path()) {
                    Ok(()) => println!(
                        "[package] removed a stale unpacked copy: {}",
                        entry.path().display()
                    ),
                    Err(e) => eprintln!("[package] cannot remove {}: {e}", entry.path().display()),
                }
            }
        }
    }
}

/// Runs the task; returns true on success.
pub(crate) fn run(root: &Path, args: &[String]) -> bool {
    let mut verify = true;
    for a in args {
        match a.as_str() {
            "--no-verify" => verify = false,
            other => {
                eprintln!("[package] unknown argument `{other}`");
                return false;
            }
        }
    }
    let started = Instant::now();
    let mut ok = true;
    let mut summary: Vec<String> = Vec::new();

    // Cargo unpacks the archives of its local overlay into `$CARGO_HOME/registry/src/<hash>/`
    // (the hash comes from the target directory's path) and reuses an unpacked
    // `name-version` directory as it is: a second run would compile the dependents against the
    // first run's sources. Our crates are not on crates.io, so every such copy is stale.
    remove_stale_overlay_sources();

    // 1. cargo package.
    let t = Instant::now();
    let mut cmd = crate::cargo();
    cmd.arg("package").current_dir(root);
    for lib in LIBRARIES {
        cmd.args(["-p", lib]);
    }
    // Uncommitted changes are what a developer wants checked before committing them.
    cmd.arg("--allow-dirty");
    if !verify {
        cmd.arg("--no-verify");
    }
    println!(
        "==> [package] cargo package -p {} --allow-dirty",
        LIBRARIES.join(" -p ")
    );
    let packaged = cmd.status().is_ok_and(|s| s.success());
    summary.push(format!(
        "{} cargo package ({}){:>7.1}s",
        mark(packaged),
        if verify {
            "built from the archives"
        } else {
            "not verified"
        },
        t.elapsed().as_secs_f64()
    ));
    ok &= packaged;

    // 2. What goes into each archive.
    for lib in LIBRARIES {
        match list(root, lib) {
            Ok(files) => {
                let junk: Vec<&String> = files.iter().filter(|f| is_junk(f)).collect();
                // The dual licence's texts ship with every crate (symlinks to the root's).
                for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
                    if !files.iter().any(|f| f == licence) {
                        ok = false;
                        summary.push(format!("FAIL {lib}: {licence} is not in the package"));
                    }
                }
                if !junk.is_empty() {
                    ok = false;
                    eprintln!("[package] {lib} would ship files it should not:");
                    for f in &junk {
                        eprintln!("    {f}");
                    }
                }
                summary.push(format!(
                    "{} {lib}: {} files{}",
                    mark(junk.is_empty()),
                    files.len(),
                    if junk.is_empty() {
                        String::new()
                    } else {
                        format!(", {} unwanted", junk.len())
                    }
                ));
            }
            Err(e) => {
                ok = false;
                summary.push(format!("FAIL {lib}: cargo package --list failed: {e}"));
            }
        }
    }

    // 3. MSRV.
    match msrv(root) {
        Ok(lines) => summary.extend(lines),
        Err(lines) => {
            ok = false;
            summary.extend(lines);
        }
    }

    println!("\n==> [package] summary");
    for line in &summary {
        println!("  {line}");
    }
    println!("  total {:.1}s", started.elapsed().as_secs_f64());
    if ok {
        println!("[package] every library crate can be packaged");
    } else {
        println!("[package] FAILED");
    }
    ok
}

fn mark(ok: bool) -> &'static str {
    if ok { "ok  " } else { "FAIL" }
}

/// `cargo package --list -p lib`.
fn list(root: &Path, lib: &str) -> Result<Vec<String>, String> {
    let out = crate::cargo()
        .args(["package", "--list", "--allow-dirty", "-p", lib])
        .current_dir(root)
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// Files that do not belong in a published crate.
fn is_junk(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let dirs: Vec<&str> = path.split('/').collect();
    let in_dir = |d: &str| dirs.iter().rev().skip(1).any(|x| *x == d);
    in_dir("target")
        || in_dir("fuzz")
        || in_dir("corpus")
        || in_dir("artifacts")
        || in_dir(".git")
        || in_dir(".idea")
        || in_dir(".vscode")
        || name.ends_with('~')
        || name.starts_with(".#")
        || name == ".DS_Store"
        || [
            ".log", ".swp", ".swo", ".orig", ".rej", ".bak", ".tmp", ".profraw", ".crate",
        ]
        .iter()
        .any(|ext| name.ends_with(ext) && name != "Cargo.toml.orig")
}

/// A `major.minor[.patch]` version, compared numerically.
fn version(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.trim().split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// The MSRV checks; the summary lines either way.
fn msrv(root: &Path) -> Result<Vec<String>, Vec<String>> {
    let out = crate::cargo()
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| vec![format!("FAIL cargo metadata: {e}")])?;
    if !out.status.success() {
        return Err(vec!["FAIL cargo metadata failed".to_owned()]);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let meta = json::parse(&text).map_err(|e| vec![format!("FAIL cargo metadata: {e}")])?;
    let packages = meta
        .get("packages")
        .and_then(Value::as_array)
        .unwrap_or(&[]);
    // id -> (name, version, rust_version)
    let mut by_id: BTreeMap<&str, (&str, &str, Option<&str>)> = BTreeMap::new();
    for p in packages {
        let s = |k: &str| p.get(k).and_then(Value::as_str);
        if let (Some(id), Some(name), Some(ver)) = (s("id"), s("name"), s("version")) {
            by_id.insert(id, (name, ver, s("rust_version")));
        }
    }

    // Our declared MSRV: the libraries must agree on one.
    let declared: BTreeSet<Option<&str>> = by_id
        .values()
        .filter(|(name, _, _)| LIBRARIES.contains(name))
        .map(|(_, _, rv)| *rv)
        .collect();
    let ours = match declared.iter().collect::<Vec<_>>().as_slice() {
        [Some(v)] => *v,
        _ => {
            return Err(vec![format!(
                "FAIL the libraries must all declare the same rust-version (found {declared:?})"
            )]);
        }
    };
    let Some(ours_v) = version(ours) else {
        return Err(vec![format!("FAIL rust-version `{ours}` is not a version")]);
    };

    // Walk the resolve graph from the libraries along normal and build edges.
    let nodes = meta
        .get("resolve")
        .and_then(|r| r.get("nodes"))
        .and_then(Value::as_array)
        .unwrap_or(&[]);
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for n in nodes {
        let Some(id) = n.get("id").and_then(Value::as_str) else {
            continue;
        };
        let deps = n.get("deps").and_then(Value::as_array).unwrap_or(&[]);
        let mut out = Vec::new();
        for d in deps {
            let kinds = d.get("dep_kinds").and_then(Value::as_array).unwrap_or(&[]);
            let shipped = kinds
                .iter()
                .any(|k| !matches!(k.get("kind").and_then(Value::as_str), Some("dev")));
            if let (true, Some(pkg)) = (shipped, d.get("pkg").and_then(Value::as_str)) {
                out.push(pkg);
            }
        }
        edges.insert(id, out);
    }
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut stack: Vec<&str> = by_id
        .iter()
        .filter(|(_, (name, _, _))| LIBRARIES.contains(name))
        .map(|(id, _)| *id)
        .collect();
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            stack.extend(edges.get(id).into_iter().flatten().copied());
        }
    }
    let mut too_new = Vec::new();
    let mut undeclared = 0;
    for id in &seen {
        let Some((name, ver, rv)) = by_id.get(id) else {
            continue;
        };
        match rv.and_then(version) {
            Some(v) if v > ours_v => {
                too_new.push(format!("{name} {ver} needs {}", rv.unwrap_or("?")))
            }
            Some(_) => {}
            None => undeclared += 1,
        }
    }
    let deps = seen.len().saturating_sub(LIBRARIES.len());
    let mut lines = Vec::new();
    if too_new.is_empty() {
        lines.push(format!(
            "ok   rust-version {ours}: {deps} dependencies of the libraries declare it or older ({undeclared} declare none)"
        ));
    } else {
        let mut lines = vec![format!(
            "FAIL rust-version {ours}: {} dependencies need a newer Rust:",
            too_new.len()
        )];
        lines.extend(too_new.into_iter().map(|l| format!("       {l}")));
        return Err(lines);
    }

    // The MSRV build, when that toolchain is installed (never installed from here).
    let toolchain = format!("{}.{}.{}", ours_v.0, ours_v.1, ours_v.2);
    let installed = Command::new("rustup")
        .args(["run", &toolchain, "cargo", "--version"])
        .env("RUSTUP_AUTO_INSTALL", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        lines.push(format!(
            "skip MSRV build: no Rust {toolchain} toolchain installed (`rustup toolchain install {toolchain}` to enable it); dependency rust-versions checked above, clippy's incompatible_msrv lint covers std API use"
        ));
        return Ok(lines);
    }
    println!(
        "==> [package] MSRV build: rustup run {toolchain} cargo check (libraries and binaries)"
    );
    let t = Instant::now();
    let mut cmd = Command::new("rustup");
    cmd.args([
        "run", &toolchain, "cargo", "check", "--locked", "--lib", "--bins",
    ])
    .env("RUSTUP_AUTO_INSTALL", "0")
    .env("CARGO_TARGET_DIR", root.join("target").join("msrv"))
    .current_dir(root);
    for lib in LIBRARIES {
        cmd.args(["-p", lib]);
    }
    let built = cmd.status().is_ok_and(|s| s.success());
    let line = format!(
        "{} MSRV build with Rust {toolchain} {:>7.1}s",
        mark(built),
        t.elapsed().as_secs_f64()
    );
    if built {
        lines.push(line);
        Ok(lines)
    } else {
        lines.push(line);
        Err(lines)
    }
}

/// A small JSON reader (xtask uses std only): enough for `cargo metadata` and cargo's JSON
/// messages.
pub(crate) mod json {
    use std::collections::BTreeMap;

    /// A JSON value.
    #[derive(Debug, Clone, PartialEq)]
    pub(crate) enum Value {
        Null,
        Bool(bool),
        Number(f64),
        String(String),
        Array(Vec<Value>),
        Object(BTreeMap<String, Value>),
    }

    impl Value {
        /// The member `key` of an object.
        pub(crate) fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Object(m) => m.get(key),
                _ => None,
            }
        }

        pub(crate) fn as_str(&self) -> Option<&str> {
            match self {
                Value::String(s) => Some(s),
                _ => None,
            }
        }

        pub(crate) fn as_array(&self) -> Option<&[Value]> {
            match self {
                Value::Array(a) => Some(a),
                _ => None,
            }
        }
    }

    /// Parses one JSON document.
    pub(crate) fn parse(text: &str) -> Result<Value, String> {
        let mut p = Parser {
            bytes: text.as_bytes(),
            pos: 0,
        };
        let v = p.value(0)?;
        p.ws();
        if p.pos != p.bytes.len() {
            return Err(format!("trailing characters at {}", p.pos));
        }
        Ok(v)
    }

    struct Parser<'a> {
        bytes: &'a [u8],
        pos: usize,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<u8> {
            self.bytes.get(self.pos).copied()
        }

        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.pos += 1;
            }
        }

        fn err<T>(&self, what: &str) -> Result<T, String> {
            Err(format!("{what} at byte {}", self.pos))
        }

        fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
            if self.bytes.get(self.pos..self.pos + word.len()) == Some(word.as_bytes()) {
                self.pos += word.len();
                Ok(v)
            } else {
                self.err("invalid literal")
            }
        }

        fn value(&mut self, depth: usize) -> Result<Value, String> {
            if depth > 128 {
                return self.err("too deeply nested");
            }
            self.ws();
            match self.peek() {
                Some(b'{') => {
                    self.pos += 1;
                    let mut map = BTreeMap::new();
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        return Ok(Value::Object(map));
                    }
                    loop {
                        self.ws();
                        let key = self.string()?;
                        self.ws();
                        if self.peek() != Some(b':') {
                            return self.err("expected ':'");
                        }
                        self.pos += 1;
                        let v = self.value(depth + 1)?;
                        map.insert(key, v);
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b'}') => {
                                self.pos += 1;
                                return Ok(Value::Object(map));
                            }
                            _ => return self.err("expected ',' or '}'"),
                        }
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    let mut items = Vec::new();
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        return Ok(Value::Array(items));
                    }
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                return Ok(Value::Array(items));
                            }
                            _ => return self.err("expected ',' or ']'"),
                        }
                    }
                }
                Some(b'"') => self.string().map(Value::String),
                Some(b't') => self.literal("true", Value::Bool(true)),
                Some(b'f') => self.literal("false", Value::Bool(false)),
                Some(b'n') => self.literal("null", Value::Null),
                Some(b'-' | b'0'..=b'9') => {
                    let start = self.pos;
                    while matches!(
                        self.peek(),
                        Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                    ) {
                        self.pos += 1;
                    }
                    let s = std::str::from_utf8(self.bytes.get(start..self.pos).unwrap_or(&[]))
                        .unwrap_or("");
                    s.parse()
                        .map(Value::Number)
                        .or_else(|_| self.err("invalid number"))
                }
                _ => self.err("expected a value"),
            }
        }

        fn string(&mut self) -> Result<String, String> {
            if self.peek() != Some(b'"') {
                return self.err("expected a string");
            }
            self.pos += 1;
            let mut out: Vec<u8> = Vec::new();
            loop {
                match self.peek() {
                    None => return self.err("unterminated string"),
                    Some(b'"') => {
                        self.pos += 1;
                        return String::from_utf8(out).or_else(|_| self.err("invalid utf-8"));
                    }
                    Some(b'\\') => {
                        self.pos += 1;
                        let c = self.peek();
                        self.pos += 1;
                        match c {
                            Some(b'"') => out.push(b'"'),
                            Some(b'\\') => out.push(b'\\'),
                            Some(b'/') => out.push(b'/'),
                            Some(b'b') => out.push(8),
                            Some(b'f') => out.push(12),
                            Some(b'n') => out.push(b'\n'),
                            Some(b'r') => out.push(b'\r'),
                            Some(b't') => out.push(b'\t'),
                            Some(b'u') => {
                                let mut code = self.hex4()?;
                                // A surrogate pair.
                                if (0xD800..0xDC00).contains(&code)
                                    && self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u")
                                {
                                    self.pos += 2;
                                    let low = self.hex4()?;
                                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                                }
                                let ch = char::from_u32(code).unwrap_or('\u{FFFD}');
                                let mut buf = [0; 4];
                                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            }
                            _ => return self.err("invalid escape"),
                        }
                    }
                    Some(b) => {
                        out.push(b);
                        self.pos += 1;
                    }
                }
            }
        }

        fn hex4(&mut self) -> Result<u32, String> {
            let digits = self
                .bytes
                .get(self.pos..self.pos + 4)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| u32::from_str_radix(d, 16).ok());
            match digits {
                Some(v) => {
                    self.pos += 4;
                    Ok(v)
                }
                None => self.err("invalid \\u escape"),
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reads_cargo_like_json() {
            let v = parse(r#"{"a":[1,-2.5e3,true,null,{"b":"x\"\u00e9\ud83d\ude00"}],"c":{}}"#)
                .unwrap();
            let arr = v.get("a").and_then(Value::as_array).unwrap();
            assert_eq!(arr.len(), 5);
            assert_eq!(arr[4].get("b").and_then(Value::as_str), Some("x\"é😀"));
            assert!(parse("{\"a\":1} x").is_err());
            assert!(parse("[1,]").is_err());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_files() {
        for f in [
            "target/debug/x",
            "fuzz/corpus/frame/1",
            "src/a.rs~",
            "x.log",
            "a/.DS_Store",
        ] {
            assert!(is_junk(f), "{f}");
        }
        for f in [
            "Cargo.toml.orig",
            "src/lib.rs",
            "tests/fixtures/a.json",
            "README.md",
        ] {
            assert!(!is_junk(f), "{f}");
        }
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version("1.85").unwrap() < version("1.100.0").unwrap());
        assert_eq!(version("1.85"), version("1.85.0"));
        assert!(version("x").is_none());
    }
}
