"""The domain: pure values, rules and errors. No I/O, no frameworks."""
