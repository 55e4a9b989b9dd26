"""How the API reads a JSON body: checked before any decoder sees it.

Litestar decodes ``data: JSONBody[...]`` parameters through ``Request.json()``; this request
class (the app's ``request_class``) puts three checks in front of that decoder:

- the body must be declared as JSON (``application/json`` or a ``+json`` type): a
  ``text/plain`` body is a 415, not silently read as JSON;
- it must not be empty: "this request needs a JSON body" rather than a validation message
  about the parameter's internal name;
- it must not be nested deeper than ``directory.inputs.MAX_JSON_DEPTH``: msgspec would run
  out of stack on 30,000 levels and raise RecursionError (a 500).

Routes that read their body another way (the multipart import) never call ``json()``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ClientException, HTTPException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE
from litestar.types import Empty

from directory.inputs import InvalidInput, check_json_depth


def is_json_media_type(media_type: str) -> bool:
    media_type = media_type.strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class JsonCheckedRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        if self._json is Empty and self._connection_state.json is Empty:
            media_type, _ = self.content_type
            body = await self.body()
            if not body.strip():
                raise ClientException("this request needs a JSON body")
            if not is_json_media_type(media_type):
                raise HTTPException(
                    status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                    detail="send the body as application/json",
                )
            try:
                check_json_depth(body)
            except InvalidInput as error:
                raise ClientException(f"the JSON body {error.errors[0][1]}") from None
        return await super().json()
