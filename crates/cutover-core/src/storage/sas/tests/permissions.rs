//! `sp`: canonical order, unknown letters, Read + List.

use super::*;

#[test]
fn permissions_print_in_canonical_order() {
    let p: SasPermissions = "lwr".parse().unwrap();
    assert_eq!(p.to_string(), "rwl");
    let all: SasPermissions = "uipoemftlyxdwcar".parse().unwrap();
    assert_eq!(all.to_string(), "racwdxyltfmeopiu");
    assert_eq!(SasPermissions::parse("rrll").unwrap().to_string(), "rl");
    assert_eq!(SasPermissions::empty().to_string(), "");
}

#[test]
fn permissions_reject_unknown_letters() {
    let err = SasPermissions::parse("rlZ").unwrap_err();
    assert_eq!(
        err,
        SasError::UnknownPermission {
            letter: 'Z',
            sp: "rlZ".into()
        }
    );
    assert!(err.to_string().contains("'Z'"));
    assert!(SasPermissions::parse("R").is_err(), "letters are lowercase");
    let mut p = SasPermissions::empty();
    assert!(p.insert('q').is_err());
    p.insert('l').unwrap();
    assert!(p.contains('l') && !p.contains('r'));
}

#[test]
fn read_list_only() {
    assert!(rl().is_read_list_only());
    assert!(SasPermissions::parse("lr").unwrap().is_read_list_only());
    assert!(!SasPermissions::parse("r").unwrap().is_read_list_only());
    assert!(!SasPermissions::parse("rwl").unwrap().is_read_list_only());
    assert!(!SasPermissions::empty().is_read_list_only());
    assert_eq!(
        SasPermissions::parse("racwdl").unwrap().beyond_read_list(),
        vec!['a', 'c', 'w', 'd']
    );
    assert_eq!(SasPermissions::name_of('l'), Some("List"));
    assert_eq!(SasPermissions::name_of('z'), None);
}
