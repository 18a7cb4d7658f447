"""Runtime infrastructure the service runs on, below the services: snapshot backups, readiness,
file locks, integrity checks of the database file, the maintenance scheduler, Litestream
replication and the disk space watch. The CLI (garage/cli) drives the same pieces by hand."""
