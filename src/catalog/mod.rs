//! Backup folders: scanning, restore plans and findings.
