"""Structured input a user or another machine hands edgekit (suites, devices files, worker
replies): read within a size and nesting bound, then checked against a declared schema (pydantic,
strict: `true` is not a number, "2" is not a count), so that a bad value is one line naming the
source, the field and the fix, never an exception out of the code that uses it.

The nesting depth is measured on the text before any parser sees it: Python's JSON and TOML
parsers recurse, and a 100k-deep file would end in RecursionError (or a crash) inside them.
pydantic is imported only when something is validated (`edgekit --help` stays quick).
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

from edgekit.core.errors import EdgekitError, did_you_mean, first_line, unreadable

MAX_DEPTH = 32  # deeper than any suite, devices file or reply edgekit reads or writes
MAX_BYTES = 16 << 20  # a suite or a devices file is a few KB
_ARTICLE = {"integer": "an integer", "string": "a string", "list": "a list", "number": "a number",
            "boolean": "true or false"}


def nesting_depth(text: str) -> int:
    """How deep [ ] and { } nest in JSON or TOML text (brackets inside strings not counted)."""
    depth = deepest = 0
    quote = None
    escaped = False
    for char in text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def read_text(path: Path, source: str, fix: str, max_bytes: int = MAX_BYTES) -> str:
    """A regular file's text, refused (one line) when it is not a file, too large, not UTF-8, or
    nests deeper than MAX_DEPTH. `source` names it ("suite x.json"), `fix` says what to give."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
            what = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise EdgekitError(f"{source} is {what}: {fix}")
        if info.st_size > max_bytes:
            raise EdgekitError(f"{source} is {info.st_size:,} bytes, far more than it should hold: {fix}")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EdgekitError(f"{source} does not exist: {fix}") from None
    except UnicodeDecodeError:
        raise EdgekitError(f"{source} is not a text file: {fix}") from None
    except OSError as exc:
        raise unreadable(path, exc) from None
    if nesting_depth(text) > MAX_DEPTH:
        raise EdgekitError(f"{source} nests deeper than {MAX_DEPTH} levels: the file is damaged; {fix}")
    return text


def read_json(path: Path, source: str, fix: str, max_bytes: int = MAX_BYTES):
    text = read_text(path, source, fix, max_bytes)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EdgekitError(f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): "
                           f"{fix}") from None
    except (ValueError, RecursionError) as exc:  # an integer of more digits than Python converts
        raise EdgekitError(f"{source} is not readable JSON ({first_line(exc)}): {fix}") from None


def read_toml(path: Path, source: str, fix: str, max_bytes: int = MAX_BYTES) -> dict:
    import tomllib

    text = read_text(path, source, fix, max_bytes)
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise EdgekitError(f"{source} is not valid TOML ({first_line(exc)}): {fix}") from None


def validate(schema, data, source: str, fix: str = ""):
    """`data` as an instance of the pydantic model `schema`; the first problem as one line:
    "{source}: {field} {problem}: {fix}". A schema's field may carry its own fix as its
    description (Field(description=...)), which is said instead of `fix`."""
    from pydantic import ValidationError

    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = field_path(error["loc"])
        hint = _field_hint(schema, error["loc"]) or fix
        problem = _problem(error, schema)
        raise EdgekitError(f"{source}{': ' + where if where else ''} {problem}" + (f": {hint}" if hint else "")) from None
    except RecursionError:  # a caller that skipped read_text's depth check
        raise EdgekitError(f"{source} nests too deep: {fix}") from None


def field_path(loc) -> str:
    """("quick", "threads", 0) -> quick.threads[0]."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def shown(value, limit: int = 60) -> str:
    """A value as JSON would write it, cut to `limit` characters (a hostile value may be long)."""
    try:
        text = json.dumps(value, default=repr)
    except (ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _problem(error: dict, schema) -> str:
    kind, message = error["type"], error["msg"]
    if kind == "missing":
        return "is missing"
    if kind == "extra_forbidden":
        known = _fields_at(schema, error["loc"][:-1])
        return f"is not a field{did_you_mean(error['loc'][-1], known)}" + (f" (known: {', '.join(known)})" if known else "")
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if message.startswith("Input should be "):
        message = "should be " + message.removeprefix("Input should be ")
        message = re.sub(r"a valid dictionary( or instance of \w+)?", "an object", message)
        message = re.sub(r"a valid (integer|string|list|number|boolean)", lambda m: _ARTICLE[m[1]], message)
    return f"is {shown(error.get('input'))}, which {message}" if "input" in error else message


def _fields_at(schema, loc) -> list[str]:
    """The field names of the (nested) model at `loc`, for "did you mean"."""
    model = _model_at(schema, loc)
    return list(model.model_fields) if model is not None else []


def _field_hint(schema, loc) -> str | None:
    """The description of the field at `loc`, where the schema gives one."""
    if not loc:
        return None
    model = _model_at(schema, loc[:-1])
    while model is None and loc:  # an item of a list field: the list's own field holds the hint
        loc = loc[:-1]
        model = _model_at(schema, loc[:-1])
    field = model.model_fields.get(loc[-1]) if model is not None and loc and isinstance(loc[-1], str) else None
    return field.description if field is not None else None


def _model_at(schema, loc):
    """The pydantic model class a location inside `schema` is a field of (None past a list or a
    dict: their items' locations are numbers and keys)."""
    from pydantic import BaseModel

    model = schema
    for part in loc:
        if not isinstance(part, str) or model is None or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return model
