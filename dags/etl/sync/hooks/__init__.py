"""Thin hooks on the HTTP provider: credentials from Connections, paging and faults handled here."""

from etl.sync.hooks.github import GitHubHook
from etl.sync.hooks.jira import JiraHook

__all__ = ["GitHubHook", "JiraHook"]
