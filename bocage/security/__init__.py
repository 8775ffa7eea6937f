"""Accounts, API keys, sessions, the audit log and the scoped store."""
