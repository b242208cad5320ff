"""Domain services: the rules, one place each. Handlers and dialog effects call these."""
