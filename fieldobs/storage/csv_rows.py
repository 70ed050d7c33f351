"""CSV rows for the imports: one reader for every line ending, problems named by line.

Spreadsheets save with LF, CRLF or (old Mac Excel) CR-only line endings; all three read alike.
A file the csv module cannot parse is a 400 naming the line; a field longer than the csv
module's limit is a 422 naming the line and the column, never a 500.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from fieldobs.errors import BadRequest, Invalid

FIELD_MAX_CHARS = 131_072  # the csv module's default field_size_limit, reported not raised


@dataclass(frozen=True)
class CsvRow:
    """One record: the line it starts on (the header is line 1) and its values by column."""

    line: int
    values: dict[str, str]


@dataclass(frozen=True)
class CsvTable:
    """The normalised column names and the non-blank records of a CSV file."""

    headers: list[str]
    rows: list[CsvRow]

    def require(self, required: Sequence[str], *, one_of: Sequence[str] = ()) -> None:
        """Refuse (422 on `header`) a file lacking a required column, or all of `one_of`."""
        missing = [repr(column) for column in required if column not in self.headers]
        if one_of and not any(column in self.headers for column in one_of):
            missing.append(" or ".join(repr(column) for column in one_of))
        if missing:
            raise Invalid(
                "The CSV file lacks required columns.",
                fields={"header": [f"missing column {column}" for column in missing]},
            )


class _Lines:
    """The physical lines of a text, keeping those of the record being read."""

    def __init__(self, text: str) -> None:
        # newline="": split on \n, \r\n and a lone \r alike, endings kept for the csv module.
        self._lines = iter(io.StringIO(text, newline=""))
        self.current: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.current.append(line)
        return line


def read_csv_rows(text: str) -> CsvTable:
    """Parse CSV text: headers stripped and lower-cased, values stripped, blank rows skipped."""
    lines = _Lines(text.removeprefix("\ufeff"))
    reader = csv.reader(lines, strict=True)
    headers: list[str] | None = None
    records: list[CsvRow] = []
    while True:
        lines.current = []
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise _unreadable(error, line, "".join(lines.current), headers or []) from error
        if headers is None:
            headers = [cell.strip().lower() for cell in cells]
            continue
        values = {name: cell.strip() for name, cell in zip(headers, cells, strict=False)}
        if any(values.values()):
            records.append(CsvRow(line, values))
    return CsvTable(headers or [], records)


def _unreadable(error: csv.Error, line: int, record: str, headers: list[str]) -> Exception:
    column = _overlong_column(record, csv.field_size_limit())
    if column is None:
        return BadRequest(
            f"The CSV file cannot be read at line {line}.",
            fields={f"line {line}": [f"not CSV: {error}"]},
        )
    name = headers[column] if column < len(headers) else f"column {column + 1}"
    return Invalid(
        f"A field at line {line} is too long.",
        fields={f"line {line}": [f"{name}: longer than {FIELD_MAX_CHARS:,} characters"]},
    )


def _overlong_column(record: str, limit: int) -> int | None:
    """Return the index of the first field of a raw record longer than `limit`, or None."""
    column, length, quoted = 0, 0, False
    previous = ""
    for char in record:
        if char == '"':
            # A doubled quote inside a quoted field is one character of it.
            quoted = not quoted
            if quoted and previous == '"':
                length += 1
        elif char == "," and not quoted:
            column, length = column + 1, 0
        elif char in "\r\n" and not quoted:
            break
        else:
            length += 1
        if length > limit:
            return column
        previous = char
    return None
