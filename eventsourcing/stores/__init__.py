"""Event stores: the port (`EventStore`) and its backends."""
