"""softBV parameter table (package data) and the script that regenerates it."""
