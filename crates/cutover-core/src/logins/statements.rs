//! The T-SQL that recreates a login on the target: `CREATE LOGIN ... WITH PASSWORD = 0x... HASHED,
//! SID = 0x...` (same SID and password: no orphaned users, no password reset), `CREATE LOGIN ... FROM
//! EXTERNAL PROVIDER` for a Windows principal mapped to Entra, server role membership, the disabled
//! state, and `ALTER USER ... WITH LOGIN` for an orphaned user. Names are quoted as QUOTENAME does
//! (`]` doubled), text as an `N'...'` literal (`'` doubled); binary values are hex literals, so no
//! value can end a statement early. A statement that carries a password hash says so and never shows
//! it (`Debug`, `shown()`).

use super::inventory::{LoginKind, SourceLogin};
use crate::source::quote::{quote_ident, quote_literal};

/// One statement for the target. `shown()` is what logs and screens may print.
#[derive(Clone, PartialEq, Eq)]
pub struct SqlStatement {
    text: String,
    shown: String,
    /// The secret part of `text` (the hash literal), removed from any message that echoes it.
    secret: Option<String>,
}

impl SqlStatement {
    fn plain(text: String) -> Self {
        SqlStatement {
            shown: text.clone(),
            text,
            secret: None,
        }
    }
    /// The text to send to the server (may hold a password hash: never print it).
    pub fn sql(&self) -> &str {
        &self.text
    }
    /// The text with any password hash replaced by `<hash>`.
    pub fn shown(&self) -> &str {
        &self.shown
    }
    /// `message` (a server's error about this statement) with the hash replaced by `<hash>`.
    pub fn scrub(&self, message: &str) -> String {
        match &self.secret {
            Some(s) => message.replace(s.as_str(), "<hash>"),
            None => message.to_string(),
        }
    }
}

impl std::fmt::Debug for SqlStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqlStatement({})", self.shown)
    }
}

/// Why a login cannot be recreated as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error(
        "the SQL login [{login}] has no password hash on the source (sys.sql_logins.password_hash is NULL): create it on the target with a new password by hand"
    )]
    NoPasswordHash { login: String },
    #[error(
        "the SQL login [{login}] has a {len}-byte SID on the source; CREATE LOGIN ... SID takes a 16-byte SID: create it by hand and map its users with ALTER USER ... WITH LOGIN"
    )]
    SidLength { login: String, len: usize },
    #[error("[{login}] is a {kind}: it is created from an Entra mapping, not as a SQL login")]
    NotSqlLogin { login: String, kind: &'static str },
}

fn on_off(b: bool) -> &'static str {
    if b { "ON" } else { "OFF" }
}

/// `CREATE LOGIN [name] WITH PASSWORD = 0x... HASHED, SID = 0x..., DEFAULT_DATABASE = [..],
/// DEFAULT_LANGUAGE = [..], CHECK_POLICY = .., CHECK_EXPIRATION = ..` for a SQL login.
pub fn create_sql_login(login: &SourceLogin) -> Result<SqlStatement, BuildError> {
    let LoginKind::Sql(details) = &login.kind else {
        return Err(BuildError::NotSqlLogin {
            login: login.name.clone(),
            kind: login.kind.label(),
        });
    };
    let hash = details
        .password_hash
        .as_ref()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| BuildError::NoPasswordHash {
            login: login.name.clone(),
        })?;
    if login.sid.0.len() != 16 {
        return Err(BuildError::SidLength {
            login: login.name.clone(),
            len: login.sid.0.len(),
        });
    }
    let mut tail = format!(", SID = {}", login.sid.hex());
    if let Some(db) = login.default_database.as_deref().filter(|d| !d.is_empty()) {
        tail.push_str(&format!(", DEFAULT_DATABASE = {}", quote_ident(db)));
    }
    if let Some(lang) = login.default_language.as_deref().filter(|d| !d.is_empty()) {
        tail.push_str(&format!(", DEFAULT_LANGUAGE = {}", quote_ident(lang)));
    }
    // CHECK_EXPIRATION = ON needs CHECK_POLICY = ON (error 15122 otherwise).
    tail.push_str(&format!(
        ", CHECK_POLICY = {}, CHECK_EXPIRATION = {}",
        on_off(details.check_policy),
        on_off(details.check_policy && details.check_expiration)
    ));
    let head = format!("CREATE LOGIN {} WITH PASSWORD = ", quote_ident(&login.name));
    let hex = hash.expose_hex();
    Ok(SqlStatement {
        text: format!("{head}{hex} HASHED{tail}"),
        shown: format!("{head}<hash> HASHED{tail}"),
        secret: Some(hex),
    })
}

/// `CREATE LOGIN [entra] FROM EXTERNAL PROVIDER` (optionally with the default database).
pub fn create_external_login(entra: &str, default_database: Option<&str>) -> SqlStatement {
    let mut s = format!("CREATE LOGIN {} FROM EXTERNAL PROVIDER", quote_ident(entra));
    if let Some(db) = default_database.filter(|d| !d.is_empty() && *d != "master") {
        s.push_str(&format!(" WITH DEFAULT_DATABASE = {}", quote_ident(db)));
    }
    SqlStatement::plain(s)
}

/// `ALTER SERVER ROLE [role] ADD MEMBER [login]` (a no-op when it already is one).
pub fn add_role_member(role: &str, login: &str) -> SqlStatement {
    SqlStatement::plain(format!(
        "ALTER SERVER ROLE {} ADD MEMBER {}",
        quote_ident(role),
        quote_ident(login)
    ))
}

/// `ALTER LOGIN [login] DISABLE`.
pub fn disable_login(login: &str) -> SqlStatement {
    SqlStatement::plain(format!("ALTER LOGIN {} DISABLE", quote_ident(login)))
}

/// `USE [db]; ALTER USER [user] WITH LOGIN = [login]`: maps an orphaned user to its login.
pub fn alter_user_with_login(database: &str, user: &str, login: &str) -> SqlStatement {
    SqlStatement::plain(format!(
        "USE {}; ALTER USER {} WITH LOGIN = {}",
        quote_ident(database),
        quote_ident(user),
        quote_ident(login)
    ))
}

/// A login name as a string literal (for messages that show a `WHERE name = N'...'`).
pub fn name_literal(name: &str) -> String {
    quote_literal(name)
}

#[cfg(test)]
mod tests {
    use super::super::inventory::{PasswordHash, Sid, SqlLoginDetails};
    use super::*;
    use proptest::prelude::*;

    fn sql_login(name: &str, hash: Option<Vec<u8>>) -> SourceLogin {
        SourceLogin {
            name: name.into(),
            sid: Sid((1..=16).collect()),
            kind: LoginKind::Sql(SqlLoginDetails {
                password_hash: hash.map(PasswordHash::new),
                check_policy: false,
                check_expiration: true,
            }),
            default_database: Some("Sa]les".into()),
            default_language: Some("us_english".into()),
            disabled: true,
            server_roles: vec![],
            used_by: vec![],
        }
    }

    #[test]
    fn create_login_keeps_sid_and_hash_and_hides_the_hash() {
        let s = create_sql_login(&sql_login(
            "we]ird 'app",
            Some(vec![0x02, 0x00, 0xDE, 0xAD]),
        ))
        .unwrap();
        assert_eq!(
            s.sql(),
            "CREATE LOGIN [we]]ird 'app] WITH PASSWORD = 0x0200DEAD HASHED, \
             SID = 0x0102030405060708090A0B0C0D0E0F10, DEFAULT_DATABASE = [Sa]]les], \
             DEFAULT_LANGUAGE = [us_english], CHECK_POLICY = OFF, CHECK_EXPIRATION = OFF"
        );
        assert!(!s.shown().contains("DEAD") && s.shown().contains("<hash> HASHED"));
        assert!(!format!("{s:?}").contains("DEAD"));
        assert_eq!(
            s.scrub("Incorrect syntax near '0x0200DEAD'."),
            "Incorrect syntax near '<hash>'."
        );
    }

    #[test]
    fn logins_that_cannot_be_recreated_say_why() {
        assert!(matches!(
            create_sql_login(&sql_login("x", None)),
            Err(BuildError::NoPasswordHash { .. })
        ));
        let mut short = sql_login("x", Some(vec![2, 0]));
        short.sid = Sid(vec![1; 28]);
        let e = create_sql_login(&short).unwrap_err();
        assert!(e.to_string().contains("28-byte SID"), "{e}");
        let mut win = sql_login("CONTOSO\\app", None);
        win.kind = LoginKind::WindowsLogin;
        assert!(matches!(
            create_sql_login(&win),
            Err(BuildError::NotSqlLogin { .. })
        ));
    }

    #[test]
    fn other_statements_quote_names() {
        assert_eq!(
            create_external_login("app@contoso.com", Some("Sales")).sql(),
            "CREATE LOGIN [app@contoso.com] FROM EXTERNAL PROVIDER WITH DEFAULT_DATABASE = [Sales]"
        );
        assert_eq!(
            create_external_login("grp]x", Some("master")).sql(),
            "CREATE LOGIN [grp]]x] FROM EXTERNAL PROVIDER"
        );
        assert_eq!(
            add_role_member("dbcreator", "a]b").sql(),
            "ALTER SERVER ROLE [dbcreator] ADD MEMBER [a]]b]"
        );
        assert_eq!(disable_login("x'y").sql(), "ALTER LOGIN [x'y] DISABLE");
        assert_eq!(
            alter_user_with_login("D]b", "u", "l").sql(),
            "USE [D]]b]; ALTER USER [u] WITH LOGIN = [l]"
        );
        assert_eq!(name_literal("O'Brien"), "N'O''Brien'");
    }

    /// Reads back a bracketed identifier the way T-SQL does (`]]` is one `]`); returns the name
    /// and what follows it.
    fn unquote(s: &str) -> Option<(String, &str)> {
        let mut chars = s.strip_prefix('[')?.char_indices().peekable();
        let body = &s[1..];
        let mut out = String::new();
        while let Some((i, c)) = chars.next() {
            if c == ']' {
                if chars.peek().map(|(_, c)| *c) == Some(']') {
                    chars.next();
                    out.push(']');
                } else {
                    return Some((out, &body[i + 1..]));
                }
            } else {
                out.push(c);
            }
        }
        None
    }

    proptest! {
        /// Whatever the name, the statement's first identifier reads back as exactly that name and
        /// the rest of the statement is the fixed text: a name cannot end the identifier early.
        #[test]
        fn any_name_stays_inside_its_brackets(name in "\\PC{0,40}", role in "[\\]\\[a-z' ]{0,12}") {
            let s = add_role_member(&role, &name);
            let rest = s.sql().strip_prefix("ALTER SERVER ROLE ").unwrap();
            let (r, rest) = unquote(rest).unwrap();
            prop_assert_eq!(r, role);
            let rest = rest.strip_prefix(" ADD MEMBER ").unwrap();
            let (n, rest) = unquote(rest).unwrap();
            prop_assert_eq!(n, name.clone());
            prop_assert_eq!(rest, "");

            let mut login = sql_login(&name, Some(vec![2, 0, 1]));
            login.default_database = None;
            let c = create_sql_login(&login).unwrap();
            let (n, rest) = unquote(c.sql().strip_prefix("CREATE LOGIN ").unwrap()).unwrap();
            prop_assert_eq!(n, name);
            prop_assert!(rest.starts_with(" WITH PASSWORD = 0x020001 HASHED, SID = 0x"));
        }
    }
}
