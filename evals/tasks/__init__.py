"""One module per suite task: run a case through the service pipeline and score it."""
