"""Building responses: JSON encoded once (the routes declare their ``response_model`` for the
document and return these bytes), ETags, and Statsig's pagination object. Imports nothing
from the package above ``wire``.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from pydantic_core import to_json
from starlette.responses import Response

from qualevents.api.params import Paging


def json_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    # pydantic-core writes the same bytes as json.dumps(ensure_ascii=False, compact) for
    # our bodies (str, int, bool, None, lists, dicts), several times faster.
    return Response(
        to_json(body), status_code=status, media_type="application/json", headers=headers
    )


def etag(revision: int) -> str:
    return f'"{revision}"'


def pagination(
    path: str, paging: Paging, total: int, filters: dict[str, str] | None = None
) -> dict[str, Any]:
    """Statsig's pagination object, with links a client can follow as they are (keeping
    any filters of the request)."""
    page, limit = paging.page, paging.limit
    last_page = max(1, math.ceil(total / limit))
    kept = {k: v for k, v in (filters or {}).items() if k not in ("page", "limit")}

    def link(number: int) -> str:
        return f"{path}?{urlencode({**kept, 'page': number, 'limit': limit})}"

    return {
        "itemsPerPage": limit,
        "pageNumber": page,
        "totalItems": total,
        "nextPage": link(page + 1) if page < last_page else None,
        "previousPage": link(min(page - 1, last_page)) if page > 1 else None,
        "all": f"{path}?{urlencode(kept)}" if kept else path,
    }
