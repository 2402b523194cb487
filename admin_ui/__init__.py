"""The control plane: admin pages for agencies (arrives with the admin UI issue)."""
