"""What reacts to a message outside a dialog: commands, menu events, receipts, dialog effects."""
