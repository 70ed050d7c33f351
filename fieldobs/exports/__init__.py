"""Spreadsheet exports of visits and answers."""
