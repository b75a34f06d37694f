"""Use cases: `(input, deps)` functions on the ports (record, sweep, queries, reconcile, gate...).
They read through the ports, ask the core, and write one Commit; they never import an adapter."""
