"""Thin hooks on the HTTP provider: credentials from Connections, paging and faults handled here."""

from reliable_etl.sync.hooks.github import GitHubHook
from reliable_etl.sync.hooks.jira import JiraHook

__all__ = ["GitHubHook", "JiraHook"]
