"""One module per command (or command group); `eventsourcing.cli.app` assembles them."""
