"""Channel adapters: verify, decrypt and parse a callback into an `Incoming`, and render the reply."""
