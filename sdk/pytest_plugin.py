"""pytest plugin: starts a real emulator for integration tests (filled in by the sdk issue)."""
