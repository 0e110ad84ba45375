"""Small helpers every part uses: files written atomically, the run's temporary directory,
URLs without credentials, and what a failed connection is called."""
