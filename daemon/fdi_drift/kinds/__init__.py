"""One module per managed kind: identity, server-owned paths, nested strings, write calls."""
