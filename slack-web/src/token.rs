//! Typed, prefix-checked, redacted Slack tokens.

use std::fmt;
use std::str::FromStr;

/// Which kind of Slack token a value was supposed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// App-level token (`xapp-`), only for `apps.connections.open`.
    App,
    /// Bot token (`xoxb-`).
    Bot,
    /// User token (`xoxp-`).
    User,
}

impl TokenKind {
    /// The prefix every token of this kind starts with.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::App => "xapp-",
            TokenKind::Bot => "xoxb-",
            TokenKind::User => "xoxp-",
        }
    }

    /// A human name such as `"app-level token"`.
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::App => "app-level token",
            TokenKind::Bot => "bot token",
            TokenKind::User => "user token",
        }
    }

    fn guess(value: &str) -> Option<&'static str> {
        const KNOWN: [(&str, &str); 6] = [
            ("xapp-", "an app-level token (xapp-)"),
            ("xoxb-", "a bot token (xoxb-)"),
            ("xoxp-", "a user token (xoxp-)"),
            ("xoxe-", "a refresh/config token (xoxe-)"),
            ("xoxa-", "a workspace token (xoxa-)"),
            ("xoxs-", "a session token (xoxs-)"),
        ];
        KNOWN
            .iter()
            .find(|(p, _)| value.starts_with(p))
            .map(|(_, name)| *name)
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a string was refused as a token. Never contains the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    kind: TokenKind,
    problem: TokenProblem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenProblem {
    Empty,
    OnlyPrefix,
    WrongPrefix(Option<&'static str>),
    BadCharacter,
}

impl TokenError {
    /// The kind of token that was expected.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, prefix) = (self.kind.name(), self.kind.prefix());
        match &self.problem {
            TokenProblem::Empty => write!(f, "{name} is empty"),
            TokenProblem::OnlyPrefix => write!(f, "{name} has nothing after `{prefix}`"),
            TokenProblem::WrongPrefix(Some(other)) => {
                write!(
                    f,
                    "{name} must start with `{prefix}`, but this looks like {other}"
                )
            }
            TokenProblem::WrongPrefix(None) => write!(f, "{name} must start with `{prefix}`"),
            TokenProblem::BadCharacter => write!(
                f,
                "{name} contains whitespace or a character not allowed in an HTTP header"
            ),
        }
    }
}

impl std::error::Error for TokenError {}

/// Checks a token and returns it trimmed of surrounding whitespace (a trailing newline from a
/// token file is common).
fn check(kind: TokenKind, raw: &str) -> Result<String, TokenError> {
    let value = raw.trim();
    let fail = |problem| Err(TokenError { kind, problem });
    if value.is_empty() {
        return fail(TokenProblem::Empty);
    }
    if !value.starts_with(kind.prefix()) {
        return fail(TokenProblem::WrongPrefix(TokenKind::guess(value)));
    }
    if value.len() == kind.prefix().len() {
        return fail(TokenProblem::OnlyPrefix);
    }
    // Visible ASCII only: anything else could break (or inject into) the Authorization header.
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return fail(TokenProblem::BadCharacter);
    }
    Ok(value.to_owned())
}

macro_rules! token_type {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        ///
        /// `Debug` and `Display` never show the secret part; use
        /// [`expose_secret`](Self::expose_secret) to get the full value.
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Checks the prefix (and that the token is not empty) and wraps it. Surrounding
            /// whitespace is trimmed.
            pub fn new(token: impl AsRef<str>) -> Result<Self, TokenError> {
                check($kind, token.as_ref()).map(Self)
            }

            /// The full secret token. Only send it in an `Authorization` header.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }

            /// The kind of this token.
            pub fn kind(&self) -> TokenKind {
                $kind
            }
        }

        impl FromStr for $name {
            type Err = TokenError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(\"{}…(redacted)\")", stringify!($name), $kind.prefix())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}…(redacted)", $kind.prefix())
            }
        }
    };
}

token_type!(
    /// An app-level token (`xapp-…`), used only for `apps.connections.open`.
    AppToken,
    TokenKind::App
);
token_type!(
    /// A bot token (`xoxb-…`), used for the Web API methods.
    BotToken,
    TokenKind::Bot
);
token_type!(
    /// A user token (`xoxp-…`), usable instead of a bot token for the Web API methods.
    UserToken,
    TokenKind::User
);

/// The token a [`WebClient`](crate::WebClient) authenticates its calls with: a bot token or
/// a user token. Built with `From`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum ApiToken {
    /// A bot token.
    Bot(BotToken),
    /// A user token.
    User(UserToken),
}

impl ApiToken {
    pub(crate) fn expose_secret(&self) -> &str {
        match self {
            ApiToken::Bot(t) => t.expose_secret(),
            ApiToken::User(t) => t.expose_secret(),
        }
    }
}

impl fmt::Display for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiToken::Bot(t) => t.fmt(f),
            ApiToken::User(t) => t.fmt(f),
        }
    }
}

impl From<BotToken> for ApiToken {
    fn from(t: BotToken) -> Self {
        ApiToken::Bot(t)
    }
}

impl From<UserToken> for ApiToken {
    fn from(t: UserToken) -> Self {
        ApiToken::User(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_trims() {
        let t = BotToken::new(" xoxb-123-abc\n").unwrap();
        assert_eq!(t.expose_secret(), "xoxb-123-abc");
        let a: AppToken = "xapp-1-A-1-x".parse().unwrap();
        assert_eq!(a.expose_secret(), "xapp-1-A-1-x");
        assert!(UserToken::new("xoxp-9").is_ok());
    }

    #[test]
    fn redacted_everywhere() {
        let t = BotToken::new("xoxb-SECRET-value").unwrap();
        let shown = format!(
            "{t} {t:?} {:?} {}",
            ApiToken::from(t.clone()),
            ApiToken::from(t.clone())
        );
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("xoxb-…(redacted)"), "{shown}");
    }

    #[test]
    fn says_which_token_is_wrong() {
        let e = BotToken::new("xapp-1-SECRET").unwrap_err();
        assert_eq!(e.kind(), TokenKind::Bot);
        let msg = e.to_string();
        assert!(msg.contains("bot token must start with `xoxb-`"), "{msg}");
        assert!(msg.contains("app-level token"), "{msg}");
        assert!(!msg.contains("SECRET"));

        let e = AppToken::new("xoxb-SECRET").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("app-level token must start with `xapp-`")
        );
        assert_eq!(
            BotToken::new("  ").unwrap_err().to_string(),
            "bot token is empty"
        );
        assert_eq!(
            BotToken::new("xoxb-").unwrap_err().to_string(),
            "bot token has nothing after `xoxb-`"
        );
        assert!(
            BotToken::new("xoxb-a b")
                .unwrap_err()
                .to_string()
                .contains("whitespace")
        );
        assert!(BotToken::new("xoxb-a\r\nX-Evil: 1").is_err());
        assert_eq!(
            UserToken::new("nope").unwrap_err().to_string(),
            "user token must start with `xoxp-`"
        );
    }
}
