//! The target: Azure SQL Managed Instance's Log Replay Service, driven through Azure Resource Manager.

pub mod codes;
pub mod details;
pub mod lrs;
pub mod names;
pub mod seam;
pub mod subscription;
pub mod wait;

pub use seam::RestoreTarget;
