//! Every error code the Log Replay Service documents, with what happened and what to do, in words an
//! operator can act on at 3 a.m.

/// (code, what happened, what to do)
pub const CODES: &[(&str, &str, &str)] = &[
    (
        "MissingStorageContainerSasToken",
        "the start request has no SAS token for the storage container",
        "give the Read + List container SAS (`cutover sas generate`), or use the managed identity",
    ),
    (
        "MissingStorageContainerUri",
        "the start request names no storage container",
        "give the database's folder URL in the container, e.g. https://ACCOUNT.blob.core.windows.net/CONTAINER/DBFOLDER",
    ),
    (
        "MissingCollation",
        "the start request has no collation",
        "give the source database's collation (cutover reads it from the full backup)",
    ),
    (
        "ManagedDatabaseNameInUse",
        "a database with this name already exists on the managed instance",
        "drop or rename it on the target, or migrate under another name",
    ),
    (
        "ExternalBackupUriMalformed",
        "the storage container URI is not a valid URL",
        "use https://ACCOUNT.blob.core.windows.net/CONTAINER/DBFOLDER without a query string",
    ),
    (
        "ExternalBackupUriHostNotAllowed",
        "the storage host is not an Azure Blob Storage endpoint the instance accepts",
        "use the account's blob endpoint (ACCOUNT.blob.core.windows.net)",
    ),
    (
        "ExternalBackupUriInvalidSchemeOrPort",
        "the storage URI must use https on port 443",
        "use an https:// URI without a port",
    ),
    (
        "LastBackupNameHasNewline",
        "lastBackupName contains a line break",
        "give the file name only, as it is in the folder",
    ),
    (
        "LastBackupNameHasNonAsciiCharacter",
        "lastBackupName has non-ASCII characters",
        "rename the backup file to ASCII, upload it again, and name that",
    ),
    (
        "DuplicateRestoreOperation",
        "a restore of this database is already running",
        "watch the running one (`cutover lrs status`) or cancel it first",
    ),
    (
        "BackupSetNotFound",
        "a backup set the restore plan needs was not found in the folder",
        "upload the missing backup file to the database's folder",
    ),
    (
        "FullBackupNotFound",
        "there is no full backup in the database's folder",
        "upload the full backup (all its stripes) to the folder",
    ),
    (
        "BrokenRestorePlanNoFullBackup",
        "the restore plan has no full backup to start from",
        "upload the full backup the differential and log backups belong to",
    ),
    (
        "BrokenRestorePlanWrongLogBackupLSN",
        "a log backup does not continue the chain (its FirstLSN is after the previous LastLSN)",
        "find the log backup taken between them (msdb.dbo.backupset shows where it went) and upload it",
    ),
    (
        "BrokenRestorePlanWrongDiffBackupLSN",
        "the differential backup does not belong to the full backup in the folder",
        "upload the full backup the differential was taken from, or remove the differential",
    ),
    (
        "BrokenRestorePlanGapInLogBackups",
        "the log chain has a gap: a log backup is missing",
        "upload the missing log backup (msdb.dbo.backupset shows where every backup was written; another job or tool may have taken it)",
    ),
    (
        "BrokenRestorePlanWrongDiffBaseGUID",
        "the differential was taken from another full backup (differential base GUID mismatch)",
        "upload the right full backup, or take a new full backup and start again",
    ),
    (
        "FullBackupMissingChecksum",
        "the full backup was taken without CHECKSUM",
        "take the full backup again WITH CHECKSUM",
    ),
    (
        "FullBackupDamaged",
        "the full backup is damaged",
        "take a new full backup WITH CHECKSUM and upload it",
    ),
    (
        "CorruptedPagesInBackupSet",
        "a backup set contains corrupted pages",
        "take a new backup WITH CHECKSUM; run DBCC CHECKDB on the source",
    ),
    (
        "MissingStripeInBackupSet",
        "a striped backup misses one of its stripe files",
        "upload every stripe file of that backup to the same folder",
    ),
    (
        "BackupsFromMultipleDatabasesDetectedInTheContainer",
        "the folder holds backups of more than one database",
        "use one folder per database (cutover uploads each database to its own folder)",
    ),
    (
        "ManagedIdentityIssueDetected",
        "the managed instance's identity cannot read the storage",
        "grant the instance's managed identity the Storage Blob Data Reader role on the account, or use a SAS",
    ),
    (
        "BlobStorageFailure",
        "the instance could not read the storage account",
        "check the SAS (Read + List, not expired, no stored access policy) and the storage firewall",
    ),
    (
        "ManagedInstanceStorageLimitHit",
        "the managed instance has no storage left",
        "increase the instance's storage or free space, then retry",
    ),
    (
        "RequiredBackupIsNotLastRestored",
        "the backup named for completion is not the last one restored",
        "name the last restored file (`cutover lrs status` shows lastRestoredFileName), after every log backup is restored",
    ),
    (
        "AutoCompleteMissingLastBackupName",
        "autocomplete was asked without lastBackupName",
        "give lastBackupName, or start in continuous mode and complete later",
    ),
    (
        "ExternalBackupAlreadySignaledToComplete",
        "completion was already requested for this restore",
        "wait: the database is coming online (`cutover lrs status`)",
    ),
    (
        "ExternalBackupRestoreHasNotBeenStarted",
        "no log replay restore is running for this database",
        "start one first (`cutover lrs start`)",
    ),
    (
        "ManagedDatabaseNotInRestoringState",
        "the database is not restoring (already online, or not an LRS restore)",
        "check the database state; an online database needs no completion",
    ),
];

/// Codes documented for LRS with the stable api-version 2025-01-01 (lrs-api.md: "Newer error codes
/// documented for LRS include StorageBroken*, BackupSetBroken, SqlRestoreError,
/// RestoreFromStripedBackupsNotEnabled and MissingThumbprint"). `StorageBroken` is a family: every
/// code starting with it is explained by its entry.
pub const LRS_2025_CODES: &[(&str, &str, &str)] = &[
    (
        "StorageBroken",
        "the managed instance lost access to the backups' storage (the SAS expired or was revoked, the key behind it was rotated, the firewall or the identity's role changed)",
        "check the SAS (`cutover sas check`), the storage firewall and the identity's Storage Blob Data Reader role (`cutover azure storage-accounts --for-instance MI`), then start the restore again",
    ),
    (
        "BackupSetBroken",
        "a backup set in the folder cannot be restored (damaged, or uploaded incompletely)",
        "run `cutover check` on the source folder, upload the file again (or take a new backup WITH CHECKSUM)",
    ),
    (
        "SqlRestoreError",
        "SQL Server's restore on the managed instance failed",
        "read the message for SQL Server's error number; `cutover lrs status` shows the file; fix the cause and start the restore again",
    ),
    (
        "RestoreFromStripedBackupsNotEnabled",
        "the backup is striped over several files, which this managed instance does not restore with LRS",
        "take the backups to a single file each (no striping), or ask Azure support to enable striped restores",
    ),
    (
        "MissingThumbprint",
        "the backup is encrypted (TDE or backup encryption) and the instance lacks the certificate with that thumbprint",
        "run `cutover tde migrate` (it exports the source's TDE certificate, builds the PFX and uploads it through ManagedInstanceTdeCertificates); a restore blocked on it goes on once it is there, one that failed needs a new start",
    ),
];

/// Azure Resource Manager's own codes, answered before LRS sees the request (same shape).
pub const ARM_CODES: &[(&str, &str, &str)] = &[
    (
        "ResourceNotFound",
        "Azure Resource Manager found no such resource: the database (no restore of it, or it was dropped), or the managed instance",
        "check subscription, resource group and managed instance names; a restore that vanished was cancelled (LRS stops one 30 days after its start) or dropped",
    ),
    (
        "ParentResourceNotFound",
        "the managed instance named in the request does not exist in that resource group",
        "check the managed instance and resource group names (Azure portal, the instance's Overview page)",
    ),
    (
        "ResourceGroupNotFound",
        "the resource group does not exist in that subscription",
        "check the resource group name and the subscription ID",
    ),
    (
        "SubscriptionNotFound",
        "the subscription does not exist or the credential cannot see it",
        "check the subscription ID, and that the identity signed in belongs to its tenant",
    ),
    (
        "AuthorizationFailed",
        "the identity signed in has no permission for this action on the managed instance",
        "grant it a role with Microsoft.Sql/managedInstances/databases/* (e.g. SQL Managed Instance Contributor) on the instance or its resource group",
    ),
    (
        "InvalidAuthenticationToken",
        "Azure Resource Manager refused the access token",
        "sign in again (az login) or check the service principal's tenant, client ID and secret",
    ),
    (
        "ExpiredAuthenticationToken",
        "the access token expired",
        "sign in again (az login); cutover asks for a new token on the next call",
    ),
];

/// What happened and what to do for a documented code, if it is one.
pub fn explain(code: &str) -> Option<(&'static str, &'static str)> {
    let family = |c: &str| {
        c.eq_ignore_ascii_case("StorageBroken")
            && code.len() >= c.len()
            && code.is_char_boundary(c.len())
            && code[..c.len()].eq_ignore_ascii_case(c)
    };
    CODES
        .iter()
        .chain(LRS_2025_CODES)
        .chain(ARM_CODES)
        .find(|(c, _, _)| c.eq_ignore_ascii_case(code) || family(c))
        .map(|(_, what, fix)| (*what, *fix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_is_explained() {
        // The codes listed in the LRS reference (lrs-api.md).
        let documented = [
            "MissingStorageContainerSasToken",
            "MissingStorageContainerUri",
            "MissingCollation",
            "ManagedDatabaseNameInUse",
            "ExternalBackupUriMalformed",
            "ExternalBackupUriHostNotAllowed",
            "ExternalBackupUriInvalidSchemeOrPort",
            "LastBackupNameHasNewline",
            "LastBackupNameHasNonAsciiCharacter",
            "DuplicateRestoreOperation",
            "BackupSetNotFound",
            "FullBackupNotFound",
            "BrokenRestorePlanNoFullBackup",
            "BrokenRestorePlanWrongLogBackupLSN",
            "BrokenRestorePlanWrongDiffBackupLSN",
            "BrokenRestorePlanGapInLogBackups",
            "BrokenRestorePlanWrongDiffBaseGUID",
            "FullBackupMissingChecksum",
            "FullBackupDamaged",
            "CorruptedPagesInBackupSet",
            "MissingStripeInBackupSet",
            "BackupsFromMultipleDatabasesDetectedInTheContainer",
            "ManagedIdentityIssueDetected",
            "BlobStorageFailure",
            "ManagedInstanceStorageLimitHit",
            "RequiredBackupIsNotLastRestored",
            "AutoCompleteMissingLastBackupName",
            "ExternalBackupAlreadySignaledToComplete",
            "ExternalBackupRestoreHasNotBeenStarted",
            "ManagedDatabaseNotInRestoringState",
        ];
        for c in documented {
            let (what, fix) = explain(c).unwrap_or_else(|| panic!("{c} not explained"));
            assert!(!what.is_empty() && !fix.is_empty());
        }
        assert_eq!(CODES.len(), documented.len());
        assert!(explain("NoSuchCode").is_none());
        let (what, fix) = explain("ResourceNotFound").expect("an ARM code");
        assert!(what.contains("no such resource") && fix.contains("30 days"));
        assert!(explain("authorizationfailed").is_some(), "case-insensitive");
    }

    #[test]
    fn the_2025_codes_are_explained() {
        for c in [
            "BackupSetBroken",
            "SqlRestoreError",
            "RestoreFromStripedBackupsNotEnabled",
            "MissingThumbprint",
            "StorageBroken",
            "StorageBrokenSasExpired",
        ] {
            let (what, fix) = explain(c).unwrap_or_else(|| panic!("{c} not explained"));
            assert!(!what.is_empty() && !fix.is_empty(), "{c}");
        }
        let (what, _) = explain("MissingThumbprint").expect("explained");
        assert!(what.contains("certificate"));
        // The family is a prefix of the code, not any code containing it.
        assert!(explain("NotStorageBroken").is_none());
        assert!(explain("Storage").is_none());
    }
}
