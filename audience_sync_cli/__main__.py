"""`python -m audience_sync_cli`, the same as the `audience-sync` console script."""

from audience_sync_cli.main import run

run()
