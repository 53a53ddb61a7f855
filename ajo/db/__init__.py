"""Database helpers by job: set-based writes for the services (ajo.db.bulk) and the SQL
functions SQLite needs for exact uint256 sums (ajo.db.sqlite)."""
