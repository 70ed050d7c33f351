"""What every admin form shares: go back with a notice, or show the page with its errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, get_flashed_messages, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.utils import redirect

from fieldobs.errors import FieldobsError, Invalid

CSV_MAX_BYTES = 5 * 1024 * 1024


def done(message: str, endpoint: str, **values: Any) -> ResponseReturnValue:
    """Go back to a page (303) with a notice."""
    flash(message)
    return redirect(url_for(endpoint, **values), 303)


def attempt(
    action: Callable[[], str],
    endpoint: str,
    page: Callable[..., ResponseReturnValue],
    **values: Any,
) -> ResponseReturnValue:
    """Run a form's action; on success go back with a notice, else show the page with errors."""
    try:
        message = action()
    except FieldobsError as error:
        fields = error.fields or {"_form": [error.message]}
        response = page(errors=fields, message=error.message, form=request.form)
        body = response[0] if isinstance(response, tuple) else response
        return body, error.status  # type: ignore[return-value]
    return done(message, endpoint, **values)


def uploaded_text(field: str) -> str:
    """Return the CSV a form sent, as a file or pasted, refusing one over 5 MB or not UTF-8."""
    upload = request.files.get(field)
    text = request.form.get(f"{field}_text", "")
    if upload is not None and upload.filename:
        data = upload.read(CSV_MAX_BYTES + 1)
        if len(data) > CSV_MAX_BYTES:
            raise Invalid("The file is too large.", fields={field: ["at most 5 MB"]})
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise Invalid("Save the file as UTF-8 CSV.", fields={field: ["not UTF-8"]}) from error
    if not text.strip():
        raise Invalid("Choose a CSV file.", fields={field: ["choose a file or paste CSV"]})
    return text


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """Render an admin page with its notices, and no errors unless given."""
    context.setdefault("errors", {})
    context.setdefault("form", {})
    context.setdefault("notices", get_flashed_messages())
    return render_template(template, **context), status
