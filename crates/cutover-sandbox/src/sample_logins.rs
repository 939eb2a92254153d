//! The logins of the sandbox's source SQL Server, one of each kind a migration meets: SQL logins
//! (one whose name needs quoting, one disabled with password policy and expiration on), a Windows
//! login and a Windows group (Managed Instance has neither), the server's own principals (`sa`, a
//! certificate-mapped `##MS_...##` login, `NT AUTHORITY\SYSTEM`), server role memberships, and users
//! in every database mapped to them by SID, plus one user whose login is gone (orphaned already).
//! The SQL logins' passwords are the sandbox's own test values, published here so a test can log
//! in to the target with them after a migration (the hash travelled, not the password).

use super::instance::LoginSpec;
use super::principals::{Principals, ServerPrincipal, password_hash, sql_sid, windows_sid};

/// The sample SQL logins and their test passwords.
pub const SQL_LOGINS: [(&str, &str); 3] = [
    ("app_sales", "Sbx-AppSales-1!"),
    ("we]ird 'login", "Sbx-We]ird-'2"),
    ("retired", "Sbx-Retired-3!"),
];

/// The sample Windows login and group.
pub const WINDOWS_LOGIN: &str = "CONTOSO\\app";
pub const WINDOWS_GROUP: &str = "CONTOSO\\DBAs";

fn login(name: &str, kind: char, sid: Vec<u8>) -> ServerPrincipal {
    ServerPrincipal {
        principal_id: 0,
        name: name.into(),
        sid,
        kind,
        is_disabled: false,
        default_database: Some("master".into()),
        default_language: Some("us_english".into()),
        password_hash: None,
        is_policy_checked: false,
        is_expiration_checked: false,
        is_fixed_role: false,
    }
}

fn sql_login(name: &str, password: &str, salt: u8) -> ServerPrincipal {
    let mut l = login(name, 'S', sql_sid(name));
    l.password_hash = Some(password_hash(password, [0xC0, 0x7E, 0x01, salt]));
    l.is_policy_checked = true;
    l
}

/// The source's principals for these databases; `connect` are the logins clients connect with.
pub fn source_estate(databases: &[String], connect: &[LoginSpec]) -> Principals {
    let mut p = Principals::with_fixed_roles();
    let mut sa = login("sa", 'S', vec![1]);
    sa.password_hash = Some(password_hash("not-the-sandbox-password", [0, 0, 0, 1]));
    sa.principal_id = 1;
    p.server.push(sa);
    p.role_members.push((3, 1));
    let mut ms = login(
        "##MS_PolicyTsqlExecutionLogin##",
        'S',
        sql_sid("##MS_Policy"),
    );
    ms.is_disabled = true;
    p.add_login(ms, &[]);
    p.add_login(
        login(
            "NT AUTHORITY\\SYSTEM",
            'U',
            vec![1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0],
        ),
        &["sysadmin"],
    );
    for (i, c) in connect.iter().enumerate() {
        if c.user.eq_ignore_ascii_case("sa") {
            continue;
        }
        let roles: &[&str] = if c.sysadmin { &["sysadmin"] } else { &[] };
        p.add_login(sql_login(&c.user, &c.password, 0x80 + i as u8), roles);
    }
    let [(app, app_pw), (weird, weird_pw), (retired, retired_pw)] = SQL_LOGINS;
    p.add_login(sql_login(app, app_pw, 1), &[]);
    let mut w = sql_login(weird, weird_pw, 2);
    w.default_database = databases.first().cloned();
    p.add_login(w, &["dbcreator"]);
    let mut r = sql_login(retired, retired_pw, 3);
    r.is_disabled = true;
    r.is_expiration_checked = true;
    p.add_login(r, &[]);
    p.add_login(login(WINDOWS_LOGIN, 'U', windows_sid("CONTOSO", 1105)), &[]);
    p.add_login(
        login(WINDOWS_GROUP, 'G', windows_sid("CONTOSO", 1201)),
        &["sysadmin"],
    );
    for db in databases {
        p.add_user(db, "app_sales", 'S', sql_sid(app));
        p.add_user(db, "app", 'U', windows_sid("CONTOSO", 1105));
        if db.contains(']') || db.contains('\'') {
            p.add_user(db, "we]ird 'user", 'S', sql_sid(weird));
        }
        p.add_user(db, "old_report", 'S', sql_sid("a login dropped long ago"));
    }
    p
}
