"""Jira and GitHub syncs."""
