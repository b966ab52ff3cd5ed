"""Accounts, sign-in, team, passwords, tokens and sites."""
