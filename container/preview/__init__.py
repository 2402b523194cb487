"""Preview on the node: sessions honoured by a signed cookie, traced hits, the start link."""
