"""The console: web pages for area leads, managers and admins, on the API's domain functions."""
