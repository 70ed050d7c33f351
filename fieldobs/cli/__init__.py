"""The `fieldobs` command line (Flask's FlaskGroup plus the project's commands)."""
