"""Paperboy on Slack: /papers commands, digest threads and reaction votes, for one workspace or many."""
