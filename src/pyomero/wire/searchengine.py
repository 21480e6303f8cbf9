"""The IDR search engine's JSON: query parsing and validation, documents and envelopes.

Shapes and messages are those of ``omero_search_engine`` (``api/v1/resources/urls.py``,
``utils.py``, ``resource_analyser.py``, ``schemas/*.json``): logical errors are HTTP 200 with
``{"Error": text}``, texts kept byte for byte (trailing spaces included). The POST bodies
are checked as the engine's JSON schemas check them, with jsonschema's messages, by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pyomero.errors import InvalidInput

ROOT_TEXT = "OMERO search engine (API V1)"
PREFIX = "/searchengine/api/v1/resources/"
DATA_SOURCE = "omero"
#: ``data_sources/``: the engine lists its database connectors and CSV sources; this server
#: has one source, its own database.
DATA_SOURCES = [DATA_SOURCE]
_WERKZEUG_404 = (
    "404 Not Found: The requested URL was not found on the server. If you entered the URL "
    "manually please check your spelling and try again."
)
NOT_FOUND_TEXT = (
    f"{_WERKZEUG_404}, You may use '{PREFIX}' to test the deployment and "
    "'/searchengine/apidocs/' for the Swagger documents."
)

NO_KEY = "No key is provided "
NO_VALUE = "Error: No value is provided "
NO_QUERY_DATA = "No query data is provided "
NO_QUERY = "No query is provided"
NO_RESULTS = "Your query returns no results"
NO_KEY_PLAIN = "No key is provided"  # getannotationvalueskey: no trailing space there
NO_PAGE_QUERY_DATA = "Error: No query data is provided "
NO_PROPER_QUERY_DATA = "No proper query data is provided "
NO_QUERY_FIELD = "Error: No query field is provided. please specify an id."
CONTAINER_NAME_REQUIRED = "Container name is required"
CONTAINER_NAME_AND_KEY = "Container name and key are required"
NO_RAW_QUERY = "raw_elasticsearch_query is not supported: this server has no Elasticsearch"
# The engine's literal ends a line with a backslash inside the string, keeping the indent.
FILTER_KEYWORDS = "Each Filter needs to have, name,                    value and operator keywords."
SCHEMA_OPERATORS = ["equals", "not_equals", "contains", "not_contains", "in", "not_in"]
SCHEMA_RESOURCES = ["image", "screen", "project", "plate", "well"]
GET_OPERATORS = (*SCHEMA_OPERATORS, "gt", "gte", "lt", "lte")


class SearchInputError(InvalidInput):
    """Input the engine answers with ``{"Error": message}`` and HTTP 200."""


def error(message: str) -> dict[str, str]:
    return {"Error": message}


def not_a_resource(resource: str) -> str:
    return f"{resource} is not a valid resource"


# -- parsing ---------------------------------------------------------------------------------


def flag(value: str | None) -> bool:
    """``true``/``false`` switches (``return_containers``, ``csv``, ``use_description``)."""
    return value is not None and value.strip().lower() in ("true", "1", "yes")


def case_sensitive_param(value: str | None) -> bool:
    """The engine treats any non-empty string as true (``case_sensitive=false`` included)."""
    return bool(value)


def bookmark_param(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value.strip().strip("[]"))
    except ValueError:
        raise SearchInputError(f"bookmark {value!r} is not an id", param="bookmark") from None


def random_results_param(value: str | None) -> int:
    """``random_results=N``: N random hits when N > 0; 0 (absent, or N <= 0) pages as usual."""
    if value is None or value.strip() == "":
        return 0
    try:
        return max(int(value.strip()), 0)
    except ValueError:
        raise SearchInputError(
            f"random_results should be an integer, not {value!r}", param="random_results"
        ) from None


def container_type_param(value: str | None) -> str | None:
    if value is None or value.strip() == "":
        return None
    kind = value.strip().lower()
    if kind not in ("project", "screen"):
        raise SearchInputError(f"{value} is not a valid container type", param="container_type")
    return kind


def bool_field(value: Any, name: str) -> bool:
    """A switch in a JSON body: a boolean, or the string the engine ``json.loads``."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise SearchInputError(f"{_type_name(value)} is not of type 'boolean'", param=name)


def _with_resource(item: Any, resource: str) -> Any:
    return {**item, "resource": resource} if isinstance(item, dict) else item


def _is_container_filter(item: Any) -> bool:
    return isinstance(item, dict) and item.get("resource") == "container"


def expand_container_filters(body: Any) -> Any:
    """``submitquery``: a filter on ``"resource": "container"`` means a project or a screen.

    An and-filter becomes an or-group (project, screen), as the engine's
    ``adjust_query_for_container`` makes it; inside an or-group the filter becomes its two
    alternatives in that same group (the engine moves them to a group of their own, which
    would turn "A or container" into "A and container"). Returns a new body.
    """
    if not isinstance(body, dict):
        return body
    outer = body
    if "query_details" not in body and isinstance(body.get("query"), dict):
        body = body["query"]
    details = body.get("query_details")
    if not isinstance(details, dict):
        return outer
    and_raw, or_raw = details.get("and_filters"), details.get("or_filters")
    if not isinstance(and_raw, list) or not isinstance(or_raw, list | None):
        return outer
    or_raw = list(or_raw or [])
    kept = [f for f in and_raw if not _is_container_filter(f)]
    groups = [
        [_with_resource(f, "project"), _with_resource(f, "screen")]
        for f in and_raw
        if _is_container_filter(f)
    ]
    for group in or_raw:
        items = group if isinstance(group, list) else [group]
        expanded: list[Any] = []
        for f in items:
            if _is_container_filter(f):
                expanded += [_with_resource(f, "project"), _with_resource(f, "screen")]
            else:
                expanded.append(f)
        groups.append(expanded)
    changed = {**details, "and_filters": kept, "or_filters": groups}
    if body is outer:
        return {**outer, "query_details": changed}
    return {**outer, "query": {**body, "query_details": changed}}


def _check_pagination(value: Any) -> dict[str, Any] | None:
    """The ``pagination`` a previous answer carried, checked field by field."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SearchInputError(f"{_type_name(value)} is not of type 'object'", param="pagination")
    for name in ("total_pages", "current_page"):
        if not isinstance(value.get(name), int) or isinstance(value.get(name), bool):
            raise SearchInputError(f"pagination needs an integer {name}", param="pagination")
    next_page = value.get("next_page")
    if next_page is not None and (not isinstance(next_page, int) or isinstance(next_page, bool)):
        raise SearchInputError("pagination needs an integer next_page", param="pagination")
    records = value.get("page_records")
    if not isinstance(records, list) or not all(
        isinstance(r, dict)
        and isinstance(r.get("page"), int)
        and isinstance(r.get("bookmark"), list)
        and all(isinstance(b, int) for b in r["bookmark"])
        for r in records
    ):
        raise SearchInputError(
            "pagination needs page_records: [{page, bookmark}]", param="pagination"
        )
    return {
        "total_pages": value["total_pages"],
        "page_records": [{"page": r["page"], "bookmark": list(r["bookmark"])} for r in records],
        "current_page": value["current_page"],
        "next_page": next_page,
    }


def page_body(body: Any) -> dict[str, Any]:
    """``searchannotation_page``: ``{"query": {...}, "bookmark"?, "pagination"?,
    "return_containers"?}``. The bookmark is the one given, else the one the pagination
    records for its next page."""
    if not body:
        raise SearchInputError(NO_PAGE_QUERY_DATA)
    if not isinstance(body, dict) or "query" not in body:
        raise SearchInputError(NO_QUERY_FIELD)
    if body.get("raw_elasticsearch_query"):
        raise SearchInputError(NO_RAW_QUERY, param="raw_elasticsearch_query")
    parsed = query_details(body["query"])
    bookmark = body.get("bookmark")
    if bookmark is not None and (
        not isinstance(bookmark, list)
        or not all(isinstance(b, int) and not isinstance(b, bool) for b in bookmark)
    ):
        raise SearchInputError(f"{_type_name(bookmark)} is not of type 'array'", param="bookmark")
    pagination = _check_pagination(body.get("pagination"))
    if bookmark:
        parsed["bookmark"] = bookmark[0]
    elif pagination is not None:
        if pagination["next_page"] is None:
            raise SearchInputError("There is no next page", param="pagination")
        recorded = [
            r["bookmark"]
            for r in pagination["page_records"]
            if r["page"] == pagination["next_page"]
        ]
        if not recorded or not recorded[0]:
            raise SearchInputError("pagination records no bookmark for its next page")
        parsed["bookmark"] = recorded[0][0]
    parsed["pagination"] = pagination
    parsed["paginate"] = not (bookmark and pagination is None)
    parsed["return_containers"] = bool_field(body.get("return_containers"), "return_containers")
    return parsed


def get_filter(params: Mapping[str, str]) -> dict[str, Any]:
    """The one filter of ``search/?key=&value=&operator=`` (not schema-checked upstream)."""
    value = params.get("value")
    operator = (params.get("operator") or "equals").strip()
    if value is None:
        raise SearchInputError(FILTER_KEYWORDS, param="value")
    if operator not in GET_OPERATORS:
        raise SearchInputError(f"{operator} is not a valid operator", param="operator")
    key = params.get("key")
    parsed: Any = value.strip()
    if operator in ("in", "not_in"):
        parsed = tuple(v.strip() for v in value.split(","))
    return {"name": key.strip() if key else None, "value": parsed, "operator": operator}


def _type_name(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else f"'{value}'"


def _check_filter(item: Any, *, allow_ranges: bool) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise SearchInputError(f"{_type_name(item)} is not of type 'object'")
    for required in ("value", "operator"):
        if required not in item:
            raise SearchInputError(f"'{required}' is a required property")
    name, value, operator = item.get("name"), item["value"], item["operator"]
    if name is not None and not isinstance(name, str):
        raise SearchInputError(f"{_type_name(name)} is not of type 'string'")
    if not isinstance(value, str | list):
        raise SearchInputError(f"{_type_name(value)} is not of type 'array', 'string'")
    if not isinstance(operator, str):
        raise SearchInputError(f"{_type_name(operator)} is not of type 'string'")
    operators = GET_OPERATORS if allow_ranges else SCHEMA_OPERATORS
    if operator not in operators:
        raise SearchInputError(f"'{operator}' is not one of {list(operators)!r}")
    resource = item.get("resource")
    if resource is not None and resource not in SCHEMA_RESOURCES:
        raise SearchInputError(f"'{resource}' is not one of {SCHEMA_RESOURCES!r}")
    value = tuple(str(v).strip() for v in value) if isinstance(value, list) else value.strip()
    return {
        "name": name.strip() if name else None,
        "value": value,
        "operator": operator,
        "resource": resource,
    }


def query_details(
    body: Any, *, allow_ranges: bool = False, required: bool = True
) -> dict[str, Any]:
    """``{"query_details": {...}}`` (or ``{"query": {"query_details": ...}}``) checked as the
    engine's schemas do; returns ``and_filters``, ``or_filters`` (lists of filter dicts),
    ``case_sensitive`` and the ``query_details`` as sent, for the envelope. ``required``
    False lets a query without filters through (the container routes' optional query)."""
    if not body:
        raise SearchInputError(NO_QUERY_DATA)
    if not isinstance(body, dict):
        raise SearchInputError(f"{_type_name(body)} is not of type 'object'")
    if "query_details" not in body and isinstance(body.get("query"), dict):
        body = body["query"]
    if "query_details" not in body:
        raise SearchInputError("'query_details' is a required property")
    details = body["query_details"]
    if not isinstance(details, dict):
        raise SearchInputError(f"{_type_name(details)} is not of type 'object'")
    and_raw = details.get("and_filters") or []
    or_raw = details.get("or_filters") or []
    if not isinstance(and_raw, list):
        raise SearchInputError(f"{_type_name(and_raw)} is not of type 'array'")
    if not isinstance(or_raw, list):
        raise SearchInputError(f"{_type_name(or_raw)} is not of type 'array'")
    and_filters = [_check_filter(f, allow_ranges=allow_ranges) for f in and_raw]
    or_filters = []
    for group in or_raw:
        items = group if isinstance(group, list) else [group]
        or_filters.append([_check_filter(f, allow_ranges=allow_ranges) for f in items])
    if required and not and_filters and not any(or_filters):
        raise SearchInputError(NO_QUERY)
    case_sensitive = details.get("case_sensitive", False)
    if not isinstance(case_sensitive, bool):
        raise SearchInputError(f"{_type_name(case_sensitive)} is not of type 'boolean'")
    bookmark = body.get("bookmark")
    if bookmark is not None and (
        not isinstance(bookmark, list)
        or not all(isinstance(b, int) and not isinstance(b, bool) for b in bookmark)
    ):
        raise SearchInputError(f"{_type_name(bookmark)} is not of type 'array'")
    return {
        "and_filters": and_filters,
        "or_filters": or_filters,
        "case_sensitive": case_sensitive,
        "bookmark": bookmark[0] if bookmark else None,
        "query_details": details,
    }


# -- encoding --------------------------------------------------------------------------------


def document(doc: Any, resource: str) -> dict[str, Any]:
    """One hit as the engine's index stores it (``transform_data.py``)."""
    data: dict[str, Any] = {
        "id": doc.id,
        "data_source": DATA_SOURCE,
        "owner_id": doc.owner_id,
        "group_id": doc.group_id,
        "name": doc.name,
        "description": doc.description,
    }
    if resource == "image":
        for key in (
            "project_name",
            "project_id",
            "dataset_name",
            "dataset_id",
            "screen_id",
            "screen_name",
            "plate_id",
            "plate_name",
            "well_id",
            "wellsample_id",
        ):
            data[key] = doc.containers.get(key)
    data["doc_type"] = resource
    data["key_values"] = [
        {"name": key, "value": value, "index": index} for key, value, index in doc.key_values
    ]
    return data


def _pagination(
    total_pages: int, bookmark: list[int], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The page book the engine keeps: a first page starts it; a page served from
    ``previous`` moves it on one page and records the bookmark of the page after."""
    if previous is None:
        return {
            "total_pages": total_pages,
            "page_records": [{"page": 2, "bookmark": bookmark}],
            "current_page": 1,
            "next_page": 2 if total_pages > 1 else None,
        }
    out = {**previous, "page_records": list(previous["page_records"])}
    out["total_pages"] = total_pages
    current = out["current_page"] = previous["next_page"]
    if current is None or current >= total_pages:
        out["next_page"] = None
        return out
    out["next_page"] = current + 1
    if not any(r["page"] == current + 1 for r in out["page_records"]):
        out["page_records"].append({"page": current + 1, "bookmark": bookmark})
    return out


def results(
    docs: Sequence[Any],
    size: int,
    resource: str,
    *,
    page_size: int,
    bookmarked: bool,
    pagination: dict[str, Any] | None = None,
) -> Any:
    """The ``results`` member: ``[]`` for an empty page, else the paged object; a page
    asked for with a bookmark alone carries no pagination, one asked for with the previous
    ``pagination`` carries it moved on."""
    if not docs:
        return []
    bookmark = [docs[-1].id]
    total_pages = math.ceil(size / page_size)
    out: dict[str, Any] = {
        "results": [document(d, resource) for d in docs],
        "total_pages": total_pages,
        "bookmark": bookmark,
        "size": size,
    }
    if not bookmarked or pagination is not None:
        out["pagination"] = _pagination(total_pages, bookmark, pagination)
    return out


def random_results(docs: Sequence[Any], size: int, resource: str) -> Any:
    """``random_results=N``: the drawn hits, the last one's id and the number of hits; no
    pages (the engine gives none for a random draw)."""
    if not docs:
        return []
    return {
        "results": [document(d, resource) for d in docs],
        "bookmark": [docs[-1].id],
        "size": size,
    }


def containers(found: Sequence[Any]) -> dict[str, Any]:
    """``return_containers=true``: the studies holding the hits, with their hit counts."""
    return {
        "results": [
            {
                "id": c.id,
                "name": c.name,
                "type": c.type,
                "description": c.description,
                "image count": c.images,
            }
            for c in found
        ]
    }


def envelope(
    result: Any, details: Any, resource: str, seconds: float, *, submitted: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "results": result,
        "query_details": details,
        "resource": resource,
        "server_query_time": f"{seconds:.2f}",
        # No Elasticsearch here: the field is kept for clients that read it.
        "raw_elasticsearch_query": {},
        "notice": "",
    }
    if submitted:
        out["Error"] = "none"
    return out


def get_query_details(flt: Mapping[str, Any], case_sensitive: bool) -> dict[str, Any]:
    """The ``query_details`` the engine builds for a GET ``search/``."""
    value = flt["value"]
    return {
        "and_filters": [
            {
                "name": flt["name"],
                "value": list(value) if isinstance(value, tuple) else value,
                "operator": flt["operator"],
                "resource": "image",
            }
        ],
        "or_filters": [],
        "case_sensitive": case_sensitive,
    }


def buckets(found: Sequence[Any], total: int, resource: str) -> dict[str, Any]:
    """``searchvaluesusingkey``."""
    counted = f"Number of {resource}s"
    return {
        "data": [
            {"Key": b.key, "Value": b.value, "data_source": DATA_SOURCE, counted: b.count}
            for b in found
        ],
        f"total_number_of_{resource}": total,
        "total_number_of_buckets": len(found),
    }


def buckets_csv(found: Sequence[Any], resource: str) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Key", "Value", f"Number of {resource}s"])
    for b in found:
        writer.writerow([b.key, b.value, b.count])
    return out.getvalue()


def value_buckets(found: Sequence[Any], total: int, resource: str) -> dict[str, Any]:
    """``searchvalues``."""
    counted = f"Number of {resource}s"
    return {
        "data": [
            {"data_source": DATA_SOURCE, "Key": b.key, "Value": b.value, counted: b.count}
            for b in found
        ],
        f"total_number_of_{resource}": total,
        "total_number_of_buckets": len(found),
        "total_number_of_all_buckets": len(found),
    }


def keys(found: Sequence[str], resource: str) -> list[dict[str, Any]]:
    return [{"data_source": DATA_SOURCE, resource: list(found)}]


def names(found: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "name": c.name, "no_images": c.images, "data_source": DATA_SOURCE}
        for c in found
    ]


def annotation_values(found: Sequence[Any]) -> list[str]:
    """``getannotationvalueskey``: the values alone (lower-cased, as the engine's buckets)."""
    return [b.value for b in found]


def container_images(found: Sequence[Any]) -> dict[str, Any]:
    """``container_images``: every project and screen with its number of images."""
    return {
        "Error": None,
        "results": {
            "results": [
                {
                    "id": c.id,
                    "name": c.name,
                    "data_source": DATA_SOURCE,
                    "image count": c.images,
                    "type": c.type,
                }
                for c in found
            ]
        },
    }


def _bucket(b: Any, resource: str, keyed: bool) -> dict[str, Any]:
    if keyed:
        return {"key": b.key, "value": b.value, f"no_{resource}": b.count}
    return {"key": b.key, f"no_{resource}": b.count}


def container_buckets(found: Sequence[Any], resource: str, *, keyed: bool) -> list[dict[str, Any]]:
    """``container_keys`` (``keyed`` False) and ``container_keyvalues``."""
    return [
        {
            "name": kb.container.name,
            "type": kb.container.type,
            "data_source": DATA_SOURCE,
            "results": [_bucket(b, resource, keyed) for b in kb.buckets],
        }
        for kb in found
    ]


def container_buckets_csv(found: Sequence[Any], resource: str, *, keyed: bool) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    counted = f"No of {resource}"
    writer.writerow(
        ["Container", "Type", "Key", "Value", counted]
        if keyed
        else ["Container", "Type", "Key", counted]
    )
    for kb in found:
        for b in kb.buckets:
            head = [kb.container.name, kb.container.type, b.key]
            writer.writerow([*head, b.value, b.count] if keyed else [*head, b.count])
    return out.getvalue()


def container_csv_name(container_name: str, key: str | None) -> str:
    if key is None:
        return f"container_{container_name}_keys.csv"
    return f"container_{container_name}_{key}_values.csv"


def sub_containers(subs: Sequence[Any]) -> dict[str, Any]:
    """``sub_container_images``: the datasets (plates) of the container with their images."""
    return {
        "Error": None,
        "results": {
            "results": [
                {
                    "id": s.id,
                    "name": s.name,
                    "resource": s.type,
                    f"{s.type}_name": s.name,
                    "image count": s.images,
                    "data_source": DATA_SOURCE,
                }
                for s in subs
            ]
        },
    }


def container_not_found(name: str) -> str:
    return f"Container {name} is not found"
