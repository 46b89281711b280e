"""Local mode: run the audience sync service on one machine, with a built-in LinkedIn sandbox."""
