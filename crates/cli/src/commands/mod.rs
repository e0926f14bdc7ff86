//! One file per command.

pub mod agent_collect;
pub mod apply;
pub mod cancel;
pub mod completion;
pub mod create;
pub mod delete;
pub mod gateway;
pub mod get;
pub mod init;
pub mod install;
pub mod logs;
pub mod roles;
pub mod run;
pub mod serve;
pub mod suspend;
pub mod validate;
pub mod version;
