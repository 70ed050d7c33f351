"""The CSV imports (assignments over HTTP and the CLI, locations by the CLI) share one reader:
every line ending, problems named by line, never a 500."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db
from fieldobs.errors import FieldobsError
from fieldobs.people.orgs import import_locations_csv
from fieldobs.storage.csv_rows import FIELD_MAX_CHARS, read_csv_rows
from tests.helpers.app import Org

HEADER = ["shopper", "location_id", "checklist", "window_start", "window_end"]


def assignment_csv(org: Org, newline: str, *lines: list[str]) -> str:
    """Return an assignments CSV with the given line ending."""
    return newline.join(",".join(cells) for cells in [HEADER, *lines]) + newline


def import_csv(client: FlaskClient, org: Org, text: str) -> Any:
    """POST a CSV to the assignments import as the admin."""
    return client.post(
        "/api/v1/assignments/import",
        data=text.encode(),
        content_type="text/csv",
        headers=org.auth("admin"),
    )


def count(data_dir: Path, table: str) -> int:
    """Count the rows of a table straight from the file."""
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_assignment_import_reads_every_line_ending(
    client: FlaskClient, org: Org, data_dir: Path, newline: str
) -> None:
    text = assignment_csv(
        org,
        newline,
        ["shopper", str(org.locations["leeds"]), "mystery-shop", "2030-07-01", "2030-07-01"],
        ["shopper2", str(org.locations["york"]), "mystery-shop", "2030-07-02", "2030-07-02"],
    )
    response = import_csv(client, org, text)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["created"] == 2
    assert count(data_dir, "assignments") == 2


def test_cr_only_lines_are_numbered_like_any_other(client: FlaskClient, org: Org) -> None:
    leeds = str(org.locations["leeds"])
    text = assignment_csv(
        org,
        "\r",
        ["shopper", leeds, "mystery-shop", "2030-07-01", "2030-07-01"],
        ["ghost", leeds, "mystery-shop", "2030-07-01", "2030-07-01"],
    )
    response = import_csv(client, org, text)
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["line 3"]


def test_a_field_over_the_limit_is_422_naming_its_line_and_column(
    client: FlaskClient, org: Org, data_dir: Path
) -> None:
    leeds = str(org.locations["leeds"])
    text = assignment_csv(
        org,
        "\n",
        ["shopper", leeds, "mystery-shop", "2030-07-01", "2030-07-01"],
        ["shopper2", leeds, "x" * (FIELD_MAX_CHARS + 1), "2030-07-01", "2030-07-01"],
    )
    response = import_csv(client, org, text)
    assert response.status_code == 422, response.get_json()
    fields = response.get_json()["error"]["fields"]
    assert list(fields) == ["line 3"]
    assert "checklist" in fields["line 3"][0]
    assert f"{FIELD_MAX_CHARS:,}" in fields["line 3"][0]
    assert count(data_dir, "assignments") == 0


def test_an_unterminated_quote_is_400_naming_its_line(client: FlaskClient, org: Org) -> None:
    leeds = str(org.locations["leeds"])
    text = assignment_csv(
        org, "\n", ["shopper", leeds, '"mystery-shop', "2030-07-01", "2030-07-01"]
    )
    response = import_csv(client, org, text)
    assert response.status_code == 400, response.get_json()
    assert list(response.get_json()["error"]["fields"]) == ["line 2"]


@pytest.mark.parametrize("location", ["²", "٣", str(2**63), "-1", "1e3"])
def test_a_location_id_that_is_no_stored_id_is_422(
    client: FlaskClient, org: Org, location: str
) -> None:
    text = assignment_csv(
        org, "\n", ["shopper", location, "mystery-shop", "2030-07-01", "2030-07-01"]
    )
    response = import_csv(client, org, text)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["fields"]["line 2"][0].startswith("location_id:")


def test_a_body_that_is_not_utf8_is_400(client: FlaskClient, org: Org) -> None:
    response = client.post(
        "/api/v1/assignments/import",
        data=",".join(HEADER).encode() + b"\n\xff\xfe,1,a,b,c\n",
        content_type="text/csv",
        headers=org.auth("admin"),
    )
    assert response.status_code == 400
    assert "body" in response.get_json()["error"]["fields"]


LOCATIONS_HEADER = "name,area,timezone,external_ref"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_location_import_reads_every_line_ending(app: Flask, newline: str) -> None:
    text = newline.join(
        [LOCATIONS_HEADER, "Hull,North,Europe/London,H1", "Cork,West,Europe/Dublin,C1"]
    )
    with app.app_context():
        counts = import_locations_csv(get_db(), text + newline)
    assert counts == {"created": 2, "updated": 0, "areas_created": 1}


def test_location_import_refuses_a_long_field_naming_the_line(app: Flask) -> None:
    text = "\n".join(
        [LOCATIONS_HEADER, "Hull,North,Europe/London,H1", f"Cork,West,{'x' * 200_000},C1"]
    )
    with app.app_context(), pytest.raises(FieldobsError) as refused:
        import_locations_csv(get_db(), text)
    assert refused.value.status == 422
    assert list(refused.value.fields or {}) == ["line 3"]
    assert "timezone" in (refused.value.fields or {})["line 3"][0]


def test_location_cli_import_of_a_cr_only_file(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "stores.csv"
    path.write_bytes(b"name,area,timezone\rHull,North,Europe/London\r")
    done = app.test_cli_runner().invoke(args=["locations", "import", str(path)])
    assert done.exit_code == 0, done.output
    assert "1 created" in done.output


def test_reader_gives_lines_normalised_headers_and_skips_blank_rows() -> None:
    table = read_csv_rows('\ufeff Name ,AREA\r\n\r\n"a\nb", x \r\n,\r\nc,d,extra\r\n')
    assert table.headers == ["name", "area"]
    assert [(row.line, row.values) for row in table.rows] == [
        (3, {"name": "a\nb", "area": "x"}),
        (6, {"name": "c", "area": "d"}),
    ]
