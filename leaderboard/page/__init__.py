"""The leaderboard page: Markdown and JSON reports, plots and the static HTML page built from score records."""
