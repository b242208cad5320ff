"""shangliang (商量): the 有事好商量 chat bot."""
