"""CLI command groups; each module has `register(subparsers)` and lazy-importing handlers."""
