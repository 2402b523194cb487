"""Settings, the container document, storage. Never imports the data or control plane."""
