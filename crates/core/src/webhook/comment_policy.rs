//! Who may command a spawner by comment (`spec.when.githubIssues.commentPolicy`), decided
//! from what GitHub says about the commenter. Anyone can comment on a public repository, so a
//! command is only obeyed from a commenter in `allowedUsers`, an active member of a team in
//! `allowedTeams`, or one whose permission on the repository (`GET
//! /repos/{o}/{r}/collaborators/{user}/permission`) is at least `minimumPermission` (default
//! `write`). The driver asks GitHub in the cheapest order ([`Check`]): the user list needs no
//! request, the permission one, each team one more, and it stops at the first yes.
//!
//! A refused commenter gets no Task, and, with `replyOnDenied`, a short polite comment
//! ([`denial_reply`]) that says what is needed without naming who else is allowed.

use axon_api::{CommentPolicy, RepoPermission};

/// A team to ask about: `GET /orgs/{org}/teams/{slug}/memberships/{user}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    /// The organisation.
    pub org: String,
    /// The team's slug.
    pub slug: String,
}

/// What the driver should ask GitHub next, or the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Allowed, and why.
    Allowed(String),
    /// Ask for the commenter's permission, then call [`after_permission`].
    AskPermission,
}

/// The first step: allowed by `allowedUsers` (logins compare case-insensitively, as on
/// GitHub), or ask for the permission.
pub fn first_check(policy: &CommentPolicy, author: &str) -> Check {
    if policy
        .allowed_users
        .iter()
        .any(|u| u.eq_ignore_ascii_case(author))
    {
        return Check::Allowed(format!("{author} is in commentPolicy.allowedUsers"));
    }
    Check::AskPermission
}

/// After the permission is known (`None`: no access, or a role Axon does not know): allowed,
/// or the teams still to ask about (empty: denied).
pub fn after_permission(
    policy: &CommentPolicy,
    author: &str,
    permission: Option<RepoPermission>,
    repo_owner: &str,
) -> Result<String, Vec<Team>> {
    if let Some(p) = permission
        && p >= policy.minimum_permission
    {
        return Ok(format!(
            "{author} has {} permission (at least {})",
            p.as_str(),
            policy.minimum_permission.as_str()
        ));
    }
    Err(teams(policy, repo_owner))
}

/// The teams of `allowedTeams`, a bare slug being a team of the repository's owner.
pub fn teams(policy: &CommentPolicy, repo_owner: &str) -> Vec<Team> {
    policy
        .allowed_teams
        .iter()
        .map(|t| match t.split_once('/') {
            Some((org, slug)) => Team {
                org: org.to_string(),
                slug: slug.to_string(),
            },
            None => Team {
                org: repo_owner.to_string(),
                slug: t.clone(),
            },
        })
        .collect()
}

/// The reply to a refused command, for `replyOnDenied`.
pub fn denial_reply(policy: &CommentPolicy, author: &str, command: &str) -> String {
    format!(
        "@{author} sorry, I can't act on `/axon {command}` from you: commands are taken from people with at least {} permission on this repository{}. Ask a maintainer to run it if it should.",
        policy.minimum_permission.as_str(),
        if policy.allowed_users.is_empty() && policy.allowed_teams.is_empty() {
            ""
        } else {
            " or whom the spawner's commentPolicy lists"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(min: RepoPermission, users: &[&str], teams: &[&str]) -> CommentPolicy {
        CommentPolicy {
            minimum_permission: min,
            allowed_users: users.iter().map(|u| u.to_string()).collect(),
            allowed_teams: teams.iter().map(|t| t.to_string()).collect(),
            reply_on_denied: true,
        }
    }

    #[test]
    fn decisions() {
        let default = CommentPolicy::default();
        assert_eq!(default.minimum_permission, RepoPermission::Write);
        let listed = policy(
            RepoPermission::Admin,
            &["Alice"],
            &["core", "other-org/ops"],
        );
        let lines = [
            format!("{:?}", first_check(&listed, "alice")),
            format!("{:?}", first_check(&listed, "bob")),
            format!(
                "{:?}",
                after_permission(&default, "bob", Some(RepoPermission::Write), "octo")
            ),
            format!(
                "{:?}",
                after_permission(&default, "bob", Some(RepoPermission::Admin), "octo")
            ),
            format!(
                "{:?}",
                after_permission(&default, "bob", Some(RepoPermission::Triage), "octo")
            ),
            format!("{:?}", after_permission(&default, "bob", None, "octo")),
            format!(
                "{:?}",
                after_permission(&listed, "bob", Some(RepoPermission::Maintain), "octo")
            ),
            denial_reply(&default, "bob", "run"),
            denial_reply(&listed, "bob", "retry"),
        ];
        insta::assert_snapshot!(lines.join("\n"), @r#"
        Allowed("alice is in commentPolicy.allowedUsers")
        AskPermission
        Ok("bob has write permission (at least write)")
        Ok("bob has admin permission (at least write)")
        Err([])
        Err([])
        Err([Team { org: "octo", slug: "core" }, Team { org: "other-org", slug: "ops" }])
        @bob sorry, I can't act on `/axon run` from you: commands are taken from people with at least write permission on this repository. Ask a maintainer to run it if it should.
        @bob sorry, I can't act on `/axon retry` from you: commands are taken from people with at least admin permission on this repository or whom the spawner's commentPolicy lists. Ask a maintainer to run it if it should.
        "#);
    }
}
