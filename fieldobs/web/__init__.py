"""Pages for people in a browser: the console (console/) and the field app (field_app/)."""
