"""The control plane: the admin and config JSON APIs and the operator actions that the
CLI and the admin pages share. It never imports the data plane (`container`)."""
