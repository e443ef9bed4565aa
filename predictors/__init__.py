"""Pure computation over observation DataFrames: no database, no HTTP, no global state."""
