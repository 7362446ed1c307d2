"""The Discord adapter: `/papers` app commands, digest threads, votes by reaction and button."""
