"""Envelope builders and page scripts for tests: what a mocked or scripted
server answers."""

from __future__ import annotations

from typing import Any

import msgspec


def participant(i: int) -> dict[str, Any]:
    return {
        "id": 1000 + i,
        "iccid": f"89{i:017d}",
        "status": "COMPLETED",
        "attempt": 1,
        "code": "200",
        "message": "OK",
        "timestamp": "2022-02-11 14:21:53",
    }


def page_body(
    items: list[dict[str, Any]], page: int, size: int, total_pages: int, total_elements: int
) -> bytes:
    return msgspec.json.encode(
        {
            "errorCode": "",
            "errorMessage": "",
            "content": items,
            "pageable": {
                "page": page,
                "size": size,
                "totalPages": total_pages,
                "totalElements": total_elements,
            },
        }
    )


def error_body(code: str, message: str) -> bytes:
    return msgspec.json.encode(
        {"errorCode": code, "errorMessage": message, "content": "", "pageable": ""}
    )


class PagedScript:
    """An aioresponses callback serving a paged list; per-page queues of
    overrides ``(status, body, headers)`` are served first, then the page."""

    def __init__(self, total: int, size: int, base: int = 0) -> None:
        self.total = total
        self.size = size
        self.base = base
        self.overrides: dict[int, list[tuple[int, bytes, dict[str, str]]]] = {}
        self.requests: list[tuple[int, dict[str, str]]] = []

    def fail(self, page: int, status: int, body: bytes = b"", **headers: str) -> PagedScript:
        self.overrides.setdefault(page, []).append((status, body, headers))
        return self

    def __call__(self, url: Any, **kwargs: Any) -> Any:
        from aioresponses import CallbackResult

        page = int(url.query["page"])
        self.requests.append((page, dict(kwargs.get("headers") or {})))
        queue = self.overrides.get(page)
        if queue:
            status, body, headers = queue.pop(0)
            return CallbackResult(status=status, body=body, headers=headers)
        index = page - self.base
        start = index * self.size
        items = [participant(i) for i in range(start, min(self.total, start + self.size))]
        pages = -(-self.total // self.size)
        return CallbackResult(body=page_body(items, page, self.size, pages, self.total))

    def pages_requested(self) -> list[int]:
        return [p for p, _ in self.requests]
