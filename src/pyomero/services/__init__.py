"""Use cases shared by web and cli: the only callers of store, pixels and tables."""
