"""The shipped test kit: throw-away databases and instances, seeded data, contract suites."""
