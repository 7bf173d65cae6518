"""Where data and state live: the IO manager protocol and registry, value kinds, data
hashing, sources, and the state store."""
