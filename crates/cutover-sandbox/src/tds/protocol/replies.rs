//! Whole replies: the token stream answering a batch or an RPC (DONE / DONEINPROC, RETURNSTATUS,
//! DONEPROC), the LOGIN7 success and failure replies, request errors and the ATTENTION acknowledgement.

use super::packet::DEFAULT_PACKET_SIZE;
use super::prelogin::SERVER_VERSION;
use super::rows::{ReplyError, encode_colmetadata, encode_row};
use super::tokens::{
    CMD_SELECT, COLLATION, DONE_ATTN, DONE_COUNT, DONE_ERROR, DONE_MORE, DoneKind, PROGRAM_NAME,
    ServerMessage, encode_done, encode_env_collation, encode_env_database, encode_env_packet_size,
    encode_error, encode_info, encode_login_ack, encode_return_status,
};
use crate::tds::{Column, Reply, Value};

/// Which request a reply answers: statement results end with DONE (batch) or DONEINPROC (RPC,
/// followed by RETURNSTATUS and DONEPROC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Batch,
    Rpc,
}

/// ERROR number used when the backend built a reply this module cannot encode.
const INTERNAL_ERROR: u32 = 50000;

/// The token stream answering one request. Batch: every statement ends with DONE, with DONE_MORE
/// on all but the last; a reply list ending in INFO (or empty) gets a final DONE. RPC: statements
/// end with DONEINPROC (always DONE_MORE), then RETURNSTATUS (1 if any statement failed) and
/// DONEPROC. A `Rows` reply the backend built wrongly becomes an ERROR (class 16).
pub fn encode_replies(replies: &[Reply], kind: RequestKind, server_name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let statement_done = match kind {
        RequestKind::Batch => DoneKind::Done,
        RequestKind::Rpc => DoneKind::DoneInProc,
    };
    let mut failed = false;
    for (i, reply) in replies.iter().enumerate() {
        let more = if kind == RequestKind::Rpc || i + 1 < replies.len() {
            DONE_MORE
        } else {
            0
        };
        match reply {
            Reply::Rows { columns, rows } => match encode_rows(columns, rows) {
                Ok(tokens) => {
                    out.extend_from_slice(&tokens);
                    encode_done(
                        &mut out,
                        statement_done,
                        DONE_COUNT | more,
                        CMD_SELECT,
                        rows.len() as u64,
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, "the SQL backend built a result set that cannot be sent");
                    failed = true;
                    let message = format!("The server could not send a result set: {e}.");
                    encode_error(
                        &mut out,
                        &message_token(INTERNAL_ERROR, 1, 16, &message, server_name),
                    );
                    encode_done(&mut out, statement_done, DONE_ERROR | more, 0, 0);
                }
            },
            Reply::Info { number, message } => {
                encode_info(
                    &mut out,
                    &message_token(*number, 1, 0, message, server_name),
                );
            }
            Reply::Error {
                number,
                state,
                class,
                message,
            } => {
                failed = true;
                encode_error(
                    &mut out,
                    &message_token(*number, *state, *class, message, server_name),
                );
                encode_done(&mut out, statement_done, DONE_ERROR | more, 0, 0);
            }
            Reply::Done { rows_affected } => {
                let status = if rows_affected.is_some() {
                    DONE_COUNT
                } else {
                    0
                };
                encode_done(
                    &mut out,
                    statement_done,
                    status | more,
                    0,
                    rows_affected.unwrap_or(0),
                );
            }
        }
    }
    match kind {
        RequestKind::Batch => {
            if matches!(replies.last(), None | Some(Reply::Info { .. })) {
                encode_done(&mut out, DoneKind::Done, 0, 0, 0);
            }
        }
        RequestKind::Rpc => {
            encode_return_status(&mut out, failed as i32);
            encode_done(
                &mut out,
                DoneKind::DoneProc,
                if failed { DONE_ERROR } else { 0 },
                0,
                0,
            );
        }
    }
    out
}

fn encode_rows(columns: &[Column], rows: &[Vec<Value>]) -> Result<Vec<u8>, ReplyError> {
    let mut out = Vec::new();
    encode_colmetadata(&mut out, columns)?;
    for row in rows {
        encode_row(&mut out, columns, row)?;
    }
    Ok(out)
}

fn message_token<'a>(
    number: u32,
    state: u8,
    class: u8,
    message: &'a str,
    server: &'a str,
) -> ServerMessage<'a> {
    ServerMessage {
        number,
        state,
        class,
        message,
        server,
        procedure: "",
        line: 1,
    }
}

/// The reply to a successful LOGIN7: ENVCHANGE database, ENVCHANGE collation, LOGINACK,
/// ENVCHANGE packet size, DONE.
pub fn encode_login_success(database: &str, packet_size: u32) -> Vec<u8> {
    let mut out = Vec::new();
    encode_env_database(&mut out, database, "");
    encode_env_collation(&mut out, COLLATION);
    encode_login_ack(&mut out, PROGRAM_NAME, SERVER_VERSION);
    encode_env_packet_size(&mut out, packet_size, DEFAULT_PACKET_SIZE);
    encode_done(&mut out, DoneKind::Done, 0, 0, 0);
    out
}

/// FEATUREEXTACK token (MS-TDS 2.2.7.11).
const TOKEN_FEATUREEXTACK: u8 = 0xAE;

/// [`encode_login_success`] for a login with a Microsoft Entra token: FEATUREEXTACK acknowledging
/// FEDAUTH (FeatureId 0x02, no data: no nonce was sent) after LOGINACK.
pub fn encode_login_success_fedauth(database: &str, packet_size: u32) -> Vec<u8> {
    let mut out = Vec::new();
    encode_env_database(&mut out, database, "");
    encode_env_collation(&mut out, COLLATION);
    encode_login_ack(&mut out, PROGRAM_NAME, SERVER_VERSION);
    out.extend_from_slice(&[TOKEN_FEATUREEXTACK, 0x02, 0, 0, 0, 0, 0xFF]);
    encode_env_packet_size(&mut out, packet_size, DEFAULT_PACKET_SIZE);
    encode_done(&mut out, DoneKind::Done, 0, 0, 0);
    out
}

/// The reply to a refused LOGIN7: ERROR 18456 class 14 state 1, DONE with DONE_ERROR.
pub fn encode_login_failure(user: &str, server_name: &str) -> Vec<u8> {
    let message = format!("Login failed for user '{user}'.");
    encode_request_error(18456, 14, &message, server_name)
}

/// A request answered by one ERROR (state 1) and DONE with DONE_ERROR.
pub fn encode_request_error(number: u32, class: u8, message: &str, server_name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_error(
        &mut out,
        &message_token(number, 1, class, message, server_name),
    );
    encode_done(&mut out, DoneKind::Done, DONE_ERROR, 0, 0);
    out
}

/// The acknowledgement of an ATTENTION: DONE with DONE_ATTN.
pub fn encode_attention_ack() -> Vec<u8> {
    let mut out = Vec::new();
    encode_done(&mut out, DoneKind::Done, DONE_ATTN, 0, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_bytes::{col, utf16};
    use super::*;
    use crate::tds::ColumnType;

    #[test]
    fn login_failure_reply() {
        let out = encode_login_failure("bob", "SANDBOX");
        assert_eq!(out[0], 0xAA);
        assert_eq!(&out[3..9], &[0x18, 0x48, 0, 0, 1, 14]);
        let text = utf16("Login failed for user 'bob'.");
        assert!(out.windows(text.len()).any(|w| w == text));
        assert_eq!(
            &out[out.len() - 13..out.len() - 8],
            &[0xFD, 0x02, 0x00, 0x00, 0x00]
        );
    }

    #[test]
    fn login_success_reply_order() {
        let out = encode_login_success("master", 8192);
        let mut expected = Vec::new();
        encode_env_database(&mut expected, "master", "");
        encode_env_collation(&mut expected, COLLATION);
        encode_login_ack(&mut expected, PROGRAM_NAME, SERVER_VERSION);
        encode_env_packet_size(&mut expected, 8192, 4096);
        encode_done(&mut expected, DoneKind::Done, 0, 0, 0);
        assert_eq!(out, expected);
    }

    fn done(kind: DoneKind, status: u16, cmd: u16, rows: u64) -> Vec<u8> {
        let mut v = Vec::new();
        encode_done(&mut v, kind, status, cmd, rows);
        v
    }

    fn rows_reply() -> (Reply, Vec<u8>) {
        let columns = vec![col("name", ColumnType::NVarChar(128))];
        let rows = vec![
            vec![Value::Str("master".into())],
            vec![Value::Str("db1".into())],
        ];
        let mut tokens = Vec::new();
        encode_colmetadata(&mut tokens, &columns).unwrap();
        for r in &rows {
            encode_row(&mut tokens, &columns, r).unwrap();
        }
        (Reply::Rows { columns, rows }, tokens)
    }

    #[test]
    fn batch_replies_set_more_on_all_but_the_last_done() {
        let (rows, tokens) = rows_reply();
        let replies = vec![
            Reply::Done {
                rows_affected: Some(3),
            },
            rows,
        ];
        let mut expected = done(DoneKind::Done, DONE_COUNT | DONE_MORE, 0, 3);
        expected.extend(&tokens);
        expected.extend(done(DoneKind::Done, DONE_COUNT, CMD_SELECT, 2));
        assert_eq!(encode_replies(&replies, RequestKind::Batch, "S"), expected);
    }

    #[test]
    fn batch_info_last_and_empty_get_a_final_done() {
        assert_eq!(
            encode_replies(&[], RequestKind::Batch, "S"),
            done(DoneKind::Done, 0, 0, 0)
        );
        let replies = vec![
            Reply::Done {
                rows_affected: None,
            },
            Reply::Info {
                number: 4035,
                message: "Processed".into(),
            },
        ];
        let mut expected = done(DoneKind::Done, DONE_MORE, 0, 0);
        encode_info(&mut expected, &message_token(4035, 1, 0, "Processed", "S"));
        expected.extend(done(DoneKind::Done, 0, 0, 0));
        assert_eq!(encode_replies(&replies, RequestKind::Batch, "S"), expected);
    }

    #[test]
    fn batch_error_reply() {
        let replies = vec![Reply::Error {
            number: 208,
            state: 1,
            class: 16,
            message: "Invalid object name 'x'.".into(),
        }];
        let mut expected = Vec::new();
        encode_error(
            &mut expected,
            &message_token(208, 1, 16, "Invalid object name 'x'.", "S"),
        );
        expected.extend(done(DoneKind::Done, DONE_ERROR, 0, 0));
        assert_eq!(encode_replies(&replies, RequestKind::Batch, "S"), expected);
    }

    #[test]
    fn rpc_replies_end_with_returnstatus_and_doneproc() {
        let (rows, tokens) = rows_reply();
        let mut expected = tokens;
        expected.extend(done(
            DoneKind::DoneInProc,
            DONE_COUNT | DONE_MORE,
            CMD_SELECT,
            2,
        ));
        expected.extend([0x79, 0, 0, 0, 0]);
        expected.extend(done(DoneKind::DoneProc, 0, 0, 0));
        assert_eq!(encode_replies(&[rows], RequestKind::Rpc, "S"), expected);

        let err = Reply::Error {
            number: 50000,
            state: 2,
            class: 16,
            message: "boom".into(),
        };
        let mut expected = Vec::new();
        encode_error(&mut expected, &message_token(50000, 2, 16, "boom", "S"));
        expected.extend(done(DoneKind::DoneInProc, DONE_ERROR | DONE_MORE, 0, 0));
        expected.extend([0x79, 1, 0, 0, 0]);
        expected.extend(done(DoneKind::DoneProc, DONE_ERROR, 0, 0));
        assert_eq!(encode_replies(&[err], RequestKind::Rpc, "S"), expected);
    }

    #[test]
    fn a_broken_result_set_becomes_an_error() {
        let bad = Reply::Rows {
            columns: vec![col("i", ColumnType::TinyInt)],
            rows: vec![vec![Value::Int(-1)]],
        };
        let out = encode_replies(&[bad], RequestKind::Batch, "S");
        assert_eq!(out[0], 0xAA, "ERROR token, no half-written COLMETADATA");
        assert_eq!(&out[out.len() - 13..out.len() - 10], &[0xFD, 0x02, 0x00]);
    }
}
