"""The host side of the container contract: what the emulator does to talk to the containers it
runs (below the services, above the runtimes)."""
