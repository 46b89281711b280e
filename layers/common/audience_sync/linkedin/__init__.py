"""LinkedIn Marketing API: OAuth and Matched Audiences (DMP segments)."""
