"""JSON-RPC 2.0 over stdio: framing, the pygls protocol, one handler module per area."""
