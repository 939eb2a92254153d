//! The statements that change logins and users, as SQL Server (and Managed Instance) check them:
//! `CREATE LOGIN name WITH PASSWORD = 0x... HASHED | N'...', SID = 0x..., DEFAULT_DATABASE = ..,
//! DEFAULT_LANGUAGE = .., CHECK_POLICY = ON|OFF, CHECK_EXPIRATION = ON|OFF`, `CREATE LOGIN name FROM
//! EXTERNAL PROVIDER` (Managed Instance: `FROM WINDOWS` is refused), `ALTER SERVER ROLE r ADD|DROP
//! MEMBER l`, `ALTER LOGIN l ENABLE|DISABLE`, `DROP LOGIN l`, `ALTER USER u WITH LOGIN = l`.
//! Errors carry SQL Server's numbers: 15025 (name exists), 15433 (SID in use), 15419 (SID not
//! binary(16)), 15021 (bad hash), 15122 (CHECK_EXPIRATION without CHECK_POLICY), 15151 (no such
//! principal), 15247 (no permission).

use super::principals::{Principals, ServerPrincipal, password_hash};
use super::sql::Token;

/// An error as SQL Server raises it: (number, message).
pub type DdlError = (u32, String);

fn is_word(t: Option<&Token>, w: &str) -> bool {
    matches!(t, Some(Token::Word(x)) if x == w)
}

/// A name at `i` (bracketed, quoted or a plain word as written).
fn name_at(tokens: &[Token], originals: &[String], i: usize) -> Option<String> {
    match tokens.get(i)? {
        Token::Ident(s) => Some(s.clone()),
        Token::Word(_) => originals.get(i).cloned(),
        _ => None,
    }
}

fn syntax(originals: &[String], i: usize) -> DdlError {
    (
        102,
        format!(
            "Incorrect syntax near '{}'.",
            originals.get(i).map(String::as_str).unwrap_or("")
        ),
    )
}

/// `0x...` as bytes.
fn binary(t: Option<&Token>) -> Option<Vec<u8>> {
    let Some(Token::Num(s)) = t else { return None };
    let hex = s.strip_prefix("0x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// Whether a hash is one SQL Server writes: 0x0200 + 4-byte salt + SHA-512 (70 bytes) or
/// 0x0100 + salt + SHA-1 (26 bytes).
fn valid_hash(h: &[u8]) -> bool {
    matches!(
        (h.first(), h.get(1), h.len()),
        (Some(2), Some(0), 70) | (Some(1), Some(0), 26)
    )
}

/// What a statement did, for the caller's session (`USE` changes its database).
pub enum Done {
    Changed,
    Use(String),
}

/// Runs a login or user statement; `None` if `tokens` is not one. `may_manage` is whether the
/// session's login may (sysadmin or securityadmin); `database` is the session's database and
/// `external_provider` whether `FROM EXTERNAL PROVIDER` exists (Managed Instance) rather than
/// `FROM WINDOWS` (SQL Server).
pub fn run(
    p: &mut Principals,
    tokens: &[Token],
    originals: &[String],
    may_manage: bool,
    database: &str,
    managed_instance: bool,
) -> Option<Result<Done, DdlError>> {
    let first = tokens.first();
    let second = tokens.get(1);
    let kind = if is_word(first, "CREATE") && is_word(second, "LOGIN") {
        "create"
    } else if is_word(first, "ALTER") && is_word(second, "SERVER") && is_word(tokens.get(2), "ROLE")
    {
        "role"
    } else if is_word(first, "ALTER") && is_word(second, "LOGIN") {
        "alter"
    } else if is_word(first, "DROP") && is_word(second, "LOGIN") {
        "drop"
    } else if is_word(first, "ALTER") && is_word(second, "USER") {
        "user"
    } else if is_word(first, "USE") {
        return Some(
            name_at(tokens, originals, 1)
                .filter(|_| tokens.len() == 2)
                .map(Done::Use)
                .ok_or_else(|| syntax(originals, 1)),
        );
    } else {
        return None;
    };
    if !may_manage {
        return Some(Err((
            15247,
            "User does not have permission to perform this action.".into(),
        )));
    }
    Some(match kind {
        "create" => create(p, tokens, originals, managed_instance),
        "role" => role(p, tokens, originals),
        "alter" => alter(p, tokens, originals),
        "drop" => drop(p, tokens, originals),
        _ => alter_user(p, tokens, originals, database),
    })
}

fn on_off(t: Option<&Token>) -> Option<bool> {
    match t {
        Some(Token::Word(w)) if w == "ON" => Some(true),
        Some(Token::Word(w)) if w == "OFF" => Some(false),
        _ => None,
    }
}

fn create(
    p: &mut Principals,
    tokens: &[Token],
    originals: &[String],
    managed_instance: bool,
) -> Result<Done, DdlError> {
    let name = name_at(tokens, originals, 2).ok_or_else(|| syntax(originals, 2))?;
    let exists = || {
        (
            15025,
            format!("The server principal '{name}' already exists."),
        )
    };
    let mut login = ServerPrincipal {
        principal_id: 0,
        name: name.clone(),
        sid: Vec::new(),
        kind: 'S',
        is_disabled: false,
        default_database: Some("master".into()),
        default_language: Some("us_english".into()),
        password_hash: None,
        is_policy_checked: true,
        is_expiration_checked: false,
        is_fixed_role: false,
    };
    let mut i;
    if is_word(tokens.get(3), "FROM") {
        if is_word(tokens.get(4), "WINDOWS") {
            return Err(if managed_instance {
                (
                    40607,
                    "Windows logins are not supported in this version of SQL Server.".into(),
                )
            } else {
                (
                    15401,
                    format!("Windows NT user or group '{name}' not found. Check the name again."),
                )
            });
        }
        if !(managed_instance
            && is_word(tokens.get(4), "EXTERNAL")
            && is_word(tokens.get(5), "PROVIDER"))
        {
            return Err(syntax(originals, 4));
        }
        login.kind = 'E';
        login.sid = super::principals::sql_sid(&format!("entra\0{}", name.to_lowercase()));
        login.default_language = None;
        login.is_policy_checked = false;
        i = 6;
        if tokens.len() > i {
            if !is_word(tokens.get(i), "WITH") {
                return Err(syntax(originals, i));
            }
            i += 1;
            while i < tokens.len() {
                if is_word(tokens.get(i), "DEFAULT_DATABASE")
                    && matches!(tokens.get(i + 1), Some(Token::Punct(x)) if x == "=")
                {
                    login.default_database = Some(
                        name_at(tokens, originals, i + 2)
                            .ok_or_else(|| syntax(originals, i + 2))?,
                    );
                    i += 3;
                } else {
                    return Err(syntax(originals, i));
                }
                if matches!(tokens.get(i), Some(Token::Punct(x)) if x == ",") {
                    i += 1;
                }
            }
        }
    } else {
        if !(is_word(tokens.get(3), "WITH")
            && is_word(tokens.get(4), "PASSWORD")
            && matches!(tokens.get(5), Some(Token::Punct(x)) if x == "="))
        {
            return Err(syntax(originals, 3));
        }
        let hashed = is_word(tokens.get(7), "HASHED");
        login.password_hash = Some(match (tokens.get(6), hashed) {
            (Some(Token::Str(s)), false) => {
                password_hash(s, [0x5A, 0x17, (s.len() % 251) as u8, 0x42])
            }
            (t @ Some(Token::Num(_)), true) => binary(t).filter(|h| valid_hash(h)).ok_or((
                15021,
                "Invalid value given for parameter PASSWORD. Specify a valid parameter value."
                    .to_string(),
            ))?,
            _ => {
                return Err((
                    15021,
                    "Invalid value given for parameter PASSWORD. Specify a valid parameter value."
                        .into(),
                ));
            }
        });
        i = if hashed { 8 } else { 7 };
        let mut expiration_given = None;
        while i < tokens.len() {
            if !matches!(tokens.get(i), Some(Token::Punct(x)) if x == ",")
                || !matches!(tokens.get(i + 2), Some(Token::Punct(x)) if x == "=")
            {
                return Err(syntax(originals, i));
            }
            let value = tokens.get(i + 3);
            match tokens.get(i + 1) {
                Some(Token::Word(w)) if w == "SID" => {
                    let sid = binary(value).ok_or_else(|| syntax(originals, i + 3))?;
                    if sid.len() != 16 {
                        return Err((15419, "Supplied parameter sid should be binary(16).".into()));
                    }
                    login.sid = sid;
                }
                Some(Token::Word(w)) if w == "DEFAULT_DATABASE" => {
                    login.default_database = Some(
                        name_at(tokens, originals, i + 3)
                            .ok_or_else(|| syntax(originals, i + 3))?,
                    )
                }
                Some(Token::Word(w)) if w == "DEFAULT_LANGUAGE" => {
                    login.default_language = Some(
                        name_at(tokens, originals, i + 3)
                            .ok_or_else(|| syntax(originals, i + 3))?,
                    )
                }
                Some(Token::Word(w)) if w == "CHECK_POLICY" => {
                    login.is_policy_checked =
                        on_off(value).ok_or_else(|| syntax(originals, i + 3))?
                }
                Some(Token::Word(w)) if w == "CHECK_EXPIRATION" => {
                    expiration_given = Some(on_off(value).ok_or_else(|| syntax(originals, i + 3))?)
                }
                _ => return Err(syntax(originals, i + 1)),
            }
            i += 4;
        }
        if expiration_given == Some(true) && !login.is_policy_checked {
            return Err((
                15122,
                "The CHECK_EXPIRATION option cannot be used when CHECK_POLICY is OFF.".into(),
            ));
        }
        login.is_expiration_checked = expiration_given.unwrap_or(false);
        if login.sid.is_empty() {
            login.sid = super::principals::sql_sid(&format!("new\0{}", name.to_lowercase()));
        }
    }
    if p.login(&name).is_some() || p.role(&name).is_some() {
        return Err(exists());
    }
    if p.server.iter().any(|x| x.sid == login.sid) {
        return Err((15433, "Supplied parameter sid is in use.".into()));
    }
    p.add_login(login, &[]);
    Ok(Done::Changed)
}

fn role(p: &mut Principals, tokens: &[Token], originals: &[String]) -> Result<Done, DdlError> {
    let role = name_at(tokens, originals, 3).ok_or_else(|| syntax(originals, 3))?;
    let add = is_word(tokens.get(4), "ADD");
    if !(add || is_word(tokens.get(4), "DROP"))
        || !is_word(tokens.get(5), "MEMBER")
        || tokens.len() != 7
    {
        return Err(syntax(originals, 4));
    }
    let member = name_at(tokens, originals, 6).ok_or_else(|| syntax(originals, 6))?;
    let role_id = p.role(&role).map(|r| r.principal_id).ok_or_else(|| {
        (
            15151,
            format!("Cannot alter the server role '{role}', because it does not exist or you do not have permission."),
        )
    })?;
    let member_id = p.login(&member).map(|l| l.principal_id).ok_or_else(|| {
        (
            15151,
            format!("Cannot add the principal '{member}', because it does not exist or you do not have permission."),
        )
    })?;
    let pair = (role_id, member_id);
    if add {
        if !p.role_members.contains(&pair) {
            p.role_members.push(pair);
        }
    } else {
        p.role_members.retain(|x| x != &pair);
    }
    Ok(Done::Changed)
}

fn alter(p: &mut Principals, tokens: &[Token], originals: &[String]) -> Result<Done, DdlError> {
    let name = name_at(tokens, originals, 2).ok_or_else(|| syntax(originals, 2))?;
    let disable = match tokens.get(3) {
        Some(Token::Word(w)) if w == "DISABLE" && tokens.len() == 4 => true,
        Some(Token::Word(w)) if w == "ENABLE" && tokens.len() == 4 => false,
        _ => return Err(syntax(originals, 3)),
    };
    let lower = name.to_lowercase();
    let login = p
        .server
        .iter_mut()
        .find(|x| x.kind != 'R' && x.name.to_lowercase() == lower)
        .ok_or_else(|| {
            (
                15151,
                format!("Cannot alter the login '{name}', because it does not exist or you do not have permission."),
            )
        })?;
    login.is_disabled = disable;
    Ok(Done::Changed)
}

fn drop(p: &mut Principals, tokens: &[Token], originals: &[String]) -> Result<Done, DdlError> {
    let name = name_at(tokens, originals, 2)
        .filter(|_| tokens.len() == 3)
        .ok_or_else(|| syntax(originals, 2))?;
    let id = p.login(&name).map(|l| l.principal_id).ok_or_else(|| {
        (
            15151,
            format!("Cannot drop the login '{name}', because it does not exist or you do not have permission."),
        )
    })?;
    p.server.retain(|x| x.principal_id != id);
    p.role_members.retain(|(_, m)| *m != id);
    Ok(Done::Changed)
}

fn alter_user(
    p: &mut Principals,
    tokens: &[Token],
    originals: &[String],
    database: &str,
) -> Result<Done, DdlError> {
    let user = name_at(tokens, originals, 2).ok_or_else(|| syntax(originals, 2))?;
    if !(is_word(tokens.get(3), "WITH")
        && is_word(tokens.get(4), "LOGIN")
        && matches!(tokens.get(5), Some(Token::Punct(x)) if x == "=")
        && tokens.len() == 7)
    {
        return Err(syntax(originals, 3));
    }
    let login = name_at(tokens, originals, 6).ok_or_else(|| syntax(originals, 6))?;
    let sid = p.login(&login).map(|l| l.sid.clone()).ok_or_else(|| {
        (
            15151,
            format!("Cannot find the login '{login}', because it does not exist or you do not have permission."),
        )
    })?;
    let db = database.to_lowercase();
    let u = user.to_lowercase();
    let row = p
        .database
        .iter_mut()
        .find(|(d, x)| d.to_lowercase() == db && x.name.to_lowercase() == u && x.principal_id > 4)
        .ok_or_else(|| {
            (
                15151,
                format!("Cannot alter the user '{user}', because it does not exist or you do not have permission."),
            )
        })?;
    row.1.sid = Some(sid);
    Ok(Done::Changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::tokenize;

    fn exec(p: &mut Principals, sql: &str) -> Result<(), DdlError> {
        let (t, o) = tokenize(sql).unwrap();
        run(p, &t, &o, true, "Sales", true).unwrap().map(|_| ())
    }

    #[test]
    fn creates_logins_as_managed_instance_checks_them() {
        let mut p = Principals::with_fixed_roles();
        let hash = password_hash("x", [9, 9, 9, 9]);
        let hex: String = hash.iter().map(|b| format!("{b:02X}")).collect();
        exec(
            &mut p,
            &format!(
                "CREATE LOGIN [we]]ird 'app] WITH PASSWORD = 0x{hex} HASHED, SID = 0x0102030405060708090A0B0C0D0E0F10, DEFAULT_DATABASE = [Sales], CHECK_POLICY = OFF, CHECK_EXPIRATION = OFF"
            ),
        )
        .unwrap();
        let l = p.login("WE]IRD 'APP").unwrap();
        assert_eq!(l.sid, (1..=16).collect::<Vec<u8>>());
        assert_eq!(l.password_hash.as_deref(), Some(hash.as_slice()));
        assert!(!l.is_policy_checked);
        let again = exec(
            &mut p,
            &format!("CREATE LOGIN [we]]ird 'app] WITH PASSWORD = 0x{hex} HASHED"),
        );
        assert_eq!(again.unwrap_err().0, 15025);
        let sid_used = exec(
            &mut p,
            &format!(
                "CREATE LOGIN other WITH PASSWORD = 0x{hex} HASHED, SID = 0x0102030405060708090A0B0C0D0E0F10"
            ),
        );
        assert_eq!(sid_used.unwrap_err().0, 15433);
        assert_eq!(
            exec(&mut p, "CREATE LOGIN o WITH PASSWORD = 0x0200AB HASHED")
                .unwrap_err()
                .0,
            15021
        );
        assert_eq!(
            exec(
                &mut p,
                &format!("CREATE LOGIN o WITH PASSWORD = 0x{hex} HASHED, SID = 0x01")
            )
            .unwrap_err()
            .0,
            15419
        );
        assert_eq!(
            exec(
                &mut p,
                "CREATE LOGIN o WITH PASSWORD = N'p', CHECK_POLICY = OFF, CHECK_EXPIRATION = ON"
            )
            .unwrap_err()
            .0,
            15122
        );
        assert_eq!(
            exec(&mut p, "CREATE LOGIN [D\\x] FROM WINDOWS")
                .unwrap_err()
                .0,
            40607
        );
        exec(
            &mut p,
            "CREATE LOGIN [app@contoso.com] FROM EXTERNAL PROVIDER",
        )
        .unwrap();
        assert_eq!(p.login("app@contoso.com").unwrap().kind, 'E');
        exec(
            &mut p,
            "ALTER SERVER ROLE [dbcreator] ADD MEMBER [app@contoso.com]",
        )
        .unwrap();
        exec(
            &mut p,
            "ALTER SERVER ROLE [dbcreator] ADD MEMBER [app@contoso.com]",
        )
        .unwrap();
        assert_eq!(p.role_members.len(), 1);
        assert_eq!(
            exec(
                &mut p,
                "ALTER SERVER ROLE [nope] ADD MEMBER [app@contoso.com]"
            )
            .unwrap_err()
            .0,
            15151
        );
        exec(&mut p, "ALTER LOGIN [we]]ird 'app] DISABLE").unwrap();
        assert!(p.login("we]ird 'app").unwrap().is_disabled);
        assert_eq!(
            exec(&mut p, "ALTER LOGIN [ghost] DISABLE").unwrap_err().0,
            15151
        );
        p.add_user("Sales", "app", 'U', vec![1, 2, 3]);
        exec(&mut p, "ALTER USER [app] WITH LOGIN = [app@contoso.com]").unwrap();
        let sid = p.login("app@contoso.com").unwrap().sid.clone();
        assert!(
            p.database
                .iter()
                .any(|(_, u)| u.name == "app" && u.sid.as_ref() == Some(&sid))
        );
        let (t, o) = tokenize("CREATE LOGIN z WITH PASSWORD = N'p'").unwrap();
        assert_eq!(
            run(&mut p, &t, &o, false, "master", true)
                .unwrap()
                .err()
                .unwrap()
                .0,
            15247
        );
    }
}
