"""The data plane: `/collect`, the hit pipeline, delivery, and the `tagwire` CLI."""
