//! A small TDS 7.4 server on 127.0.0.1: the local SQL Server of the sandbox (tests and `cutover demo`).
//!
//! `protocol` holds the wire format (packets, PRELOGIN, LOGIN7, SQL batch, RPC/sp_executesql, tokens),
//! `server` the accept loop and one task per connection. What a statement *means* is decided by a
//! [`SqlBackend`] (the sandbox's stateful instance, `sandbox::instance`): the protocol layer never
//! interprets SQL.

pub mod protocol;
pub mod server;

use time::PrimitiveDateTime;

/// A column's declared type, as sent in COLMETADATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// NVARCHAR(n) with n in characters (1..=4000).
    NVarChar(u16),
    /// CHAR(n) / VARCHAR(n), single-byte (msdb's `type` is CHAR(1)), sent as BIGVARCHAR/BIGCHAR.
    VarChar(u16),
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Bit,
    /// DECIMAL/NUMERIC(precision, scale).
    Decimal {
        precision: u8,
        scale: u8,
    },
    /// DATETIME (msdb's dates).
    DateTime,
    /// VARBINARY(n), n in bytes (1..=8000): SIDs and password hashes.
    VarBinary(u16),
}

impl ColumnType {
    /// NVARCHAR(MAX), for text longer than 4000 characters: the protocol sends any `NVarChar(n)`
    /// with n above 4000 as NVARCHAR(MAX) (values in PLP chunks).
    pub const NVARCHAR_MAX: ColumnType = ColumnType::NVarChar(u16::MAX);
}

/// One value of a row. `Null` is valid for every column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    /// Any integer column type (TinyInt..BigInt) and Bit (0/1).
    Int(i64),
    /// NVARCHAR / VARCHAR.
    Str(String),
    /// DECIMAL: the unscaled magnitude with sign (value = unscaled / 10^scale).
    Decimal(i128),
    DateTime(PrimitiveDateTime),
    /// VARBINARY.
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
}

/// What a statement answered, in order. The server ends a batch with the right DONE tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A result set (COLMETADATA + ROWs + DONE with the row count).
    Rows {
        columns: Vec<Column>,
        rows: Vec<Vec<Value>>,
    },
    /// INFO token (class <= 10), e.g. BACKUP's "Processed 2 pages..." messages.
    Info { number: u32, message: String },
    /// ERROR token (class 11..=25); the statement ends with DONE status 0x0002.
    Error {
        number: u32,
        state: u8,
        class: u8,
        message: String,
    },
    /// A statement without a result set (ALTER, BACKUP): DONE, with a row count if `Some`.
    Done { rows_affected: Option<u64> },
}

/// A parameter of an RPC call (sp_executesql's @P1...), decoded from its TDS type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Name without '@', e.g. "P1".
    pub name: String,
    pub value: Value,
}

/// One request from a client: a SQL batch (no params) or sp_executesql (statement + params).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub sql: String,
    pub params: Vec<Param>,
}

/// A login the backend accepted: the session's user and current database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub database: String,
}

/// Why a login was refused: sent as ERROR 18456 class 14 (SQL Server's "Login failed for user").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginError {
    pub message: String,
}

/// The meaning of SQL: implemented by the sandbox's instance (and by small test backends).
#[async_trait::async_trait]
pub trait SqlBackend: Send + Sync + 'static {
    /// The server name in LOGINACK / ERROR tokens (e.g. "SANDBOX").
    fn server_name(&self) -> String;
    /// Checks user and password; `database` is the one asked for in LOGIN7 ("" = default).
    fn login(&self, user: &str, password: &str, database: &str) -> Result<Session, LoginError>;
    /// Checks a Microsoft Entra access token (LOGIN7's FEDAUTH); SQL Server itself refuses it.
    fn login_token(&self, _token: &str, _database: &str) -> Result<Session, LoginError> {
        Err(LoginError {
            message: "Microsoft Entra authentication is not configured on this server".into(),
        })
    }
    /// Runs one request; statements may take time (BACKUP). Unknown SQL must answer an `Error`.
    async fn execute(&self, session: &mut Session, request: Request) -> Vec<Reply>;
}
