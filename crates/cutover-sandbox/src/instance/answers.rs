//! The instance's answers to SELECTs, by what they ask for (see `sql_select`): server properties
//! (SERVERPROPERTY, IS_SRVROLEMEMBER, SUSER_SNAME), `sys.databases` with the columns and aggregates
//! SQL Server has, msdb's backup history (`msdb.dbo.backupset` joined with `backupmediafamily`,
//! filtered on a database name), a database's `sys.filegroups`. A column the view does not have
//! gets SQL Server's error 207, as on a real server.

use time::PrimitiveDateTime;

use super::super::sql::Token;
use super::super::sql_select::{Asks, Item, Select};
use super::super::tds::{ColumnType, Reply, Request, Session, Value};
use super::{Db, HistoryRow, SYSTEM_DATABASES, SqlError, SqlInstance, col, db_missing, param};
use cutover_backup::Lsn;

fn invalid_column(item: &Item) -> SqlError {
    let name = match &item.asks {
        Asks::Column(c) => c.clone(),
        _ => item.name.clone(),
    };
    SqlError::new(207, 16, format!("Invalid column name '{name}'."))
}

/// One output column's type and values.
type Answer<R> = (ColumnType, fn(&SqlInstance, &R) -> Value);

fn lsn(l: Lsn) -> Value {
    if l.is_zero() {
        Value::Null
    } else {
        Value::Decimal(l.as_decimal() as i128)
    }
}

fn rows_reply<R>(inst: &SqlInstance, items: &[Item], answers: &[Answer<R>], rows: &[R]) -> Reply {
    Reply::Rows {
        columns: items
            .iter()
            .zip(answers)
            .map(|(i, a)| col(&i.name, a.0))
            .collect(),
        rows: rows
            .iter()
            .map(|r| answers.iter().map(|a| (a.1)(inst, r)).collect())
            .collect(),
    }
}

/// A `sys.databases` row (user or system database) with the history it needs.
struct DbRow {
    name: String,
    id: i64,
    state: String,
    recovery: String,
    read_only: bool,
    user_access: String,
    encrypted: bool,
    data_bytes: i64,
    filestream_files: i64,
    last_full: Option<PrimitiveDateTime>,
    last_log: Option<PrimitiveDateTime>,
}

fn db_row(d: &Db, history: &[HistoryRow]) -> DbRow {
    let last = |letter: char| {
        history
            .iter()
            .filter(|h| h.database_name == d.spec.name && h.letter == letter)
            .map(|h| h.finish)
            .max()
    };
    let files = 2 + i64::from(d.spec.filestream || d.spec.memory_optimized);
    DbRow {
        name: d.spec.name.clone(),
        id: i64::from(d.id),
        state: d.state.into(),
        recovery: d.recovery_model.clone(),
        read_only: d.read_only,
        user_access: d.user_access.into(),
        encrypted: d.spec.tde,
        data_bytes: (d.spec.data_bytes.div_ceil(8192) * 8192 + 8 * 1024 * 1024) as i64 * files / 2,
        filestream_files: i64::from(d.spec.filestream || d.spec.memory_optimized),
        last_full: last('D'),
        last_log: last('L'),
    }
}

fn system_row(i: usize, name: &str) -> DbRow {
    DbRow {
        name: name.into(),
        id: i as i64 + 1,
        state: "ONLINE".into(),
        recovery: if name == "model" { "FULL" } else { "SIMPLE" }.into(),
        read_only: false,
        user_access: "MULTI_USER".into(),
        encrypted: false,
        data_bytes: 16 * 1024 * 1024,
        filestream_files: 0,
        last_full: None,
        last_log: None,
    }
}

fn date(d: Option<PrimitiveDateTime>) -> Value {
    d.map(Value::DateTime).unwrap_or(Value::Null)
}

fn database_answer(item: &Item) -> Option<Answer<DbRow>> {
    let a: Answer<DbRow> = match &item.asks {
        Asks::DataPages => (ColumnType::BigInt, |_, r| Value::Int(r.data_bytes)),
        Asks::FilestreamFiles => (ColumnType::Int, |_, r| Value::Int(r.filestream_files)),
        Asks::LastBackup('D') => (ColumnType::DateTime, |_, r| date(r.last_full)),
        Asks::LastBackup('L') => (ColumnType::DateTime, |_, r| date(r.last_log)),
        Asks::Column(c) => match c.as_str() {
            "name" => (ColumnType::NVarChar(128), |_, r| Value::Str(r.name.clone())),
            "database_id" => (ColumnType::Int, |_, r| Value::Int(r.id)),
            "state_desc" => (ColumnType::NVarChar(60), |_, r| Value::Str(r.state.clone())),
            "recovery_model_desc" => (ColumnType::NVarChar(60), |_, r| {
                Value::Str(r.recovery.clone())
            }),
            "compatibility_level" => (ColumnType::Int, |_, _| Value::Int(160)),
            "is_read_only" => (ColumnType::Bit, |_, r| Value::Int(i64::from(r.read_only))),
            "user_access_desc" => (ColumnType::NVarChar(60), |_, r| {
                Value::Str(r.user_access.clone())
            }),
            "is_encrypted" => (ColumnType::Bit, |_, r| Value::Int(i64::from(r.encrypted))),
            _ => return None,
        },
        _ => return None,
    };
    Some(a)
}

/// One msdb history row (one media family per backup set here).
struct HistoryAnswerRow<'a> {
    row: &'a HistoryRow,
}

fn history_answer<'a>(item: &Item) -> Option<Answer<HistoryAnswerRow<'a>>> {
    let numeric25 = ColumnType::Decimal {
        precision: 25,
        scale: 0,
    };
    let Asks::Column(c) = &item.asks else {
        return None;
    };
    let a: Answer<HistoryAnswerRow<'a>> = match c.as_str() {
        "database_name" => (ColumnType::NVarChar(128), |_, r| {
            Value::Str(r.row.database_name.clone())
        }),
        "type" => (ColumnType::VarChar(1), |_, r| {
            Value::Str(r.row.letter.to_string())
        }),
        "first_lsn" => (numeric25, |_, r| lsn(r.row.first)),
        "last_lsn" => (numeric25, |_, r| lsn(r.row.last)),
        "checkpoint_lsn" => (numeric25, |_, r| lsn(r.row.checkpoint)),
        "database_backup_lsn" => (numeric25, |_, r| lsn(r.row.database_backup)),
        "has_backup_checksums" => (ColumnType::Bit, |_, r| {
            Value::Int(i64::from(r.row.checksums))
        }),
        "is_copy_only" => (ColumnType::Bit, |_, r| {
            Value::Int(i64::from(r.row.copy_only))
        }),
        "backup_start_date" => (ColumnType::DateTime, |_, r| Value::DateTime(r.row.start)),
        "backup_finish_date" => (ColumnType::DateTime, |_, r| Value::DateTime(r.row.finish)),
        "backup_size" => (
            ColumnType::Decimal {
                precision: 20,
                scale: 0,
            },
            |_, r| Value::Decimal(r.row.size as i128),
        ),
        "server_name" => (ColumnType::NVarChar(128), |i, _| {
            Value::Str(i.opts.server_name.clone())
        }),
        "family_sequence_number" => (ColumnType::TinyInt, |_, _| Value::Int(1)),
        "physical_device_name" => (ColumnType::NVarChar(260), |_, r| {
            Value::Str(r.row.device.clone())
        }),
        "backup_set_id" => (ColumnType::Int, |_, r| Value::Int(r.row.backup_set_id)),
        _ => return None,
    };
    Some(a)
}

impl SqlInstance {
    /// Answers a SELECT by what it asks for; `Ok(None)` when it reads nothing this instance has
    /// (the caller then tries its other statements).
    pub(super) fn answer_select(
        &self,
        session: &Session,
        sel: &Select,
        req: &Request,
    ) -> Result<Option<Reply>, SqlError> {
        if sel.from.is_empty() {
            return self.server_properties(session, &sel.items);
        }
        if sel.reads("sys.databases") {
            return self.sys_databases(sel).map(Some);
        }
        if sel.reads("dbo.backupset") {
            return self.backup_history(sel, req).map(Some);
        }
        if let Some(db) = sel.database_of("sys.filegroups") {
            return self.filegroups(sel, &db).map(Some);
        }
        if let Some(r) = self.answer_tde(sel) {
            return r.map(Some);
        }
        let st = self.lock();
        let exists = |db: &str| st.dbs.iter().any(|d| d.spec.name.eq_ignore_ascii_case(db));
        if let Some(r) = st.principals.answer(sel, exists) {
            return r
                .map(Some)
                .map_err(|(number, message)| SqlError::new(number, 16, message));
        }
        Ok(None)
    }

    fn server_properties(
        &self,
        session: &Session,
        items: &[Item],
    ) -> Result<Option<Reply>, SqlError> {
        let mut columns = Vec::new();
        let mut row = Vec::new();
        for item in items {
            let (ty, value) = match &item.asks {
                Asks::ServerProperty(p) => match p.as_str() {
                    "servername" => (
                        ColumnType::NVarChar(256),
                        Value::Str(self.opts.server_name.clone()),
                    ),
                    "productversion" => {
                        (ColumnType::NVarChar(128), Value::Str("16.0.4135.4".into()))
                    }
                    "edition" => (
                        ColumnType::NVarChar(128),
                        Value::Str("Developer Edition (64-bit)".into()),
                    ),
                    "engineedition" => (ColumnType::Int, Value::Int(3)),
                    // SQL Server returns NULL for a property it does not know.
                    _ => (ColumnType::NVarChar(128), Value::Null),
                },
                Asks::RoleMember(r) if r == "sysadmin" => (
                    ColumnType::Int,
                    Value::Int(i64::from(self.is_sysadmin(&session.user))),
                ),
                Asks::RoleMember(_) => (ColumnType::Int, Value::Int(0)),
                Asks::LoginName => (ColumnType::NVarChar(128), Value::Str(session.user.clone())),
                // Not a server-level question (e.g. SELECT name with no FROM).
                _ => return Ok(None),
            };
            columns.push(col(&item.name, ty));
            row.push(value);
        }
        Ok(Some(Reply::Rows {
            columns,
            rows: vec![row],
        }))
    }

    fn sys_databases(&self, sel: &Select) -> Result<Reply, SqlError> {
        let answers = sel
            .items
            .iter()
            .map(|i| database_answer(i).ok_or_else(|| invalid_column(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let st = self.lock();
        let user_only = sel.filters("DATABASE_ID", ">", &Token::Num("4".into()));
        let mut rows: Vec<DbRow> = Vec::new();
        if !user_only {
            rows.extend(
                SYSTEM_DATABASES
                    .iter()
                    .enumerate()
                    .map(|(i, n)| system_row(i, n)),
            );
        }
        let mut user: Vec<DbRow> = st.dbs.iter().map(|d| db_row(d, &st.history)).collect();
        if user_only {
            user.sort_by(|a, b| a.name.cmp(&b.name));
        }
        rows.extend(user);
        drop(st);
        Ok(rows_reply(self, &sel.items, &answers, &rows))
    }

    fn backup_history(&self, sel: &Select, req: &Request) -> Result<Reply, SqlError> {
        let answers = sel
            .items
            .iter()
            .map(|i| history_answer(i).ok_or_else(|| invalid_column(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let name = match sel.variable_for("DATABASE_NAME") {
            Some(var) => match param(req, &var) {
                Some(Value::Str(s)) => Some(s),
                _ => {
                    return Err(SqlError::new(
                        137,
                        15,
                        format!("Must declare the scalar variable \"{var}\"."),
                    ));
                }
            },
            None => None,
        };
        let st = self.lock();
        let rows: Vec<HistoryAnswerRow<'_>> = st
            .history
            .iter()
            .filter(|h| {
                name.as_ref()
                    .is_none_or(|n| h.database_name.eq_ignore_ascii_case(n))
            })
            .map(|row| HistoryAnswerRow { row })
            .collect();
        Ok(rows_reply(self, &sel.items, &answers, &rows))
    }

    fn filegroups(&self, sel: &Select, db: &str) -> Result<Reply, SqlError> {
        let memory_optimized = sel.filter.windows(3).any(|w| {
            matches!(&w[0], Token::Word(c) if c == "TYPE")
                && matches!(&w[1], Token::Punct(p) if p == "=")
                && matches!(&w[2], Token::Str(s) if s.eq_ignore_ascii_case("FX"))
        });
        let st = self.lock();
        let d = st
            .dbs
            .iter()
            .find(|d| d.spec.name.eq_ignore_ascii_case(db))
            .ok_or_else(|| db_missing(db))?;
        let count = if memory_optimized {
            i64::from(d.spec.memory_optimized)
        } else {
            // PRIMARY, plus the memory-optimized filegroup if any.
            1 + i64::from(d.spec.memory_optimized)
        };
        let mut columns = Vec::new();
        let mut row = Vec::new();
        for item in &sel.items {
            if item.asks != Asks::Count {
                return Err(invalid_column(item));
            }
            columns.push(col(&item.name, ColumnType::Int));
            row.push(Value::Int(count));
        }
        Ok(Reply::Rows {
            columns,
            rows: vec![row],
        })
    }
}
