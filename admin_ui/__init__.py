"""The control plane: the agencies' admin UI (`web/`), the admin and config JSON APIs, and
the operator actions the CLI and the pages share. It never imports the data plane
(`container`); what it needs of it (a hit check) is handed in by `tagwire/node.py`."""
