"""JSON Schema and TypeScript declarations generated from the contract types.

`walk` reads idumb_daemon.contracts into the neutral model of `model`; `jsonschema` and
`typescript` render that model; `command` is the `idumb-daemon contracts` subcommand.
"""
